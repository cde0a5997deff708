//! How the plant's own objects show themselves in a notebook (HTML through
//! `evcxr_display`) and a terminal (`Display`): an environment's spec card,
//! rollout and shielded-rollout reports, and the summary of one supervised
//! episode. Tables only; figures of these objects are drawn by the `neorl`
//! crate's report layer.

use crate::display::{Align, Cell, HEAD_ROWS, Html, TAIL_ROWS, Table, mean_std, num, yes_no};
use crate::env::{ConstraintKind, Dim, EnvSpec, Sense};
use crate::policy::short_name;
use crate::rich_display;
use crate::rollout::shielded::interventions_by_kind_text;
use crate::rollout::{EpisodeStats, RolloutReport, ShieldedReport, ShieldedTrajectory};
use crate::safety::{ActionSource, InterventionKind};

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
    pub fn rich(&self) -> Html {
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
        "shutdown",
        "terminated",
        "truncated",
        "clipped steps",
    ];
    let mut t = Table::new(&head).caption("Episodes");
    t.align = vec![Align::Right; head.len()];
    t.fill_head_tail(eps.len(), HEAD_ROWS, TAIL_ROWS, |i| {
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
            yes_no(e.shutdown).into(),
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
    /// The report as a notebook card: the summary, then one row per
    /// episode (first and last rows when there are many).
    pub fn rich(&self) -> Html {
        let mut h = Html::titled(&format!("Rollout of {} on {}", self.policy, self.env));
        h.table(&Table::key_value(rollout_rows(self)));
        if !self.per_episode.is_empty() {
            h.table(&per_episode_table(&self.per_episode));
        }
        h.finish()
    }
}

impl ShieldedReport {
    /// The report as a notebook card: the rollout's summary, what the safety
    /// layer did (interventions by kind, emergency stops, audit log), and
    /// one row per episode.
    pub fn rich(&self) -> Html {
        let r = &self.rollout;
        let what = if self.shielded {
            "Shielded rollout"
        } else {
            "Supervised rollout (no shield)"
        };
        let mut h = Html::titled(&format!("{what} of {} on {}", r.policy, r.env));
        h.table(&Table::key_value(rollout_rows(r)));
        let kinds = interventions_by_kind_text(&self.interventions_by_kind);
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
                        format!(": {kinds}")
                    }
                ),
            ),
            (
                "emergency stops".into(),
                format!(
                    "{} ({} steps under emergency stop, {} shutdowns)",
                    self.emergency_stops, self.estop_steps, self.shutdowns
                ),
            ),
            (
                "hard-violation steps".into(),
                self.hard_violation_steps.to_string(),
            ),
        ];
        if let Some(a) = &self.audit {
            safety.push(("audit log".into(), a.to_string()));
        }
        h.table(&Table::key_value(safety).caption("Safety layer"));
        if !r.per_episode.is_empty() {
            h.table(&per_episode_table(&r.per_episode));
        }
        h.finish()
    }
}

impl ShieldedTrajectory {
    /// The episode's summary as a notebook card: outcome, interventions,
    /// emergency-stop trips, who drove the steps, and the interventions by
    /// kind with their mean correction.
    pub fn rich(&self) -> Html {
        let tr = &self.trajectory;
        let mut h = Html::titled(&format!(
            "{} on {} through the safety layer (seed {})",
            short_name(&tr.policy),
            tr.env,
            tr.seed
        ));
        let n = self.len();
        let ret: f64 = tr.rewards.iter().sum();
        let cost: f64 = tr.costs.iter().sum();
        let by = |s: ActionSource| self.sources.iter().filter(|x| **x == s).count();
        let ended = if tr.terminated {
            "terminated"
        } else if tr.truncated {
            "time limit"
        } else {
            "—"
        };
        h.table(&Table::key_value(vec![
            ("steps".into(), format!("{n} (ended: {ended})")),
            ("return".into(), num(ret)),
            ("cost".into(), num(cost)),
            (
                "shield".into(),
                (if self.shielded { "on" } else { "off" }).into(),
            ),
            (
                "interventions".into(),
                format!(
                    "{} ({}% of steps)",
                    self.n_interventions(),
                    num(100.0 * self.n_interventions() as f64 / n.max(1) as f64)
                ),
            ),
            (
                "emergency-stop trips".into(),
                self.trips.iter().filter(|t| **t).count().to_string(),
            ),
            (
                "steps driven by".into(),
                format!(
                    "policy {}, operator {}, emergency stop {}",
                    by(ActionSource::Policy),
                    by(ActionSource::Operator),
                    by(ActionSource::EmergencyStop)
                ),
            ),
        ]));
        let mut t = Table::new(&["kind", "steps", "mean correction"]).caption("Interventions");
        for kind in InterventionKind::ALL {
            let corrections: Vec<f64> = self
                .interventions
                .iter()
                .zip(&self.corrections)
                .filter(|(i, _)| **i == Some(kind))
                .map(|(_, c)| *c)
                .collect();
            if corrections.is_empty() {
                continue;
            }
            let mean = corrections.iter().sum::<f64>() / corrections.len() as f64;
            t.push(vec![
                kind.as_str().into(),
                corrections.len().to_string().into(),
                num(mean).into(),
            ]);
        }
        if t.rows.is_empty() {
            h.para("The shield did not intervene.");
        } else {
            h.table(&t);
        }
        h.finish()
    }
}

rich_display!(EnvSpec, RolloutReport, ShieldedReport, ShieldedTrajectory);
