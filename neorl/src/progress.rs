//! Progress reporting for long work: an indicatif bar on a terminal, and
//! compact periodic lines elsewhere (evcxr notebooks forward output line by
//! line and cannot redraw in place). `NEORL_PROGRESS=bar|lines|off`
//! overrides the choice. Progress goes to stderr so that `--json` output on
//! stdout stays a single JSON object.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bar,
    Lines,
    Off,
}

fn mode() -> Mode {
    match std::env::var("NEORL_PROGRESS").as_deref() {
        Ok("bar") => Mode::Bar,
        Ok("lines") => Mode::Lines,
        Ok("off") => Mode::Off,
        _ if std::io::stderr().is_terminal() => Mode::Bar,
        _ => Mode::Lines,
    }
}

/// A progress reporter for `total` units of work.
#[derive(Debug)]
pub struct Progress {
    label: String,
    total: u64,
    done: u64,
    mode: Mode,
    bar: Option<ProgressBar>,
    started: Instant,
    last_line: Instant,
    every: Duration,
}

impl Progress {
    pub fn new(label: impl Into<String>, total: u64) -> Self {
        Self::with_mode(label.into(), total, mode())
    }

    /// A reporter that reports nothing (same interface, for callers that
    /// sometimes stay silent).
    pub fn off(label: impl Into<String>, total: u64) -> Self {
        Self::with_mode(label.into(), total, Mode::Off)
    }

    fn with_mode(label: String, total: u64, mode: Mode) -> Self {
        let bar = (mode == Mode::Bar).then(|| {
            let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template(
                    "{msg:>24} [{bar:30}] {pos}/{len} ({per_sec}, eta {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b.set_message(label.clone());
            b
        });
        let now = Instant::now();
        Progress {
            label,
            total,
            done: 0,
            mode,
            bar,
            started: now,
            last_line: now,
            every: Duration::from_secs(2),
        }
    }

    /// Record `n` more units done.
    pub fn inc(&mut self, n: u64) {
        self.done += n;
        match self.mode {
            Mode::Bar => {
                if let Some(b) = &self.bar {
                    b.inc(n);
                }
            }
            Mode::Lines if self.last_line.elapsed() >= self.every => {
                self.last_line = Instant::now();
                self.line();
            }
            _ => {}
        }
    }

    fn line(&self) {
        let secs = self.started.elapsed().as_secs_f64();
        let pct = 100.0 * self.done as f64 / self.total.max(1) as f64;
        eprintln!(
            "{}: {}/{} ({pct:.0}%) in {secs:.1}s, {:.0}/s",
            self.label,
            self.done,
            self.total,
            self.done as f64 / secs.max(1e-9)
        );
    }

    /// Finish and print a last line.
    pub fn finish(self) {
        match self.mode {
            Mode::Bar => {
                if let Some(b) = &self.bar {
                    b.finish_and_clear();
                }
            }
            Mode::Lines => self.line(),
            Mode::Off => {}
        }
    }
}
