//! How neorl's objects show themselves: a dataset card, episode tables,
//! training summaries and metric histories, each as HTML (notebooks, via
//! `evcxr_display`) and text (`Display`), all through the one [`Table`]
//! renderer. (Environment specs and rollout reports render themselves the
//! same way in the plant crate's `report` module.)

use crate::agents::{History, TrainSummary};
use crate::data::{Dataset, EpisodeRow, EpisodesTable};
use crate::viz::{Align, Cell, Html, Table, mean_std, num};
use neorl_plant::display::{HEAD_ROWS, TAIL_ROWS, yes_no};
use neorl_plant::rich_display;

fn or_dash(s: &str) -> String {
    if s.is_empty() { "—".into() } else { s.into() }
}

/// Mean, sample std, min and max (NaN for an empty slice).
fn stats(v: &[f64]) -> (f64, f64, f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let std = if v.len() > 1 {
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        f64::NAN
    };
    let min = v.iter().copied().fold(f64::NAN, f64::min);
    let max = v.iter().copied().fold(f64::NAN, f64::max);
    (mean, std, min, max)
}

impl Dataset {
    /// The dataset card: identity, size, provenance, checksum and episode
    /// statistics.
    pub(crate) fn rich(&self) -> Html {
        let m = self.metadata();
        let name = if m.dataset_id.is_empty() {
            "Dataset".to_string()
        } else {
            format!("Dataset {}", m.dataset_id)
        };
        let mut h = Html::titled(&name);
        let constraints: Vec<&str> = self.constraints().iter().map(|c| c.name.as_str()).collect();
        let mut kv = vec![
            ("environment".to_string(), or_dash(&m.env_id)),
            ("quality".into(), or_dash(&m.quality)),
            ("transitions".into(), self.len().to_string()),
            ("episodes".into(), self.num_episodes().to_string()),
            (
                "observations".into(),
                format!(
                    "{}: {}",
                    self.obs_dim(),
                    self.observation_names().join(", ")
                ),
            ),
            (
                "actions".into(),
                format!("{}: {}", self.act_dim(), self.action_names().join(", ")),
            ),
            (
                "constraints".into(),
                if constraints.is_empty() {
                    "—".into()
                } else {
                    constraints.join(", ")
                },
            ),
        ];
        let rows = self.episode_rows();
        if !rows.is_empty() {
            let ret: Vec<f64> = rows.iter().map(|r| r.ret).collect();
            let (mean, std, min, max) = stats(&ret);
            kv.push((
                "episode return".into(),
                format!(
                    "{} (min {}, max {})",
                    mean_std(mean, std),
                    num(min),
                    num(max)
                ),
            ));
            let scores: Vec<f64> = rows.iter().filter_map(|r| r.normalized_score).collect();
            if !scores.is_empty() {
                let (mean, std, _, _) = stats(&scores);
                kv.push(("normalized score".into(), mean_std(mean, std)));
            }
            let cost: Vec<f64> = rows.iter().map(|r| r.cost).collect();
            let (mean, std, _, max) = stats(&cost);
            kv.push((
                "episode cost".into(),
                format!("{} (max {})", mean_std(mean, std), num(max)),
            ));
            let viol: usize = rows.iter().map(|r| r.violation_steps).sum();
            let term = rows.iter().filter(|r| r.terminated).count();
            kv.push((
                "violations".into(),
                format!(
                    "{viol} steps with a violated constraint; {term} of {} episodes terminated",
                    rows.len()
                ),
            ));
        }
        if let (Some(lo), Some(hi)) = (m.ref_min_score, m.ref_max_score) {
            kv.push((
                "reference returns".into(),
                format!("random {}, expert {}", num(lo), num(hi)),
            ));
        }
        kv.push(("behaviour policy".into(), or_dash(&m.behavior_policy)));
        kv.push((
            "seed".into(),
            m.seed.map_or("—".to_string(), |s| s.to_string()),
        ));
        kv.push(("generator".into(), or_dash(&m.generator)));
        kv.push(("neorl version".into(), or_dash(&m.neorl_version)));
        kv.push(("layout".into(), or_dash(&m.layout)));
        kv.push((
            "sha256".into(),
            m.sha256
                .clone()
                .unwrap_or_else(|| "not recorded (neorl::data::content_sha256 computes it)".into()),
        ));
        h.table(&Table::key_value(kv));
        if self.is_empty() {
            h.para("This dataset has no transitions.");
        }
        h.finish()
    }
}

impl EpisodesTable {
    /// The rows as a [`Table`] (first and last episodes when there are many).
    pub fn table(&self) -> Table {
        let has_score = self.rows.iter().any(|r| r.normalized_score.is_some());
        let mut head = vec!["episode", "start", "length", "return"];
        if has_score {
            head.push("normalized score");
        }
        head.extend(["cost", "violation steps", "terminated", "truncated"]);
        let mut t = Table::new(&head);
        t.align = vec![Align::Right; head.len()];
        let row = |r: &EpisodeRow| {
            let mut c: Vec<Cell> = vec![
                r.episode.to_string().into(),
                r.start.to_string().into(),
                r.length.to_string().into(),
                num(r.ret).into(),
            ];
            if has_score {
                c.push(r.normalized_score.map_or("—".into(), num).into());
            }
            c.extend([
                num(r.cost).into(),
                r.violation_steps.to_string().into(),
                yes_no(r.terminated).into(),
                yes_no(r.truncated).into(),
            ]);
            c
        };
        t.fill_head_tail(
            self.rows.len(),
            HEAD_ROWS,
            TAIL_ROWS,
            |i| row(&self.rows[i]),
        );
        t.footer(format!("{} episodes", self.rows.len()))
    }

    pub(crate) fn rich(&self) -> Html {
        let mut h = Html::titled(&format!("Episodes of {}", or_dash(&self.dataset)));
        if self.rows.is_empty() {
            h.para("No episodes: the dataset has no transitions.");
        } else {
            h.table(&self.table());
        }
        h.finish()
    }
}

impl TrainSummary {
    pub(crate) fn rich(&self) -> Html {
        let mut h = Html::titled("Training");
        let rate = if self.seconds > 0.0 {
            format!("{} updates/s", num(self.steps as f64 / self.seconds))
        } else {
            "—".into()
        };
        h.table(&Table::key_value(vec![
            ("updates (this call)".into(), self.steps.to_string()),
            ("updates (total)".into(), self.total_steps.to_string()),
            ("time".into(), format!("{} s ({rate})", num(self.seconds))),
        ]));
        if !self.final_metrics.is_empty() {
            let mut t = Table::new(&["metric", "mean of the last 100 updates"]);
            for (k, v) in &self.final_metrics {
                t.push(vec![k.clone().into(), num(*v).into()]);
            }
            h.table(&t);
        }
        h.finish()
    }
}

impl History {
    /// One row per metric: last value, mean of the last 100 steps, min and
    /// max (the curves themselves: `agent.learning_curve()`).
    pub(crate) fn rich(&self) -> Html {
        let mut h = Html::titled(&format!("Training history: {} steps", self.len()));
        if self.is_empty() {
            h.para("No training steps yet.");
            return h.finish();
        }
        let recent = self.recent_means(100);
        let mut t = Table::new(&["metric", "last", "mean of last 100", "min", "max"]);
        for (name, col) in self.names.iter().zip(&self.values) {
            let finite: Vec<f64> = col
                .iter()
                .filter(|x| x.is_finite())
                .map(|&x| x as f64)
                .collect();
            let (_, _, min, max) = stats(&finite);
            t.push(vec![
                name.clone().into(),
                col.last().map_or("—".into(), |&x| num(x as f64)).into(),
                recent.get(name).map_or("—".into(), |&x| num(x)).into(),
                num(min).into(),
                num(max).into(),
            ]);
        }
        h.table(&t);
        h.finish()
    }
}

rich_display!(History, Dataset, EpisodesTable, TrainSummary);
