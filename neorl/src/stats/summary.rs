//! The table of a paper's aggregate results (Agarwal et al. 2021, Fig. 1
//! and Table 1's layout): one row per algorithm, one column per
//! [`Aggregate`], each cell the point estimate with its stratified-bootstrap
//! interval, the best point estimate of each column in bold. HTML in a
//! notebook, aligned text on a terminal, Markdown for a report.

use super::aggregate::Aggregate;
use super::bootstrap::{Bootstrap, Interval, intervals};
use super::matrix::{ScoreMatrix, check_algos};
use crate::error::Result;
use crate::viz::{Cell, Html, Table, num};
use neorl_plant::rich_display;
use serde::Serialize;

/// One algorithm's aggregates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsRow {
    pub algo: String,
    /// Runs (rows of its score matrix).
    pub runs: usize,
    /// Tasks (columns of its score matrix).
    pub tasks: usize,
    /// One per aggregate, in the order of [`Aggregate::ALL`].
    pub intervals: [Interval; 4],
}

impl StatsRow {
    /// The interval of one aggregate.
    pub fn interval(&self, agg: Aggregate) -> Interval {
        let i = Aggregate::ALL
            .iter()
            .position(|a| *a == agg)
            .expect("Aggregate::ALL lists every aggregate");
        self.intervals[i]
    }
}

/// Every aggregate of several algorithms with its interval (see
/// [`summarize`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsTable {
    /// How the intervals were computed.
    pub bootstrap: Bootstrap,
    /// One per algorithm, in the order given.
    pub rows: Vec<StatsRow>,
}

/// Each aggregate of each algorithm with its stratified-bootstrap interval.
/// Every algorithm is bootstrapped with the same `b` (the same seed), so
/// each cell is exactly `interval(matrix, agg, b)`.
pub fn summarize(algos: &[(String, ScoreMatrix)], b: &Bootstrap) -> Result<StatsTable> {
    check_algos(algos)?;
    b.validate()?;
    let mut rows = Vec::with_capacity(algos.len());
    for (algo, m) in algos {
        let found = intervals(m, &Aggregate::ALL, b)?;
        rows.push(StatsRow {
            algo: algo.clone(),
            runs: m.runs(),
            tasks: m.tasks().len(),
            intervals: [found[0], found[1], found[2], found[3]],
        });
    }
    Ok(StatsTable {
        bootstrap: *b,
        rows,
    })
}

impl StatsTable {
    /// The interval of `agg` for `algo`, if the table has that algorithm.
    pub fn get(&self, algo: &str, agg: Aggregate) -> Option<Interval> {
        self.rows
            .iter()
            .find(|r| r.algo == algo)
            .map(|r| r.interval(agg))
    }

    /// The caption: coverage, replications and seed.
    fn caption(&self) -> String {
        format!(
            "Aggregate normalized scores, {} % stratified-bootstrap intervals ({} replications, seed {})",
            num(self.bootstrap.confidence * 100.0),
            self.bootstrap.reps,
            self.bootstrap.seed
        )
    }

    /// The table: algorithm, runs × tasks, then `point [lo, hi]` per
    /// aggregate (one decimal); the best point estimate of each column in
    /// bold.
    pub fn table(&self) -> Table {
        let mut columns = vec!["algorithm".to_string(), "runs × tasks".to_string()];
        columns.extend(Aggregate::ALL.iter().map(|a| {
            if a.higher_is_better() {
                format!("{} ↑", a.name())
            } else {
                format!("{} ↓", a.name())
            }
        }));
        let mut t = Table::new(&columns)
            .caption(self.caption())
            .footer(
                "Mean and median: of the per-task mean scores; IQM: mean of the middle 50 % of all run × task scores; optimality gap: mean shortfall below 100 (expert). Agarwal et al., NeurIPS 2021 (rliable).",
            );
        let best: Vec<Option<f64>> = Aggregate::ALL
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let points = self.rows.iter().map(|r| r.intervals[i].point);
                if a.higher_is_better() {
                    points.max_by(f64::total_cmp)
                } else {
                    points.min_by(f64::total_cmp)
                }
            })
            .collect();
        for r in &self.rows {
            let mut row = vec![
                Cell::from(r.algo.as_str()),
                Cell::from(format!("{} × {}", r.runs, r.tasks)),
            ];
            for (i, iv) in r.intervals.iter().enumerate() {
                // One decimal, as neorl's score tables (normalized scores
                // span 0–100); the exact values are in `rows`.
                let text = format!("{iv:.1}");
                // Bold only where it sets one algorithm apart.
                let is_best = self.rows.len() > 1 && best[i] == Some(iv.point);
                row.push(if is_best {
                    Cell::bold(text)
                } else {
                    Cell::from(text)
                });
            }
            t.push(row);
        }
        t
    }

    /// The table in GitHub Markdown (bold as `**…**`, the footer as a note).
    pub fn to_markdown(&self) -> String {
        self.table().to_markdown()
    }

    pub(crate) fn rich(&self) -> Html {
        let mut h = Html::default();
        h.table(&self.table());
        h.finish()
    }
}

rich_display!(StatsTable);
