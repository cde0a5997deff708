//! The data every statistic starts from: the scores of one algorithm, one
//! row per run (seed) and one column per task (environment × dataset), as
//! rliable's `(num_runs × num_tasks)` arrays.

use crate::error::{Error, Result};

/// The most scores one matrix may hold (runs × tasks): 2²⁴, 128 MiB of
/// values. A bootstrap touches every score once per replication, so a
/// larger matrix is a mistake (a frame of transitions instead of
/// episode scores) rather than an experiment.
pub const MAX_SCORES: usize = 1 << 24;

/// Normalized scores of one algorithm: rows = runs (seeds), columns = tasks
/// (env × dataset). Every run has a score on every task; all scores are
/// finite. Serializes as `{"tasks": [...], "runs": R, "values": [...]}`
/// (row-major).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ScoreMatrix {
    tasks: Vec<String>,
    runs: usize,
    /// Row-major: `values[run * tasks.len() + task]`.
    values: Vec<f64>,
}

impl ScoreMatrix {
    /// A matrix from one row of scores per run, in the order of `tasks`.
    ///
    /// Errors on: no tasks, no runs, a task named twice, ragged rows,
    /// non-finite values, more than [`MAX_SCORES`] scores.
    pub fn new(tasks: Vec<String>, rows: Vec<Vec<f64>>) -> Result<Self> {
        let bad = |msg: String| Err(Error::InvalidArgument(format!("score matrix: {msg}")));
        if tasks.is_empty() {
            return bad(
                "no tasks; give at least one task name (one column per env × dataset)".into(),
            );
        }
        if rows.is_empty() {
            return bad(format!(
                "no runs; give at least one row of {} scores (one row per seed)",
                tasks.len()
            ));
        }
        match rows.len().checked_mul(tasks.len()) {
            Some(n) if n <= MAX_SCORES => {}
            _ => {
                return bad(format!(
                    "{} runs × {} tasks is more than {MAX_SCORES} scores; a score matrix holds one score per run and task (e.g. the final normalized score of each seed), not per step or episode",
                    rows.len(),
                    tasks.len()
                ));
            }
        }
        for (i, t) in tasks.iter().enumerate() {
            if tasks[..i].contains(t) {
                return bad(format!(
                    "task '{t}' is named twice (columns {} and {i}); give each task one column",
                    tasks[..i].iter().position(|u| u == t).unwrap_or(0)
                ));
            }
        }
        let mut values = Vec::with_capacity(rows.len() * tasks.len());
        for (r, row) in rows.iter().enumerate() {
            if row.len() != tasks.len() {
                return bad(format!(
                    "run {r} has {} scores but there are {} tasks ({}); give every run one score per task",
                    row.len(),
                    tasks.len(),
                    tasks.join(", ")
                ));
            }
            for (t, &x) in row.iter().enumerate() {
                if !x.is_finite() {
                    return bad(format!(
                        "the score of run {r} on task '{}' is {x}; scores must be finite numbers (leave a failed run out, or score it as the random policy would)",
                        tasks[t]
                    ));
                }
            }
            values.extend_from_slice(row);
        }
        Ok(ScoreMatrix {
            runs: rows.len(),
            tasks,
            values,
        })
    }

    /// The task names, one per column.
    pub fn tasks(&self) -> &[String] {
        &self.tasks
    }

    /// The number of runs (rows).
    pub fn runs(&self) -> usize {
        self.runs
    }

    /// The score of `run` on `task` (indices; panics out of range, as
    /// slice indexing does).
    pub fn get(&self, run: usize, task: usize) -> f64 {
        assert!(
            task < self.tasks.len(),
            "task index {task} out of range ({} tasks)",
            self.tasks.len()
        );
        self.values[run * self.tasks.len() + task]
    }

    /// The scores of one run, in task order.
    pub fn row(&self, run: usize) -> &[f64] {
        let t = self.tasks.len();
        &self.values[run * t..(run + 1) * t]
    }

    /// All scores, row-major (`run * tasks + task`).
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The scores task by task (`task * runs + run`): the layout the
    /// bootstrap resamples in, one stratum after the other.
    pub(crate) fn columns(&self) -> Vec<f64> {
        let t = self.tasks.len();
        let mut out = Vec::with_capacity(self.values.len());
        for task in 0..t {
            out.extend((0..self.runs).map(|r| self.values[r * t + task]));
        }
        out
    }
}

/// Several algorithms' matrices, as `summarize` and `improvement_matrix`
/// take them: at least one, each name once.
pub(crate) fn check_algos(algos: &[(String, ScoreMatrix)]) -> Result<()> {
    if algos.is_empty() {
        return Err(Error::InvalidArgument(
            "no algorithms; give at least one (name, score matrix) pair".into(),
        ));
    }
    for (i, (name, _)) in algos.iter().enumerate() {
        if algos[..i].iter().any(|(n, _)| n == name) {
            return Err(Error::InvalidArgument(format!(
                "algorithm '{name}' is given twice; give each algorithm one score matrix (its runs as rows)"
            )));
        }
    }
    Ok(())
}
