//! How neorl's objects show themselves: a dataset card, episode tables,
//! environment specs, rollout and shielded-rollout reports and training
//! summaries, each as HTML (notebooks, via `evcxr_display`) and text
//! (`Display`), all through the one [`Table`] renderer.

use super::display::{Html, rich_display};
use super::table::{Align, Cell, Table, mean_std, num};
use crate::agents::{History, TrainSummary};
use crate::data::{Dataset, EpisodeRow, EpisodesTable};
use crate::env::{ConstraintKind, Dim, EnvSpec, Sense};
use crate::eval::{EpisodeStats, RolloutReport, ShieldedReport};

/// Rows shown at the start and the end of long per-episode tables.
const HEAD: usize = 10;
const TAIL: usize = 5;

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

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
        t.fill_head_tail(self.rows.len(), HEAD, TAIL, |i| row(&self.rows[i]));
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

fn dims_table(caption: &str, dims: &[Dim]) -> Table {
    let mut t = Table::new(&["name", "unit", "low", "high"]).caption(caption);
    t.align[1] = Align::Left;
    for d in dims {
        t.push(vec![
            d.name.clone().into(),
            d.unit.clone().into(),
            num(d.low).into(),
            num(d.high).into(),
        ]);
    }
    t
}

/// A readable duration for `seconds`.
fn duration(seconds: f64) -> String {
    if seconds >= 2.0 * 86_400.0 {
        format!("{} days", num(seconds / 86_400.0))
    } else if seconds >= 2.0 * 3600.0 {
        format!("{} h", num(seconds / 3600.0))
    } else if seconds >= 120.0 {
        format!("{} min", num(seconds / 60.0))
    } else {
        format!("{} s", num(seconds))
    }
}

impl EnvSpec {
    /// The spec as a notebook card: description, timing, references, and
    /// the observation, action and constraint tables with units and limits.
    pub(crate) fn rich(&self) -> Html {
        let mut h = Html::titled(&self.id);
        h.para(&self.description);
        h.table(&Table::key_value(vec![
            ("control interval".into(), duration(self.dt)),
            (
                "horizon".into(),
                format!(
                    "{} steps ({})",
                    self.horizon,
                    duration(self.dt * self.horizon as f64)
                ),
            ),
            (
                "reward per step".into(),
                format!(
                    "{} to {}",
                    num(self.reward_range.0),
                    num(self.reward_range.1)
                ),
            ),
            (
                "reference returns".into(),
                format!(
                    "random {}, expert {} (normalized score 0 and 100)",
                    num(self.ref_random_return),
                    num(self.ref_expert_return)
                ),
            ),
        ]));
        h.table(&dims_table("Observations", &self.observations));
        h.table(&dims_table("Actions", &self.actions));
        let mut t = Table::new(&["name", "kind", "safe when", "unit", "description"])
            .caption("Constraints");
        t.align = vec![
            Align::Left,
            Align::Left,
            Align::Right,
            Align::Left,
            Align::Left,
        ];
        for c in &self.constraints {
            let kind = match c.kind {
                ConstraintKind::Hard => Cell::bold("hard"),
                ConstraintKind::Soft => Cell::from("soft"),
            };
            let sense = match c.sense {
                Sense::Upper => "≤",
                Sense::Lower => "≥",
            };
            t.push(vec![
                c.name.clone().into(),
                kind,
                format!("{sense} {}", num(c.limit)).into(),
                c.unit.clone().into(),
                c.description.clone().into(),
            ]);
        }
        h.table(&t);
        if !self.sources.is_empty() {
            h.para(&format!("Sources: {}", self.sources.join("; ")));
        }
        h.finish()
    }
}

fn per_episode_table(eps: &[EpisodeStats]) -> Table {
    let head = [
        "seed",
        "return",
        "cost",
        "length",
        "hard violation",
        "terminated",
        "truncated",
        "clipped steps",
    ];
    let mut t = Table::new(&head).caption("Episodes");
    t.align = vec![Align::Right; head.len()];
    t.fill_head_tail(eps.len(), HEAD, TAIL, |i| {
        let e = &eps[i];
        let hard = if e.hard_violation {
            Cell::bold("yes")
        } else {
            Cell::from("no")
        };
        vec![
            e.seed.to_string().into(),
            num(e.ret).into(),
            num(e.cost).into(),
            e.length.to_string().into(),
            hard,
            yes_no(e.terminated).into(),
            yes_no(e.truncated).into(),
            e.clipped_steps.to_string().into(),
        ]
    });
    t
}

fn rollout_rows(r: &RolloutReport) -> Vec<(String, String)> {
    vec![
        ("environment".into(), r.env.clone()),
        ("policy".into(), r.policy.clone()),
        ("episodes".into(), r.episodes.to_string()),
        ("return".into(), mean_std(r.mean_return, r.std_return)),
        ("normalized score".into(), num(r.normalized_score)),
        ("cost per episode".into(), num(r.mean_cost)),
        (
            "hard violations".into(),
            format!("{} of {} episodes", r.hard_violations, r.episodes),
        ),
        ("mean length".into(), num(r.mean_length)),
    ]
}

impl RolloutReport {
    pub(crate) fn rich(&self) -> Html {
        let mut h = Html::titled(&format!("Rollout of {} on {}", self.policy, self.env));
        h.table(&Table::key_value(rollout_rows(self)));
        if !self.per_episode.is_empty() {
            h.table(&per_episode_table(&self.per_episode));
        }
        h.finish()
    }
}

impl ShieldedReport {
    pub(crate) fn rich(&self) -> Html {
        let r = &self.rollout;
        let what = if self.shielded {
            "Shielded rollout"
        } else {
            "Supervised rollout (no shield)"
        };
        let mut h = Html::titled(&format!("{what} of {} on {}", r.policy, r.env));
        h.table(&Table::key_value(rollout_rows(r)));
        let kinds: Vec<String> = self
            .interventions_by_kind
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let mut safety = vec![
            (
                "shield".to_string(),
                (if self.shielded { "on" } else { "off" }).to_string(),
            ),
            (
                "interventions".into(),
                format!(
                    "{} ({}% of steps){}",
                    self.interventions,
                    num(100.0 * self.intervention_rate),
                    if kinds.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", kinds.join(", "))
                    }
                ),
            ),
            (
                "emergency stops".into(),
                format!(
                    "{} ({} steps under emergency stop)",
                    self.emergency_stops, self.estop_steps
                ),
            ),
            (
                "hard-violation steps".into(),
                self.hard_violation_steps.to_string(),
            ),
        ];
        if let Some(a) = &self.audit {
            safety.push((
                "audit log".into(),
                format!(
                    "{} ({} records, head {})",
                    a.path.display(),
                    a.records,
                    a.head
                ),
            ));
        }
        h.table(&Table::key_value(safety).caption("Safety layer"));
        if !r.per_episode.is_empty() {
            h.table(&per_episode_table(&r.per_episode));
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

rich_display!(
    History,
    Dataset,
    EpisodesTable,
    EnvSpec,
    RolloutReport,
    ShieldedReport,
    TrainSummary
);
