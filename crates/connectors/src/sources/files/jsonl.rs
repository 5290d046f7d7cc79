//! JSON Lines: one canonical record per line; blank lines are ignored.

use std::io::{BufRead, BufReader};

use super::Fatal;
use super::metered::Metered;

/// Splits the input into numbered non-blank lines.
pub struct JsonlLines {
    input: BufReader<Metered>,
    line: u64,
    buf: Vec<u8>,
}

impl JsonlLines {
    pub fn new(input: Metered) -> JsonlLines {
        JsonlLines {
            input: BufReader::with_capacity(256 * 1024, input),
            line: 0,
            buf: Vec::with_capacity(1024),
        }
    }

    /// The next non-blank line and its 1-based number; the error carries the line it happened on.
    pub fn next_line(&mut self) -> Result<Option<(u64, Vec<u8>)>, Fatal> {
        loop {
            self.buf.clear();
            self.line += 1;
            let n = self
                .input
                .read_until(b'\n', &mut self.buf)
                .map_err(|e| (self.line, e))?;
            if n == 0 {
                return Ok(None);
            }
            let mut text = &self.buf[..];
            if self.line == 1 {
                text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text);
            }
            let text = text.trim_ascii();
            if !text.is_empty() {
                return Ok(Some((self.line, text.to_vec())));
            }
        }
    }
}
