//! Run records: the compact export of a sweep that `neorl paper` makes its
//! tables and figures from — every run's configuration, evaluation curve
//! and final metrics; no checkpoints, no per-step losses.
//!
//! # Format (version 1)
//!
//! A UTF-8 text file of JSON Lines (one JSON object per line, `\n` ends
//! each line). Every float is a JSON *string* holding Rust's shortest text
//! that reads back to the same `f64` (`format!("{x:?}")`), read back with
//! Rust's exact `str::parse`: a JSON number parser need not round-trip
//! (serde_json's default one is off by one ulp on some inputs), and the
//! tables must come out bit for bit. Non-finite floats are refused.
//!
//! The **first line** is the header:
//!
//! | field | meaning |
//! |---|---|
//! | `format` | always `"neorl-run-records"` |
//! | `version` | the format version, [`FORMAT_VERSION`] |
//! | `neorl_version` | the neorl that wrote the file |
//! | `sweep` | the sweep's name |
//! | `protocol.steps` | gradient steps per run |
//! | `protocol.eval_every` | steps between evaluations (and one after the last) |
//! | `protocol.episodes` | reported episodes per evaluation, seeds `eval_seed…` |
//! | `protocol.eval_seed` | the first reported episode's seed |
//! | `protocol.selection_episodes` | episodes per evaluation that select "best", seeds `selection_seed…`; 0: none |
//! | `protocol.selection_seed` | the first selection episode's seed (`eval_seed + 1000000`) |
//! | `protocol.hidden` | hidden-layer widths (`null`: each paper's) |
//! | `protocol.settings` | hyper-parameters over the papers' defaults (`ALGO.KEY` → value) |
//! | `datasets[]` | `id`, `env`, `quality`, `size` (`null`: the registry's), `transitions`, `episodes` (complete ones), `sha256`, `behaviour_score` (the normalized mean return of its complete episodes) |
//!
//! **Every other line** is one run (an algorithm trained with one seed on
//! one dataset):
//!
//! | field | meaning |
//! |---|---|
//! | `algo`, `env`, `dataset`, `quality`, `size`, `seed` | what was trained on what |
//! | `steps`, `hidden`, `settings` | its training configuration |
//! | `seconds` | wall-clock seconds of training and evaluation |
//! | `evals[]` | the curve: `step`, `score` (normalized, reported episodes), `return`, `cost` (mean constraint-violation steps per episode), `hard_violations` (episodes ended by a hard breach), `selection` (normalized score on the selection episodes, `null` without) |
//! | `last` | the final evaluation: `step`, `score`, `cost`, `hard_breach_rate` (hard violations per evaluation episode) |
//! | `best` | the same at the evaluation chosen by `best_rule`; `null` when there is no best |
//! | `best_rule` | `selected` (highest selection score, earliest on a tie), `same_episodes` (highest reported score: results from before selection episodes, optimistic) or `none` |
//! | `error` | why the run failed (`null` when it did not); failed runs are left out of the statistics |
//!
//! A reader refuses a file whose header is missing or of another format
//! version, a corrupt line (named by its line number and field), and the
//! same run (algorithm, dataset, seed) twice.

use crate::agents::Settings;
use crate::data::Quality;
use crate::error::{Error, Result};
use crate::experiments::scores::{BestRule, EvalPoint, Run, selected_index};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::path::{Path, PathBuf};

/// The format this module writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The header's `format` field.
pub const FORMAT_NAME: &str = "neorl-run-records";

/// An `f64` written as its exact shortest text, finite only.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exact(pub f64);

impl Serialize for Exact {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:?}", self.0))
    }
}

impl<'de> Deserialize<'de> for Exact {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Exact(x)),
            Ok(_) => Err(serde::de::Error::custom(format!(
                "'{s}' is not a finite number"
            ))),
            Err(_) => Err(serde::de::Error::custom(format!("'{s}' is not a number"))),
        }
    }
}

/// The sweep's protocol (the header's `protocol`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protocol {
    pub steps: u64,
    pub eval_every: u64,
    pub episodes: usize,
    pub eval_seed: u64,
    pub selection_episodes: usize,
    pub selection_seed: u64,
    pub hidden: Option<Vec<usize>>,
    pub settings: Settings,
}

/// One dataset of the sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetRecord {
    pub id: String,
    pub env: String,
    pub quality: Quality,
    pub size: Option<usize>,
    pub transitions: usize,
    pub episodes: usize,
    pub sha256: String,
    pub behaviour_score: Exact,
}

/// The first line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordsHeader {
    pub format: String,
    pub version: u32,
    pub neorl_version: String,
    pub sweep: String,
    pub protocol: Protocol,
    pub datasets: Vec<DatasetRecord>,
}

/// One evaluation of a run's curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurvePoint {
    pub step: u64,
    pub score: Exact,
    #[serde(rename = "return")]
    pub mean_return: Exact,
    pub cost: Exact,
    pub hard_violations: usize,
    pub selection: Option<Exact>,
}

/// A run's final (or best) evaluation with its safety beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub step: u64,
    pub score: Exact,
    pub cost: Exact,
    /// Hard violations per evaluation episode.
    pub hard_breach_rate: Exact,
}

/// One run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    pub algo: String,
    pub env: String,
    pub dataset: String,
    pub quality: Quality,
    pub size: Option<usize>,
    pub seed: u64,
    pub steps: u64,
    pub hidden: Option<Vec<usize>>,
    pub settings: Settings,
    pub seconds: Exact,
    pub evals: Vec<CurvePoint>,
    pub last: Option<Outcome>,
    pub best: Option<Outcome>,
    pub best_rule: BestRule,
    pub error: Option<String>,
}

fn finite(what: &str, x: f64) -> Result<Exact> {
    if x.is_finite() {
        Ok(Exact(x))
    } else {
        Err(Error::InvalidArgument(format!(
            "run records: {what} is {x}; a record holds finite numbers only"
        )))
    }
}

impl RunRecord {
    /// The record of `run`, trained as `protocol` says on `dataset`;
    /// `episodes` evaluation episodes give its breach rate.
    pub fn of(run: &Run, dataset: &DatasetRecord, protocol: &Protocol) -> Result<Self> {
        let what = |f: &str| format!("{} {} seed {}: {f}", run.algo, dataset.id, run.seed);
        let outcome = |p: &EvalPoint| -> Result<Outcome> {
            Ok(Outcome {
                step: p.step,
                score: finite(&what("score"), p.normalized_score)?,
                cost: finite(&what("cost"), p.mean_cost)?,
                hard_breach_rate: Exact(p.hard_violations as f64 / protocol.episodes as f64),
            })
        };
        let evals = run
            .evals
            .iter()
            .map(|p| {
                Ok(CurvePoint {
                    step: p.step,
                    score: finite(&what("score"), p.normalized_score)?,
                    mean_return: finite(&what("return"), p.mean_return)?,
                    cost: finite(&what("cost"), p.mean_cost)?,
                    hard_violations: p.hard_violations,
                    selection: p
                        .selection_score
                        .map(|s| finite(&what("selection score"), s))
                        .transpose()?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let best_at = match run.best_rule {
            BestRule::None => None,
            BestRule::Selected => selected_index(&run.evals).map(|i| &run.evals[i]),
            // The first evaluation with the highest reported score.
            BestRule::SameEpisodes => run
                .evals
                .iter()
                .find(|p| p.normalized_score.to_bits() == run.best.to_bits()),
        };
        Ok(RunRecord {
            algo: run.algo.clone(),
            env: run.env.clone(),
            dataset: dataset.id.clone(),
            quality: dataset.quality,
            size: dataset.size,
            seed: run.seed,
            steps: protocol.steps,
            hidden: protocol.hidden.clone(),
            settings: protocol.settings.clone(),
            seconds: finite(&what("seconds"), run.seconds)?,
            evals,
            last: run.evals.last().map(outcome).transpose()?,
            best: best_at.map(outcome).transpose()?,
            best_rule: run.best_rule,
            error: run.error.clone(),
        })
    }

    /// `(algorithm, dataset, seed)`: what makes a run unique.
    pub fn key(&self) -> (String, String, u64) {
        (self.algo.clone(), self.dataset.clone(), self.seed)
    }
}

/// A file (or several merged) of run records.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecords {
    pub header: RecordsHeader,
    pub runs: Vec<RunRecord>,
}

impl RunRecords {
    /// A header of this version.
    pub fn header(sweep: &str, protocol: Protocol, datasets: Vec<DatasetRecord>) -> RecordsHeader {
        RecordsHeader {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            neorl_version: env!("CARGO_PKG_VERSION").into(),
            sweep: sweep.into(),
            protocol,
            datasets,
        }
    }

    /// The JSON Lines text.
    pub fn to_jsonl(&self) -> Result<String> {
        let mut s = json_line(&self.header)?;
        s.push('\n');
        for r in &self.runs {
            s.push_str(&json_line(r)?);
            s.push('\n');
        }
        Ok(s)
    }

    /// Write the file (whole or not at all).
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = self.to_jsonl()?;
        if let Some(d) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
        }
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }

    /// Read a records file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parse records text; `name` names it in errors.
    pub fn parse(text: &str, name: &str) -> Result<Self> {
        let bad = |line: usize, why: String| Error::DataFile {
            path: PathBuf::from(name),
            problem: format!("line {line}: {why}"),
        };
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let Some((_, first)) = lines.next() else {
            return Err(bad(1, "the file is empty; a records file starts with its header line (`neorl sweep export` writes one)".into()));
        };
        let v: serde_json::Value = serde_json::from_str(first)
            .map_err(|e| bad(1, format!("the header is not JSON ({e})")))?;
        if v.get("format").and_then(|f| f.as_str()) != Some(FORMAT_NAME) {
            return Err(bad(
                1,
                format!("not a run-records file: the header's `format` is not \"{FORMAT_NAME}\""),
            ));
        }
        match v.get("version").and_then(|f| f.as_u64()) {
            Some(n) if n == FORMAT_VERSION as u64 => {}
            other => {
                return Err(bad(
                    1,
                    format!(
                        "format version {} is not one this neorl reads (version {FORMAT_VERSION}); export the records again with this neorl, or read them with the neorl that wrote them",
                        other.map_or("(missing)".to_string(), |n| n.to_string())
                    ),
                ));
            }
        }
        let header: RecordsHeader = typed(v).map_err(|e| bad(1, e))?;
        let mut runs: Vec<RunRecord> = vec![];
        let mut seen = std::collections::BTreeMap::new();
        for (i, l) in lines {
            let n = i + 1;
            let v: serde_json::Value = serde_json::from_str(l).map_err(|e| {
                bad(
                    n,
                    format!("not a whole JSON object ({e}); was the file cut short?"),
                )
            })?;
            let r: RunRecord = typed(v).map_err(|e| bad(n, e))?;
            if !header.datasets.iter().any(|d| d.id == r.dataset) {
                return Err(bad(
                    n,
                    format!(
                        "field `dataset`: '{}' is not in the header's datasets",
                        r.dataset
                    ),
                ));
            }
            if let Some(m) = seen.insert(r.key(), n) {
                return Err(bad(
                    n,
                    format!(
                        "{} on {} seed {} is recorded twice (lines {m} and {n}); keep one",
                        r.algo, r.dataset, r.seed
                    ),
                ));
            }
            runs.push(r);
        }
        Ok(RunRecords { header, runs })
    }

    /// Several files as one: the same protocol, datasets joined, no run
    /// twice.
    pub fn read_all(paths: &[PathBuf]) -> Result<Self> {
        let Some((first, rest)) = paths.split_first() else {
            return Err(Error::InvalidArgument(
                "no records file: give at least one (--records FILE.jsonl)".into(),
            ));
        };
        let mut all = Self::read(first)?;
        for p in rest {
            let more = Self::read(p)?;
            if more.header.protocol != all.header.protocol {
                return Err(Error::InvalidArgument(format!(
                    "{} was run with another protocol than {} (steps, evaluation, networks or settings differ); make tables of one protocol at a time",
                    p.display(),
                    first.display()
                )));
            }
            for d in more.header.datasets {
                if !all.header.datasets.iter().any(|e| e.id == d.id) {
                    all.header.datasets.push(d);
                }
            }
            for r in more.runs {
                if all.runs.iter().any(|o| o.key() == r.key()) {
                    return Err(Error::InvalidArgument(format!(
                        "{} on {} seed {} is in {} and in an earlier records file; give each run once",
                        r.algo,
                        r.dataset,
                        r.seed,
                        p.display()
                    )));
                }
                all.runs.push(r);
            }
        }
        Ok(all)
    }
}

/// A JSON value as `T`, the error naming the field's path.
fn typed<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> std::result::Result<T, String> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        format!("field `{path}`: {}", e.into_inner())
    })
}

/// One record as one line of JSON.
fn json_line<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|source| Error::Json {
        context: "run records".into(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RunRecords {
        let protocol = Protocol {
            steps: 6,
            eval_every: 3,
            episodes: 2,
            eval_seed: 10_000,
            selection_episodes: 2,
            selection_seed: 1_010_000,
            hidden: Some(vec![8]),
            settings: Settings::new(),
        };
        let d = DatasetRecord {
            id: "ChemicalReactor-medium-v0".into(),
            env: "ChemicalReactor-v0".into(),
            quality: Quality::Medium,
            size: Some(3000),
            transitions: 3000,
            episodes: 9,
            sha256: "ab".repeat(32),
            behaviour_score: Exact(43.21000000000001),
        };
        let p = |step, s: f64, sel| EvalPoint {
            step,
            normalized_score: s,
            mean_return: -1.0 / 3.0,
            mean_cost: 0.5,
            hard_violations: 1,
            selection_score: Some(sel),
        };
        let run = Run::of(
            "ChemicalReactor-v0",
            "bc",
            0,
            vec![p(3, 0.1 + 0.2, 5.0), p(6, 7.0, 4.0)],
            1.5,
            None,
        );
        let r = RunRecord::of(&run, &d, &protocol).unwrap();
        RunRecords {
            header: RunRecords::header("t", protocol, vec![d]),
            runs: vec![r],
        }
    }

    #[test]
    fn records_round_trip_exactly_and_best_is_the_selected_point() {
        let r = sample();
        let run = &r.runs[0];
        assert_eq!(run.best.as_ref().unwrap().step, 3);
        assert_eq!(
            run.best.as_ref().unwrap().score.0.to_bits(),
            (0.1f64 + 0.2).to_bits()
        );
        assert_eq!(run.last.as_ref().unwrap().hard_breach_rate.0, 0.5);
        let text = r.to_jsonl().unwrap();
        assert!(text.contains("\"0.30000000000000004\""), "{text}");
        assert_eq!(RunRecords::parse(&text, "x").unwrap(), r);
    }

    #[test]
    fn corrupt_records_are_refused_with_line_and_field() {
        let text = sample().to_jsonl().unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // Cut short.
        let cut = format!("{}\n{}", lines[0], &lines[1][..lines[1].len() / 2]);
        let e = RunRecords::parse(&cut, "r.jsonl").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("cut short"), "{e}");
        // NaN.
        let nan = text.replacen("\"0.30000000000000004\"", "\"NaN\"", 1);
        let e = RunRecords::parse(&nan, "r.jsonl").unwrap_err().to_string();
        assert!(
            e.contains("line 2")
                && e.contains("evals[0].score")
                && e.contains("not a finite number"),
            "{e}"
        );
        // Another version.
        let v2 = text.replacen("\"version\":1", "\"version\":2", 1);
        let e = RunRecords::parse(&v2, "r.jsonl").unwrap_err().to_string();
        assert!(
            e.contains("line 1") && e.contains("format version 2"),
            "{e}"
        );
        // Twice the same run.
        let twice = format!("{text}{}\n", lines[1]);
        let e = RunRecords::parse(&twice, "r.jsonl")
            .unwrap_err()
            .to_string();
        assert!(e.contains("recorded twice (lines 2 and 3)"), "{e}");
        // Empty, and not records at all.
        assert!(
            RunRecords::parse("", "r")
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
        assert!(
            RunRecords::parse("{\"a\":1}", "r")
                .unwrap_err()
                .to_string()
                .contains("not a run-records file")
        );
    }
}
