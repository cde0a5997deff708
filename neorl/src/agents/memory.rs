//! The memory an agent's configuration asks for, checked before its
//! networks are built. Widths and batch sizes come from users (`--hidden`,
//! `--set batch_size=…`, a config in a notebook) or from a checkpoint's
//! header, so they can be anything; a width of 0 breaks the network, and a
//! failed allocation aborts the process without a word (issue 17).
//!
//! The check reads the sizes by their field names in the config (every
//! built-in config has `hidden` and `batch_size`; CQL and COMBO sample
//! `n_actions` actions per state; COMBO has a dynamics ensemble of
//! `model_members` networks of `model_hidden` widths, rolls out
//! `rollout_batch` states and keeps `model_buffer` transitions) and
//! compares a lower bound of what they need with what the machine has.

use super::agent::TrainState;
use crate::error::{Error, Result};
use crate::limits::{bytes_for, check_memory};
use serde::Serialize;

/// Refuse `config` of `algo` for an agent with the dimensions and batch of
/// `state` when a hidden-layer width or a batch is 0, or when its sizes
/// need more memory than this machine has. The bound counts the critic
/// once (weights, gradients and two Adam moments: 16 bytes a parameter),
/// one minibatch through it (4 bytes a value, times `n_actions`), COMBO's
/// ensemble and its model buffer: less than training takes, so nothing
/// that fits is refused.
pub fn check(algo: &str, state: &TrainState, config: &impl Serialize) -> Result<()> {
    let c = serde_json::to_value(config).map_err(|source| Error::Json {
        context: format!("{algo} config"),
        source,
    })?;
    let widths = |key: &str| -> Vec<u128> {
        c.get(key)
            .and_then(|v| v.as_array())
            .map(|a| a.iter().map(|w| w.as_u64().map_or(0, u128::from)).collect())
            .unwrap_or_default()
    };
    let number = |key: &str| c.get(key).and_then(|v| v.as_u64()).map(u128::from);
    let (hidden, model_hidden) = (widths("hidden"), widths("model_hidden"));
    if hidden.contains(&0) || model_hidden.contains(&0) {
        return Err(Error::InvalidArgument(format!(
            "{algo}: every hidden-layer width must be at least 1, got hidden {hidden:?}{}",
            match model_hidden.is_empty() {
                true => String::new(),
                false => format!(" and model_hidden {model_hidden:?}"),
            }
        )));
    }
    let rows = [number("batch_size"), number("rollout_batch")]
        .into_iter()
        .flatten()
        .chain([state.batch_size as u128])
        .collect::<Vec<_>>();
    if rows.contains(&0) {
        return Err(Error::InvalidArgument(format!(
            "{algo}: batch_size (and rollout_batch) must be at least 1 row"
        )));
    }
    let (od, ad) = (state.obs_dim as u128, state.act_dim as u128);
    // A critic: state and action in, one value out.
    let (critic, values) = mlp(od.saturating_add(ad), &hidden, 1);
    // The dynamics ensemble: state and action in, next state and reward out.
    let model = match model_hidden.is_empty() {
        true => 0,
        false => mlp(od.saturating_add(ad), &model_hidden, od.saturating_add(1)).0,
    };
    let members = number("model_members").unwrap_or(1).max(1);
    let nets = bytes_for(critic.saturating_add(model.saturating_mul(members)), 16);
    let per_row = number("n_actions").unwrap_or(1).max(1);
    let batch = rows.iter().copied().max().unwrap_or(1);
    let activations = bytes_for(batch, per_row)
        .saturating_mul(values)
        .saturating_mul(4);
    let transition = od.saturating_mul(2).saturating_add(ad).saturating_add(1);
    let buffer = bytes_for(
        number("model_buffer").unwrap_or(0),
        transition.saturating_mul(4),
    );
    check_memory(
        &format!(
            "a {algo} agent for {} ({od} observations, {ad} actions) with hidden {hidden:?}, batch {batch}{}",
            state.env_id,
            match model_hidden.is_empty() {
                true => String::new(),
                false => format!(", model_hidden {model_hidden:?} × {members}"),
            }
        ),
        nets.saturating_add(activations).saturating_add(buffer),
        "use smaller hidden widths or batch sizes (`--hidden`, `--set batch_size=…` on the command line)",
    )
}

/// Parameters and values per row of an MLP `input → widths → output`.
fn mlp(input: u128, widths: &[u128], output: u128) -> (u128, u128) {
    let (mut params, mut values, mut fan_in) = (0u128, input, input);
    for &w in widths.iter().chain([&output]) {
        params = params.saturating_add(bytes_for(fan_in.saturating_add(1), w));
        values = values.saturating_add(w);
        fan_in = w;
    }
    (params, values)
}
