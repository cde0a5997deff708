//! The sizes and durations the command line accepts, checked before
//! anything is allocated or started: a dataset size against the memory
//! this machine has (`neorl::data::check_fits`; an agent's widths and batch are
//! checked by the library, `neorl::agents::memory`, before anything is
//! generated for it), gradient steps against 10⁹, and durations in seconds
//! against a day. A size past them is refused with what it would need and
//! what there is, instead of an abort on a failed allocation; a duration
//! past them instead of a panic or a silent hang.

use anyhow::{Result, bail};
use neorl::data::check_fits;
use neorl::env::{EnvOptions, EnvSpec};
use std::time::Duration;

/// The longest duration an option in seconds takes.
pub const MAX_SECONDS: f64 = 86_400.0;

/// The most gradient steps one command trains for (months of training at
/// a thousand steps a second; the papers' runs are 10⁵ to 10⁶).
pub const MAX_STEPS: u64 = 1_000_000_000;

/// `steps` of the option `flag` is at most [`MAX_STEPS`].
pub fn steps(flag: &str, steps: u64) -> Result<()> {
    if steps > MAX_STEPS {
        bail!(
            "{flag} {steps}: at most {MAX_STEPS} gradient steps (a run of 10^6 takes hours); train in several runs into the same --out to go on"
        );
    }
    Ok(())
}

/// `batch` of the option `flag` is a minibatch size the agents accept (1 to
/// `neorl::agents::ranges::MAX_BATCH`; its memory is checked with the agent's).
pub fn batch(flag: &str, batch: usize) -> Result<usize> {
    let max = neorl::agents::ranges::MAX_BATCH;
    if !(1..=max).contains(&batch) {
        bail!("{flag} {batch}: a minibatch holds 1 to {max} transitions");
    }
    Ok(batch)
}

/// `value` of the option `flag`, in seconds, as a duration: a positive
/// number of at most a day.
pub fn seconds(flag: &str, value: f64) -> Result<Duration> {
    if !(value > 0.0 && value <= MAX_SECONDS) {
        let got = if value.abs() < 1e9 {
            value.to_string()
        } else {
            format!("{value:e}")
        };
        bail!(
            "{flag} must be a positive number of seconds, at most {MAX_SECONDS} (a day), got {got}"
        );
    }
    Ok(Duration::from_secs_f64(value))
}

/// A dataset of `transitions` transitions of environment `env` (the value
/// of the option `flag`) fits in memory ([`neorl::data::check_fits`], which
/// generation checks too; here before anything else is started).
pub fn dataset(flag: &str, env: &str, transitions: usize) -> Result<()> {
    let spec = spec(env)?;
    check_fits(
        &spec,
        transitions,
        &format!(
            "{flag} {transitions}: a dataset of {transitions} {} transitions",
            spec.id
        ),
        &format!("pass a smaller {flag}"),
    )?;
    Ok(())
}

fn spec(env: &str) -> Result<EnvSpec> {
    Ok(neorl::env::model(env, EnvOptions::default())?
        .spec()
        .clone())
}

/// `--threads`: a count from 1 to [`neorl::agents::Threads::MAX`] or `all`;
/// without it `NEORL_THREADS`, else every core.
pub fn threads(flag: &str, value: Option<&str>) -> Result<neorl::agents::Threads> {
    Ok(match value {
        Some(v) => neorl::agents::Threads::parse(v).map_err(|e| anyhow::anyhow!("{flag}: {e}"))?,
        None => neorl::agents::Threads::from_env()?,
    })
}
