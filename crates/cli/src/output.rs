//! What the binary prints: progress bars on a terminal, summaries, numbers people can read.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where human-readable output goes, and whether there is any.
#[derive(Debug, Clone)]
pub struct Output {
    quiet: bool,
    terminal: bool,
}

impl Output {
    /// Output that respects `--quiet` and draws progress only on a terminal.
    pub fn new(quiet: bool) -> Output {
        Output {
            quiet,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// Prints a line of normal output (suppressed by `--quiet`).
    pub fn say(&self, line: impl AsRef<str>) {
        if !self.quiet {
            data(line);
        }
    }

    /// Whether progress bars are drawn: on a terminal, unless `--quiet`.
    pub fn shows_progress(&self) -> bool {
        !self.quiet && self.terminal
    }

    /// A progress bar over `total` bytes (a spinner when unknown), fed from `counter` until the
    /// returned guard is finished. Draws nothing unless stderr is a terminal.
    pub fn byte_progress(
        &self,
        label: &str,
        total: Option<u64>,
        counter: Arc<AtomicU64>,
    ) -> Progress {
        if !self.shows_progress() {
            return Progress {
                bar: None,
                ticker: None,
            };
        }
        let bar = match total {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{prefix} {spinner} {bytes} {bytes_per_sec}")
                    .expect("valid template"),
            ),
        };
        bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        bar.set_prefix(label.to_string());
        let ticking = bar.clone();
        let ticker = tokio::spawn(async move {
            loop {
                ticking.set_position(counter.load(Ordering::Relaxed));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Progress {
            bar: Some(bar),
            ticker: Some(ticker),
        }
    }
}

/// Prints a line of machine-readable output (`--json`), even with `--quiet`.
///
/// A closed standard output (`… | head`) is the reader's choice, so write errors are ignored rather
/// than panicking as `println!` would.
pub fn data(line: impl AsRef<str>) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", line.as_ref());
}

/// A running progress display; [`Progress::finish`] clears it.
pub struct Progress {
    bar: Option<ProgressBar>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Stops and clears the bar.
    pub fn finish(self) {
        if let Some(ticker) = self.ticker {
            ticker.abort();
        }
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `1234567` → `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Records per second, rounded for reading.
pub fn rate(records: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return "-".to_string();
    }
    count((records as f64 / secs).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1234567), "1,234,567");
    }
}
