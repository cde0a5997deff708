//! A trained agent's deterministic policy on the CPU: standardise the
//! observation, run the actor, squash with tanh, map to the action bounds.
//!
//! Every algorithm of neorl ends in an actor network whose first `act_dim`
//! outputs are the pre-tanh action — TD3+BC's and BC's deterministic actor,
//! IQL's Gaussian mean (its log-σ is a separate parameter), SAC's (CQL,
//! COMBO) mean head followed by the log-σ head — so one deployment path
//! serves them all: `tanh(actor(normalise(obs)))[..act_dim]`, mapped to the
//! plant's units. Their checkpoints store that network as `actor/0`,
//! `actor/1`, … (weights `[members, in, out]`, biases `[members, 1, out]`,
//! member 0 is the policy); [`AgentPolicy::from_checkpoint`] reads exactly
//! those and the normaliser, checks every shape and value, and needs
//! neither burn nor the training code.

use super::file::{self, Container};
use super::mlp::HostMlp;
use super::normalizer::Normalizer;
use crate::error::{Error, Result};
use crate::policy::Policy;
use serde::Deserialize;
use std::path::Path;

/// A trained agent's deterministic policy. Cheap to clone; allocation-free
/// per call after the first.
#[derive(Debug, Clone)]
pub struct AgentPolicy {
    pub name: String,
    pub net: HostMlp,
    pub norm: Normalizer,
    act_dim: usize,
    scratch: Scratch,
}

/// Buffers of one forward pass.
#[derive(Debug, Clone, Default)]
struct Scratch {
    x: Vec<f32>,
    a: Vec<f32>,
    b: Vec<f32>,
}

/// What deployment reads of a checkpoint's header.
#[derive(Debug, Deserialize)]
struct DeployHeader {
    algo: String,
    env_id: String,
    obs_dim: usize,
    act_dim: usize,
    act_low: Vec<f32>,
    act_high: Vec<f32>,
    step: u64,
    norm: Option<Normalizer>,
}

/// What a checkpoint says about the policy it holds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PolicyInfo {
    pub algo: String,
    pub env_id: String,
    /// Gradient steps the agent was trained for.
    pub step: u64,
    /// The checkpoint file's format version.
    pub format_version: u32,
    /// Layer widths of the actor, input first.
    pub sizes: Vec<usize>,
    /// Whether training had fitted the normaliser (false: an untrained agent).
    pub trained: bool,
}

impl AgentPolicy {
    /// `net` maps normalised observations to at least `act_dim` outputs; the
    /// first `act_dim` are the pre-tanh action (a Gaussian actor's mean).
    pub fn new(name: impl Into<String>, net: HostMlp, norm: Normalizer) -> Self {
        let act_dim = norm.act_low.len();
        AgentPolicy {
            name: name.into(),
            net,
            norm,
            act_dim,
            scratch: Scratch::default(),
        }
    }

    /// The policy of the checkpoint in `dir` (a folder written by `neorl
    /// train` or `agent.save`, or the `agent.ckpt` file itself), with what
    /// the checkpoint says about it. The file is verified (digest, lengths);
    /// the actor's shapes must chain from the observation width to at least
    /// the action width, and every weight and statistic must be finite.
    pub fn from_checkpoint(dir: impl AsRef<Path>) -> Result<(Self, PolicyInfo)> {
        let c = file::read(dir)?;
        let h: DeployHeader = serde_json::from_slice(&c.header)
            .map_err(|e| c.error(format!("its header lacks what a policy needs ({e})")))?;
        if h.act_low.len() != h.act_dim || h.act_high.len() != h.act_dim {
            return Err(c.error(format!(
                "its action bounds have {} and {} entries for {} actions; the file is corrupt",
                h.act_low.len(),
                h.act_high.len(),
                h.act_dim
            )));
        }
        let trained = h.norm.is_some();
        let norm = h
            .norm
            .unwrap_or_else(|| Normalizer::identity(h.obs_dim, &h.act_low, &h.act_high));
        if let Some(p) = norm.non_finite() {
            return Err(c.error(format!("{p}; the file is corrupt")));
        }
        if norm.obs_mean.len() != h.obs_dim
            || norm.obs_std.len() != h.obs_dim
            || norm.act_low.len() != h.act_dim
        {
            return Err(c.error(
                "its normaliser does not match the observation and action widths; the file is corrupt",
            ));
        }
        let net = actor(&c, h.obs_dim, h.act_dim)?;
        let info = PolicyInfo {
            algo: h.algo.clone(),
            env_id: h.env_id,
            step: h.step,
            format_version: c.version,
            sizes: net.sizes.clone(),
            trained,
        };
        Ok((AgentPolicy::new(h.algo, net, norm), info))
    }

    /// Observation width.
    pub fn obs_dim(&self) -> usize {
        self.norm.obs_mean.len()
    }

    /// Action width.
    pub fn act_dim(&self) -> usize {
        self.act_dim
    }

    /// Actions for `n = obs.len() / obs_dim` observations at once (rows in
    /// parallel on the rayon pool, bit-identical to one call per row).
    pub fn act_batch(&self, obs: &[f32], actions: &mut [f32]) {
        use rayon::prelude::*;
        let od = self.norm.obs_mean.len();
        let ad = self.act_dim;
        let n = obs.len() / od.max(1);
        // Spread small batches over the threads, cap chunks for load balance.
        let rows = n.div_ceil(rayon::current_num_threads()).clamp(1, 64);
        obs.par_chunks(od * rows)
            .zip(actions.par_chunks_mut(ad * rows))
            .for_each(|(o, a)| {
                let mut s = Scratch::default();
                for (oi, ai) in o.chunks_exact(od).zip(a.chunks_exact_mut(ad)) {
                    self.act_with(&mut s, oi, ai);
                }
            });
    }

    #[inline]
    fn act_with(&self, s: &mut Scratch, obs: &[f32], action: &mut [f32]) {
        s.x.resize(obs.len(), 0.0);
        self.norm.obs(obs, &mut s.x);
        let out = self.net.forward(&s.x, &mut s.a, &mut s.b);
        let mut unit = [0f32; 32];
        let ad = self.act_dim;
        if ad <= 32 {
            for (u, &o) in unit.iter_mut().zip(&out[..ad]) {
                *u = o.tanh();
            }
            self.norm.unit_to_action(&unit[..ad], action);
        } else {
            let u: Vec<f32> = out[..ad].iter().map(|o| o.tanh()).collect();
            self.norm.unit_to_action(&u, action);
        }
    }

    fn check(&self, what: &str, expected: usize, got: usize) -> Result<()> {
        if expected != got {
            return Err(Error::Shape {
                what: format!("{}: {what}", self.name),
                expected,
                got,
            });
        }
        Ok(())
    }
}

/// The actor `actor/0, actor/1, …` of a checkpoint, member 0, checked.
fn actor(c: &Container, obs_dim: usize, act_dim: usize) -> Result<HostMlp> {
    let mut sizes = vec![obs_dim];
    let (mut weights, mut biases) = (Vec::new(), Vec::new());
    while let Some((ws, w)) = c.entry(&format!("actor/{}", 2 * weights.len())) {
        let l = weights.len();
        let Some((bs, b)) = c.entry(&format!("actor/{}", 2 * l + 1)) else {
            return Err(c.error(format!(
                "the actor's layer {l} has weights but no bias; the file is corrupt"
            )));
        };
        let [members, fan_in, out] = *ws else {
            return Err(c.error(format!(
                "the actor's layer {l} weights have shape {ws:?}, expected [members, in, out]"
            )));
        };
        if members == 0 || Some(&fan_in) != sizes.last() || bs != [members, 1, out] {
            return Err(c.error(format!(
                "the actor's layer {l} has shapes {ws:?} and {bs:?}, which do not chain from {} inputs; the file is corrupt",
                sizes.last().copied().unwrap_or(0)
            )));
        }
        if w.iter().chain(b).any(|x| !x.is_finite()) {
            return Err(c.error(format!(
                "the actor's layer {l} holds NaN or infinite values; the file is corrupt"
            )));
        }
        weights.push(w[..fan_in * out].to_vec());
        biases.push(b[..out].to_vec());
        sizes.push(out);
    }
    if weights.is_empty() {
        return Err(c.error(
            "it holds no actor network (tensors actor/0, actor/1, …); pass the checkpoint of a trained agent",
        ));
    }
    if sizes.last().is_none_or(|&o| o < act_dim) {
        return Err(c.error(format!(
            "its actor has {} outputs for {act_dim} actions; the file is corrupt",
            sizes.last().copied().unwrap_or(0)
        )));
    }
    Ok(HostMlp {
        sizes,
        weights,
        biases,
    })
}

impl Policy for AgentPolicy {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn act(&mut self, obs: &[f32], action: &mut [f32]) -> Result<()> {
        self.check("observation", self.norm.obs_mean.len(), obs.len())?;
        self.check("action", self.act_dim, action.len())?;
        let mut s = std::mem::take(&mut self.scratch);
        self.act_with(&mut s, obs, action);
        self.scratch = s;
        Ok(())
    }
    /// A deterministic network of the observation.
    fn is_stateless(&self) -> bool {
        true
    }
    fn act_many(&mut self, n: usize, obs: &[f32], actions: &mut [f32]) -> Result<()> {
        self.check("observations", n * self.norm.obs_mean.len(), obs.len())?;
        self.check("actions", n * self.act_dim, actions.len())?;
        self.act_batch(obs, actions);
        Ok(())
    }
}
