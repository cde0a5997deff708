//! Checkpoints: everything needed to resume training exactly.
//!
//! One file, `DIR/agent.ckpt`:
//!
//! ```text
//! b"NEORLCK\0"  u32 format version  u64 header length   (little-endian)
//! header: JSON (algo, env, config, step, RNG state, normaliser, dataset,
//!         tensor index, checksum of the blob)
//! blob:   every tensor as little-endian f32, in index order
//! digest: SHA-256 of every byte before it (prefix, header and blob)
//! ```
//!
//! Tensors: networks, target networks, optimiser moments, metric history.
//! Writing goes to a temporary file in the same folder, then a rename, so a
//! crash never leaves a half-written checkpoint behind. Reading checks the
//! magic, version, digest, checksum and every shape, and says what is wrong.
//!
//! **Versions.** Version 2 (this one) adds the trailing digest, so a changed
//! byte anywhere — a normalisation statistic, the step, the RNG state, the
//! config, a weight — makes the file fail to load as corrupt (in version 1
//! only the blob was checksummed: a flipped bit in the stored observation
//! mean loaded silently and changed the policy). Version-1 files still load,
//! with a warning on stderr that their header is unprotected; saving the
//! loaded agent again writes version 2. Writing refuses parameters that are
//! not finite (a diverged agent), so a checkpoint never holds NaN weights.

// A reader of untrusted bytes: no panic on any input (issue 17). Unwraps,
// panics and unchecked indexing are errors in this file; `read` also
// denies unchecked arithmetic, as every length it meets comes from the file.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::agent::{DataSource, History, Normalizer, TrainState};
use super::device::Device;
use super::nets::{Adam, Mlp, T3, tensor3, to_vec};
use crate::error::{Error, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::inference::file::{self, digest, fnv1a};
pub use crate::inference::file::{
    FILE_NAME, FORMAT_VERSION, MAX_HEADER_BYTES, OLDEST_READ_VERSION, TensorEntry,
};
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RngState {
    seed: Vec<u8>,
    stream: u64,
    /// u128 as a decimal string (JSON numbers are f64).
    word_pos: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    neorl_version: String,
    algo: String,
    env_id: String,
    obs_dim: usize,
    act_dim: usize,
    act_low: Vec<f32>,
    act_high: Vec<f32>,
    batch_size: usize,
    step: u64,
    normalize_reward: bool,
    rng: RngState,
    norm: Option<Normalizer>,
    /// The data of the latest training call (absent in checkpoints of agents
    /// trained on sources that do not name themselves).
    #[serde(default)]
    dataset: Option<DataSource>,
    config: serde_json::Value,
    /// Small integers agents keep (optimiser step counts…).
    counters: std::collections::BTreeMap<String, u64>,
    history_names: Vec<String>,
    tensors: Vec<TensorEntry>,
    blob_len: u64,
    /// FNV-1a 64 of the blob, hex.
    blob_fnv1a: String,
}

/// A checkpoint being written or read.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    header: Header,
    data: Vec<Vec<f32>>,
    path: PathBuf,
}

/// Recompute the trailing digest of a version-2 checkpoint's `bytes` after
/// a test edited them on purpose (to reach the checks behind the digest).
#[cfg(test)]
pub(crate) fn reseal(bytes: &mut [u8]) {
    let n = bytes.len().saturating_sub(32);
    let (body, tail) = bytes.split_at_mut(n);
    let d = digest(body, &[], &[]);
    tail.copy_from_slice(&d);
}

impl Checkpoint {
    /// Start a checkpoint of `algo` with its config and training state.
    pub fn new(algo: &str, config: &impl Serialize, st: &TrainState) -> Result<Self> {
        let config = serde_json::to_value(config).map_err(|source| Error::Json {
            context: format!("{algo} config"),
            source,
        })?;
        let mut c = Checkpoint {
            header: Header {
                neorl_version: env!("CARGO_PKG_VERSION").into(),
                algo: algo.into(),
                env_id: st.env_id.clone(),
                obs_dim: st.obs_dim,
                act_dim: st.act_dim,
                act_low: st.act_low.clone(),
                act_high: st.act_high.clone(),
                batch_size: st.batch_size,
                step: st.step,
                normalize_reward: st.normalize_reward,
                rng: RngState {
                    seed: st.rng.get_seed().to_vec(),
                    stream: st.rng.get_stream(),
                    word_pos: st.rng.get_word_pos().to_string(),
                },
                norm: st.norm.clone(),
                dataset: st.dataset.clone(),
                config,
                counters: Default::default(),
                history_names: st.history.names.clone(),
                tensors: vec![],
                blob_len: 0,
                blob_fnv1a: String::new(),
            },
            data: vec![],
            path: PathBuf::new(),
        };
        // Steps are stored as f64 pairs of f32 (exact up to 2^48).
        let steps: Vec<f32> = st
            .history
            .steps
            .iter()
            .flat_map(|&s| [(s >> 24) as f32, (s & 0xFF_FFFF) as f32])
            .collect();
        c.put_raw("history/steps", vec![st.history.steps.len(), 2], steps);
        for (n, col) in st.history.names.iter().zip(&st.history.values) {
            c.put_raw(&format!("history/{n}"), vec![col.len()], col.clone());
        }
        Ok(c)
    }

    fn put_raw(&mut self, name: &str, shape: Vec<usize>, data: Vec<f32>) {
        self.header.tensors.push(TensorEntry {
            name: name.into(),
            shape,
        });
        self.data.push(data);
    }

    /// Host data with its shape.
    pub fn put_vec(&mut self, name: &str, shape: Vec<usize>, data: Vec<f32>) {
        self.put_raw(name, shape, data);
    }

    /// One tensor as `name`.
    pub fn put_tensor(&mut self, name: &str, t: &T3) {
        self.put_raw(name, t.dims().to_vec(), to_vec(t));
    }

    /// Tensors as `name/0`, `name/1`, …
    pub fn put_tensors(&mut self, name: &str, ts: &[T3]) {
        for (i, t) in ts.iter().enumerate() {
            self.put_tensor(&format!("{name}/{i}"), t);
        }
    }

    /// A network's parameters as `name/0`, `name/1`, …
    pub fn put_mlp(&mut self, name: &str, net: &Mlp) {
        self.put_tensors(name, &net.params);
    }

    /// An optimiser: its step count and both moments of every parameter.
    pub fn put_adam(&mut self, name: &str, opt: &Adam) {
        self.header.counters.insert(format!("{name}/t"), opt.t);
        for (i, (m, v)) in opt.m.iter().zip(&opt.v).enumerate() {
            self.put_tensor(&format!("{name}/m/{i}"), m);
            self.put_tensor(&format!("{name}/v/{i}"), v);
        }
    }

    /// A small integer.
    pub fn put_counter(&mut self, name: &str, v: u64) {
        self.header.counters.insert(name.into(), v);
    }

    /// Write atomically to `dir/agent.ckpt` (creating `dir`).
    ///
    /// Refused, leaving any checkpoint already in `dir` as it is, when a
    /// parameter, optimiser moment or normalisation statistic is NaN or
    /// infinite (training diverged): such a file would load into an agent
    /// that acts NaN.
    pub fn write(mut self, dir: impl AsRef<Path>) -> Result<PathBuf> {
        let dir = dir.as_ref();
        if let Some(problem) = self.non_finite() {
            return Err(Error::Checkpoint {
                path: dir.join(FILE_NAME),
                reason: format!(
                    "not written: {problem}; training diverged (a learning rate too high, or unnormalised data), so the agent in memory cannot be saved and the checkpoint already there, if any, is kept; resume from it with a lower learning rate"
                ),
            });
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut blob = Vec::with_capacity(self.data.iter().map(|d| 4 * d.len()).sum());
        for d in &self.data {
            for x in d {
                blob.extend_from_slice(&x.to_le_bytes());
            }
        }
        self.header.blob_len = blob.len() as u64;
        self.header.blob_fnv1a = format!("{:016x}", fnv1a(&blob));
        let header = serde_json::to_vec(&self.header).map_err(|source| Error::Json {
            context: "checkpoint header".into(),
            source,
        })?;
        let path = dir.join(FILE_NAME);
        let tmp = dir.join(format!("{FILE_NAME}.tmp-{}", std::process::id()));
        let prefix = file::prefix(header.len());
        let digest = digest(&prefix, &header, &blob);
        let write = || -> std::io::Result<()> {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            f.write_all(&prefix)?;
            f.write_all(&header)?;
            f.write_all(&blob)?;
            f.write_all(&digest)?;
            let f = f.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(&path, e)
        })?;
        Ok(path)
    }

    /// Read and verify `dir/agent.ckpt` (or `dir` itself if it is a file):
    /// the container ([`crate::inference::file::read`]: magic, version,
    /// lengths, digest, checksum, every tensor's extent), then the header.
    pub fn read(dir: impl AsRef<Path>) -> Result<Self> {
        let c = file::read(dir)?;
        let header: Header = serde_json::from_slice(&c.header)
            .map_err(|e| c.error(format!("corrupt header ({e})")))?;
        Ok(Checkpoint {
            header,
            data: c.data,
            path: c.path,
        })
    }

    /// The first tensor (not the metric history, which has NaN gaps by
    /// design) or normalisation statistic that is not finite, described.
    fn non_finite(&self) -> Option<String> {
        for (t, d) in self.header.tensors.iter().zip(&self.data) {
            if t.name.starts_with("history/") {
                continue;
            }
            let bad = d.iter().filter(|x| !x.is_finite()).count();
            if bad > 0 {
                return Some(format!(
                    "{bad} of the {} values of '{}' are NaN or infinite",
                    d.len(),
                    t.name
                ));
            }
        }
        self.header.norm.as_ref()?.non_finite()
    }

    pub fn algo(&self) -> &str {
        &self.header.algo
    }

    /// Environment the agent was built for.
    pub fn env_id(&self) -> &str {
        &self.header.env_id
    }

    /// The data the agent was last trained on, when recorded.
    pub fn dataset(&self) -> Option<&DataSource> {
        self.header.dataset.as_ref()
    }

    /// Gradient steps done.
    pub fn step(&self) -> u64 {
        self.header.step
    }

    fn err(&self, reason: String) -> Error {
        Error::Checkpoint {
            path: self.path.clone(),
            reason,
        }
    }

    /// Check the algorithm and parse the config.
    pub fn config<C: for<'de> Deserialize<'de>>(&self, algo: &str) -> Result<C> {
        if self.header.algo != algo {
            return Err(self.err(format!(
                "it holds a '{}' agent, not '{algo}'; load it with the matching type or `neorl::agents::load`",
                self.header.algo
            )));
        }
        serde_json::from_value(self.header.config.clone())
            .map_err(|e| self.err(format!("its {algo} config does not parse ({e})")))
    }

    /// The training state (step, RNG, normaliser, history).
    pub fn train_state(&self) -> Result<TrainState> {
        let h = &self.header;
        let seed: [u8; 32] = h
            .rng
            .seed
            .as_slice()
            .try_into()
            .map_err(|_| self.err("RNG seed is not 32 bytes".into()))?;
        let mut rng = ChaCha8Rng::from_seed(seed);
        rng.set_stream(h.rng.stream);
        rng.set_word_pos(
            h.rng
                .word_pos
                .parse()
                .map_err(|_| self.err("RNG position does not parse".into()))?,
        );
        let mut history = History {
            names: h.history_names.clone(),
            ..Default::default()
        };
        let steps = self.raw("history/steps")?;
        history.steps = steps
            .chunks_exact(2)
            .filter_map(|c| match *c {
                [hi, lo] => Some(((hi as u64) << 24) | lo as u64),
                _ => None,
            })
            .collect();
        for n in &h.history_names {
            history
                .values
                .push(self.raw(&format!("history/{n}"))?.to_vec());
        }
        Ok(TrainState {
            env_id: h.env_id.clone(),
            obs_dim: h.obs_dim,
            act_dim: h.act_dim,
            act_low: h.act_low.clone(),
            act_high: h.act_high.clone(),
            batch_size: h.batch_size,
            step: h.step,
            rng,
            norm: h.norm.clone(),
            normalize_reward: h.normalize_reward,
            history,
            dataset: h.dataset.clone(),
        })
    }

    /// The stored tensor `name`: its shape and its data.
    fn entry(&self, name: &str) -> Result<(&[usize], &[f32])> {
        self.header
            .tensors
            .iter()
            .zip(&self.data)
            .find(|(t, _)| t.name == name)
            .map(|(t, d)| (t.shape.as_slice(), d.as_slice()))
            .ok_or_else(|| {
                self.err(format!(
                    "tensor '{name}' is missing: written by another algorithm, or by an older neorl whose {} agent has since changed (CQL's α′ got its own optimiser in issue 15) — such a checkpoint cannot be resumed, but its policy still deploys: `neorl serve --checkpoint DIR`, `neorl_plant::inference::AgentPolicy::from_checkpoint`", self.header.algo
                ))
            })
    }

    fn raw(&self, name: &str) -> Result<&[f32]> {
        Ok(self.entry(name)?.1)
    }

    /// Host data stored with [`Checkpoint::put_vec`], checked against the
    /// `expected` shape (for agents that keep their parameters in plain
    /// vectors, such as one written in a notebook).
    pub fn get_vec(&self, name: &str, expected: &[usize]) -> Result<Vec<f32>> {
        let (shape, data) = self.entry(name)?;
        if shape != expected {
            return Err(self.err(format!(
                "'{name}' has shape {shape:?}, expected {expected:?}; the checkpoint does not match this agent"
            )));
        }
        Ok(data.to_vec())
    }

    /// A tensor by name, checked against the `expected` shape.
    pub fn tensor(
        &self,
        name: &str,
        expected: [usize; 3],
        device: &burn::DispatchDevice,
    ) -> Result<T3> {
        let (shape, data) = self.entry(name)?;
        if shape != expected {
            return Err(self.err(format!(
                "tensor '{name}' has shape {shape:?} but the config implies {expected:?}; the checkpoint does not match this config"
            )));
        }
        Ok(tensor3(data.to_vec(), expected, device))
    }

    /// Load parameters into `net` (whose shapes come from the config).
    /// `trainable` puts them on the autodiff device as leaves.
    pub fn load_mlp(
        &self,
        name: &str,
        net: &mut Mlp,
        device: &Device,
        trainable: bool,
    ) -> Result<()> {
        self.load_tensors(name, &mut net.params, device, trainable)
    }

    /// Load `name/0`, `name/1`, … into `ts`, each checked against the shape
    /// it has. `trainable` puts them on the autodiff device as leaves.
    pub fn load_tensors(
        &self,
        name: &str,
        ts: &mut [T3],
        device: &Device,
        trainable: bool,
    ) -> Result<()> {
        let dev = if trainable {
            device.autodiff()
        } else {
            device.base()
        };
        for (i, t) in ts.iter_mut().enumerate() {
            let loaded = self.tensor(&format!("{name}/{i}"), t.dims(), dev)?;
            *t = if trainable {
                loaded.require_grad()
            } else {
                loaded
            };
        }
        Ok(())
    }

    /// Read back what [`Checkpoint::put_adam`] wrote into `opt` (whose shapes
    /// come from the config).
    pub fn load_adam(&self, name: &str, opt: &mut Adam, device: &Device) -> Result<()> {
        opt.t = self.counter(&format!("{name}/t"))?;
        for (i, (m, v)) in opt.m.iter_mut().zip(opt.v.iter_mut()).enumerate() {
            let dims = m.dims();
            *m = self.tensor(&format!("{name}/m/{i}"), dims, device.base())?;
            *v = self.tensor(&format!("{name}/v/{i}"), dims, device.base())?;
        }
        Ok(())
    }

    /// A small integer written with [`Checkpoint::put_counter`].
    pub fn counter(&self, name: &str) -> Result<u64> {
        self.header
            .counters
            .get(name)
            .copied()
            .ok_or_else(|| self.err(format!("counter '{name}' is missing")))
    }
}
