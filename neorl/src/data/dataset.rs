//! The in-memory [`Dataset`]: one contiguous array per field (columnar), an
//! episode index, a train/validation split by episode and normalisation
//! statistics. Minibatches are drawn by the sampler of [`super::batch`].

use crate::env::EnvRng;
use crate::error::{Error, Result};
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use std::ops::Range;

/// Where a dataset came from and how it was made. Stored as root attributes
/// of the HDF5 file (see [`crate::data`] for the layout).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Metadata {
    /// Registry id of the dataset (`"SupplyChain-medium-v0"`); empty for files
    /// from elsewhere.
    pub dataset_id: String,
    /// Environment id (`"SupplyChain-v0"`); for D4RL/Minari files whatever
    /// the file says, or empty.
    pub env_id: String,
    /// `random`, `medium`, `expert`, `mixed`, or empty.
    pub quality: String,
    /// Seed the dataset was generated from.
    pub seed: Option<u64>,
    /// Generator name and version (`"neorl-datagen/1"`).
    pub generator: String,
    /// Version of neorl that wrote the file.
    pub neorl_version: String,
    /// Human-readable description of the behaviour policy (or policies).
    pub behavior_policy: String,
    /// Return of the random reference policy (D4RL `ref_min_score`).
    pub ref_min_score: Option<f64>,
    /// Return of the expert reference policy (D4RL `ref_max_score`).
    pub ref_max_score: Option<f64>,
    /// Whether sensor noise and disturbances were on while generating.
    pub sensor_noise: Option<bool>,
    pub disturbances: Option<bool>,
    /// Names of the observation dimensions (empty when the file has none).
    pub observation_names: Vec<String>,
    /// Names of the action dimensions.
    pub action_names: Vec<String>,
    /// `"neorl"`, `"d4rl"` or `"minari"`: which layout the data was read from.
    pub layout: String,
    /// The content SHA-256 recorded in the file (see [`crate::data::checksum`]).
    pub sha256: Option<String>,
    /// The SHA-256 of the fields above recorded in the file (see
    /// [`crate::data::checksum::metadata_sha256`]); `None` for files without it.
    pub metadata_sha256: Option<String>,
}

/// One constraint's per-step signal and violation flags.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstraintColumn {
    /// The constraint's name in the environment spec.
    pub name: String,
    /// Value of the constrained signal after each step (`infos/<name>`).
    pub values: Vec<f32>,
    /// Whether the limit was crossed after each step (`infos/violations/<name>`).
    pub violations: Vec<bool>,
}

/// The columns of a dataset, as plain vectors (`n` transitions, row-major
/// 2-D arrays). Build one and pass it to [`Dataset::new`], which checks
/// that the lengths agree.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Columns {
    pub obs_dim: usize,
    pub act_dim: usize,
    /// `n × obs_dim`
    pub observations: Vec<f32>,
    /// `n × act_dim`
    pub actions: Vec<f32>,
    /// `n`
    pub rewards: Vec<f32>,
    /// `n × obs_dim`: the observation after the step (never an autoreset one).
    pub next_observations: Vec<f32>,
    /// `n`: true terminal state or hard-constraint breach (`terminated`).
    pub terminals: Vec<bool>,
    /// `n`: time limit, or the last step of an episode cut by the dataset size.
    pub timeouts: Vec<bool>,
    /// `n`: number of constraints violated after the step.
    pub costs: Vec<f32>,
    /// One per constraint, in the environment's order.
    pub constraints: Vec<ConstraintColumn>,
}

impl Columns {
    /// Empty columns with room for `n` transitions.
    pub fn with_capacity(obs_dim: usize, act_dim: usize, names: &[String], n: usize) -> Self {
        Columns {
            obs_dim,
            act_dim,
            observations: Vec::with_capacity(n * obs_dim),
            actions: Vec::with_capacity(n * act_dim),
            rewards: Vec::with_capacity(n),
            next_observations: Vec::with_capacity(n * obs_dim),
            terminals: Vec::with_capacity(n),
            timeouts: Vec::with_capacity(n),
            costs: Vec::with_capacity(n),
            constraints: names
                .iter()
                .map(|name| ConstraintColumn {
                    name: name.clone(),
                    values: Vec::with_capacity(n),
                    violations: Vec::with_capacity(n),
                })
                .collect(),
        }
    }

    /// Number of transitions (length of `rewards`).
    pub fn len(&self) -> usize {
        self.rewards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rewards.is_empty()
    }

    /// Append transitions `range` of `other` (same dimensions).
    pub fn extend_from(&mut self, other: &Columns, range: Range<usize>) {
        let (od, ad) = (self.obs_dim, self.act_dim);
        let (a, b) = (range.start, range.end);
        self.observations
            .extend_from_slice(&other.observations[a * od..b * od]);
        self.actions
            .extend_from_slice(&other.actions[a * ad..b * ad]);
        self.rewards.extend_from_slice(&other.rewards[a..b]);
        self.next_observations
            .extend_from_slice(&other.next_observations[a * od..b * od]);
        self.terminals.extend_from_slice(&other.terminals[a..b]);
        self.timeouts.extend_from_slice(&other.timeouts[a..b]);
        self.costs.extend_from_slice(&other.costs[a..b]);
        for (c, o) in self.constraints.iter_mut().zip(&other.constraints) {
            c.values.extend_from_slice(&o.values[a..b]);
            c.violations.extend_from_slice(&o.violations[a..b]);
        }
    }

    /// Keep the first `n` transitions.
    pub fn truncate(&mut self, n: usize) {
        self.observations.truncate(n * self.obs_dim);
        self.actions.truncate(n * self.act_dim);
        self.rewards.truncate(n);
        self.next_observations.truncate(n * self.obs_dim);
        self.terminals.truncate(n);
        self.timeouts.truncate(n);
        self.costs.truncate(n);
        for c in &mut self.constraints {
            c.values.truncate(n);
            c.violations.truncate(n);
        }
    }

    /// Check that every column has `n` rows; the message names the column.
    pub fn check_lengths(&self) -> std::result::Result<(), String> {
        let n = self.rewards.len();
        let (od, ad) = (self.obs_dim, self.act_dim);
        let mut checks: Vec<(&str, usize, usize)> = vec![
            ("observations", self.observations.len(), n * od),
            ("actions", self.actions.len(), n * ad),
            ("next_observations", self.next_observations.len(), n * od),
            ("terminals", self.terminals.len(), n),
            ("timeouts", self.timeouts.len(), n),
            ("costs", self.costs.len(), n),
        ];
        for c in &self.constraints {
            checks.push((&c.name, c.values.len(), n));
            checks.push((&c.name, c.violations.len(), n));
        }
        for (name, got, want) in checks {
            if got != want {
                return Err(format!(
                    "{name} has {got} values but rewards has {n} rows, so {want} were expected (mismatched lengths)"
                ));
            }
        }
        Ok(())
    }
}

/// Mean and standard deviation per dimension (population std, floored at
/// `1e-6` so that constant dimensions normalise to 0, not NaN).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Normalization {
    pub obs_mean: Vec<f32>,
    pub obs_std: Vec<f32>,
    pub reward_mean: f32,
    pub reward_std: f32,
    pub reward_min: f32,
    pub reward_max: f32,
}

impl Normalization {
    /// Smallest standard deviation used when normalising.
    pub const MIN_STD: f64 = 1e-6;

    /// `(obs - mean) / std` in place, for one or many rows.
    pub fn normalize_obs(&self, obs: &mut [f32]) {
        let od = self.obs_mean.len();
        for row in obs.chunks_mut(od.max(1)) {
            for ((x, m), s) in row.iter_mut().zip(&self.obs_mean).zip(&self.obs_std) {
                *x = (*x - m) / s;
            }
        }
    }

    /// Inverse of [`Normalization::normalize_obs`].
    pub fn denormalize_obs(&self, obs: &mut [f32]) {
        let od = self.obs_mean.len();
        for row in obs.chunks_mut(od.max(1)) {
            for ((x, m), s) in row.iter_mut().zip(&self.obs_mean).zip(&self.obs_std) {
                *x = *x * s + m;
            }
        }
    }

    /// `(r - mean) / std` in place.
    pub fn normalize_rewards(&self, rewards: &mut [f32]) {
        for r in rewards {
            *r = (*r - self.reward_mean) / self.reward_std;
        }
    }
}

/// An offline dataset in memory: columnar `f32` arrays in D4RL's
/// conventions plus costs and per-constraint signals, with an episode index.
#[derive(Clone, PartialEq)]
pub struct Dataset {
    meta: Metadata,
    cols: Columns,
    /// Start row of every episode, then `len()`: episode `e` is
    /// `starts[e]..starts[e + 1]`.
    starts: Vec<usize>,
}

impl Dataset {
    /// Check the columns' lengths and build the episode index. An episode
    /// ends at a step with `terminals` or `timeouts` set, or at the last row.
    pub fn new(meta: Metadata, cols: Columns) -> Result<Self> {
        cols.check_lengths().map_err(Error::InvalidArgument)?;
        let starts = episode_starts(&cols.terminals, &cols.timeouts);
        Ok(Dataset { meta, cols, starts })
    }

    pub fn metadata(&self) -> &Metadata {
        &self.meta
    }
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.meta
    }
    /// All columns.
    pub fn columns(&self) -> &Columns {
        &self.cols
    }
    /// Give the columns back (e.g. to edit them and rebuild with [`Dataset::new`]).
    pub fn into_parts(self) -> (Metadata, Columns) {
        (self.meta, self.cols)
    }
    /// Number of transitions.
    pub fn len(&self) -> usize {
        self.cols.len()
    }
    pub fn is_empty(&self) -> bool {
        self.cols.is_empty()
    }
    pub fn obs_dim(&self) -> usize {
        self.cols.obs_dim
    }
    pub fn act_dim(&self) -> usize {
        self.cols.act_dim
    }
    /// `len × obs_dim`, row-major.
    pub fn observations(&self) -> &[f32] {
        &self.cols.observations
    }
    /// `len × act_dim`, row-major.
    pub fn actions(&self) -> &[f32] {
        &self.cols.actions
    }
    pub fn rewards(&self) -> &[f32] {
        &self.cols.rewards
    }
    /// `len × obs_dim`, row-major.
    pub fn next_observations(&self) -> &[f32] {
        &self.cols.next_observations
    }
    pub fn terminals(&self) -> &[bool] {
        &self.cols.terminals
    }
    pub fn timeouts(&self) -> &[bool] {
        &self.cols.timeouts
    }
    pub fn costs(&self) -> &[f32] {
        &self.cols.costs
    }
    pub fn constraints(&self) -> &[ConstraintColumn] {
        &self.cols.constraints
    }
    /// Observation of row `i`.
    pub fn observation(&self, i: usize) -> &[f32] {
        let od = self.cols.obs_dim;
        &self.cols.observations[i * od..(i + 1) * od]
    }
    /// Action of row `i`.
    pub fn action(&self, i: usize) -> &[f32] {
        let ad = self.cols.act_dim;
        &self.cols.actions[i * ad..(i + 1) * ad]
    }
    /// Next observation of row `i`.
    pub fn next_observation(&self, i: usize) -> &[f32] {
        let od = self.cols.obs_dim;
        &self.cols.next_observations[i * od..(i + 1) * od]
    }

    /// Observation names from the metadata, or `obs_0, obs_1, …`.
    pub fn observation_names(&self) -> Vec<String> {
        names_or_default(&self.meta.observation_names, self.obs_dim(), "obs")
    }
    /// Action names from the metadata, or `act_0, act_1, …`.
    pub fn action_names(&self) -> Vec<String> {
        names_or_default(&self.meta.action_names, self.act_dim(), "act")
    }

    /// Number of episodes (a last episode cut short by the end of the data counts).
    pub fn num_episodes(&self) -> usize {
        self.starts.len() - 1
    }
    /// Rows of episode `e`.
    pub fn episode_range(&self, e: usize) -> Range<usize> {
        self.starts[e]..self.starts[e + 1]
    }
    /// Start rows of every episode followed by `len()`.
    pub fn episode_starts(&self) -> &[usize] {
        &self.starts
    }
    /// Episode of row `i`.
    pub fn episode_of(&self, i: usize) -> usize {
        self.starts.partition_point(|&s| s <= i) - 1
    }
    /// Undiscounted return of every episode (summed in f64).
    pub fn episode_returns(&self) -> Vec<f64> {
        self.starts
            .windows(2)
            .map(|w| {
                self.cols.rewards[w[0]..w[1]]
                    .iter()
                    .map(|&r| r as f64)
                    .sum()
            })
            .collect()
    }

    /// A new dataset made of the given episodes, in the given order.
    pub fn select_episodes(&self, episodes: &[usize]) -> Result<Dataset> {
        let n: usize = episodes
            .iter()
            .map(|&e| {
                if e >= self.num_episodes() {
                    Err(Error::InvalidArgument(format!(
                        "episode {e} does not exist: the dataset has {} episodes",
                        self.num_episodes()
                    )))
                } else {
                    Ok(self.episode_range(e).len())
                }
            })
            .sum::<Result<usize>>()?;
        let names: Vec<String> = self
            .cols
            .constraints
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let mut cols = Columns::with_capacity(self.obs_dim(), self.act_dim(), &names, n);
        for &e in episodes {
            cols.extend_from(&self.cols, self.episode_range(e));
        }
        let mut meta = self.meta.clone();
        meta.sha256 = None;
        Dataset::new(meta, cols)
    }

    /// Rows `range` as a new dataset (episodes cut at the edges stay cut).
    pub fn slice(&self, range: Range<usize>) -> Result<Dataset> {
        if range.start > range.end || range.end > self.len() {
            return Err(Error::InvalidArgument(format!(
                "rows {range:?} are outside the dataset's {} rows",
                self.len()
            )));
        }
        let names: Vec<String> = self
            .cols
            .constraints
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let mut cols = Columns::with_capacity(self.obs_dim(), self.act_dim(), &names, range.len());
        cols.extend_from(&self.cols, range);
        let mut meta = self.meta.clone();
        meta.sha256 = None;
        Dataset::new(meta, cols)
    }

    /// Split by episode into (train, validation): a seeded shuffle of the
    /// episodes puts `round(val_fraction × episodes)` of them (at least one
    /// when there are two or more and the fraction is positive) into the
    /// validation set. Both keep the episodes' original order, so no episode
    /// is ever split between them.
    pub fn split(&self, val_fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
        if !(0.0..=1.0).contains(&val_fraction) {
            return Err(Error::InvalidArgument(format!(
                "val_fraction must be within [0, 1], got {val_fraction}"
            )));
        }
        let ne = self.num_episodes();
        let mut n_val = (val_fraction * ne as f64).round() as usize;
        if val_fraction > 0.0 && ne >= 2 {
            n_val = n_val.clamp(1, ne - 1);
        }
        let mut order: Vec<usize> = (0..ne).collect();
        let mut rng = EnvRng::seed_from_u64(seed);
        // Fisher–Yates.
        for i in (1..ne).rev() {
            let j = rng.random_range(0..=i);
            order.swap(i, j);
        }
        let mut val: Vec<usize> = order[..n_val].to_vec();
        let mut train: Vec<usize> = order[n_val..].to_vec();
        val.sort_unstable();
        train.sort_unstable();
        Ok((self.select_episodes(&train)?, self.select_episodes(&val)?))
    }

    /// Observation and reward statistics for normalisation (computed in f64).
    pub fn normalization(&self) -> Normalization {
        let od = self.obs_dim();
        let n = self.len().max(1) as f64;
        let mut mean = vec![0f64; od];
        for row in self.cols.observations.chunks(od.max(1)) {
            for (m, &x) in mean.iter_mut().zip(row) {
                *m += x as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0f64; od];
        for row in self.cols.observations.chunks(od.max(1)) {
            for ((v, &x), m) in var.iter_mut().zip(row).zip(&mean) {
                let d = x as f64 - m;
                *v += d * d;
            }
        }
        let std = |v: f64| (v / n).sqrt().max(Normalization::MIN_STD) as f32;
        let r = &self.cols.rewards;
        let rm = r.iter().map(|&x| x as f64).sum::<f64>() / n;
        let rv = r.iter().map(|&x| (x as f64 - rm).powi(2)).sum::<f64>();
        Normalization {
            obs_mean: mean.iter().map(|&m| m as f32).collect(),
            obs_std: var.into_iter().map(std).collect(),
            reward_mean: rm as f32,
            reward_std: std(rv),
            reward_min: r.iter().copied().fold(f32::INFINITY, f32::min),
            reward_max: r.iter().copied().fold(f32::NEG_INFINITY, f32::max),
        }
    }
}

/// A short description: printing a dataset in a notebook must not dump
/// millions of numbers.
impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = &self.meta;
        f.debug_struct("Dataset")
            .field("id", &m.dataset_id)
            .field("env", &m.env_id)
            .field("quality", &m.quality)
            .field("transitions", &self.len())
            .field("episodes", &self.num_episodes())
            .field("obs_dim", &self.obs_dim())
            .field("act_dim", &self.act_dim())
            .field(
                "constraints",
                &self
                    .cols
                    .constraints
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("layout", &m.layout)
            .finish()
    }
}

/// Episode start rows (followed by `n`) from the end flags.
pub(crate) fn episode_starts(terminals: &[bool], timeouts: &[bool]) -> Vec<usize> {
    let n = terminals.len();
    let mut starts = vec![0];
    for i in 0..n {
        if (terminals[i] || timeouts[i]) && i + 1 < n {
            starts.push(i + 1);
        }
    }
    if n > 0 {
        starts.push(n);
    }
    starts
}

fn names_or_default(names: &[String], n: usize, prefix: &str) -> Vec<String> {
    if names.len() == n {
        names.to_vec()
    } else {
        (0..n).map(|i| format!("{prefix}_{i}")).collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Three episodes of lengths 3, 2, 4 (the last cut by a timeout).
    pub(crate) fn toy() -> Dataset {
        let n = 9;
        let mut cols = Columns::with_capacity(2, 1, &["c".into()], n);
        for i in 0..n {
            cols.observations.extend([i as f32, -(i as f32)]);
            cols.next_observations
                .extend([(i + 1) as f32, -((i + 1) as f32)]);
            cols.actions.push(0.1 * i as f32);
            cols.rewards.push(i as f32);
            cols.terminals.push(i == 2);
            cols.timeouts.push(i == 4 || i == 8);
            cols.costs.push((i % 2) as f32);
            cols.constraints[0].values.push(i as f32);
            cols.constraints[0].violations.push(i % 2 == 1);
        }
        Dataset::new(Metadata::default(), cols).unwrap()
    }

    #[test]
    fn episode_index() {
        let d = toy();
        assert_eq!(d.num_episodes(), 3);
        assert_eq!(d.episode_starts(), &[0, 3, 5, 9]);
        assert_eq!(d.episode_range(1), 3..5);
        assert_eq!(d.episode_of(0), 0);
        assert_eq!(d.episode_of(3), 1);
        assert_eq!(d.episode_of(8), 2);
        assert_eq!(d.episode_returns(), vec![3.0, 7.0, 26.0]);
        let e = Dataset::new(Metadata::default(), Columns::default()).unwrap();
        assert_eq!(e.num_episodes(), 0);
    }

    #[test]
    fn mismatched_lengths_are_rejected_with_the_column_name() {
        let (meta, mut cols) = toy().into_parts();
        cols.costs.pop();
        let e = Dataset::new(meta, cols).unwrap_err().to_string();
        assert!(e.contains("costs") && e.contains("mismatched"), "{e}");
    }

    #[test]
    fn split_is_by_episode_and_seeded() {
        let d = toy();
        let (tr, va) = d.split(0.34, 3).unwrap();
        assert_eq!(tr.len() + va.len(), d.len());
        assert_eq!(va.num_episodes(), 1);
        assert_eq!(tr.num_episodes(), 2);
        assert_eq!(d.split(0.34, 3).unwrap(), (tr, va));
        assert!(d.split(1.5, 0).is_err());
    }

    #[test]
    fn normalization_statistics() {
        let d = toy();
        let s = d.normalization();
        assert!((s.obs_mean[0] - 4.0).abs() < 1e-6);
        assert!((s.obs_mean[1] + 4.0).abs() < 1e-6);
        let mut o = d.observations().to_vec();
        s.normalize_obs(&mut o);
        let m: f32 = o.iter().step_by(2).sum::<f32>() / 9.0;
        assert!(m.abs() < 1e-5);
        s.denormalize_obs(&mut o);
        for (a, b) in o.iter().zip(d.observations()) {
            assert!((a - b).abs() < 1e-5);
        }
        assert_eq!(s.reward_min, 0.0);
        assert_eq!(s.reward_max, 8.0);
    }
}
