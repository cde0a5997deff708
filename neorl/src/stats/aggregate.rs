//! Aggregate metrics: one number for a whole [`ScoreMatrix`] (Agarwal et
//! al. 2021, Sec. 4.2, and rliable's `metrics.py`).
//!
//! With `x[r][t]` the score of run `r` on task `t`, `R` runs and `T` tasks:
//!
//! - **Mean**: the mean over tasks of each task's mean over runs,
//!   `(1/T) Σ_t (1/R) Σ_r x[r][t]` (rliable's `aggregate_mean`; with every
//!   run scored on every task it is the mean of all `R·T` scores).
//! - **Median**: the median over tasks of each task's mean over runs
//!   (rliable's `aggregate_median`; for an even `T` the midpoint of the two
//!   middle task means). It is the field's "median normalized score" and
//!   ignores the spread between runs, so it has the widest intervals.
//! - **IQM**, the interquartile mean: the mean of the middle half of all
//!   `N = R·T` scores pooled, i.e. a 25 % trimmed mean. Exactly as SciPy's
//!   `trim_mean(scores, 0.25, axis=None)` that rliable calls: `k =
//!   ⌊0.25·N⌋` scores are cut from each end of the sorted scores (rounded
//!   down when `N/4` is not an integer: `N = 15` cuts 3 and 3 and averages
//!   9) and the `N − 2k` in the middle are averaged, ties included as they
//!   fall. `N < 4` cuts nothing.
//! - **Optimality gap** at γ = 100 (normalized-score units, rliable's
//!   default γ = 1 on 0–1 scores): how far the scores fall short of expert,
//!   `(1/N) Σ max(γ − x, 0)`; scores above γ count as γ. Lower is better.
//!
//! The median and the IQM select instead of sort (`select_nth_unstable`,
//! linear time), in a scratch buffer the bootstrap reuses across
//! replications.

use super::matrix::ScoreMatrix;
use serde::Serialize;
use std::cmp::Ordering;

/// The optimality gap's threshold γ, in normalized-score units (100 =
/// expert).
pub const GAMMA: f64 = 100.0;

/// One of the four aggregate metrics of Agarwal et al. (2021).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Aggregate {
    /// Mean over tasks of the per-task mean score.
    Mean,
    /// Median over tasks of the per-task mean score.
    Median,
    /// Interquartile mean: the 25 %-trimmed mean of all run × task scores.
    Iqm,
    /// Mean shortfall below γ = 100: `mean(max(100 − x, 0))`; lower is better.
    OptimalityGap,
}

impl Aggregate {
    /// All four, in the order tables show them.
    pub const ALL: [Aggregate; 4] = [
        Aggregate::Mean,
        Aggregate::Median,
        Aggregate::Iqm,
        Aggregate::OptimalityGap,
    ];

    /// The column heading: `"Mean"`, `"Median"`, `"IQM"`, `"Optimality gap"`.
    pub fn name(&self) -> &'static str {
        match self {
            Aggregate::Mean => "Mean",
            Aggregate::Median => "Median",
            Aggregate::Iqm => "IQM",
            Aggregate::OptimalityGap => "Optimality gap",
        }
    }

    /// Whether a larger value is better (all but the optimality gap).
    pub fn higher_is_better(&self) -> bool {
        !matches!(self, Aggregate::OptimalityGap)
    }

    /// The aggregate of a matrix (the point estimate).
    pub fn of(&self, m: &ScoreMatrix) -> f64 {
        let columns = m.columns();
        self.of_columns(&columns, m.runs(), &mut Vec::new())
    }

    /// The aggregate of scores laid out task by task (`task * runs + run`),
    /// with `scratch` as working space (any content; reused across calls).
    pub(crate) fn of_columns(&self, columns: &[f64], runs: usize, scratch: &mut Vec<f64>) -> f64 {
        match self {
            Aggregate::Mean => {
                let tasks = columns.len() / runs;
                let sum: f64 = columns.chunks_exact(runs).map(mean).sum();
                sum / tasks as f64
            }
            Aggregate::Median => {
                scratch.clear();
                scratch.extend(columns.chunks_exact(runs).map(mean));
                median(scratch)
            }
            Aggregate::Iqm => {
                scratch.clear();
                scratch.extend_from_slice(columns);
                interquartile_mean(scratch)
            }
            Aggregate::OptimalityGap => {
                let short: f64 = columns.iter().map(|&x| (GAMMA - x).max(0.0)).sum();
                short / columns.len() as f64
            }
        }
    }
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

fn cmp(a: &f64, b: &f64) -> Ordering {
    a.total_cmp(b)
}

/// The median of `xs` (non-empty; reordered): the middle value, or the
/// midpoint of the two middle values for an even count.
pub(crate) fn median(xs: &mut [f64]) -> f64 {
    let n = xs.len();
    let (below, mid, _) = xs.select_nth_unstable_by(n / 2, cmp);
    let upper = *mid;
    if n % 2 == 1 {
        upper
    } else {
        // The largest of the lower half is the other middle value.
        let lower = below.iter().copied().max_by(cmp).unwrap_or(upper);
        (lower + upper) / 2.0
    }
}

/// SciPy's `trim_mean(xs, 0.25)` (non-empty; reordered): cut `⌊n/4⌋` from
/// each end, average the rest.
pub(crate) fn interquartile_mean(xs: &mut [f64]) -> f64 {
    let n = xs.len();
    let k = n / 4;
    if k > 0 {
        // The top k after position n-k-1, then the bottom k before position k.
        xs.select_nth_unstable_by(n - k - 1, cmp);
        xs[..n - k].select_nth_unstable_by(k, cmp);
    }
    mean(&xs[k..n - k])
}
