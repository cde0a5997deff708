//! `neorl datasets info FILE`: counts, return statistics, attributes and
//! the content SHA-256 of a dataset file.

use super::checksum::content_sha256;
use super::formats::read_with;
use super::h5;
use crate::error::Result;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Mean, standard deviation (population), min and max.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    pub mean: f64,
    pub std: f64,
    pub min: f64,
    pub max: f64,
}

impl Stats {
    pub fn of(v: &[f64]) -> Stats {
        let n = v.len().max(1) as f64;
        let mean = v.iter().sum::<f64>() / n;
        Stats {
            mean,
            std: (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt(),
            min: v.iter().copied().fold(f64::INFINITY, f64::min),
            max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// What `neorl datasets info` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileInfo {
    pub path: String,
    /// `neorl`, `d4rl` or `minari`.
    pub layout: String,
    pub id: String,
    pub env: String,
    pub quality: String,
    pub transitions: usize,
    pub episodes: usize,
    pub obs_dim: usize,
    pub act_dim: usize,
    pub constraints: Vec<String>,
    /// Undiscounted episode returns.
    pub returns: Stats,
    /// D4RL normalized score of the mean return (when the file has reference scores).
    pub normalized_score: Option<f64>,
    pub episode_lengths: Stats,
    /// Sum of costs per episode.
    pub episode_costs: Stats,
    /// Rows with `terminals` / `timeouts` set.
    pub terminals: usize,
    pub timeouts: usize,
    /// Every root attribute, as text.
    pub attributes: BTreeMap<String, String>,
    /// Content SHA-256 computed from the arrays.
    pub sha256: String,
    /// The `sha256` attribute, if any.
    pub sha256_recorded: Option<String>,
    /// Whether they agree (absent when nothing was recorded).
    pub sha256_matches: Option<bool>,
}

/// Inspect a dataset file (any supported layout; the checksum is reported,
/// not enforced).
pub fn info(path: impl AsRef<Path>) -> Result<FileInfo> {
    let path = path.as_ref();
    let d = read_with(path, false)?;
    let m = d.metadata();
    let returns = d.episode_returns();
    let lengths: Vec<f64> = d
        .episode_starts()
        .windows(2)
        .map(|w| (w[1] - w[0]) as f64)
        .collect();
    let costs: Vec<f64> = d
        .episode_starts()
        .windows(2)
        .map(|w| d.costs()[w[0]..w[1]].iter().map(|&c| c as f64).sum())
        .collect();
    let r = Stats::of(&returns);
    let sha = content_sha256(&d);
    Ok(FileInfo {
        path: path.display().to_string(),
        layout: m.layout.clone(),
        id: m.dataset_id.clone(),
        env: m.env_id.clone(),
        quality: m.quality.clone(),
        transitions: d.len(),
        episodes: d.num_episodes(),
        obs_dim: d.obs_dim(),
        act_dim: d.act_dim(),
        constraints: d.constraints().iter().map(|c| c.name.clone()).collect(),
        returns: r,
        normalized_score: match (m.ref_min_score, m.ref_max_score) {
            (Some(lo), Some(hi)) if hi != lo => Some(100.0 * (r.mean - lo) / (hi - lo)),
            _ => None,
        },
        episode_lengths: Stats::of(&lengths),
        episode_costs: Stats::of(&costs),
        terminals: d.terminals().iter().filter(|&&x| x).count(),
        timeouts: d.timeouts().iter().filter(|&&x| x).count(),
        attributes: h5::attributes_as_text(path)?.into_iter().collect(),
        sha256_matches: m.sha256.as_ref().map(|s| *s == sha),
        sha256_recorded: m.sha256.clone(),
        sha256: sha,
    })
}
