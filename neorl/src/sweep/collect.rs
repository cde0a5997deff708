//! `neorl sweep collect DIR`: the score table from the sweep's child runs
//! in MLflow (server or local store) — or from the task folders' `done.json`
//! when the sweep was planned without tracking — one table per dataset
//! quality and size, built by the same [`aggregate`] as `neorl scores`, so
//! the same runs give the same numbers, bit for bit.

use super::manifest::{Manifest, Task, quality_name};
use super::result::{COMPLETE, SWEEP_ID, TASK_INDEX, TaskResult};
use super::tasks::{TaskDir, array_ranges};
use super::worker::read_done;
use crate::error::{Error, Result};
use crate::experiments::records::{DatasetRecord, Exact, Protocol, RunRecord, RunRecords};
use crate::experiments::scores::{SELECTION_SEED_OFFSET, ScoreConfig, ScoreTable, aggregate};
use crate::track::{Target, Tracker};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Each task's result, by index: from MLflow, or from the task folders.
fn results(dir: &Path, m: &Manifest) -> Result<BTreeMap<usize, TaskResult>> {
    let mut out = BTreeMap::new();
    if m.tracking.uri.is_empty() {
        for t in &m.tasks {
            if let Some(done) = read_done(&TaskDir::new(dir, t.index))? {
                out.insert(t.index, TaskResult::from_tags(&done.tags)?);
            }
        }
        return Ok(out);
    }
    let tracker = Tracker::with_target(
        Target::parse(&m.tracking.uri)?,
        &m.tracking.experiment,
        dir.join("spool"),
    )?;
    // Newest first: a task run twice (its records re-sent) counts once.
    for run in tracker.run_list(Some(&m.tracking.experiment))? {
        if run.tags.get(SWEEP_ID) != Some(&m.sweep_id)
            || run.tags.get(COMPLETE).map(String::as_str) != Some("true")
        {
            continue;
        }
        let Some(index) = run
            .tags
            .get(TASK_INDEX)
            .and_then(|i| i.parse::<usize>().ok())
        else {
            continue;
        };
        if out.contains_key(&index) {
            continue;
        }
        let r = TaskResult::from_tags(&run.tags)
            .map_err(|e| Error::Tracking(format!("run {}: {e}", run.run_id)))?;
        out.insert(index, r);
    }
    Ok(out)
}

/// Every task's result, checked against the manifest; an error names the
/// tasks that have no result yet.
fn complete_results(dir: &Path, m: &Manifest) -> Result<BTreeMap<usize, TaskResult>> {
    let results = results(dir, m)?;
    let missing: Vec<usize> = m
        .tasks
        .iter()
        .map(|t| t.index)
        .filter(|i| !results.contains_key(i))
        .collect();
    if !missing.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "{} of {} tasks have no result yet (tasks {}); `neorl sweep status {}` says where they stand",
            missing.len(),
            m.tasks.len(),
            array_ranges(&missing),
            dir.display()
        )));
    }
    for t in &m.tasks {
        let r = &results[&t.index].run;
        if (r.env.as_str(), r.algo.as_str(), r.seed) != (t.env.as_str(), t.algo.as_str(), t.seed) {
            return Err(Error::Tracking(format!(
                "the result of task {} is for {} {} seed {}, the manifest says {}; was the run tagged by another sweep?",
                t.index,
                r.algo,
                r.env,
                r.seed,
                t.run_name()
            )));
        }
    }
    Ok(results)
}

/// The run records of the sweep in `dir` (`neorl sweep export`): its
/// protocol, datasets and every task's run, in the manifest's order.
pub fn records(dir: &Path, m: &Manifest) -> Result<RunRecords> {
    let results = complete_results(dir, m)?;
    let first = m.tasks.first().ok_or_else(|| {
        Error::InvalidArgument(format!("the sweep in {} has no tasks", dir.display()))
    })?;
    let selection_episodes = first.selection_episodes.unwrap_or(0);
    let protocol = Protocol {
        steps: first.steps,
        eval_every: first.eval_every,
        episodes: first.episodes,
        eval_seed: first.eval_seed,
        selection_episodes,
        selection_seed: first.eval_seed.wrapping_add(SELECTION_SEED_OFFSET),
        hidden: first.hidden.clone(),
        settings: first.settings.clone(),
    };
    let mut datasets: Vec<DatasetRecord> = vec![];
    let mut runs = vec![];
    for t in &m.tasks {
        let r = &results[&t.index];
        let id = &r.dataset.dataset;
        if !datasets.iter().any(|d| &d.id == id) {
            datasets.push(DatasetRecord {
                id: id.clone(),
                env: r.dataset.env.clone(),
                quality: t.quality,
                size: t.dataset_size,
                transitions: r.dataset.transitions,
                episodes: r.dataset.episodes,
                sha256: r.dataset.sha256.clone(),
                behaviour_score: Exact(r.dataset.behaviour_score),
            });
        }
        let d = datasets.iter().find(|d| &d.id == id).expect("pushed above");
        runs.push(RunRecord::of(&r.run, d, &protocol)?);
    }
    Ok(RunRecords {
        header: RunRecords::header(&m.spec.name, protocol, datasets),
        runs,
    })
}

/// One table per (quality, size) of the sweep in `dir`, in the spec's order,
/// with a label (`medium`, `medium-5000`); an error names the tasks that
/// have no result yet.
pub fn collect(dir: &Path, m: &Manifest) -> Result<Vec<(String, ScoreTable)>> {
    let results = complete_results(dir, m)?;
    let spec = &m.spec;
    let algos = spec.algos()?;
    let mut groups: Vec<(String, Vec<&Task>)> = vec![];
    for t in &m.tasks {
        let label = match t.dataset_size {
            Some(n) => format!("{}-{n}", quality_name(t.quality)),
            None => quality_name(t.quality),
        };
        match groups.iter_mut().find(|(l, _)| *l == label) {
            Some((_, g)) => g.push(t),
            None => groups.push((label, vec![t])),
        }
    }
    let mut tables = vec![];
    for (label, tasks) in groups {
        let first = tasks[0];
        let cfg = ScoreConfig {
            envs: m.tasks.iter().fold(vec![], |mut v: Vec<String>, t| {
                if !v.contains(&t.env) {
                    v.push(t.env.clone());
                }
                v
            }),
            algos: algos.clone(),
            seeds: spec.seeds,
            steps: first.steps,
            eval_every: first.eval_every,
            episodes: first.episodes,
            eval_seed: first.eval_seed,
            selection_episodes: first.selection_episodes,
            quality: first.quality,
            dataset_size: first.dataset_size,
            hidden: first.hidden.clone(),
            device: first.device.clone(),
            jobs: 1,
            threads: None,
            oversubscribe: false,
            data_dir: Some(m.data_dir.clone()),
            settings: first.settings.clone(),
        };
        let mut datasets = vec![];
        for env in &cfg.envs {
            if let Some(t) = tasks.iter().find(|t| &t.env == env) {
                datasets.push(results[&t.index].dataset.clone());
            }
        }
        let runs: Vec<_> = tasks
            .iter()
            .map(|t| results[&t.index].run.clone())
            .collect();
        let seconds = runs.iter().map(|r| r.seconds).sum();
        tables.push((label, aggregate(&cfg, datasets, &algos, runs, seconds)));
    }
    Ok(tables)
}

/// Write the tables under `out`: `scores.md`, `scores.json`, `scores.html`
/// there when there is one, else in a folder per label.
pub fn write(out: &Path, tables: &[(String, ScoreTable)]) -> Result<Vec<PathBuf>> {
    let mut files = vec![];
    for (label, t) in tables {
        let dir = if tables.len() == 1 {
            out.to_path_buf()
        } else {
            out.join(label)
        };
        files.extend(t.write(&dir)?);
    }
    Ok(files)
}
