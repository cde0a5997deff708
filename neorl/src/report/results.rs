//! Results tables: any metric of algorithms on environments from per-run
//! values (environments × algorithms, mean ± std over seeds, the best per
//! environment in bold, an average row) as HTML, text or Markdown, and the
//! same as a grouped bar chart with error bars — the table and figure of an
//! offline-RL paper (D4RL's, CORL's layout). For results you already have
//! (normalized scores, costs, violations, runs read back from MLflow);
//! `neorl::experiments::scores` runs the whole training-and-evaluation protocol.

use crate::viz::panels::COLORS;
use crate::viz::{Align, Cell, Figure, Html, Table, mean_std, num};
use neorl_plant::rich_display;
use serde::Serialize;
use serde_json::json;

/// One cell of a results table: an algorithm on an environment over `n` runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultRow {
    pub env: String,
    pub algo: String,
    pub mean: f64,
    /// Sample standard deviation over the runs (NaN for one run).
    pub std: f64,
    pub n: usize,
}

/// A metric of algorithms on environments (see [`results_table`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultsTable {
    /// What is scored, e.g. `"normalized score"` or `"cost"`.
    pub metric: String,
    /// Whether larger is better (bold marks the best per environment).
    pub higher_is_better: bool,
    pub rows: Vec<ResultRow>,
}

/// A results table of `metric` from per-run results `(env, algo, value)`:
/// runs of the same environment and algorithm (different seeds) are
/// aggregated to mean ± sample std. Environments and algorithms keep the
/// order in which they first appear. Non-finite values are skipped.
pub fn results_table(metric: &str, runs: &[(&str, &str, f64)]) -> ResultsTable {
    let mut t = ResultsTable::new(metric);
    let mut keys: Vec<(&str, &str)> = vec![];
    for &(env, algo, _) in runs {
        if !keys.contains(&(env, algo)) {
            keys.push((env, algo));
        }
    }
    for (env, algo) in keys {
        let v: Vec<f64> = runs
            .iter()
            .filter(|r| r.0 == env && r.1 == algo)
            .map(|r| r.2)
            .collect();
        t.add(env, algo, &v);
    }
    t
}

impl ResultsTable {
    /// An empty table of `metric` (higher is better).
    pub fn new(metric: &str) -> Self {
        ResultsTable {
            metric: metric.to_string(),
            higher_is_better: true,
            rows: vec![],
        }
    }

    /// Mark smaller values as better (costs, violations).
    pub fn lower_is_better(mut self) -> Self {
        self.higher_is_better = false;
        self
    }

    /// Add the runs of `algo` on `env` (their finite values, aggregated).
    pub fn add(&mut self, env: &str, algo: &str, values: &[f64]) -> &mut Self {
        let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        let n = v.len();
        let mean = v.iter().sum::<f64>() / n as f64;
        let std = if n > 1 {
            (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            f64::NAN
        };
        self.rows.push(ResultRow {
            env: env.to_string(),
            algo: algo.to_string(),
            mean,
            std,
            n,
        });
        self
    }

    fn order(&self) -> (Vec<&str>, Vec<&str>) {
        let mut envs: Vec<&str> = vec![];
        let mut algos: Vec<&str> = vec![];
        for r in &self.rows {
            if !envs.contains(&r.env.as_str()) {
                envs.push(&r.env);
            }
            if !algos.contains(&r.algo.as_str()) {
                algos.push(&r.algo);
            }
        }
        (envs, algos)
    }

    /// The score of `algo` on `env` (the last one added).
    pub fn get(&self, env: &str, algo: &str) -> Option<&ResultRow> {
        self.rows
            .iter()
            .rev()
            .find(|r| r.env == env && r.algo == algo)
    }

    fn better(&self, a: f64, b: f64) -> bool {
        if self.higher_is_better { a > b } else { a < b }
    }

    /// Per algorithm: the mean over environments, when it has a finite
    /// score on every environment.
    fn averages(&self, envs: &[&str], algos: &[&str]) -> Vec<Option<f64>> {
        algos
            .iter()
            .map(|a| {
                let v: Option<Vec<f64>> = envs
                    .iter()
                    .map(|e| self.get(e, a).map(|r| r.mean).filter(|m| m.is_finite()))
                    .collect();
                v.map(|v| v.iter().sum::<f64>() / v.len() as f64)
            })
            .collect()
    }

    /// Pivoted: one row per environment, one column per algorithm, cells
    /// `mean ± std`, the best per row in bold, then an average row (when
    /// there are several environments).
    pub fn table(&self) -> Table {
        let (envs, algos) = self.order();
        let mut head = vec!["environment"];
        head.extend(algos.iter().copied());
        let mut t = Table::new(&head).caption(format!(
            "{} ({} is better; mean ± std over runs)",
            self.metric,
            if self.higher_is_better {
                "higher"
            } else {
                "lower"
            }
        ));
        t.align = std::iter::once(Align::Left)
            .chain(algos.iter().map(|_| Align::Right))
            .collect();
        let bold_best = |values: &[Option<f64>], texts: Vec<String>| -> Vec<Cell> {
            let best = values
                .iter()
                .flatten()
                .copied()
                .filter(|x| x.is_finite())
                .fold(None, |b: Option<f64>, x| match b {
                    Some(b) if !self.better(x, b) => Some(b),
                    _ => Some(x),
                });
            texts
                .into_iter()
                .zip(values)
                .map(|(s, v)| match (v, best) {
                    (Some(v), Some(b)) if *v == b && algos.len() > 1 => Cell::bold(s),
                    _ => Cell::from(s),
                })
                .collect()
        };
        for env in &envs {
            let cells: Vec<Option<&ResultRow>> = algos.iter().map(|a| self.get(env, a)).collect();
            let values: Vec<Option<f64>> = cells.iter().map(|c| c.map(|r| r.mean)).collect();
            let texts = cells
                .iter()
                .map(|c| match c {
                    Some(r) if r.n > 1 => mean_std(r.mean, r.std),
                    Some(r) => num(r.mean),
                    None => "—".into(),
                })
                .collect();
            let mut row = vec![Cell::from(*env)];
            row.extend(bold_best(&values, texts));
            t.push(row);
        }
        if envs.len() > 1 {
            let avg = self.averages(&envs, &algos);
            let texts = avg.iter().map(|a| a.map_or("—".into(), num)).collect();
            let mut row = vec![Cell::bold("average")];
            row.extend(bold_best(&avg, texts));
            t.push(row);
        }
        t
    }

    /// The table in GitHub Markdown (bold as `**…**`).
    pub fn to_markdown(&self) -> String {
        self.table().to_markdown()
    }

    /// Grouped bars (one group per environment, one colour per algorithm)
    /// with ± std error bars.
    pub fn plot(&self) -> Figure {
        let title = format!("{} by environment and algorithm", self.metric);
        if self.rows.is_empty() {
            return Figure::no_data(&title, "no results: add runs to the table first");
        }
        let (envs, algos) = self.order();
        let mut palette = COLORS.to_vec();
        palette.extend(["#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]);
        let data: Vec<serde_json::Value> = algos
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let cells: Vec<Option<&ResultRow>> = envs.iter().map(|e| self.get(e, a)).collect();
                let y: Vec<Option<f64>> = cells
                    .iter()
                    .map(|c| c.map(|r| r.mean).filter(|m| m.is_finite()))
                    .collect();
                let err: Vec<f64> = cells
                    .iter()
                    .map(|c| c.map_or(0.0, |r| if r.std.is_finite() { r.std } else { 0.0 }))
                    .collect();
                json!({"type": "bar", "name": a, "x": envs, "y": y,
                       "error_y": {"type": "data", "array": err, "visible": true},
                       "marker": {"color": palette[i % palette.len()]}})
            })
            .collect();
        Figure {
            json: json!({
                "data": data,
                "layout": {
                    "title": {"text": title},
                    "barmode": "group",
                    "yaxis": {"title": {"text": self.metric}},
                    "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom"},
                    "margin": {"l": 70, "r": 20, "t": 80, "b": 80},
                },
            }),
            height: 420,
        }
    }

    pub(crate) fn rich(&self) -> Html {
        let mut h = Html::default();
        if self.rows.is_empty() {
            h.para(&format!("No {} results yet.", self.metric));
        } else {
            h.table(&self.table());
        }
        h.finish()
    }
}

rich_display!(ResultsTable);
