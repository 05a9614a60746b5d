//! A progress line on stderr (count, rate, time left), redrawn in place on a terminal and printed
//! every 10% otherwise, so logs stay short.

use std::io::{IsTerminal, Write};
use std::time::Instant;

pub struct Progress {
    what: String,
    len: usize,
    pos: usize,
    start: Instant,
    terminal: bool,
    last_decile: usize,
    message: String,
}

impl Progress {
    pub fn new(len: usize, what: &str) -> Self {
        Self {
            what: what.to_string(),
            len,
            pos: 0,
            start: Instant::now(),
            terminal: std::io::stderr().is_terminal(),
            last_decile: 0,
            message: String::new(),
        }
    }

    /// Text shown after the counts (e.g. the current loss).
    pub fn set_message(&mut self, message: String) {
        self.message = message;
    }

    pub fn inc(&mut self) {
        self.pos += 1;
        let decile = self.pos * 10 / self.len.max(1);
        if self.terminal || decile > self.last_decile || self.pos == self.len {
            self.last_decile = decile;
            let elapsed = self.start.elapsed().as_secs_f64();
            let rate = self.pos as f64 / elapsed.max(1e-9);
            let eta = (self.len - self.pos) as f64 / rate.max(1e-9);
            let end = if self.terminal && self.pos < self.len { "\r" } else { "\n" };
            eprint!("{:>10} {}/{} ({rate:.1}/s, eta {eta:.0}s) {}{end}", self.what, self.pos, self.len, self.message);
            let _ = std::io::stderr().flush();
        }
    }
}
