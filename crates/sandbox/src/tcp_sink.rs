//! A TCP sink: a server that accepts connections and records every record it receives, the
//! counterpart of the `aspect_tcp` target (Aspect eWFM's Real-Time Adherence server).
//!
//! Each connection's bytes are kept as they came ([`ConnectionRecord::bytes`]) and split into
//! records at CRLF in the sink's [`SinkEncoding`]: `\r\n` for UTF-8, the code units `0D 00 0A 00`
//! at an even offset for UTF-16LE. Each [`ReceivedRecord`] has its raw bytes (without the CRLF)
//! and its text, decoded (invalid sequences replaced). Bytes left without a CRLF when the
//! connection ends become a record marked incomplete, so a torn write shows.
//!
//! [`TcpSinkHandle::drop_connections`] closes every open connection, as an RTA server that
//! restarts would, to test reconnection; [`TcpSink::stop`] closes the port as well, so new
//! connections are refused until a sink is started on it again.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// How records are encoded, to find their CRLF and decode them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkEncoding {
    /// UTF-8.
    #[default]
    Utf8,
    /// UTF-16 little-endian, no byte order mark.
    Utf16Le,
}

impl SinkEncoding {
    /// The record terminator, CRLF, in this encoding.
    pub fn terminator(self) -> &'static [u8] {
        match self {
            SinkEncoding::Utf8 => b"\r\n",
            SinkEncoding::Utf16Le => &[0x0d, 0, 0x0a, 0],
        }
    }

    /// Where the first terminator in `bytes` starts: code-unit aligned for UTF-16.
    fn find_terminator(self, bytes: &[u8]) -> Option<usize> {
        let t = self.terminator();
        let step = match self {
            SinkEncoding::Utf8 => 1,
            SinkEncoding::Utf16Le => 2,
        };
        (0..bytes.len().saturating_sub(t.len() - 1))
            .step_by(step)
            .find(|&i| bytes[i..].starts_with(t))
    }

    /// The text of some bytes, invalid sequences replaced.
    pub fn decode(self, bytes: &[u8]) -> String {
        match self {
            SinkEncoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            SinkEncoding::Utf16Le => {
                let units: Vec<u16> = bytes
                    .chunks(2)
                    .map(|c| u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                    .collect();
                String::from_utf16_lossy(&units)
            }
        }
    }
}

/// How to start a sink.
#[derive(Debug, Clone, Default)]
pub struct TcpSinkConfig {
    /// The encoding records are split and decoded in.
    pub encoding: SinkEncoding,
}

/// One record received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceivedRecord {
    /// 1 for the first record, counting on across [`TcpSinkHandle::clear`].
    pub seq: u64,
    /// The connection it came on (1 for the first).
    pub connection: u64,
    /// When it was complete.
    pub at: Timestamp,
    /// Its bytes, without the CRLF.
    pub bytes: Vec<u8>,
    /// Its text.
    pub text: String,
    /// False for bytes the connection ended on without a CRLF.
    pub complete: bool,
}

/// One connection the sink accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionRecord {
    /// 1 for the first.
    pub id: u64,
    /// The client's address.
    pub peer: String,
    /// When it was accepted.
    pub opened: Timestamp,
    /// When it ended.
    pub closed: Option<Timestamp>,
    /// Every byte received on it, in order.
    pub bytes: Vec<u8>,
}

struct Inner {
    encoding: SinkEncoding,
    records: Vec<ReceivedRecord>,
    connections: Vec<ConnectionRecord>,
    last_record: u64,
    last_connection: u64,
    /// Open connections: how to close each, and its task.
    open: HashMap<u64, (oneshot::Sender<()>, JoinHandle<()>)>,
}

struct Shared {
    inner: Mutex<Inner>,
    /// Bumped after every record or connection change, for the `wait_for_*` methods.
    changed: watch::Sender<u64>,
}

/// Reads what the sink received and drops its connections. Cheap to clone.
#[derive(Clone)]
pub struct TcpSinkHandle {
    shared: Arc<Shared>,
}

impl fmt::Debug for TcpSinkHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSinkHandle").finish_non_exhaustive()
    }
}

impl TcpSinkHandle {
    fn new(config: &TcpSinkConfig) -> TcpSinkHandle {
        let (changed, _) = watch::channel(0);
        TcpSinkHandle {
            shared: Arc::new(Shared {
                inner: Mutex::new(Inner {
                    encoding: config.encoding,
                    records: Vec::new(),
                    connections: Vec::new(),
                    last_record: 0,
                    last_connection: 0,
                    open: HashMap::new(),
                }),
                changed,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.shared
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn notify(&self) {
        self.shared.changed.send_modify(|n| *n += 1);
    }

    /// Every record, oldest first.
    pub fn records(&self) -> Vec<ReceivedRecord> {
        self.lock().records.clone()
    }

    /// The texts of every complete record, oldest first.
    pub fn texts(&self) -> Vec<String> {
        self.lock()
            .records
            .iter()
            .filter(|r| r.complete)
            .map(|r| r.text.clone())
            .collect()
    }

    /// Every connection accepted, oldest first, with the bytes received on it.
    pub fn connections(&self) -> Vec<ConnectionRecord> {
        self.lock().connections.clone()
    }

    /// Every byte received, on all connections, in the order the connections were accepted.
    pub fn raw(&self) -> Vec<u8> {
        self.lock()
            .connections
            .iter()
            .flat_map(|c| c.bytes.iter().copied())
            .collect()
    }

    /// How many connections are open.
    pub fn open_connections(&self) -> usize {
        self.lock().open.len()
    }

    /// Closes every open connection and waits until they are closed; returns how many.
    pub async fn drop_connections(&self) -> usize {
        let open: Vec<(oneshot::Sender<()>, JoinHandle<()>)> =
            self.lock().open.drain().map(|(_, v)| v).collect();
        let count = open.len();
        for (close, task) in open {
            let _ = close.send(());
            let _ = task.await;
        }
        count
    }

    /// Forgets records and connection logs (open connections stay open).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.records.clear();
        inner.connections.retain(|c| c.closed.is_none());
        for c in &mut inner.connections {
            c.bytes.clear();
        }
    }

    /// Waits until at least `count` complete records arrived, at most `timeout`; returns every
    /// record, or `None` on timeout.
    pub async fn wait_for_records(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Option<Vec<ReceivedRecord>> {
        crate::wait::until(&self.shared.changed, timeout, || {
            self.lock().records.iter().filter(|r| r.complete).count() >= count
        })
        .await
        .then(|| self.records())
    }

    /// Waits until at least `count` connections were accepted, at most `timeout`.
    pub async fn wait_for_connections(&self, count: usize, timeout: Duration) -> bool {
        crate::wait::until(&self.shared.changed, timeout, || {
            self.lock().connections.len() >= count
        })
        .await
    }

    /// Takes in bytes read on connection `id`; `pending` holds what has no CRLF yet.
    fn received(&self, id: u64, pending: &mut Vec<u8>, bytes: &[u8]) {
        {
            let mut inner = self.lock();
            if let Some(c) = inner.connections.iter_mut().find(|c| c.id == id) {
                c.bytes.extend_from_slice(bytes);
            }
            pending.extend_from_slice(bytes);
            let encoding = inner.encoding;
            while let Some(end) = encoding.find_terminator(pending) {
                let record: Vec<u8> = pending.drain(..end + encoding.terminator().len()).collect();
                let bytes = record[..end].to_vec();
                inner.last_record += 1;
                let seq = inner.last_record;
                inner.records.push(ReceivedRecord {
                    seq,
                    connection: id,
                    at: Timestamp::now(),
                    text: encoding.decode(&bytes),
                    bytes,
                    complete: true,
                });
            }
        }
        self.notify();
    }

    /// Records the end of connection `id`, with what it left without a CRLF.
    fn closed(&self, id: u64, pending: Vec<u8>) {
        {
            let mut inner = self.lock();
            inner.open.remove(&id);
            if let Some(c) = inner.connections.iter_mut().find(|c| c.id == id) {
                c.closed = Some(Timestamp::now());
            }
            if !pending.is_empty() {
                inner.last_record += 1;
                let seq = inner.last_record;
                let encoding = inner.encoding;
                inner.records.push(ReceivedRecord {
                    seq,
                    connection: id,
                    at: Timestamp::now(),
                    text: encoding.decode(&pending),
                    bytes: pending,
                    complete: false,
                });
            }
        }
        self.notify();
    }

    /// Starts serving an accepted connection.
    fn accept(&self, stream: TcpStream, peer: SocketAddr) {
        let (close, closing) = oneshot::channel::<()>();
        let mut inner = self.lock();
        inner.last_connection += 1;
        let id = inner.last_connection;
        inner.connections.push(ConnectionRecord {
            id,
            peer: peer.to_string(),
            opened: Timestamp::now(),
            closed: None,
            bytes: Vec::new(),
        });
        let handle = self.clone();
        let task = tokio::spawn(async move {
            let mut stream = stream;
            let mut closing = closing;
            let mut pending = Vec::new();
            let mut buf = vec![0u8; 8192];
            loop {
                tokio::select! {
                    _ = &mut closing => break,
                    read = stream.read(&mut buf) => match read {
                        Ok(0) | Err(_) => break,
                        Ok(n) => handle.received(id, &mut pending, &buf[..n]),
                    },
                }
            }
            // Dropping the stream closes it: the client sees the connection end.
            drop(stream);
            handle.closed(id, pending);
        });
        inner.open.insert(id, (close, task));
        drop(inner);
        self.notify();
    }
}

/// A sink running on a task of the current runtime; stopped by [`TcpSink::stop`] or on drop.
pub struct TcpSink {
    addr: SocketAddr,
    handle: TcpSinkHandle,
    task: JoinHandle<()>,
}

impl fmt::Debug for TcpSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSink")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl TcpSink {
    /// Starts a UTF-8 sink on `addr` (`"127.0.0.1:0"` for a free port).
    pub async fn start(addr: impl ToSocketAddrs) -> io::Result<TcpSink> {
        TcpSink::start_with(addr, TcpSinkConfig::default()).await
    }

    /// Starts a sink with a configuration on `addr`.
    pub async fn start_with(
        addr: impl ToSocketAddrs,
        config: TcpSinkConfig,
    ) -> io::Result<TcpSink> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let handle = TcpSinkHandle::new(&config);
        let accepting = handle.clone();
        let task = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => accepting.accept(stream, peer),
                    Err(e) => {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::warn!(error = %e, "tcp sink cannot accept");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
        Ok(TcpSink { addr, handle, task })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The handle to read what it received.
    pub fn handle(&self) -> &TcpSinkHandle {
        &self.handle
    }

    /// Stops listening and closes every connection; the handle keeps what was received.
    pub async fn stop(mut self) {
        self.task.abort();
        // Wait for the listener to be dropped, so the port is closed (and free) on return.
        let _ = (&mut self.task).await;
        self.handle.drop_connections().await;
    }
}

impl Drop for TcpSink {
    fn drop(&mut self) {
        // Not stopped explicitly: end at once so a test leaves no server behind.
        self.task.abort();
        for (_, (_, task)) in self.handle.lock().open.drain() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminators_are_found_on_code_unit_boundaries() {
        assert_eq!(SinkEncoding::Utf8.find_terminator(b"ab\r\ncd"), Some(2));
        assert_eq!(SinkEncoding::Utf8.find_terminator(b"ab\r"), None);
        let utf16 = SinkEncoding::Utf16Le;
        // "A\r\n" in UTF-16LE.
        assert_eq!(utf16.find_terminator(&[0x41, 0, 0x0d, 0, 0x0a, 0]), Some(2));
        // U+0D00 U+0A00 straddling: 00 0D 00 0A 00 at an odd offset is not a CRLF.
        assert_eq!(utf16.find_terminator(&[0x41, 0x0d, 0, 0x0a, 0, 0x41]), None);
        assert_eq!(utf16.decode(&[0x41, 0, 0xe9, 0]), "Aé");
    }
}
