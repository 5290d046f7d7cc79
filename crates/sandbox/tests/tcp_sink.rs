//! The TCP sink over real loopback TCP: records split at CRLF in either encoding, torn records,
//! dropped connections and a stopped port.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wfm_sandbox::tcp_sink::{SinkEncoding, TcpSink, TcpSinkConfig};

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn records_are_split_at_crlf_across_writes() {
    let sink = TcpSink::start("127.0.0.1:0").await.unwrap();
    let mut stream = TcpStream::connect(sink.addr()).await.unwrap();
    stream.write_all(b"1001  READY\r\n1002  BU").await.unwrap();
    stream.write_all(b"SY\r\nh\xc3\xa9\r\n").await.unwrap();
    let records = sink.handle().wait_for_records(3, WAIT).await.unwrap();
    let texts: Vec<&str> = records.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(texts, ["1001  READY", "1002  BUSY", "hé"]);
    assert_eq!(records[2].bytes, b"h\xc3\xa9");
    assert!(records.iter().all(|r| r.complete && r.connection == 1));
    assert_eq!(
        sink.handle().raw(),
        b"1001  READY\r\n1002  BUSY\r\nh\xc3\xa9\r\n"
    );
}

#[tokio::test]
async fn utf16_records_end_at_an_aligned_crlf() {
    let sink = TcpSink::start_with(
        "127.0.0.1:0",
        TcpSinkConfig {
            encoding: SinkEncoding::Utf16Le,
        },
    )
    .await
    .unwrap();
    let mut stream = TcpStream::connect(sink.addr()).await.unwrap();
    let bytes: Vec<u8> = "Åsa\r\nB\r\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    stream.write_all(&bytes).await.unwrap();
    let records = sink.handle().wait_for_records(2, WAIT).await.unwrap();
    assert_eq!(records[0].text, "Åsa");
    assert_eq!(records[0].bytes, [0xc5, 0, b's', 0, b'a', 0]);
    assert_eq!(records[1].text, "B");
}

#[tokio::test]
async fn bytes_left_without_crlf_are_an_incomplete_record() {
    let sink = TcpSink::start("127.0.0.1:0").await.unwrap();
    let mut stream = TcpStream::connect(sink.addr()).await.unwrap();
    stream.write_all(b"whole\r\nhalf").await.unwrap();
    drop(stream);
    let handle = sink.handle().clone();
    tokio::time::timeout(WAIT, async {
        while handle.records().len() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    let records = handle.records();
    assert!(records[0].complete);
    assert_eq!(
        (records[1].text.as_str(), records[1].complete),
        ("half", false)
    );
    assert_eq!(handle.texts(), ["whole"]);
    assert!(handle.connections()[0].closed.is_some());
}

#[tokio::test]
async fn dropped_connections_are_closed_and_new_ones_accepted() {
    let sink = TcpSink::start("127.0.0.1:0").await.unwrap();
    let mut first = TcpStream::connect(sink.addr()).await.unwrap();
    first.write_all(b"a\r\n").await.unwrap();
    sink.handle().wait_for_records(1, WAIT).await.unwrap();
    assert_eq!(sink.handle().open_connections(), 1);
    assert_eq!(sink.handle().drop_connections().await, 1);
    assert_eq!(sink.handle().open_connections(), 0);
    // The client sees the end of the stream.
    let mut buf = [0u8; 8];
    let read = tokio::time::timeout(WAIT, first.read(&mut buf))
        .await
        .unwrap();
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");

    let mut second = TcpStream::connect(sink.addr()).await.unwrap();
    second.write_all(b"b\r\n").await.unwrap();
    let records = sink.handle().wait_for_records(2, WAIT).await.unwrap();
    assert_eq!(records[1].connection, 2);
    assert_eq!(sink.handle().connections().len(), 2);
}

#[tokio::test]
async fn a_stopped_sink_refuses_connections_and_its_port_can_be_used_again() {
    let sink = TcpSink::start("127.0.0.1:0").await.unwrap();
    let addr = sink.addr();
    sink.stop().await;
    let refused = TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    let again = TcpSink::start(addr).await.unwrap();
    assert_eq!(again.addr(), addr);
    assert!(TcpStream::connect(addr).await.is_ok());
    assert!(again.handle().wait_for_connections(1, WAIT).await);
}
