//! Figures (plotly) and rich display: the building blocks.
//!
//! A [`Figure`] is the plotly JSON document (`data` + `layout`). It is
//! written as standalone HTML that works offline (plotly.js next to it or
//! embedded, never fetched from a CDN) and, in notebooks, displayed through
//! evcxr ([`display`] explains how). Figures with many stacked panels
//! (signals against time with their limits drawn) are built with the
//! `panels` module; their layout is completed on the JSON because plotly.rs
//! names only eight axes. [`Frame`] shows a polars DataFrame as a table. Tables and HTML ([`Table`], [`Html`]) come from the
//! plant crate's `display` module, which the plant's own types use too.
//!
//! This module draws no domain object itself: the figures and reports of
//! datasets, trajectories, agents, evaluations and results are in
//! [`crate::report`], the layer above the things they draw.

pub mod display;
#[cfg(feature = "frames")]
pub mod frame;
mod html;
pub(crate) mod panels;

pub use display::{Html, PLOTLY_MIME, PlotlyJs, init_notebook, set_plotly_js};
#[cfg(feature = "frames")]
pub use frame::{Frame, FrameExt};
pub use html::{JsMode, plotly_js};
pub use neorl_plant::display::{Align, Cell, Table, escape_html, mean_std, num};

// Former paths of the figures and reports that moved to `crate::report`
// (architecture v2), kept so code written against them still builds. They
// are names only: nothing in this module uses them.
#[doc(hidden)]
pub use crate::report::{
    MAX_POINTS, ResultRow, ResultsTable, RunSeries, compare_learning_curves, compare_trajectories,
    learning_curve_figure, results_table, runs_figure, trajectory_figure, trajectory_figure_with,
};

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
