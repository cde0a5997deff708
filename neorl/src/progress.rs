//! Progress reporting for long work: an indicatif bar on a terminal, and
//! compact periodic lines elsewhere (evcxr notebooks forward output line by
//! line and cannot redraw in place). `NEORL_PROGRESS=bar|lines|off`
//! overrides the choice, `NEORL_PROGRESS_EVERY=<seconds>` the interval of
//! lines.
//!
//! Progress goes to stderr so that `--json` output on stdout stays a single
//! JSON object — except inside an evcxr notebook kernel (detected by the
//! `EVCXR_IS_RUNTIME` variable evcxr sets for the process that runs cells),
//! where lines go to stdout every 5 s: Jupyter shows stderr as a red
//! warning box and notebook tests treat it as suspect, while stdout lines
//! appear as the cell's ordinary output as they are printed.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bar,
    Lines,
    Off,
}

/// Where progress lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sink {
    Stderr,
    Stdout,
}

/// How to report: from `NEORL_PROGRESS`, `NEORL_PROGRESS_EVERY`, whether
/// this is an evcxr kernel and whether stderr is a terminal.
fn choose(
    progress: Option<&str>,
    every: Option<&str>,
    in_evcxr: bool,
    stderr_tty: bool,
) -> (Mode, Sink, Duration) {
    let mode = match progress {
        Some("bar") => Mode::Bar,
        Some("lines") => Mode::Lines,
        Some("off") => Mode::Off,
        _ if stderr_tty && !in_evcxr => Mode::Bar,
        _ => Mode::Lines,
    };
    let sink = if in_evcxr { Sink::Stdout } else { Sink::Stderr };
    let default = if in_evcxr { 5.0 } else { 2.0 };
    let every = every
        .and_then(|s| s.trim().parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .unwrap_or(Duration::from_secs_f64(default));
    (mode, sink, every)
}

fn mode() -> Mode {
    settings().0
}

fn settings() -> (Mode, Sink, Duration) {
    let var = |k: &str| std::env::var(k).ok();
    choose(
        var("NEORL_PROGRESS").as_deref(),
        var("NEORL_PROGRESS_EVERY").as_deref(),
        std::env::var_os("EVCXR_IS_RUNTIME").is_some(),
        std::io::stderr().is_terminal(),
    )
}

/// One progress line: `label: done/total (pct%) in 12.3s, 456/s, eta 7s`.
fn format_line(label: &str, done: u64, total: u64, secs: f64) -> String {
    let pct = 100.0 * done as f64 / total.max(1) as f64;
    let rate = done as f64 / secs.max(1e-9);
    let mut s = format!("{label}: {done}/{total} ({pct:.0}%) in {secs:.1}s, {rate:.0}/s");
    if done < total && rate > 0.0 {
        let eta = (total - done) as f64 / rate;
        s.push_str(&format!(", eta {eta:.0}s"));
    }
    s
}

/// A progress reporter for `total` units of work.
#[derive(Debug)]
pub struct Progress {
    label: String,
    total: u64,
    done: u64,
    mode: Mode,
    sink: Sink,
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
        let (_, sink, every) = settings();
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
            sink,
            bar,
            started: now,
            last_line: now,
            every,
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
        let line = format_line(
            &self.label,
            self.done,
            self.total,
            self.started.elapsed().as_secs_f64(),
        );
        match self.sink {
            Sink::Stderr => eprintln!("{line}"),
            Sink::Stdout => println!("{line}"),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notebooks_get_stdout_lines_terminals_a_bar() {
        let s5 = Duration::from_secs(5);
        let s2 = Duration::from_secs(2);
        assert_eq!(
            choose(None, None, true, false),
            (Mode::Lines, Sink::Stdout, s5)
        );
        // evcxr never gets a bar, even if its stderr were a terminal.
        assert_eq!(
            choose(None, None, true, true),
            (Mode::Lines, Sink::Stdout, s5)
        );
        assert_eq!(
            choose(None, None, false, true),
            (Mode::Bar, Sink::Stderr, s2)
        );
        assert_eq!(
            choose(None, None, false, false),
            (Mode::Lines, Sink::Stderr, s2)
        );
        assert_eq!(choose(Some("off"), None, true, false).0, Mode::Off);
        assert_eq!(
            choose(None, Some("0.5"), false, false).2,
            Duration::from_millis(500)
        );
        assert_eq!(choose(None, Some("soon"), false, false).2, s2);
        assert_eq!(choose(None, Some("-1"), false, false).2, s2);
        assert_eq!(choose(None, Some("NaN"), false, false).2, s2);
        assert_eq!(choose(None, Some("1e300"), false, false).2, s2);
    }

    #[test]
    fn lines_are_compact_with_an_eta() {
        assert_eq!(
            format_line("iql training", 250, 1000, 5.0),
            "iql training: 250/1000 (25%) in 5.0s, 50/s, eta 15s"
        );
        assert_eq!(
            format_line("x", 10, 10, 2.0),
            "x: 10/10 (100%) in 2.0s, 5/s"
        );
    }
}
