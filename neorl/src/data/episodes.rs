//! Per-episode statistics of a dataset, without polars: the rows behind
//! [`Dataset::episodes_table`] (shown as a table in notebooks) and behind
//! the polars frame of `Dataset::episodes`.

use super::dataset::Dataset;
use serde::Serialize;

/// One episode of a dataset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpisodeRow {
    pub episode: usize,
    /// First row of the episode.
    pub start: usize,
    pub length: usize,
    /// Undiscounted return (summed in f64).
    #[serde(rename = "return")]
    pub ret: f64,
    /// D4RL normalized score of the return, when the dataset knows its
    /// reference returns.
    pub normalized_score: Option<f64>,
    /// Sum of per-step costs.
    pub cost: f64,
    /// Steps with at least one violated constraint.
    pub violation_steps: usize,
    /// Ended on a terminal (hard breach or true terminal).
    pub terminated: bool,
    /// Ended on a time-out.
    pub truncated: bool,
}

/// Every episode of a dataset, one row each (see [`Dataset::episodes_table`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpisodesTable {
    pub dataset: String,
    pub rows: Vec<EpisodeRow>,
}

impl Dataset {
    /// Statistics of every episode (return, normalized score, cost,
    /// violation steps, how it ended).
    pub fn episode_rows(&self) -> Vec<EpisodeRow> {
        let m = self.metadata();
        let norm = match (m.ref_min_score, m.ref_max_score) {
            (Some(lo), Some(hi)) if hi != lo => Some((lo, hi)),
            _ => None,
        };
        self.episode_starts()
            .windows(2)
            .filter(|w| w[1] > w[0])
            .enumerate()
            .map(|(e, w)| {
                let (a, b) = (w[0], w[1]);
                let ret = self.rewards()[a..b].iter().map(|&r| r as f64).sum::<f64>();
                EpisodeRow {
                    episode: e,
                    start: a,
                    length: b - a,
                    ret,
                    normalized_score: norm.map(|(lo, hi)| 100.0 * (ret - lo) / (hi - lo)),
                    cost: self.costs()[a..b].iter().map(|&c| c as f64).sum(),
                    violation_steps: (a..b)
                        .filter(|&i| self.constraints().iter().any(|c| c.violations[i]))
                        .count(),
                    terminated: self.terminals()[b - 1],
                    truncated: self.timeouts()[b - 1],
                }
            })
            .collect()
    }

    /// One row per episode, shown as an HTML table in notebooks (first and
    /// last episodes when there are many). For polars, use `episodes()`.
    pub fn episodes_table(&self) -> EpisodesTable {
        let m = self.metadata();
        EpisodesTable {
            dataset: if m.dataset_id.is_empty() {
                m.env_id.clone()
            } else {
                m.dataset_id.clone()
            },
            rows: self.episode_rows(),
        }
    }
}
