//! Progress of a long CLI job on stderr: an indicatif bar with rate and time left on a terminal,
//! and on a pipe or log file a plain line every 10% (a redrawn bar would fill logs with escapes).

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    what: String,
    len: usize,
    pos: usize,
    output: Output,
    message: String,
}

enum Output {
    Bar(ProgressBar),
    Lines { start: Instant, last_decile: usize },
}

impl Progress {
    pub fn new(len: usize, what: &str) -> Self {
        let output = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(len as u64).with_prefix(what.to_string());
            // The template is a constant: a mistake in it is a programming error caught by the
            // first run, so the default style stands in rather than failing a job.
            let style =
                ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} ({per_sec}, eta {eta}) {msg}")
                    .map(|s| s.progress_chars("=> "))
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            Output::Bar(bar)
        } else {
            Output::Lines { start: Instant::now(), last_decile: 0 }
        };
        Self { what: what.to_string(), len, pos: 0, output, message: String::new() }
    }

    /// Text shown after the counts (e.g. the current loss).
    pub fn set_message(&mut self, message: String) {
        if let Output::Bar(bar) = &self.output {
            bar.set_message(message.clone());
        }
        self.message = message;
    }

    /// A line above the bar (a warning), which a plain `eprintln` would tear through.
    pub fn println(&self, line: &str) {
        match &self.output {
            Output::Bar(bar) => bar.suspend(|| eprintln!("{line}")),
            Output::Lines { .. } => eprintln!("{line}"),
        }
    }

    pub fn inc(&mut self) {
        self.pos += 1;
        match &mut self.output {
            Output::Bar(bar) => {
                bar.inc(1);
                if self.pos >= self.len {
                    bar.finish();
                }
            }
            Output::Lines { start, last_decile } => {
                let decile = self.pos * 10 / self.len.max(1);
                if decile > *last_decile || self.pos == self.len {
                    *last_decile = decile;
                    let rate = self.pos as f64 / start.elapsed().as_secs_f64().max(1e-9);
                    let eta = self.len.saturating_sub(self.pos) as f64 / rate.max(1e-9);
                    eprintln!(
                        "{:>10} {}/{} ({rate:.1}/s, eta {eta:.0}s) {}",
                        self.what, self.pos, self.len, self.message
                    );
                }
            }
        }
    }
}

impl Drop for Progress {
    /// A job that stops early (an error, Ctrl+C) leaves its bar where it stopped, not half-drawn.
    fn drop(&mut self) {
        if let Output::Bar(bar) = &self.output {
            bar.abandon();
        }
    }
}
