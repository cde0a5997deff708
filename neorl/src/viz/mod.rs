//! Figures (plotly) and rich display.
//!
//! A [`Figure`] is the plotly JSON document (`data` + `layout`). It is
//! written as standalone HTML that works offline (plotly.js next to it or
//! embedded, never fetched from a CDN) and, in notebooks, displayed through
//! evcxr. Traces are built with plotly.rs; the layout of figures with many
//! stacked panels is completed on the JSON because plotly.rs names only
//! eight axes.

mod html;
mod trajectory;

pub use html::JsMode;
pub use trajectory::trajectory_figure;

use crate::error::{Error, Result};
use std::path::Path;

/// A plotly figure.
#[derive(Debug, Clone, PartialEq)]
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
