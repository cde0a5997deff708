//! Aggregate statistics of scores across runs and tasks, reported the way
//! the field now does: point estimates with stratified-bootstrap confidence
//! intervals, performance profiles and the probability of improvement.
//!
//! Source: R. Agarwal, M. Schwarzer, P. S. Castro, A. Courville and
//! M. G. Bellemare, "Deep Reinforcement Learning at the Edge of the
//! Statistical Precipice", NeurIPS 2021 (arXiv:2108.13264), and its
//! reference implementation `rliable` (google-research/rliable, 1.2.0),
//! whose results these functions reproduce (`neorl/tests/stats.rs` checks
//! them against it).
//!
//! The method, in the order of the files:
//!
//! 1. [`matrix`]: the scores of one algorithm form a [`ScoreMatrix`] — rows
//!    are runs (seeds), columns are tasks (environment × dataset), values
//!    are normalized scores (0 = random, 100 = expert).
//! 2. [`aggregate`]: four [`Aggregate`]s summarise a matrix in one number:
//!    the mean, the median of the per-task means, the interquartile mean
//!    (IQM) of all scores and the optimality gap at γ = 100.
//! 3. [`bootstrap`]: the uncertainty of an aggregate over the runs is the
//!    spread of its value over stratified bootstrap resamples (each task's
//!    runs drawn with replacement, independently of the other tasks'); the
//!    [`interval`] is the percentile interval of those values.
//! 4. [`profile`]: a [`performance_profile`] is the fraction of all runs ×
//!    tasks scoring above each threshold τ, with pointwise intervals.
//! 5. [`improvement`]: the [`probability_of_improvement`] P(X > Y) is the
//!    Mann–Whitney U statistic of X's runs against Y's, averaged over tasks.
//! 6. [`summary`]: [`summarize`] puts every aggregate of several algorithms
//!    in one [`StatsTable`] (HTML in a notebook, text, Markdown), and
//!    [`improvement_matrix`] compares every pair.
//!
//! Everything is deterministic: the same inputs and [`Bootstrap::seed`] give
//! the same bits on every run (the draw order is documented in
//! [`bootstrap`]).
//!
//! ```
//! use neorl::stats::{Aggregate, Bootstrap, ScoreMatrix, interval};
//! let tasks = vec!["Hvac-medium".to_string(), "Grid-medium".to_string()];
//! let m = ScoreMatrix::new(tasks, vec![vec![80.0, 55.0], vec![90.0, 40.0], vec![85.0, 60.0]])?;
//! let iqm = interval(&m, Aggregate::Iqm, &Bootstrap::default())?;
//! assert!(iqm.lo <= iqm.point && iqm.point <= iqm.hi);
//! # Ok::<(), neorl::Error>(())
//! ```

pub mod aggregate;
pub mod bootstrap;
pub mod improvement;
pub mod matrix;
pub mod profile;
pub mod summary;

pub use aggregate::Aggregate;
pub use bootstrap::{Bootstrap, Interval, interval, intervals};
pub use improvement::{improvement_matrix, probability_of_improvement};
pub use matrix::ScoreMatrix;
pub use profile::{Profile, performance_profile};
pub use summary::{StatsRow, StatsTable, summarize};

#[cfg(test)]
mod tests;
