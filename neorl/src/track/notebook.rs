//! Notebook helpers: the runs of an experiment as a polars DataFrame, and
//! one metric across runs as a figure.

use super::{RunData, Tracker};
use crate::error::{Error, Result};
use crate::viz::Figure;

/// One line per run that has metric `key`, against the step.
pub fn plot_metric(tracker: &Tracker, experiment: Option<&str>, key: &str) -> Result<Figure> {
    let runs = tracker.run_list(experiment)?;
    let mut data = vec![];
    for run in runs.iter().filter(|r| r.metrics.contains_key(key)) {
        let mut points = tracker.metric_history(run, key)?;
        points.sort_by_key(|m| (m.step, m.timestamp));
        let x: Vec<i64> = points.iter().map(|m| m.step).collect();
        let y: Vec<Option<f64>> = points
            .iter()
            .map(|m| m.value.is_finite().then_some(m.value))
            .collect();
        let name = if run.run_name.is_empty() {
            run.run_id.chars().take(8).collect()
        } else {
            format!(
                "{} ({})",
                run.run_name,
                &run.run_id[..run.run_id.len().min(8)]
            )
        };
        data.push(serde_json::json!({
            "type": "scattergl", "mode": "lines", "name": name, "x": x, "y": y,
            "connectgaps": true,
        }));
    }
    if data.is_empty() {
        return Err(Error::Tracking(format!(
            "no run of experiment '{}' has a metric '{key}'",
            experiment.unwrap_or(tracker.experiment())
        )));
    }
    let layout = serde_json::json!({
        "title": {"text": format!("{key} — {}", experiment.unwrap_or(tracker.experiment()))},
        "xaxis": {"title": {"text": "step"}},
        "yaxis": {"title": {"text": key}},
        "margin": {"l": 70, "r": 20, "t": 40, "b": 40},
    });
    Ok(Figure {
        json: serde_json::json!({"data": data, "layout": layout}),
        height: 450,
    })
}

/// `run_id`, `run_name`, `experiment_id`, `status`, `start_time`,
/// `end_time`, `duration_s`, `artifact_uri`, `metrics.*`, `params.*`, `tags.*`.
#[cfg(feature = "frames")]
pub fn runs_frame(runs: &[RunData]) -> Result<polars::prelude::DataFrame> {
    use polars::prelude::*;
    use std::collections::BTreeSet;
    let n = runs.len();
    let col_str = |name: &str, f: &dyn Fn(&RunData) -> Option<String>| {
        Column::new(name.into(), runs.iter().map(f).collect::<Vec<_>>())
    };
    let mut cols = vec![
        col_str("run_id", &|r| Some(r.run_id.clone())),
        col_str("run_name", &|r| Some(r.run_name.clone())),
        col_str("experiment_id", &|r| Some(r.experiment_id.clone())),
        col_str("status", &|r| Some(r.status.clone())),
        Column::new(
            "start_time".into(),
            runs.iter().map(|r| r.start_time).collect::<Vec<_>>(),
        ),
        Column::new(
            "end_time".into(),
            runs.iter().map(|r| r.end_time).collect::<Vec<_>>(),
        ),
        Column::new(
            "duration_s".into(),
            runs.iter()
                .map(|r| Some((r.end_time? - r.start_time?) as f64 / 1000.0))
                .collect::<Vec<_>>(),
        ),
        col_str("artifact_uri", &|r| Some(r.artifact_uri.clone())),
    ];
    let keys = |f: &dyn Fn(&RunData) -> Vec<String>| -> BTreeSet<String> {
        runs.iter().flat_map(f).collect()
    };
    for k in keys(&|r| r.metrics.keys().cloned().collect()) {
        cols.push(Column::new(
            format!("metrics.{k}").into(),
            runs.iter()
                .map(|r| r.metrics.get(&k).copied())
                .collect::<Vec<_>>(),
        ));
    }
    for k in keys(&|r| r.params.keys().cloned().collect()) {
        cols.push(col_str(&format!("params.{k}"), &|r| {
            r.params.get(&k).cloned()
        }));
    }
    for k in keys(&|r| r.tags.keys().cloned().collect()) {
        cols.push(col_str(&format!("tags.{k}"), &|r| r.tags.get(&k).cloned()));
    }
    DataFrame::new(n, cols).map_err(|e| Error::Frame {
        context: "building the runs DataFrame".into(),
        message: e.to_string(),
    })
}
