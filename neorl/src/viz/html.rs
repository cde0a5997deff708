//! Standalone HTML for figures, with plotly.js served offline.

use super::Figure;
use crate::error::{Error, Result};
use neorl_plant::display::escape_html;
use std::path::Path;
use std::sync::OnceLock;

/// How an HTML figure gets plotly.js.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsMode {
    /// `<script src="plotly.min.js">`, the file written next to the HTML:
    /// offline and small when there are many figures in one folder.
    Sibling,
    /// plotly.js inlined into the document (≈4.6 MB): one self-contained file.
    Embed,
}

/// The plotly.js bundled with the plotly crate (no network needed).
pub fn plotly_js() -> &'static str {
    static JS: OnceLock<String> = OnceLock::new();
    JS.get_or_init(|| {
        let all = plotly::Plot::offline_js_sources();
        let open = "<script type=\"text/javascript\">";
        let start = all.find(open).map(|i| i + open.len()).unwrap_or(0);
        let end = all[start..]
            .find("</script>")
            .map(|i| start + i)
            .unwrap_or(all.len());
        all[start..end].to_string()
    })
}

/// Write `plotly.min.js` into `dir` unless an identical copy is there.
pub fn write_plotly_js(dir: impl AsRef<Path>) -> Result<()> {
    let dir = dir.as_ref();
    let path = dir.join("plotly.min.js");
    let js = plotly_js();
    if std::fs::metadata(&path)
        .map(|m| m.len() as usize == js.len())
        .unwrap_or(false)
    {
        return Ok(());
    }
    std::fs::write(&path, js).map_err(|e| Error::io(&path, e))
}

pub(super) fn document(fig: &Figure, title: &str, js: JsMode) -> String {
    let script = match js {
        JsMode::Sibling => "<script src=\"plotly.min.js\"></script>".to_string(),
        JsMode::Embed => format!("<script>{}</script>", plotly_js()),
    };
    // `</` cannot appear inside a script element.
    let data = fig.json.to_string().replace("</", "<\\/");
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n{script}\n</head>\n<body>\n<div id=\"figure\" style=\"width:100%;height:{h}px\"></div>\n<script>\nconst fig = {data};\nPlotly.newPlot(\"figure\", fig.data, fig.layout, {{responsive: true}});\n</script>\n</body>\n</html>\n",
        title = escape_html(title),
        h = fig.height,
    )
}
