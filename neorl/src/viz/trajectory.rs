//! Trajectory figure: every constraint signal with its limit drawn, and every
//! action, one stacked panel each, for one or more episodes.

use super::Figure;
use crate::env::{ConstraintKind, EnvSpec};
use crate::error::Result;
use crate::eval::Trajectory;
use plotly::common::{DashType, Line, Mode};
use plotly::{Plot, Scatter};
use serde_json::json;

const COLORS: [&str; 4] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"];
const PANEL_PX: u32 = 170;

/// Stacked panels over time (hours or steps): one per constraint signal with
/// its limit as a red (hard) or orange (soft) dashed line, then one per
/// action. Each trajectory gets its own colour.
pub fn trajectory_figure(spec: &EnvSpec, trajectories: &[&Trajectory]) -> Result<Figure> {
    let nc = spec.n_constraints();
    let panels = nc + spec.act_dim();
    let mut plot = Plot::new();
    let axis = |k: usize| {
        if k == 0 {
            ("x".to_string(), "y".to_string())
        } else {
            (format!("x{}", k + 1), format!("y{}", k + 1))
        }
    };
    let (t_scale, t_unit) = time_unit(spec);
    for (ti, tr) in trajectories.iter().enumerate() {
        let color = COLORS[ti % COLORS.len()];
        let who = short_name(&tr.policy);
        let t: Vec<f64> = (1..=tr.rewards.len())
            .map(|i| i as f64 * spec.dt / t_scale)
            .collect();
        for k in 0..nc {
            let (xa, ya) = axis(k);
            let y: Vec<f64> = tr.constraint_values.iter().map(|v| v[k]).collect();
            plot.add_trace(
                Scatter::new(t.clone(), y)
                    .name(who)
                    .legend_group(who)
                    .show_legend(k == 0)
                    .mode(Mode::Lines)
                    .line(Line::new().color(color).width(1.5))
                    .x_axis(xa)
                    .y_axis(ya),
            );
        }
        for j in 0..spec.act_dim() {
            let (xa, ya) = axis(nc + j);
            let y: Vec<f64> = tr.actions.iter().map(|a| a[j]).collect();
            plot.add_trace(
                Scatter::new(t.clone(), y)
                    .name(who)
                    .legend_group(who)
                    .show_legend(false)
                    .mode(Mode::Lines)
                    .line(Line::new().color(color).width(1.0))
                    .x_axis(xa)
                    .y_axis(ya),
            );
        }
    }
    let t_end = trajectories
        .iter()
        .map(|tr| tr.rewards.len())
        .max()
        .unwrap_or(spec.horizon) as f64
        * spec.dt
        / t_scale;
    for (k, c) in spec.constraints.iter().enumerate() {
        let (xa, ya) = axis(k);
        let (color, kind) = match c.kind {
            ConstraintKind::Hard => ("#d62728", "hard"),
            ConstraintKind::Soft => ("#ff9f1c", "soft"),
        };
        plot.add_trace(
            Scatter::new(vec![0.0, t_end], vec![c.limit, c.limit])
                .name(format!("{} limit ({kind})", c.name))
                .show_legend(false)
                .mode(Mode::Lines)
                .line(Line::new().color(color).dash(DashType::Dash).width(1.5))
                .x_axis(xa)
                .y_axis(ya),
        );
    }
    let mut fig = Figure::from_plot(&plot, PANEL_PX * panels as u32 + 120)?;
    // Layout: one stacked panel per signal, shared time axis.
    let mut layout = serde_json::Map::new();
    let title = format!(
        "{}: {}",
        spec.id,
        trajectories
            .iter()
            .map(|t| short_name(&t.policy))
            .collect::<Vec<_>>()
            .join(" vs ")
    );
    layout.insert("title".into(), json!({"text": title}));
    layout.insert("hovermode".into(), json!("x unified"));
    layout.insert(
        "legend".into(),
        json!({"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"}),
    );
    layout.insert("margin".into(), json!({"l": 80, "r": 20, "t": 90, "b": 50}));
    let gap = 0.25 / panels.max(1) as f64;
    let h = (1.0 - gap * (panels as f64 - 1.0)) / panels as f64;
    for k in 0..panels {
        let top = 1.0 - k as f64 * (h + gap);
        let label = if k < nc {
            let c = &spec.constraints[k];
            format!("{} [{}]", c.name, c.unit)
        } else {
            let d = &spec.actions[k - nc];
            format!("{} [{}]", d.name, d.unit)
        };
        let suffix = if k == 0 {
            String::new()
        } else {
            (k + 1).to_string()
        };
        let last = k + 1 == panels;
        layout.insert(
            format!("xaxis{suffix}"),
            json!({"anchor": format!("y{suffix}"), "matches": "x", "showticklabels": last,
                   "title": if last { json!({"text": format!("time [{t_unit}]")}) } else { json!(null) }}),
        );
        layout.insert(
            format!("yaxis{suffix}"),
            json!({"anchor": format!("x{suffix}"), "domain": [(top - h).max(0.0), top],
                   "title": {"text": label, "font": {"size": 11}}}),
        );
    }
    fig.json["layout"] = serde_json::Value::Object(layout);
    Ok(fig)
}

/// The policy's name up to its parenthesised details (`"expert (PI cascade …)"` → `"expert"`).
fn short_name(policy: &str) -> &str {
    policy.split(" (").next().unwrap_or(policy).trim()
}

/// Pick a readable time unit for the x axis.
fn time_unit(spec: &EnvSpec) -> (f64, &'static str) {
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
