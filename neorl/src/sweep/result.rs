//! A task's result as MLflow tags: what `collect` needs to rebuild the
//! score table, bit for bit. Floats are written as Rust's shortest exact
//! text (`{:?}`) and read back with `str::parse`, which is exact; metric
//! values, read back through a JSON number parser, might not be. The same
//! tags are the content of the task's `done.json`, so a sweep without
//! tracking is collected from its folders in the same way.

use crate::error::{Error, Result};
use crate::experiments::scores::{BestRule, DatasetScore, EvalPoint, Run};
use std::collections::BTreeMap;

/// Tag: the sweep's id.
pub const SWEEP_ID: &str = "neorl.sweep_id";
/// Tag: the task's index in the manifest.
pub const TASK_INDEX: &str = "neorl.task_index";
/// Tag: MLflow's own link from a child run to its parent.
pub const PARENT: &str = "mlflow.parentRunId";
/// Tag set last on a run whose result is complete.
pub const COMPLETE: &str = "neorl.complete";
/// Evaluation lines per `neorl.evals.K` tag (MLflow keeps 8000 characters).
const EVALS_PER_TAG: usize = 40;

/// What one task produced.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskResult {
    pub run: Run,
    pub dataset: DatasetScore,
}

/// Rust's shortest text that reads back to the same `f64`.
pub fn exact(x: f64) -> String {
    format!("{x:?}")
}

fn num<T: std::str::FromStr>(k: &str, v: &str) -> Result<T> {
    v.trim()
        .parse()
        .map_err(|_| Error::Tracking(format!("{k} = '{v}' is not a number")))
}

/// One evaluation as a line of exact text:
/// `step score return cost violations selection` (selection `-` when the
/// point has no selection score).
pub fn eval_line(p: &EvalPoint) -> String {
    format!(
        "{} {} {} {} {} {}",
        p.step,
        exact(p.normalized_score),
        exact(p.mean_return),
        exact(p.mean_cost),
        p.hard_violations,
        p.selection_score.map_or_else(|| "-".into(), exact)
    )
}

/// The inverse of [`eval_line`]; also reads the 5-field lines written
/// before selection episodes (they have no selection score).
pub fn parse_eval_line(line: &str) -> Result<EvalPoint> {
    let f: Vec<&str> = line.split(' ').collect();
    if f.len() != 5 && f.len() != 6 {
        return Err(Error::Tracking(format!("bad evaluation line '{line}'")));
    }
    Ok(EvalPoint {
        selection_score: match f.get(5) {
            None | Some(&"-") => None,
            Some(s) => Some(num("selection score", s)?),
        },
        step: num("step", f[0])?,
        normalized_score: num("normalized score", f[1])?,
        mean_return: num("mean return", f[2])?,
        mean_cost: num("mean cost", f[3])?,
        hard_violations: num("hard violations", f[4])?,
    })
}

impl TaskResult {
    /// The result's tags (without the sweep's own ones).
    pub fn to_tags(&self) -> Vec<(String, String)> {
        let r = &self.run;
        let d = &self.dataset;
        let mut tags = vec![
            ("neorl.env".into(), r.env.clone()),
            ("neorl.algo".into(), r.algo.clone()),
            ("neorl.seed".into(), r.seed.to_string()),
            ("neorl.seconds".into(), exact(r.seconds)),
            ("neorl.dataset".into(), d.dataset.clone()),
            ("neorl.dataset_sha256".into(), d.sha256.clone()),
            (
                "neorl.dataset_transitions".into(),
                d.transitions.to_string(),
            ),
            ("neorl.dataset_episodes".into(), d.episodes.to_string()),
            ("neorl.behaviour_score".into(), exact(d.behaviour_score)),
            ("neorl.evals".into(), r.evals.len().to_string()),
        ];
        if r.best_rule == BestRule::None {
            tags.push(("neorl.best".into(), "none".into()));
        }
        for (k, chunk) in r.evals.chunks(EVALS_PER_TAG).enumerate() {
            let lines: Vec<String> = chunk.iter().map(eval_line).collect();
            tags.push((format!("neorl.evals.{k}"), lines.join("\n")));
        }
        if let Some(e) = &r.error {
            tags.push(("neorl.error".into(), e.clone()));
        }
        tags
    }

    /// Read a result back from a run's tags.
    pub fn from_tags(tags: &BTreeMap<String, String>) -> Result<Self> {
        let get = |k: &str| {
            tags.get(k)
                .ok_or_else(|| Error::Tracking(format!("the run has no tag {k}")))
        };
        let n: usize = num("neorl.evals", get("neorl.evals")?)?;
        let mut evals = vec![];
        for k in 0..n.div_ceil(EVALS_PER_TAG) {
            let key = format!("neorl.evals.{k}");
            for line in get(&key)?.lines() {
                evals.push(
                    parse_eval_line(line)
                        .map_err(|e| Error::Tracking(format!("tag {key}: {e}")))?,
                );
            }
        }
        if evals.len() != n {
            return Err(Error::Tracking(format!(
                "the run's tags hold {} evaluations, neorl.evals says {n}",
                evals.len()
            )));
        }
        let env = get("neorl.env")?.clone();
        let run = Run::of(
            &env,
            get("neorl.algo")?,
            num("neorl.seed", get("neorl.seed")?)?,
            evals,
            num("neorl.seconds", get("neorl.seconds")?)?,
            tags.get("neorl.error").cloned(),
        );
        // Without the tag, "best" is chosen by the evaluations: on their
        // selection scores, or (older results) on the reported ones.
        let run = match tags.get("neorl.best").map(String::as_str) {
            Some("none") => run.without_best(),
            None => run,
            Some(v) => {
                return Err(Error::Tracking(format!(
                    "neorl.best = '{v}': the only value is 'none'"
                )));
            }
        };
        let dataset = DatasetScore {
            env,
            dataset: get("neorl.dataset")?.clone(),
            sha256: get("neorl.dataset_sha256")?.clone(),
            transitions: num(
                "neorl.dataset_transitions",
                get("neorl.dataset_transitions")?,
            )?,
            episodes: num("neorl.dataset_episodes", get("neorl.dataset_episodes")?)?,
            behaviour_score: num("neorl.behaviour_score", get("neorl.behaviour_score")?)?,
        };
        Ok(TaskResult { run, dataset })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_exactly() {
        let evals: Vec<EvalPoint> = (0..95)
            .map(|i| EvalPoint {
                step: 10 * i,
                normalized_score: 0.1 + 1.0 / (i as f64 + 3.0),
                mean_return: -1e-300 * i as f64,
                mean_cost: f64::NAN,
                hard_violations: i as usize,
                selection_score: (i % 3 != 0).then_some(i as f64 * 0.5),
            })
            .collect();
        let r = TaskResult {
            run: Run::of(
                "ChemicalReactor-v0",
                "bc",
                2,
                evals,
                1.25,
                Some("diverged".into()),
            ),
            dataset: DatasetScore {
                env: "ChemicalReactor-v0".into(),
                dataset: "ChemicalReactor-medium-v0".into(),
                sha256: "ab".repeat(32),
                transitions: 5000,
                episodes: 7,
                behaviour_score: 43.21000000000001,
            },
        };
        let tags: BTreeMap<String, String> = r.to_tags().into_iter().collect();
        assert!(tags.values().all(|v| v.len() < 8000));
        let back = TaskResult::from_tags(&tags).unwrap();
        for (a, b) in back.run.evals.iter().zip(&r.run.evals) {
            assert_eq!(a.normalized_score.to_bits(), b.normalized_score.to_bits());
            assert_eq!(a.mean_return.to_bits(), b.mean_return.to_bits());
            assert!(a.mean_cost.is_nan());
        }
        assert_eq!(back.dataset, r.dataset);
        assert_eq!(back.run.last.to_bits(), r.run.last.to_bits());
        assert_eq!(back.run.error.as_deref(), Some("diverged"));
    }

    /// Results written before selection episodes: 5-field lines, and
    /// "best" falls back to the best reported score.
    #[test]
    fn old_evaluation_lines_have_no_selection_score() {
        let p = parse_eval_line("3 1.5 -2.0 0.0 0").unwrap();
        assert_eq!(p.selection_score, None);
        let q = parse_eval_line("6 0.5 -2.0 0.0 1 9.0").unwrap();
        assert_eq!(q.selection_score, Some(9.0));
        assert_eq!(parse_eval_line(&eval_line(&q)).unwrap(), q);
        let r = Run::of("E", "bc", 0, vec![p.clone(), q.clone()], 1.0, None);
        assert_eq!((r.best, r.best_rule), (1.5, BestRule::SameEpisodes));
        let sel = EvalPoint {
            selection_score: Some(1.0),
            ..p
        };
        let r = Run::of("E", "bc", 0, vec![sel, q], 1.0, None);
        assert_eq!((r.best, r.best_rule), (0.5, BestRule::Selected));
        assert!(parse_eval_line("3 1.5 -2.0 0.0").is_err());
        assert!(parse_eval_line("3 1.5 -2.0 0.0 0 x").is_err());
    }
}
