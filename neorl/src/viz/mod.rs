//! Figures (plotly) and rich display.
//!
//! A [`Figure`] is the plotly JSON document (`data` + `layout`). It is
//! written as standalone HTML that works offline (plotly.js next to it or
//! embedded, never fetched from a CDN) and, in notebooks, displayed through
//! evcxr. Traces are built with plotly.rs; the layout of figures with many
//! stacked panels is completed on the JSON because plotly.rs names only
//! eight axes.
//!
//! ## In a notebook
//!
//! Make any of these the value of a cell (last expression, no `;`) and it
//! shows as a table or a figure ([`display`] explains how). All are
//! non-generic and compiled with neorl, so such a cell compiles quickly.
//!
//! | call | shows |
//! |---|---|
//! | `env.spec()` (an [`crate::env::EnvSpec`]) | description, observations, actions and constraints with units and limits |
//! | `data` (a [`crate::data::Dataset`]) | the dataset card: id, env, quality, size, return/cost statistics, provenance, sha256 |
//! | `data.summary()` | count, mean, std, quartiles per column |
//! | `data.episodes_table()` | one row per episode (first and last when long) |
//! | `data.to_polars()?.show()` / `Frame::from(df)` | a polars DataFrame as an HTML table (head/tail, dtypes) |
//! | `data.plot_returns()` | histograms of episode returns (reference lines) and costs |
//! | `data.plot_episode(i)?` (`plot_episode_with_observations`) | episode `i`: constraint signals with limits, actions (and observations) |
//! | `record_episode(&mut env, policy, seed)?.plot()?` / [`compare_trajectories`] | rollouts against time with limits |
//! | `rollout(…)?` ([`crate::eval::RolloutReport`]), `shielded_rollout_with(…)?` ([`crate::eval::ShieldedReport`]) | evaluation reports with per-episode tables |
//! | `agent.train(&data, n)?` ([`crate::agents::TrainSummary`]) | updates, time, final metrics |
//! | `agent.learning_curve()`, `agent.history()` | every training metric against the step; a table of the metrics |
//! | [`compare_learning_curves`]`("q_loss", &[("iql", a.history()), …])`, [`runs_figure`] | one metric across runs (agents, MLflow runs) |
//! | `record_shielded_episode_with(&mut env, policy, SafetyConfig::default(), seed)?` ([`crate::eval::ShieldedTrajectory`]) | what the safety layer did in one episode; `.plot_interventions()?`: signals with limits, proposed vs applied actions, interventions by kind and e-stop trips over time |
//! | [`results_table`]`("normalized score", &[(env, algo, value), …])` ([`ResultsTable`]) | envs × algorithms, mean ± std, best in bold, average row; `.plot()` grouped bars; `.to_markdown()` |
//! | [`init_notebook`]`()` | embeds plotly.js once, explicitly |
//!
//! Figures embed plotly.js once per kernel session (see [`PlotlyJs`],
//! [`set_plotly_js`], [`init_notebook`]). Outside notebooks every one of
//! these types implements `Display` (text tables) and `to_html()`.

mod dataset_plots;
pub mod display;
mod html;
mod interventions;
mod learning_curve;
mod panels;
pub mod reports;
mod results;
mod table;
#[cfg(test)]
mod tests;
mod trajectory;

pub use dataset_plots::compare_trajectories;
pub use display::{Html, PLOTLY_MIME, PlotlyJs, init_notebook, set_plotly_js};
pub use html::{JsMode, plotly_js};
pub use learning_curve::{
    MAX_POINTS, RunSeries, compare_learning_curves, learning_curve_figure, runs_figure,
};
pub use results::{ResultRow, ResultsTable, results_table};
pub use table::{Align, Cell, Table, escape_html, mean_std, num};
pub use trajectory::{trajectory_figure, trajectory_figure_with};

use crate::error::{Error, Result};
use std::path::Path;

/// A plotly figure. In a notebook, make it a cell's value to see it (see
/// [`display`]); elsewhere write it with [`Figure::write_html`].
#[derive(Clone, PartialEq)]
pub struct Figure {
    /// `{"data": [...], "layout": {...}}` as plotly.js expects it.
    pub json: serde_json::Value,
    /// Pixel height for HTML output.
    pub height: u32,
}

impl Figure {
    /// Build from a plotly.rs plot.
    pub fn from_plot(plot: &plotly::Plot, height: u32) -> Result<Self> {
        let json = serde_json::from_str(&plot.to_json()).map_err(|source| Error::Json {
            context: "plotly figure".into(),
            source,
        })?;
        Ok(Figure { json, height })
    }

    /// A figure that only says there is nothing to plot (an empty dataset,
    /// an agent not trained yet): notebooks show the reason instead of an
    /// error.
    pub fn no_data(title: &str, message: &str) -> Self {
        Figure {
            json: serde_json::json!({
                "data": [],
                "layout": {
                    "title": {"text": title},
                    "xaxis": {"visible": false},
                    "yaxis": {"visible": false},
                    "annotations": [{"text": message, "showarrow": false, "xref": "paper",
                                     "yref": "paper", "x": 0.5, "y": 0.5, "font": {"size": 14}}],
                },
            }),
            height: 240,
        }
    }

    /// The layout's title text (empty when there is none).
    pub fn title(&self) -> String {
        let t = &self.json["layout"]["title"];
        t.get("text")
            .and_then(|v| v.as_str())
            .or_else(|| t.as_str())
            .unwrap_or("")
            .to_string()
    }

    /// Number of traces.
    pub fn n_traces(&self) -> usize {
        self.json["data"].as_array().map_or(0, |d| d.len())
    }

    /// The traces whose `name` is `name`.
    pub fn traces_named(&self, name: &str) -> Vec<&serde_json::Value> {
        self.json["data"]
            .as_array()
            .map(|d| d.iter().filter(|t| t["name"] == name).collect())
            .unwrap_or_default()
    }

    /// Standalone HTML document.
    pub fn to_html(&self, title: &str, js: JsMode) -> String {
        html::document(self, title, js)
    }

    /// Write standalone HTML to `path`. With [`JsMode::Sibling`] the
    /// `plotly.min.js` it needs is written next to it (once).
    pub fn write_html(&self, path: impl AsRef<Path>, title: &str, js: JsMode) -> Result<()> {
        let path = path.as_ref();
        if js == JsMode::Sibling {
            let dir = path.parent().unwrap_or(Path::new("."));
            html::write_plotly_js(dir)?;
        }
        std::fs::write(path, self.to_html(title, js)).map_err(|e| Error::io(path, e))
    }
}

/// Short: a figure's JSON can be megabytes.
impl std::fmt::Debug for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Figure")
            .field("title", &self.title())
            .field("traces", &self.n_traces())
            .field("height", &self.height)
            .finish()
    }
}
