//! Stacked panels over a shared time axis: the layout behind the trajectory
//! and shield-intervention figures. Traces are plotly.rs scatters; the
//! layout is written on the JSON because plotly.rs names only eight axes.

use super::Figure;
use crate::env::{ConstraintKind, ConstraintSpec, EnvSpec};
use crate::error::Result;
use plotly::common::{DashType, Line, Marker, MarkerSymbol, Mode};
use plotly::{Plot, Scatter};
use serde_json::json;

/// Pixel height of one panel.
pub(crate) const PANEL_PX: u32 = 170;
/// Line colours of successive runs.
pub(crate) const COLORS: [&str; 4] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"];

/// The y values of a series: numbers, or categories (for event strips).
pub(crate) enum Values {
    Num(Vec<f64>),
    Cat(Vec<String>),
}

/// One trace in a panel.
pub(crate) struct Series {
    pub name: String,
    pub x: Vec<f64>,
    pub y: Values,
    pub color: String,
    pub width: f64,
    pub dash: Option<DashType>,
    /// Markers instead of lines.
    pub markers: bool,
    pub show_legend: bool,
    pub legend_group: Option<String>,
}

impl Series {
    pub fn line(name: &str, x: Vec<f64>, y: Vec<f64>, color: &str) -> Self {
        Series {
            name: name.to_string(),
            x,
            y: Values::Num(y),
            color: color.to_string(),
            width: 1.5,
            dash: None,
            markers: false,
            show_legend: false,
            legend_group: None,
        }
    }
}

/// One panel: a y-axis label, its series, and horizontal limit lines.
pub(crate) struct Panel {
    pub label: String,
    pub series: Vec<Series>,
    pub limits: Vec<(String, f64, &'static str)>,
    /// Categories of a categorical y axis, in display order.
    pub categories: Option<Vec<String>>,
}

impl Panel {
    pub fn new(label: String) -> Self {
        Panel {
            label,
            series: vec![],
            limits: vec![],
            categories: None,
        }
    }

    /// Draw a constraint's limit: red dashed when hard, orange when soft.
    pub fn limit(&mut self, c: &ConstraintSpec) {
        let (color, kind) = match c.kind {
            ConstraintKind::Hard => ("#d62728", "hard"),
            ConstraintKind::Soft => ("#ff9f1c", "soft"),
        };
        self.limits
            .push((format!("{} limit ({kind})", c.name), c.limit, color));
    }
}

/// A readable time unit for the x axis of `spec`'s episodes: (seconds per
/// unit, unit name).
pub(crate) fn time_unit(spec: &EnvSpec) -> (f64, &'static str) {
    let total = spec.dt * spec.horizon as f64;
    if total >= 3.0 * 86_400.0 {
        (86_400.0, "days")
    } else if total >= 3.0 * 3600.0 {
        (3600.0, "h")
    } else if total >= 180.0 {
        (60.0, "min")
    } else {
        (1.0, "s")
    }
}

/// Times of steps `1..=n` in `spec`'s time unit.
pub(crate) fn step_times(spec: &EnvSpec, n: usize) -> Vec<f64> {
    let (scale, _) = time_unit(spec);
    (1..=n).map(|i| i as f64 * spec.dt / scale).collect()
}

/// Stack `panels` top to bottom over a shared x axis ending at `x_end`.
pub(crate) fn stacked(title: &str, x_label: &str, x_end: f64, panels: &[Panel]) -> Result<Figure> {
    let n = panels.len().max(1);
    let axis = |k: usize| {
        if k == 0 {
            ("x".to_string(), "y".to_string())
        } else {
            (format!("x{}", k + 1), format!("y{}", k + 1))
        }
    };
    let mut plot = Plot::new();
    for (k, p) in panels.iter().enumerate() {
        let (xa, ya) = axis(k);
        for s in &p.series {
            let mut line = Line::new().color(s.color.clone()).width(s.width);
            if let Some(d) = &s.dash {
                line = line.dash(d.clone());
            }
            let mode = if s.markers {
                Mode::Markers
            } else {
                Mode::Lines
            };
            let marker = Marker::new()
                .color(s.color.clone())
                .size(7)
                .symbol(MarkerSymbol::Diamond);
            macro_rules! finish {
                ($trace:expr) => {{
                    let mut t = $trace
                        .name(s.name.as_str())
                        .show_legend(s.show_legend)
                        .mode(mode)
                        .line(line)
                        .x_axis(xa.as_str())
                        .y_axis(ya.as_str());
                    if s.markers {
                        t = t.marker(marker);
                    }
                    if let Some(g) = &s.legend_group {
                        t = t.legend_group(g.as_str());
                    }
                    plot.add_trace(t);
                }};
            }
            match &s.y {
                Values::Num(y) => finish!(Scatter::new(s.x.clone(), y.clone())),
                Values::Cat(y) => finish!(Scatter::new(s.x.clone(), y.clone())),
            }
        }
        for (name, value, color) in &p.limits {
            plot.add_trace(
                Scatter::new(vec![0.0, x_end], vec![*value, *value])
                    .name(name.as_str())
                    .show_legend(false)
                    .mode(Mode::Lines)
                    .line(Line::new().color(*color).dash(DashType::Dash).width(1.5))
                    .x_axis(xa.as_str())
                    .y_axis(ya.as_str()),
            );
        }
    }
    let mut fig = Figure::from_plot(&plot, PANEL_PX * n as u32 + 120)?;
    let mut layout = serde_json::Map::new();
    layout.insert("title".into(), json!({"text": title}));
    layout.insert("hovermode".into(), json!("x unified"));
    layout.insert(
        "legend".into(),
        json!({"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"}),
    );
    layout.insert("margin".into(), json!({"l": 90, "r": 20, "t": 90, "b": 50}));
    let gap = 0.25 / n as f64;
    let h = (1.0 - gap * (n as f64 - 1.0)) / n as f64;
    for (k, p) in panels.iter().enumerate() {
        let top = 1.0 - k as f64 * (h + gap);
        let suffix = if k == 0 {
            String::new()
        } else {
            (k + 1).to_string()
        };
        let last = k + 1 == panels.len();
        layout.insert(
            format!("xaxis{suffix}"),
            json!({"anchor": format!("y{suffix}"), "matches": "x", "showticklabels": last,
                   "range": [0.0, x_end],
                   "title": if last { json!({"text": x_label}) } else { json!(null) }}),
        );
        let mut y = json!({"anchor": format!("x{suffix}"), "domain": [(top - h).max(0.0), top],
                           "title": {"text": p.label, "font": {"size": 11}}});
        if let Some(c) = &p.categories {
            y["type"] = json!("category");
            y["categoryorder"] = json!("array");
            y["categoryarray"] = json!(c);
            y["range"] = json!([-0.5, c.len() as f64 - 0.5]);
        }
        layout.insert(format!("yaxis{suffix}"), y);
    }
    fig.json["layout"] = serde_json::Value::Object(layout);
    Ok(fig)
}
