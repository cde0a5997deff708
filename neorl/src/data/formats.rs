//! Reading files written by others: D4RL's flat layout and Minari's
//! per-episode layout, into the same [`Dataset`].
//!
//! * **D4RL** (and neorl): root datasets `observations (n, obs_dim)`,
//!   `actions (n, act_dim)`, `rewards (n,)`, `next_observations (n, obs_dim)`,
//!   `terminals (n,)`, `timeouts (n,)`; optional `costs (n,)` and, when the
//!   `constraint_names` attribute lists them, `infos/<c>` and
//!   `infos/violations/<c>`. Other `infos/*` and `metadata/*` entries are
//!   ignored. A file without `costs` reads with zero costs.
//! * **Minari**: groups `episode_<id>` (read in numeric id order), each with
//!   `observations (T + 1, obs_dim)`, `actions (T, act_dim)`, `rewards (T,)`,
//!   `terminations (T,)` and `truncations (T,)`. Step `t` becomes a
//!   transition with `observations[t]`, `next_observations = observations[t + 1]`,
//!   `terminals = terminations[t]`, `timeouts = truncations[t]`. Only Box
//!   (array) observation and action spaces are supported; dictionary spaces
//!   (groups) are an error. The environment id is taken from the `env_spec`
//!   JSON attribute when present.
//!
//! Numeric arrays of any float or integer dtype are converted to `f32`;
//! flags may be bool or 0/1 numbers. Anything else — a missing key, a
//! string dtype, lengths that disagree — is an error naming the file, the
//! key and the problem.

// A reader of untrusted files: no panic on any input (issue 17). Unwraps,
// panics and unchecked indexing are errors here.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::dataset::{Columns, Dataset};
use super::h5::{self, Layout, Reader};
use crate::error::{Error, Result};
use std::path::Path;

/// Read a whole file, whichever layout it uses (neorl, D4RL or Minari). A
/// neorl file's content is checked against its recorded SHA-256.
pub fn read(path: impl AsRef<Path>) -> Result<Dataset> {
    read_with(path, true)
}

/// As [`read`]; `verify: false` skips the checksum check (for inspecting
/// a damaged file, or when the caller checks it itself).
pub fn read_with(path: impl AsRef<Path>, verify: bool) -> Result<Dataset> {
    let path = path.as_ref();
    let file = h5::open_file(path)?;
    match h5::detect_layout(path, &file)? {
        Layout::D4rl if verify => Reader::from_file(path, file)?.read_all(),
        Layout::D4rl => Reader::from_file(path, file)?.read_rows(None),
        Layout::Minari => read_minari(path, &file),
    }
}

fn read_minari(path: &Path, file: &hdf5::File) -> Result<Dataset> {
    let mut episodes: Vec<(u64, String)> = file
        .member_names()
        .map_err(|e| Error::data_file(path, format!("could not list the root group: {e}")))?
        .into_iter()
        .filter(|n| h5::is_minari_episode(n))
        .map(|n| (n["episode_".len()..].parse::<u64>().unwrap_or(u64::MAX), n))
        .collect();
    episodes.sort();
    let mut cols: Option<Columns> = None;
    for (_, name) in &episodes {
        let g = file
            .group(name)
            .map_err(|e| Error::data_file(path, format!("'{name}' is not a group: {e}")))?;
        let ctx = format!(
            " in '{name}' (a Minari episode needs observations, actions, rewards, terminations, truncations)"
        );
        for key in ["observations", "actions"] {
            if g.link_exists(key) && g.group(key).is_ok() {
                return Err(Error::data_file(
                    path,
                    format!(
                        "'{name}/{key}' is a group (a dictionary space); only array (Box) spaces are supported"
                    ),
                ));
            }
        }
        let obs_ds = h5::require(path, &g, "observations", &ctx)?;
        let act_ds = h5::require(path, &g, "actions", &ctx)?;
        let rew_ds = h5::require(path, &g, "rewards", &ctx)?;
        let term_ds = h5::require(path, &g, "terminations", &ctx)?;
        let trunc_ds = h5::require(path, &g, "truncations", &ctx)?;
        let k = |key: &str| format!("{name}/{key}");
        let (no, od) = h5::rows_and_width(path, &obs_ds, &k("observations"))?;
        let (t, ad) = h5::rows_and_width(path, &act_ds, &k("actions"))?;
        if no != t + 1 {
            return Err(Error::data_file(
                path,
                format!(
                    "'{name}/observations' has {no} rows but '{name}/actions' has {t}; Minari stores T + 1 observations for T steps (mismatched lengths)"
                ),
            ));
        }
        for (key, ds) in [
            ("rewards", &rew_ds),
            ("terminations", &term_ds),
            ("truncations", &trunc_ds),
        ] {
            let (rows, width) = h5::rows_and_width(path, ds, &k(key))?;
            if rows != t || width != 1 {
                return Err(Error::data_file(
                    path,
                    format!(
                        "'{name}/{key}' has shape {:?}; expected ({t},) to match '{name}/actions' (mismatched lengths)",
                        ds.shape()
                    ),
                ));
            }
        }
        let c = cols.get_or_insert_with(|| Columns {
            obs_dim: od,
            act_dim: ad,
            ..Columns::default()
        });
        if c.obs_dim != od || c.act_dim != ad {
            return Err(Error::data_file(
                path,
                format!(
                    "'{name}' has obs_dim {od} and act_dim {ad}, but earlier episodes have {} and {}",
                    c.obs_dim, c.act_dim
                ),
            ));
        }
        let obs = h5::read_f32(path, &obs_ds, &k("observations"), None)?;
        // T + 1 rows (checked above): rows 0..T are the observations, 1..=T the next ones.
        let (Some(before), Some(after)) = (obs.get(..t * od), obs.get(od..)) else {
            return Err(Error::data_file(
                path,
                format!("'{name}/observations' holds fewer values than its shape says"),
            ));
        };
        c.observations.extend_from_slice(before);
        c.next_observations.extend_from_slice(after);
        c.actions
            .extend(h5::read_f32(path, &act_ds, &k("actions"), None)?);
        c.rewards
            .extend(h5::read_f32(path, &rew_ds, &k("rewards"), None)?);
        let mut term = h5::read_flags(path, &term_ds, &k("terminations"), None)?;
        let mut trunc = h5::read_flags(path, &trunc_ds, &k("truncations"), None)?;
        // An episode always ends here; if the file marks neither, call it a
        // time-out (the recording stopped).
        if let (Some(false), Some(last)) = (term.last().copied(), trunc.last_mut()) {
            *last = true;
        }
        // Flags before the last step would split the episode: keep them as recorded.
        c.terminals.append(&mut term);
        c.timeouts.append(&mut trunc);
        c.costs.extend(std::iter::repeat_n(0.0, t));
    }
    let Some(cols) = cols else {
        return Err(Error::data_file(path, "has no episode_<id> groups"));
    };
    let mut meta = h5::read_metadata(file, "minari");
    if meta.dataset_id.is_empty() {
        meta.dataset_id = h5::get_str(file, "dataset_id").unwrap_or_default();
    }
    if meta.env_id.is_empty()
        && let Some(spec) = h5::get_str(file, "env_spec")
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(&spec)
        && let Some(id) = v.get("id").and_then(|x| x.as_str())
    {
        meta.env_id = id.to_string();
    }
    meta.sha256 = None;
    Dataset::new(meta, cols).map_err(|e| Error::data_file(path, e.to_string()))
}
