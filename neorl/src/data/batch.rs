//! The one transition contract: a minibatch type ([`Batch`]), the trait of
//! everything minibatches are drawn from ([`BatchSource`]) with the one
//! sampler (uniform with replacement, into caller-owned buffers), the
//! provenance a source can report ([`DataSource`]), and [`Dataset`]'s side
//! of it.
//!
//! `BatchSource` is deliberately small, so that any columnar data (a
//! registry [`Dataset`], a user's own arrays) plugs into the agents'
//! training loop by exposing its columns.

use super::checksum::content_sha256;
use super::dataset::Dataset;
use crate::env::EnvRng;
use crate::error::{Error, Result};
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// Transitions in flat row-major `f32` arrays: a minibatch drawn from a
/// [`BatchSource`], refilled in place by [`BatchSource::sample_into`] (and
/// [`Dataset::sample_into`]) without allocating once it has grown to size.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// Number of transitions.
    pub len: usize,
    pub obs_dim: usize,
    pub act_dim: usize,
    /// `len × obs_dim`
    pub observations: Vec<f32>,
    /// `len × act_dim`
    pub actions: Vec<f32>,
    /// `len`
    pub rewards: Vec<f32>,
    /// `len × obs_dim`
    pub next_observations: Vec<f32>,
    /// `len`: 1.0 where the episode truly ended (not a time limit), so
    /// bootstrapping stops; else 0.0.
    pub terminals: Vec<f32>,
    /// `len`: constraints violated after the step (0 where the source
    /// records no costs).
    pub costs: Vec<f32>,
    /// `len`: the row of each transition in its source.
    pub indices: Vec<usize>,
}

impl Batch {
    /// Zeroed buffers for `len` transitions of these dimensions.
    pub fn new(len: usize, obs_dim: usize, act_dim: usize) -> Self {
        let mut b = Batch::default();
        b.resize(len, obs_dim, act_dim);
        b
    }

    /// An empty batch with room for `len` transitions.
    pub fn with_capacity(len: usize, obs_dim: usize, act_dim: usize) -> Self {
        let mut b = Batch::new(len, obs_dim, act_dim);
        b.resize(0, obs_dim, act_dim);
        b
    }

    /// Give every array the length of `len` transitions (new entries are 0;
    /// no allocation when the capacity is there).
    fn resize(&mut self, len: usize, obs_dim: usize, act_dim: usize) {
        self.len = len;
        self.obs_dim = obs_dim;
        self.act_dim = act_dim;
        self.observations.resize(len * obs_dim, 0.0);
        self.actions.resize(len * act_dim, 0.0);
        self.rewards.resize(len, 0.0);
        self.next_observations.resize(len * obs_dim, 0.0);
        self.terminals.resize(len, 0.0);
        self.costs.resize(len, 0.0);
        self.indices.resize(len, 0);
    }
}

/// Which data an agent was trained on: reported by
/// [`BatchSource::source`], recorded by the training loop and kept in
/// checkpoints, so a checkpoint says exactly which dataset (by content
/// SHA-256) its normalisation and weights come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSource {
    /// Registry id (`"ChemicalReactor-medium-v0"`), or the file the data was
    /// read from when it has none.
    pub id: String,
    /// Content SHA-256 of the data ([`crate::data::content_sha256`]).
    pub sha256: String,
    /// Environment the data comes from.
    pub env_id: String,
    /// Number of transitions.
    pub transitions: usize,
}

/// A columnar set of transitions that minibatches are drawn from. `Sync`:
/// training reads it from the device's threads ([`crate::agents::Device::run`]).
pub trait BatchSource: Sync {
    /// Environment the data comes from (agents check it matches theirs).
    fn env_id(&self) -> &str;
    fn obs_dim(&self) -> usize;
    fn act_dim(&self) -> usize;
    /// Number of transitions.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// `len × obs_dim`
    fn observations(&self) -> &[f32];
    /// `len × act_dim`, in the environment's units.
    fn actions(&self) -> &[f32];
    fn rewards(&self) -> &[f32];
    fn next_observations(&self) -> &[f32];
    /// Whether transition `i` ended its episode by termination (not a time limit).
    fn terminal(&self, i: usize) -> bool;
    /// `len` costs, or none (an empty slice) when the data has no costs.
    fn costs(&self) -> &[f32] {
        &[]
    }
    /// Undiscounted returns of the complete episodes, when known.
    fn episode_returns(&self) -> Vec<f64> {
        vec![]
    }

    /// Which data this is (id and content SHA-256), when it can say; the
    /// training loop records it in the agent and its checkpoints.
    fn source(&self) -> Option<DataSource> {
        None
    }

    /// Draw `n` transitions uniformly with replacement into `out`, resizing
    /// it to `n` rows (one `rng.random_range(0..len)` per row, in order). An
    /// empty source gives an empty batch.
    fn sample_into(&self, rng: &mut EnvRng, n: usize, out: &mut Batch) {
        let (od, ad, len) = (self.obs_dim(), self.act_dim(), self.len());
        out.resize(if len == 0 { 0 } else { n }, od, ad);
        let (o, a, r, no, c) = (
            self.observations(),
            self.actions(),
            self.rewards(),
            self.next_observations(),
            self.costs(),
        );
        for k in 0..out.len {
            let i = rng.random_range(0..len);
            out.indices[k] = i;
            out.observations[k * od..(k + 1) * od].copy_from_slice(&o[i * od..(i + 1) * od]);
            out.actions[k * ad..(k + 1) * ad].copy_from_slice(&a[i * ad..(i + 1) * ad]);
            out.rewards[k] = r[i];
            out.next_observations[k * od..(k + 1) * od].copy_from_slice(&no[i * od..(i + 1) * od]);
            out.terminals[k] = if self.terminal(i) { 1.0 } else { 0.0 };
            out.costs[k] = c.get(i).copied().unwrap_or(0.0);
        }
    }

    /// Per-dimension mean and standard deviation of the observations
    /// (computed in f64; a std below 1e-3 is replaced by 1).
    fn observation_stats(&self) -> (Vec<f32>, Vec<f32>) {
        let od = self.obs_dim();
        let n = self.len().max(1) as f64;
        let mut mean = vec![0f64; od];
        let mut sq = vec![0f64; od];
        for row in self.observations().chunks_exact(od) {
            for (j, &x) in row.iter().enumerate() {
                mean[j] += x as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        for row in self.observations().chunks_exact(od) {
            for (j, &x) in row.iter().enumerate() {
                sq[j] += (x as f64 - mean[j]).powi(2);
            }
        }
        let std = sq
            .iter()
            .map(|s| {
                let s = (s / n).sqrt();
                if s < 1e-3 { 1.0 } else { s as f32 }
            })
            .collect();
        (mean.into_iter().map(|m| m as f32).collect(), std)
    }
}

/// Agents train on datasets directly:
/// `agent.train(&neorl::datasets::load("PowerGrid-medium-v0")?, steps)`.
impl BatchSource for Dataset {
    fn env_id(&self) -> &str {
        &self.metadata().env_id
    }
    fn obs_dim(&self) -> usize {
        Dataset::obs_dim(self)
    }
    fn act_dim(&self) -> usize {
        Dataset::act_dim(self)
    }
    fn len(&self) -> usize {
        Dataset::len(self)
    }
    fn observations(&self) -> &[f32] {
        Dataset::observations(self)
    }
    fn actions(&self) -> &[f32] {
        Dataset::actions(self)
    }
    fn rewards(&self) -> &[f32] {
        Dataset::rewards(self)
    }
    fn next_observations(&self) -> &[f32] {
        Dataset::next_observations(self)
    }
    fn terminal(&self, i: usize) -> bool {
        self.terminals()[i]
    }
    fn costs(&self) -> &[f32] {
        Dataset::costs(self)
    }
    /// Every episode but the data's last, which may have been cut to size.
    fn episode_returns(&self) -> Vec<f64> {
        let mut r = Dataset::episode_returns(self);
        if r.len() > 1 {
            r.pop();
        }
        r
    }
    /// The dataset id (empty for files without one) and the content SHA-256
    /// recorded with the data, or computed when there is none (splits,
    /// D4RL/Minari files, controller roll-outs).
    fn source(&self) -> Option<DataSource> {
        let m = self.metadata();
        Some(DataSource {
            id: m.dataset_id.clone(),
            sha256: m.sha256.clone().unwrap_or_else(|| content_sha256(self)),
            env_id: m.env_id.clone(),
            transitions: Dataset::len(self),
        })
    }
}

/// Minibatches of a dataset, through the one sampler above.
impl Dataset {
    /// A batch buffer sized for this dataset.
    pub fn batch(&self, size: usize) -> Batch {
        Batch::new(size, self.obs_dim(), self.act_dim())
    }

    /// Fill `batch` with `batch.len` transitions drawn uniformly with
    /// replacement, using `rng` (seed it for reproducible training). The
    /// buffers must fit this dataset (make them with [`Dataset::batch`]).
    pub fn sample_into(&self, rng: &mut EnvRng, batch: &mut Batch) -> Result<()> {
        if self.is_empty() {
            return Err(Error::InvalidArgument(
                "cannot sample from an empty dataset".into(),
            ));
        }
        let (od, ad) = (self.obs_dim(), self.act_dim());
        let b = batch.len;
        if batch.observations.len() != b * od
            || batch.actions.len() != b * ad
            || batch.next_observations.len() != b * od
            || batch.rewards.len() != b
            || batch.terminals.len() != b
            || batch.costs.len() != b
            || batch.indices.len() != b
        {
            return Err(Error::InvalidArgument(format!(
                "the batch buffers do not match the dataset (obs_dim {od}, act_dim {ad}, size {b}); make them with dataset.batch({b})"
            )));
        }
        BatchSource::sample_into(self, rng, b, batch);
        Ok(())
    }

    /// A new batch of `size` uniformly drawn transitions (allocates; use
    /// [`Dataset::sample_into`] in training loops).
    pub fn sample(&self, rng: &mut EnvRng, size: usize) -> Result<Batch> {
        let mut b = self.batch(size);
        self.sample_into(rng, &mut b)?;
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::tests::toy;
    use rand::SeedableRng;

    #[test]
    fn sampling_is_seeded_and_rows_are_consistent() {
        let d = toy();
        let mut b = d.batch(64);
        let mut rng = EnvRng::seed_from_u64(1);
        d.sample_into(&mut rng, &mut b).unwrap();
        for k in 0..64 {
            let i = b.indices[k];
            assert_eq!(&b.observations[2 * k..2 * k + 2], d.observation(i));
            assert_eq!(b.rewards[k], d.rewards()[i]);
            assert_eq!(b.costs[k], d.costs()[i]);
            assert_eq!(b.terminals[k], if i == 2 { 1.0 } else { 0.0 });
        }
        let again = d.sample(&mut EnvRng::seed_from_u64(1), 64).unwrap();
        assert_eq!(again, b);
        let mut wrong = Batch::new(4, 3, 1);
        assert!(d.sample_into(&mut rng, &mut wrong).is_err());
    }

    /// The dataset's sampler and the trait's are one: the same seed gives the
    /// same batch, whether the buffers start empty or full.
    #[test]
    fn one_sampler_for_datasets_and_sources() {
        let d = toy();
        let mut a = d.batch(16);
        d.sample_into(&mut EnvRng::seed_from_u64(5), &mut a)
            .unwrap();
        let mut b = Batch::default();
        BatchSource::sample_into(&d, &mut EnvRng::seed_from_u64(5), 16, &mut b);
        assert_eq!(a, b);
        assert_eq!((b.len, b.obs_dim, b.act_dim), (16, 2, 1));
        // Refilled in place with fewer rows.
        BatchSource::sample_into(&d, &mut EnvRng::seed_from_u64(5), 4, &mut b);
        assert_eq!(b.len, 4);
        assert_eq!(b.observations, a.observations[..8]);
    }

    /// A source without costs samples zeros for them; an empty one gives an
    /// empty batch.
    #[test]
    fn sources_without_costs_or_rows() {
        struct Two(Vec<f32>);
        impl BatchSource for Two {
            fn env_id(&self) -> &str {
                "Two-v0"
            }
            fn obs_dim(&self) -> usize {
                1
            }
            fn act_dim(&self) -> usize {
                1
            }
            fn len(&self) -> usize {
                self.0.len()
            }
            fn observations(&self) -> &[f32] {
                &self.0
            }
            fn actions(&self) -> &[f32] {
                &self.0
            }
            fn rewards(&self) -> &[f32] {
                &self.0
            }
            fn next_observations(&self) -> &[f32] {
                &self.0
            }
            fn terminal(&self, i: usize) -> bool {
                i == 1
            }
        }
        let mut b = Batch::new(8, 1, 1);
        let mut rng = EnvRng::seed_from_u64(0);
        Two(vec![3.0, 4.0]).sample_into(&mut rng, 8, &mut b);
        assert!(b.costs.iter().all(|&c| c == 0.0));
        for k in 0..8 {
            assert_eq!(b.rewards[k], [3.0, 4.0][b.indices[k]]);
            assert_eq!(b.terminals[k], b.indices[k] as f32);
        }
        Two(vec![]).sample_into(&mut rng, 8, &mut b);
        assert_eq!((b.len, b.rewards.len()), (0, 0));
    }
}
