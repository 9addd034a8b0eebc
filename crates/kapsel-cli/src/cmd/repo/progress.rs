//! Progress bars on a terminal; nothing otherwise.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How results and progress are shown.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    /// Results as JSON on stdout.
    pub json: bool,
    /// No notes or bars.
    pub quiet: bool,
    /// Bars are drawn (stderr is a terminal, not quiet, not JSON).
    pub bars: bool,
}

impl Ui {
    /// Decides from the flags and the terminal.
    pub fn new(json: bool, quiet: bool) -> Ui {
        let bars = !json && !quiet && console::Term::stderr().is_term();
        Ui { json, quiet, bars }
    }

    /// A byte counter: a bar with rate and ETA when `total` is known, a
    /// counter with rate otherwise. Hidden unless bars are on.
    pub fn bytes(&self, total: Option<u64>, msg: &str) -> ProgressBar {
        if !self.bars {
            return ProgressBar::hidden();
        }
        let (bar, template) = match total {
            Some(t) => (
                ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()),
                "{msg} [{wide_bar}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}",
            ),
            None => (
                ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
                "{spinner} {msg} {binary_bytes} {binary_bytes_per_sec} {elapsed}",
            ),
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(msg.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }

    /// A spinner with elapsed time, for work that reports no amounts.
    pub fn spinner(&self, msg: &str) -> ProgressBar {
        if !self.bars {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
            bar.set_style(style);
        }
        bar.set_message(msg.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }

    /// A note for a person on stderr (not in quiet or JSON mode).
    pub fn note(&self, text: &str) {
        if !self.quiet && !self.json {
            eprintln!("{text}");
        }
    }
}

/// `1.5 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn sizes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }
}
