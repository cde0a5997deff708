//! The subcommands of `neorl`, one file each: its clap arguments and its
//! handler, which parses, calls the library and prints. Handlers return
//! errors (and [`Outcome`] where a check can fail); `main` alone turns them
//! into exit codes. Every `--json` output is one JSON object on stdout.

pub mod audit;
pub mod bench;
pub mod datasets;
pub mod envs;
pub mod eval;
pub mod paper;
pub mod quickstart;
pub mod rollout;
pub mod scores;
pub mod sizes;
pub mod sweep;
pub mod track;
pub mod train;

use anyhow::{Context, Result};
use serde_json::json;

/// How a command ended when it did not fail: done, or done with a check
/// that failed (`audit verify`, `datasets validate`: the report is printed
/// either way, and the exit code is non-zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    CheckFailed,
}

impl Outcome {
    /// `Done` when the check passed.
    pub fn of_check(ok: bool) -> Self {
        if ok {
            Outcome::Done
        } else {
            Outcome::CheckFailed
        }
    }
}

fn print_json(v: &serde_json::Value) -> Result<()> {
    println!("{}", serde_json::to_string(v)?);
    Ok(())
}

/// `KEY=VALUE` pairs; a value that is not JSON is taken as a string.
fn parse_settings(pairs: &[String]) -> Result<neorl::agents::Settings> {
    pairs
        .iter()
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .with_context(|| format!("--set {kv}: expected KEY=VALUE, e.g. batch_size=512"))?;
            let v = serde_json::from_str(v.trim()).unwrap_or_else(|_| json!(v.trim()));
            Ok((k.trim().to_string(), v))
        })
        .collect()
}
