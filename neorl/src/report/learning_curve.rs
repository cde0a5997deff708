//! Learning curves: every metric an agent recorded against the training
//! step (one panel each), and one metric across several runs (agents in a
//! notebook, or runs read back from MLflow).
//!
//! Curves are a moving average over 1% of the steps (NaN-skipping, running
//! sums) with the raw values faint behind them. A trace keeps at most
//! [`MAX_POINTS`] points (every k-th step, the last step always kept), so
//! a 100 000-step history stays a small notebook output; the moving average
//! is computed at full resolution before that.

use crate::agents::{Agent, History};
use crate::viz::Figure;
use crate::viz::panels::COLORS;
use serde_json::json;

/// Most points per trace.
pub const MAX_POINTS: usize = 1000;

/// One metric of one run: its name (the legend entry), steps and values.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSeries {
    pub name: String,
    pub steps: Vec<u64>,
    pub values: Vec<f64>,
}

impl RunSeries {
    /// `metric` of a history, named `name` (`None` when it has no such metric).
    pub fn from_history(name: &str, history: &History, metric: &str) -> Option<Self> {
        history.series(metric).map(|v| RunSeries {
            name: name.to_string(),
            steps: history.steps.clone(),
            values: v.iter().map(|&x| x as f64).collect(),
        })
    }
}

/// Moving average over `window` values ending at each index, skipping
/// non-finite ones (`None` where the window has none).
fn moving_average(v: &[f64], window: usize) -> Vec<Option<f64>> {
    let window = window.max(1);
    let (mut sum, mut count) = (0.0, 0usize);
    let mut out = Vec::with_capacity(v.len());
    for j in 0..v.len() {
        if v[j].is_finite() {
            sum += v[j];
            count += 1;
        }
        if j >= window && v[j - window].is_finite() {
            sum -= v[j - window];
            count -= 1;
        }
        out.push((count > 0).then(|| sum / count as f64));
    }
    out
}

/// Indices of at most `max` evenly strided points, the last one included.
fn decimate(n: usize, max: usize) -> Vec<usize> {
    if n <= max {
        return (0..n).collect();
    }
    let stride = n.div_ceil(max.max(2) - 1);
    let mut idx: Vec<usize> = (0..n).step_by(stride).collect();
    if idx.last() != Some(&(n - 1)) {
        idx.push(n - 1);
    }
    idx
}

/// The raw (faint) and smoothed traces of one series on axes `ax`.
fn traces(
    name: &str,
    steps: &[u64],
    values: &[f64],
    color: &str,
    ax: &str,
) -> [serde_json::Value; 2] {
    let n = steps.len().min(values.len());
    let smooth = moving_average(&values[..n], n / 100);
    let idx = decimate(n, MAX_POINTS);
    let x: Vec<u64> = idx.iter().map(|&i| steps[i]).collect();
    let raw: Vec<Option<f64>> = idx
        .iter()
        .map(|&i| values[i].is_finite().then_some(values[i]))
        .collect();
    let smooth: Vec<Option<f64>> = idx.iter().map(|&i| smooth[i]).collect();
    [
        json!({"type": "scatter", "mode": "lines", "name": format!("{name} (raw)"),
               "x": x, "y": raw, "xaxis": format!("x{ax}"), "yaxis": format!("y{ax}"),
               "showlegend": false, "hoverinfo": "skip", "opacity": 0.3,
               "line": {"width": 1, "color": color}, "connectgaps": true}),
        json!({"type": "scatter", "mode": "lines", "name": name,
               "x": x, "y": smooth, "xaxis": format!("x{ax}"), "yaxis": format!("y{ax}"),
               "line": {"width": 2, "color": color}, "connectgaps": true}),
    ]
}

impl History {
    /// One panel per metric against the training step (moving average over
    /// 1% of the steps, raw values faint behind it); see
    /// [`learning_curve_figure`].
    pub fn figure(&self, title: &str) -> Figure {
        learning_curve_figure(self, title)
    }
}

/// `agent.learning_curve()`: every training metric of any [`Agent`] (the
/// five algorithms and your own) against the training step. Figures are
/// drawn in this layer, above the agents, so this is an extension trait of
/// `Agent`, in `neorl::prelude`.
pub trait LearningCurve {
    /// A figure of every metric against the training step.
    fn learning_curve(&self) -> Figure;
}

impl<A: Agent + ?Sized> LearningCurve for A {
    fn learning_curve(&self) -> Figure {
        self.history()
            .figure(&format!("{} on {}", self.algo(), self.state().env_id))
    }
}

/// Every metric of `history` against the training step, one panel each.
pub fn learning_curve_figure(history: &History, title: &str) -> Figure {
    if history.is_empty() {
        return Figure::no_data(title, "no training steps yet: call train(&data, steps)");
    }
    let k = history.names.len().max(1);
    let mut data = vec![];
    let mut layout = json!({
        "title": {"text": title},
        "grid": {"rows": k, "columns": 1, "pattern": "independent"},
        "showlegend": false,
        "margin": {"l": 70, "r": 20, "t": 40, "b": 40},
    });
    for (i, (name, col)) in history.names.iter().zip(&history.values).enumerate() {
        let ax = if i == 0 {
            String::new()
        } else {
            (i + 1).to_string()
        };
        let v: Vec<f64> = col.iter().map(|&x| x as f64).collect();
        data.extend(traces(name, &history.steps, &v, COLORS[0], &ax));
        layout[format!("yaxis{ax}")] = json!({"title": {"text": name}});
        if i + 1 == k {
            layout[format!("xaxis{ax}")] = json!({"title": {"text": "training step"}});
        }
    }
    Figure {
        json: json!({"data": data, "layout": layout}),
        height: (180 * k as u32).max(300),
    }
}

/// One metric across runs: a line per run (moving average, raw faint).
pub fn runs_figure(metric: &str, runs: &[RunSeries]) -> Figure {
    let title = format!("{metric} across runs");
    if runs
        .iter()
        .all(|r| r.steps.is_empty() || r.values.is_empty())
    {
        return Figure::no_data(&title, &format!("no values of {metric} in these runs"));
    }
    let mut data = vec![];
    for (i, r) in runs.iter().enumerate() {
        data.extend(traces(
            &r.name,
            &r.steps,
            &r.values,
            COLORS[i % COLORS.len()],
            "",
        ));
    }
    Figure {
        json: json!({
            "data": data,
            "layout": {
                "title": {"text": title},
                "xaxis": {"title": {"text": "training step"}},
                "yaxis": {"title": {"text": metric}},
                "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom"},
                "margin": {"l": 70, "r": 20, "t": 70, "b": 50},
            },
        }),
        height: 380,
    }
}

/// One metric of several agents' histories, e.g.
/// `compare_learning_curves("critic_loss", &[("iql", iql.history()), ("cql", cql.history())])`.
/// Histories without that metric are left out (and named in the title).
pub fn compare_learning_curves(metric: &str, runs: &[(&str, &History)]) -> Figure {
    let series: Vec<RunSeries> = runs
        .iter()
        .filter_map(|(name, h)| RunSeries::from_history(name, h, metric))
        .collect();
    let missing: Vec<&str> = runs
        .iter()
        .filter(|(_, h)| h.series(metric).is_none())
        .map(|(n, _)| *n)
        .collect();
    let mut fig = runs_figure(metric, &series);
    if !missing.is_empty() && !series.is_empty() {
        fig.json["layout"]["title"]["text"] = json!(format!(
            "{metric} across runs (not recorded by {})",
            missing.join(", ")
        ));
    }
    fig
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_average_skips_nan_and_matches_the_naive_mean() {
        let v = [1.0, f64::NAN, 3.0, 5.0, 7.0];
        let m = moving_average(&v, 2);
        assert_eq!(
            m,
            vec![Some(1.0), Some(1.0), Some(3.0), Some(4.0), Some(6.0)]
        );
        assert_eq!(moving_average(&[f64::NAN], 3), vec![None]);
    }

    #[test]
    fn decimation_keeps_the_ends_and_the_bound() {
        assert_eq!(decimate(5, 10), vec![0, 1, 2, 3, 4]);
        let idx = decimate(100_000, MAX_POINTS);
        assert!(idx.len() <= MAX_POINTS + 1, "{}", idx.len());
        assert_eq!((idx[0], *idx.last().unwrap()), (0, 99_999));
    }

    #[test]
    fn curves_per_metric_and_across_runs() {
        let mut h = History::default();
        for s in 1..=5000u64 {
            h.push(s, &[("loss", 1.0 / s as f32), ("q", s as f32)]);
        }
        let f = learning_curve_figure(&h, "iql on X");
        assert_eq!(f.n_traces(), 4);
        assert_eq!(f.traces_named("loss").len(), 1);
        assert!(f.json["data"][1]["x"].as_array().unwrap().len() <= MAX_POINTS + 1);
        assert_eq!(f.json["layout"]["yaxis2"]["title"]["text"], "q");
        let g = compare_learning_curves("q", &[("a", &h), ("b", &h), ("c", &History::default())]);
        assert_eq!(g.traces_named("a").len(), 1);
        assert_eq!(g.traces_named("b").len(), 1);
        assert!(g.title().contains("not recorded by c"));
        let none = compare_learning_curves("nope", &[("a", &h)]);
        assert_eq!(none.n_traces(), 0);
        assert_eq!(learning_curve_figure(&h, "t"), h.figure("t"));
    }
}
