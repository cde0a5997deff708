//! The sizes and durations the command line accepts, checked before
//! anything is allocated or started: a dataset size or an agent's widths
//! and batch against the memory this machine has (`neorl::limits`), and
//! durations in seconds against a day. A size past them is refused with
//! what it would need and what there is, instead of an abort on a failed
//! allocation; a duration past them instead of a panic or a silent hang.

use anyhow::{Result, bail};
use neorl::agents::Settings;
use neorl::env::{EnvOptions, EnvSpec};
use neorl::limits::{bytes_for, check_memory};
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
/// of the option `flag`) fits in memory: its columns (observations and
/// next observations, actions, reward, cost and every constraint's value
/// in f32; the terminal, timeout and violation flags in one byte each).
pub fn dataset(flag: &str, env: &str, transitions: usize) -> Result<()> {
    let spec = spec(env)?;
    let (od, ad, nc) = (spec.obs_dim(), spec.act_dim(), spec.n_constraints());
    let per_transition = 4 * (2 * od + ad + 2 + nc) + 2 + nc;
    check_memory(
        &format!(
            "{flag} {transitions}: a dataset of {transitions} {} transitions",
            spec.id
        ),
        bytes_for(transitions as u128, per_transition as u128),
        &format!("pass a smaller {flag}"),
    )?;
    Ok(())
}

/// The sizes of an agent for `env`, from `--hidden` and the `--set`
/// settings (keys `KEY` or `ALGO.KEY`): widths and batches of at least 1,
/// and a lower bound of the memory they need within what there is. The
/// bound counts the largest network once (weights, gradients and two Adam
/// moments: 16 bytes a parameter), one minibatch through it (4 bytes a
/// value; CQL's and COMBO's `n_actions` sampled actions per row), COMBO's
/// dynamics ensemble and its model buffer.
pub fn agent(env: &str, hidden: Option<&[usize]>, settings: &Settings) -> Result<()> {
    let spec = spec(env)?;
    let mut s = AgentSizes {
        widths: hidden.map(<[usize]>::to_vec).unwrap_or_default(),
        ..AgentSizes::default()
    };
    if let Some(h) = hidden
        && h.contains(&0)
    {
        bail!("--hidden: every hidden-layer width must be at least 1, got {h:?}");
    }
    for (key, value) in settings {
        let name = key.rsplit('.').next().unwrap_or(key);
        let number = || value.as_u64().map(|n| n as u128);
        match name {
            "hidden" | "model_hidden" => {
                let Some(w) = widths(value) else { continue };
                if w.contains(&0) {
                    bail!("--set {key}: every hidden-layer width must be at least 1, got {value}");
                }
                if name == "hidden" {
                    s.widths = w;
                } else {
                    s.model_widths = w;
                }
            }
            "batch_size" | "rollout_batch" => {
                let Some(n) = number() else { continue };
                if n == 0 {
                    bail!("--set {key}: a batch needs at least 1 row, got 0");
                }
                s.rows = s.rows.max(n);
            }
            "n_actions" => s.per_row = number().unwrap_or(1).max(1),
            "model_members" => s.members = number().unwrap_or(1).max(1),
            "model_buffer" => s.buffer = number().unwrap_or(0),
            _ => {}
        }
    }
    check_memory(
        &format!(
            "an agent for {} with these sizes ({})",
            spec.id,
            s.describe()
        ),
        s.bytes(&spec),
        "use smaller --hidden widths or --set sizes",
    )?;
    Ok(())
}

/// The sizes [`agent`] reads from the options.
#[derive(Debug)]
struct AgentSizes {
    /// Hidden-layer widths of the actor and critics.
    widths: Vec<usize>,
    /// Hidden-layer widths of COMBO's dynamics model.
    model_widths: Vec<usize>,
    /// Rows of the largest minibatch.
    rows: u128,
    /// Evaluations per row (sampled actions).
    per_row: u128,
    /// Networks of the dynamics ensemble.
    members: u128,
    /// Transitions of COMBO's model buffer.
    buffer: u128,
}

impl Default for AgentSizes {
    fn default() -> Self {
        AgentSizes {
            widths: vec![],
            model_widths: vec![],
            rows: 256,
            per_row: 1,
            members: 1,
            buffer: 0,
        }
    }
}

impl AgentSizes {
    fn bytes(&self, spec: &EnvSpec) -> u128 {
        let (od, ad) = (spec.obs_dim() as u128, spec.act_dim() as u128);
        // A critic: state and action in, one value out.
        let (critic, activations) = mlp(od + ad, &self.widths, 1);
        // The dynamics model (when its widths are given): state and action
        // in, next state and reward out.
        let model = match self.model_widths.is_empty() {
            true => 0,
            false => mlp(od + ad, &self.model_widths, od + 1).0,
        };
        let nets = bytes_for(
            critic.saturating_add(model.saturating_mul(self.members)),
            16,
        );
        let batch = bytes_for(self.rows, self.per_row)
            .saturating_mul(activations)
            .saturating_mul(4);
        let buffer = bytes_for(self.buffer, 4 * (2 * od + ad + 1));
        nets.saturating_add(batch).saturating_add(buffer)
    }

    fn describe(&self) -> String {
        format!(
            "hidden {:?}, model hidden {:?}, batch {} × {}, {} ensemble members, model buffer {}",
            self.widths, self.model_widths, self.rows, self.per_row, self.members, self.buffer
        )
    }
}

/// Parameters and values per row of an MLP `input → widths → output`.
fn mlp(input: u128, widths: &[usize], output: u128) -> (u128, u128) {
    let (mut params, mut values, mut fan_in) = (0u128, input, input);
    for w in widths.iter().map(|&w| w as u128).chain([output]) {
        params = params.saturating_add(bytes_for(fan_in + 1, w));
        values = values.saturating_add(w);
        fan_in = w;
    }
    (params, values)
}

/// Widths from a JSON array of non-negative integers.
fn widths(v: &serde_json::Value) -> Option<Vec<usize>> {
    v.as_array()?
        .iter()
        .map(|x| x.as_u64().and_then(|n| usize::try_from(n).ok()))
        .collect()
}

fn spec(env: &str) -> Result<EnvSpec> {
    Ok(neorl::env::model(env, EnvOptions::default())?
        .spec()
        .clone())
}
