//! Figures of a dataset: the distribution of episode returns and costs,
//! and one episode's constraint signals (with their limits) and actions.

use super::trajectory::{registered_spec, trajectory_figure, trajectory_figure_with};
use crate::data::Dataset;
use crate::env::EnvSpec;
use crate::error::{Error, Result};
use crate::eval::Trajectory;
use crate::viz::Figure;
use plotly::{Histogram, Plot};
use serde_json::json;

impl Dataset {
    /// Histograms of the episode returns (with the random and expert
    /// reference returns as dashed lines when the dataset knows them) and
    /// of the episode costs. An empty dataset gives a figure saying so.
    pub fn plot_returns(&self) -> Figure {
        let m = self.metadata();
        let name = if m.dataset_id.is_empty() {
            m.env_id.as_str()
        } else {
            m.dataset_id.as_str()
        };
        let title = format!("{name}: episode returns and costs");
        let rows = self.episode_rows();
        if rows.is_empty() {
            return Figure::no_data(&title, "no episodes: the dataset has no transitions");
        }
        let ret: Vec<f64> = rows.iter().map(|r| r.ret).collect();
        let cost: Vec<f64> = rows.iter().map(|r| r.cost).collect();
        let mut plot = Plot::new();
        plot.add_trace(
            Histogram::new(ret)
                .name("return")
                .x_axis("x")
                .y_axis("y")
                .marker(plotly::common::Marker::new().color("#1f77b4")),
        );
        plot.add_trace(
            Histogram::new(cost)
                .name("cost")
                .x_axis("x2")
                .y_axis("y2")
                .marker(plotly::common::Marker::new().color("#d62728")),
        );
        let mut fig = match Figure::from_plot(&plot, 360) {
            Ok(f) => f,
            Err(e) => return Figure::no_data(&title, &e.to_string()),
        };
        let mut shapes = vec![];
        let mut notes = vec![];
        for (label, value, color) in [
            ("random", m.ref_min_score, "#7f7f7f"),
            ("expert", m.ref_max_score, "#2ca02c"),
        ] {
            if let Some(x) = value.filter(|x| x.is_finite()) {
                shapes.push(json!({"type": "line", "xref": "x", "yref": "y domain",
                    "x0": x, "x1": x, "y0": 0, "y1": 1,
                    "line": {"color": color, "dash": "dash", "width": 1.5}}));
                notes.push(json!({"xref": "x", "yref": "y domain", "x": x, "y": 1.0,
                    "yanchor": "bottom", "showarrow": false, "text": format!("{label} reference"),
                    "font": {"size": 10, "color": color}}));
            }
        }
        fig.json["layout"] = json!({
            "title": {"text": title},
            "showlegend": false,
            "bargap": 0.05,
            "xaxis": {"domain": [0.0, 0.47], "title": {"text": "episode return"}},
            "yaxis": {"title": {"text": "episodes"}},
            "xaxis2": {"domain": [0.53, 1.0], "anchor": "y2", "title": {"text": "episode cost (violating steps)"}},
            "yaxis2": {"anchor": "x2"},
            "shapes": shapes,
            "annotations": notes,
            "margin": {"l": 60, "r": 20, "t": 60, "b": 50},
        });
        fig
    }

    /// Episode `e` as a trajectory figure: every constraint signal with its
    /// limit (red: hard, orange: soft) and every action, against time. Needs
    /// the dataset's environment to be registered (for units and limits).
    pub fn plot_episode(&self, e: usize) -> Result<Figure> {
        let spec = registered_spec(&self.metadata().env_id).map_err(|err| {
            Error::InvalidArgument(format!(
                "cannot plot an episode of this dataset: its environment '{}' is not registered, so its constraint limits are unknown ({err})",
                self.metadata().env_id
            ))
        })?;
        let tr = self.episode_trajectory(e, &spec)?;
        trajectory_figure(&spec, &[&tr])
    }

    /// [`Dataset::plot_episode`] with a panel per observation (the
    /// measured state) above the constraint and action panels.
    pub fn plot_episode_with_observations(&self, e: usize) -> Result<Figure> {
        let spec = registered_spec(&self.metadata().env_id)?;
        let tr = self.episode_trajectory(e, &spec)?;
        trajectory_figure_with(&spec, &[&tr], true)
    }

    /// Episode `e` as a [`Trajectory`] in `spec`'s terms (constraint
    /// signals in the spec's order; a constraint the file lacks reads NaN).
    pub fn episode_trajectory(&self, e: usize, spec: &EnvSpec) -> Result<Trajectory> {
        let ne = self.episode_rows().len();
        if e >= ne {
            return Err(Error::InvalidArgument(format!(
                "episode {e} does not exist: the dataset has {ne} episodes (0..{ne})"
            )));
        }
        if self.obs_dim() != spec.obs_dim() || self.act_dim() != spec.act_dim() {
            return Err(Error::InvalidArgument(format!(
                "the dataset (obs {}, act {}) does not match {} (obs {}, act {})",
                self.obs_dim(),
                self.act_dim(),
                spec.id,
                spec.obs_dim(),
                spec.act_dim()
            )));
        }
        let range = self.episode_range(e);
        let cols: Vec<Option<&crate::data::ConstraintColumn>> = spec
            .constraints
            .iter()
            .map(|c| self.constraints().iter().find(|d| d.name == c.name))
            .collect();
        let mut observations: Vec<Vec<f32>> = range
            .clone()
            .map(|i| self.observation(i).to_vec())
            .collect();
        observations.push(self.next_observation(range.end - 1).to_vec());
        let m = self.metadata();
        Ok(Trajectory {
            env: spec.id.clone(),
            policy: format!(
                "{} episode {e}",
                if m.dataset_id.is_empty() {
                    "dataset"
                } else {
                    &m.dataset_id
                }
            ),
            seed: m.seed.unwrap_or(0),
            observations,
            actions: range
                .clone()
                .map(|i| self.action(i).iter().map(|&a| a as f64).collect())
                .collect(),
            rewards: range.clone().map(|i| self.rewards()[i] as f64).collect(),
            costs: range.clone().map(|i| self.costs()[i] as f64).collect(),
            constraint_values: range
                .clone()
                .map(|i| {
                    cols.iter()
                        .map(|c| c.map_or(f64::NAN, |c| c.values[i] as f64))
                        .collect()
                })
                .collect(),
            terminated: self.terminals()[range.end - 1],
            truncated: self.timeouts()[range.end - 1],
        })
    }
}

/// Several trajectories of one registered environment in one figure (e.g.
/// the expert against an agent from the same seed).
pub fn compare_trajectories(trajectories: &[&Trajectory]) -> Result<Figure> {
    let Some(first) = trajectories.first() else {
        return Err(Error::InvalidArgument(
            "no trajectories to compare: pass at least one".into(),
        ));
    };
    if let Some(other) = trajectories.iter().find(|t| t.env != first.env) {
        return Err(Error::InvalidArgument(format!(
            "trajectories of different environments ({} and {}) cannot share a figure",
            first.env, other.env
        )));
    }
    let spec = registered_spec(&first.env)?;
    trajectory_figure(&spec, trajectories)
}
