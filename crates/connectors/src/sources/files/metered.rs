//! The reader under every file source: counts bytes for progress and refuses stretches without a
//! line break, so that a binary or single-line multi-gigabyte file fails fast in bounded memory.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::MAX_RECORD_BYTES;

/// Marker error inside [`io::Error`] for a stretch longer than [`MAX_RECORD_BYTES`].
#[derive(Debug)]
struct LineTooLong;

impl std::fmt::Display for LineTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no line break within {MAX_RECORD_BYTES} bytes")
    }
}

impl std::error::Error for LineTooLong {}

/// Whether an I/O error is the one [`Metered`] raises for an over-long line.
pub fn is_line_too_long(error: &io::Error) -> bool {
    error.get_ref().is_some_and(|e| e.is::<LineTooLong>())
}

/// Counts bytes and guards line length.
pub struct Metered {
    inner: Box<dyn Read + Send>,
    bytes: Arc<AtomicU64>,
    since_newline: usize,
}

impl Metered {
    pub fn new(inner: Box<dyn Read + Send>, bytes: Arc<AtomicU64>) -> Metered {
        Metered {
            inner,
            bytes,
            since_newline: 0,
        }
    }
}

impl Read for Metered {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        match buf[..n].iter().rposition(|&b| b == b'\n') {
            Some(at) => self.since_newline = n - at - 1,
            None => self.since_newline += n,
        }
        if self.since_newline > MAX_RECORD_BYTES {
            return Err(io::Error::new(io::ErrorKind::InvalidData, LineTooLong));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_stretch_fails_and_lines_pass() {
        let data = vec![b'x'; MAX_RECORD_BYTES + 10];
        let mut r = Metered::new(Box::new(io::Cursor::new(data)), Arc::default());
        let e = io::copy(&mut r, &mut io::sink()).unwrap_err();
        assert!(is_line_too_long(&e));

        let line = [vec![b'x'; 1000], vec![b'\n']].concat();
        let data = line.repeat(5000);
        let counter = Arc::new(AtomicU64::new(0));
        let mut r = Metered::new(Box::new(io::Cursor::new(data.clone())), counter.clone());
        io::copy(&mut r, &mut io::sink()).unwrap();
        assert_eq!(counter.load(Ordering::Relaxed), data.len() as u64);
    }
}
