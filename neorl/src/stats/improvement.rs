//! Probability of improvement (Agarwal et al. 2021, Sec. 4.3; rliable's
//! `metrics.probability_of_improvement`).
//!
//! On one task, P(X > Y) is the chance that a run of algorithm X scores
//! higher than a run of algorithm Y, ties counting one half: the
//! Mann–Whitney U statistic of X's runs against Y's divided by the number
//! of pairs (H. B. Mann and D. R. Whitney, Ann. Math. Statist. 1947),
//!
//! `P_t = (1 / (R_x R_y)) Σ_i Σ_j ( [x_i > y_j] + ½ [x_i = y_j] )`.
//!
//! The probability of improvement is the mean of `P_t` over tasks. It says
//! how often X beats Y, not by how much. Its interval resamples X's runs
//! and Y's runs independently, each stratified by task (rliable's
//! `StratifiedIndependentBootstrap`): per replication X's resample is drawn,
//! then Y's (see [`super::bootstrap`] for the draw order).
//!
//! `U` is counted exactly, in integers: each task's columns are sorted and
//! walked once (`R log R` instead of `R_x R_y` comparisons).

use super::bootstrap::{Bootstrap, Interval, Resampler, percentile_interval};
use super::matrix::{ScoreMatrix, check_algos};
use crate::error::{Error, Result};

/// P(X > Y): average over tasks of the Mann–Whitney U statistic (ties count
/// ½), with a stratified-bootstrap CI resampling X and Y independently. X
/// and Y must have the same tasks in the same order (error otherwise); run
/// counts may differ.
pub fn probability_of_improvement(
    x: &ScoreMatrix,
    y: &ScoreMatrix,
    b: &Bootstrap,
) -> Result<Interval> {
    b.validate()?;
    same_tasks(x, y)?;
    b.check_work(x.values().len() + y.values().len())?;
    let mut rx = Resampler::new(x);
    let mut ry = Resampler::new(y);
    let mut work = Work::new(x.runs(), y.runs());
    let point = work.poi(&rx.columns, &ry.columns);
    let mut values = Vec::with_capacity(b.reps);
    let mut rng = b.rng();
    for _ in 0..b.reps {
        let sx = rx.draw(&mut rng);
        let sy = ry.draw(&mut rng);
        values.push(work.poi(sx, sy));
    }
    let (lo, hi) = percentile_interval(&mut values, b.alpha());
    Ok(Interval { point, lo, hi })
}

fn same_tasks(x: &ScoreMatrix, y: &ScoreMatrix) -> Result<()> {
    if x.tasks() == y.tasks() {
        return Ok(());
    }
    let diff = match x.tasks().iter().zip(y.tasks()).position(|(a, b)| a != b) {
        Some(i) => format!(
            "column {i} is '{}' in X but '{}' in Y",
            x.tasks()[i],
            y.tasks()[i]
        ),
        None => format!(
            "X has {} tasks and Y has {}",
            x.tasks().len(),
            y.tasks().len()
        ),
    };
    Err(Error::InvalidArgument(format!(
        "probability of improvement: the two score matrices must have the same tasks in the same order, but {diff}; build both from the same list of tasks"
    )))
}

/// Sorted copies of one task's runs of X and of Y, reused across tasks and
/// replications.
struct Work {
    rx: usize,
    ry: usize,
    xs: Vec<f64>,
    ys: Vec<f64>,
}

impl Work {
    fn new(rx: usize, ry: usize) -> Self {
        Work {
            rx,
            ry,
            xs: Vec::with_capacity(rx),
            ys: Vec::with_capacity(ry),
        }
    }

    /// Mean over tasks of P_t, from both matrices laid out task by task.
    fn poi(&mut self, x: &[f64], y: &[f64]) -> f64 {
        let (rx, ry) = (self.rx, self.ry);
        let tasks = x.len() / rx;
        let mut sum = 0.0;
        for (cx, cy) in x.chunks_exact(rx).zip(y.chunks_exact(ry)) {
            self.xs.clear();
            self.xs.extend_from_slice(cx);
            self.ys.clear();
            self.ys.extend_from_slice(cy);
            self.xs.sort_unstable_by(f64::total_cmp);
            self.ys.sort_unstable_by(f64::total_cmp);
            let twice_u = twice_mann_whitney_u(&self.xs, &self.ys);
            sum += twice_u as f64 / (2 * rx * ry) as f64;
        }
        sum / tasks as f64
    }
}

/// `2U`, with `U = #{x_i > y_j} + ½ #{x_i = y_j}`, for sorted `xs` and `ys`
/// (one merge-like walk: both pointers only move forward).
pub(crate) fn twice_mann_whitney_u(xs: &[f64], ys: &[f64]) -> u64 {
    let (mut below, mut not_above) = (0usize, 0usize);
    let mut twice_u = 0u64;
    for &x in xs {
        while below < ys.len() && ys[below] < x {
            below += 1;
        }
        not_above = not_above.max(below);
        while not_above < ys.len() && ys[not_above] <= x {
            not_above += 1;
        }
        // `below` of Y's runs are beaten by x, `not_above − below` tie it.
        twice_u += (2 * below + (not_above - below)) as u64;
    }
    twice_u
}

/// Every ordered pair of algorithms: entry `[i][j]` is
/// [`probability_of_improvement`] of `algos[i]` over `algos[j]` (with the
/// same [`Bootstrap`], so each entry is exactly what that call returns);
/// the diagonal is `None`.
pub fn improvement_matrix(
    algos: &[(String, ScoreMatrix)],
    b: &Bootstrap,
) -> Result<Vec<Vec<Option<Interval>>>> {
    check_algos(algos)?;
    if let Some((name, m)) = algos.iter().find(|(_, m)| m.tasks() != algos[0].1.tasks()) {
        return Err(Error::InvalidArgument(format!(
            "improvement matrix: '{name}' has tasks [{}] but '{}' has [{}]; every algorithm must be scored on the same tasks in the same order",
            m.tasks().join(", "),
            algos[0].0,
            algos[0].1.tasks().join(", ")
        )));
    }
    let mut out = Vec::with_capacity(algos.len());
    for (i, (_, x)) in algos.iter().enumerate() {
        let mut row = Vec::with_capacity(algos.len());
        for (j, (_, y)) in algos.iter().enumerate() {
            row.push(if i == j {
                None
            } else {
                Some(probability_of_improvement(x, y, b)?)
            });
        }
        out.push(row);
    }
    Ok(out)
}
