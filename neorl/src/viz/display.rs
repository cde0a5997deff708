//! Rich display in Jupyter notebooks through evcxr.
//!
//! evcxr shows the value of a cell through the value's inherent
//! `evcxr_display(&self)` method, which prints one block per MIME type to
//! stdout:
//!
//! ```text
//! EVCXR_BEGIN_CONTENT text/html
//! <table>…</table>
//! EVCXR_END_CONTENT
//! ```
//!
//! evcxr collects every block of one cell into a single `execute_result`
//! whose `data` maps each MIME type to its content (JSON types are parsed
//! into JSON), so a value can offer several representations and the
//! front-end picks the richest it can render (evcxr's
//! `evcxr/src/eval_context.rs` and `evcxr_jupyter/src/core.rs`).
//!
//! Every neorl display emits `text/html` and a `text/plain` fallback; a
//! [`Figure`] also emits `application/vnd.plotly.v1+json`, which JupyterLab
//! renders with its plotly extension (the `plotly` Python package) in
//! preference to HTML, while the classic notebook, nbconvert's HTML export
//! and JupyterLab without the extension use the HTML. That HTML draws with
//! plotly.js from the page, never from a CDN, so exported notebooks render
//! offline. How plotly.js gets into the page is [`PlotlyJs`]: by default the
//! first figure of a kernel session embeds it (≈4.6 MB, once per notebook)
//! and later figures use it.
//!
//! Every rich type (datasets, episode tables, reports, environment specs,
//! scores, figures) is rendered by already-compiled, non-generic neorl code,
//! so a notebook cell that shows one compiles in a moment.

use super::Figure;
use super::html::plotly_js;
use neorl_plant::display::emit;
pub use neorl_plant::display::{Html, evcxr_block, evcxr_output};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// MIME type of plotly figures (JupyterLab's plotly renderer).
pub const PLOTLY_MIME: &str = "application/vnd.plotly.v1+json";

/// How figures shown in a notebook get plotly.js for their HTML output
/// (set with [`set_plotly_js`] or the `NEORL_PLOTLY_JS` variable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotlyJs {
    /// The first figure shown in this kernel session embeds plotly.js
    /// (≈4.6 MB); later figures draw with it. One copy per notebook, and
    /// the notebook renders offline when exported — as long as the output of
    /// that first figure is kept (a figure whose page lacks plotly.js says
    /// how to fix it). The default.
    Once,
    /// Every figure embeds plotly.js: each output stands alone (survives
    /// clearing other outputs), at ≈4.6 MB per figure.
    EveryFigure,
    /// No plotly.js in the HTML: for JupyterLab with the plotly extension,
    /// which renders the `application/vnd.plotly.v1+json` output. The
    /// smallest notebooks; exported HTML then shows nothing for figures
    /// unless the page has plotly.js (see [`init_notebook`]).
    Never,
}

// Notebook-wide state lives in the process environment, not in Rust
// statics: evcxr links neorl statically into every cell's shared library,
// so a `static` starts afresh in each cell (measured: with a static flag
// every figure embedded plotly.js again), while the environment — held by
// the one dynamically linked libstd — is common to all cells of a kernel
// and gone with it.

/// `once`, `every` or `never` (see [`PlotlyJs`]); a kernelspec may set it.
pub const PLOTLY_JS_VAR: &str = "NEORL_PLOTLY_JS";
/// Set to `1` once an output of this kernel carried plotly.js.
const SENT_VAR: &str = "NEORL_PLOTLY_JS_SENT";
/// Figures shown so far in this kernel (keeps element ids unique).
const SEQ_VAR: &str = "NEORL_FIGURE_SEQ";

fn set_process_var(key: &str, value: &str) {
    // SAFETY: only called from `evcxr_display`, `set_plotly_js` and
    // `init_notebook`, i.e. on the thread that runs notebook cells and
    // between library calls; neorl runs no other thread then, and these
    // variables are neorl's own.
    unsafe { std::env::set_var(key, value) }
}

/// Choose how figures get plotly.js (see [`PlotlyJs`]) for the rest of
/// this kernel session.
pub fn set_plotly_js(mode: PlotlyJs) {
    let v = match mode {
        PlotlyJs::Once => "once",
        PlotlyJs::EveryFigure => "every",
        PlotlyJs::Never => "never",
    };
    set_process_var(PLOTLY_JS_VAR, v);
}

/// The current [`PlotlyJs`] mode (from `NEORL_PLOTLY_JS`; `once` unless set).
pub fn plotly_js_mode() -> PlotlyJs {
    match std::env::var(PLOTLY_JS_VAR).as_deref() {
        Ok("every") => PlotlyJs::EveryFigure,
        Ok("never") => PlotlyJs::Never,
        _ => PlotlyJs::Once,
    }
}

/// Embed plotly.js in the notebook now (make this the value of an early
/// cell): later figures then never embed it in [`PlotlyJs::Once`] mode. Use
/// it to re-embed after clearing the output that carried plotly.js.
pub fn init_notebook() -> Html {
    set_process_var(SENT_VAR, "1");
    Html::raw(
        format!(
            "{}<div style=\"color:#666;font-size:90%\">plotly.js {} embedded for offline figures</div>",
            plotly_script(),
            plotly_version()
        ),
        format!(
            "plotly.js {} embedded for offline figures",
            plotly_version()
        ),
    )
}

/// The version of the bundled plotly.js (from its banner).
pub fn plotly_version() -> &'static str {
    let js = plotly_js();
    js.find("plotly.js v")
        .map(|i| {
            let rest = &js[i + "plotly.js v".len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .unwrap_or("unknown")
}

/// plotly.js in a script element that loads it only when the page does not
/// have it yet.
fn plotly_script() -> String {
    format!(
        "<script type=\"text/javascript\">if (!window.Plotly) {{\n{}\n}}</script>\n",
        plotly_js()
    )
}

impl Figure {
    /// The figure for JupyterLab's plotly renderer: `data`, `layout` (with
    /// the figure's height) and `config`.
    pub fn plotly_mime_json(&self) -> serde_json::Value {
        let mut v = self.json.clone();
        if let Some(layout) = v.get_mut("layout").and_then(|l| l.as_object_mut()) {
            layout
                .entry("height")
                .or_insert(serde_json::json!(self.height));
        }
        if let Some(o) = v.as_object_mut() {
            o.entry("config")
                .or_insert(serde_json::json!({"responsive": true, "displaylogo": false}));
        }
        v
    }

    /// The figure as an HTML fragment for notebooks: a `<div>` and a script
    /// that draws into it with the page's plotly.js (waiting briefly for
    /// it, and saying how to fix it when it never comes), preceded by
    /// plotly.js itself when `embed_js`. Deterministic: the element id is
    /// derived from the figure's content.
    pub fn to_notebook_html(&self, embed_js: bool) -> String {
        self.notebook_html(&self.content_id(), embed_js)
    }

    fn content_id(&self) -> String {
        let digest = Sha256::digest(self.json.to_string().as_bytes());
        let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        format!("neorl-fig-{hex}")
    }

    fn notebook_html(&self, id: &str, embed_js: bool) -> String {
        let mut s = String::new();
        if embed_js {
            s.push_str(&plotly_script());
        }
        // `</` cannot appear inside a script element.
        let data = self.json.to_string().replace("</", "<\\/");
        let _ = write!(
            s,
            "<div id=\"{id}\" class=\"neorl-figure\" style=\"width:100%;height:{h}px\"></div>\n\
<script type=\"text/javascript\">\n\
(function () {{\n\
  var fig = {data};\n\
  var tries = 0;\n\
  function draw() {{\n\
    var el = document.getElementById(\"{id}\");\n\
    if (!el) {{ return; }}\n\
    if (window.Plotly) {{\n\
      window.Plotly.newPlot(el, fig.data, fig.layout, {{responsive: true, displaylogo: false}});\n\
    }} else if (tries++ < 100) {{\n\
      setTimeout(draw, 100);\n\
    }} else {{\n\
      el.style.height = \"auto\";\n\
      el.textContent = \"This figure needs plotly.js, which this page does not have (the output that embedded it was cleared or not rendered). Run neorl::viz::init_notebook() in a cell above, or neorl::viz::set_plotly_js(PlotlyJs::EveryFigure), and re-run.\";\n\
    }}\n\
  }}\n\
  draw();\n\
}})();\n\
</script>",
            h = self.height,
        );
        s
    }

    /// One line naming the figure (the `text/plain` fallback).
    pub fn describe(&self) -> String {
        let title = self.title();
        let n = self.n_traces();
        if title.is_empty() {
            format!("Figure ({n} traces)")
        } else {
            format!("Figure: {title} ({n} traces)")
        }
    }

    /// Rich display in evcxr notebooks: the plotly JSON for JupyterLab,
    /// offline HTML for everything else (plotly.js embedded as
    /// [`set_plotly_js`] chose) and a text line.
    pub fn evcxr_display(&self) {
        let embed = match plotly_js_mode() {
            PlotlyJs::EveryFigure => true,
            PlotlyJs::Never => false,
            PlotlyJs::Once => std::env::var(SENT_VAR).as_deref() != Ok("1"),
        };
        if embed {
            set_process_var(SENT_VAR, "1");
        }
        let n: u64 = std::env::var(SEQ_VAR)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        set_process_var(SEQ_VAR, &(n + 1).to_string());
        let id = format!("{}-{n}", self.content_id());
        let [a, b, c] = self.display_blocks(&id, embed);
        emit(&[(a.0, &a.1), (b.0, &b.1), (c.0, &c.1)]);
    }

    /// The three representations `evcxr_display` emits, for the element id
    /// `id`, embedding plotly.js or not.
    pub fn display_blocks(&self, id: &str, embed_js: bool) -> [(&'static str, String); 3] {
        [
            (PLOTLY_MIME, self.plotly_mime_json().to_string()),
            ("text/html", self.notebook_html(id, embed_js)),
            ("text/plain", self.describe()),
        ]
    }
}

/// Shows any `Debug` value as a cell's result in one build of the cell.
///
/// evcxr shows a cell's final expression by compiling `(expr).evcxr_display()`
/// and, when that does not compile (a value without such a method: a number,
/// a `String`, a tuple), compiling the cell *again* with `{:?}` in its place
/// (evcxr 0.22's `code_with_fallback`): two builds, about a second more for
/// such a cell. With this trait in scope (it is in `neorl::prelude`) every
/// `Debug` value has the method, and it prints what evcxr's fallback prints
/// (`text/plain`, `{:?}`), so the first build succeeds. Types with an
/// inherent `evcxr_display` (neorl's tables and figures, plotly's `Plot`)
/// keep theirs: inherent methods come first.
pub trait DebugDisplay {
    fn evcxr_display(&self);
}

impl<T: std::fmt::Debug + ?Sized> DebugDisplay for T {
    fn evcxr_display(&self) {
        emit(&[("text/plain", &format!("{self:?}"))]);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    fn fig() -> Figure {
        Figure {
            json: json!({"data": [{"type": "scatter", "x": [1, 2], "y": [3, 4], "name": "</script><b>"}],
                         "layout": {"title": {"text": "t & u"}}}),
            height: 321,
        }
    }

    #[test]
    fn blocks_are_framed_for_evcxr() {
        let b = evcxr_block("text/html", "<p>a</p>\nEVCXR_END_CONTENT\nb");
        assert_eq!(
            b,
            "EVCXR_BEGIN_CONTENT text/html\n<p>a</p>\n EVCXR_END_CONTENT\nb\nEVCXR_END_CONTENT\n"
        );
        // What evcxr's reader would collect: everything up to the end marker.
        let lines: Vec<&str> = b.lines().collect();
        let end = lines
            .iter()
            .position(|l| *l == "EVCXR_END_CONTENT")
            .unwrap();
        assert_eq!(end, lines.len() - 1);
    }

    #[test]
    fn figure_html_is_offline_deterministic_and_escaped() {
        let f = fig();
        let a = f.to_notebook_html(false);
        assert_eq!(a, f.to_notebook_html(false));
        assert!(!a.contains("cdn"), "never loads from a CDN");
        assert!(
            !a.contains("</script><b>"),
            "`</` is escaped inside the script"
        );
        assert!(a.contains("height:321px"));
        assert!(a.contains("window.Plotly.newPlot"));
        let embedded = f.to_notebook_html(true);
        assert!(embedded.len() > 3_000_000, "plotly.js is embedded");
        assert!(embedded.starts_with("<script type=\"text/javascript\">if (!window.Plotly)"));
        let mime = f.plotly_mime_json();
        assert_eq!(mime["layout"]["height"], json!(321));
        assert_eq!(mime["data"][0]["name"], json!("</script><b>"));
        assert_eq!(mime["config"]["responsive"], json!(true));
        assert_eq!(f.describe(), "Figure: t & u (1 traces)");
        assert!(plotly_version().starts_with('3'), "{}", plotly_version());
    }

    /// What evcxr does with a cell's stdout: blocks become a MIME → content
    /// map (evcxr/src/eval_context.rs), other lines stay stdout.
    pub(crate) fn parse_evcxr(
        out: &str,
    ) -> (std::collections::BTreeMap<String, String>, Vec<String>) {
        let mut map = std::collections::BTreeMap::new();
        let mut rest = vec![];
        let mut lines = out.lines();
        while let Some(line) = lines.next() {
            if let Some(mime) = line.strip_prefix("EVCXR_BEGIN_CONTENT ") {
                let mut content = String::new();
                for l in lines.by_ref() {
                    if l == "EVCXR_END_CONTENT" {
                        break;
                    }
                    if !content.is_empty() {
                        content.push('\n');
                    }
                    content.push_str(l);
                }
                map.insert(mime.to_string(), content);
            } else {
                rest.push(line.to_string());
            }
        }
        (map, rest)
    }

    #[test]
    fn figures_offer_plotly_json_html_and_text() {
        let f = fig();
        let blocks = f.display_blocks("neorl-fig-x-0", false);
        let out = evcxr_output(&[
            (blocks[0].0, &blocks[0].1),
            (blocks[1].0, &blocks[1].1),
            (blocks[2].0, &blocks[2].1),
        ]);
        let (map, rest) = parse_evcxr(&out);
        assert!(rest.is_empty());
        assert_eq!(
            map.keys().collect::<Vec<_>>(),
            ["application/vnd.plotly.v1+json", "text/html", "text/plain"]
        );
        // evcxr_jupyter parses JSON MIME types: it must be valid JSON.
        let v: serde_json::Value = serde_json::from_str(&map[PLOTLY_MIME]).unwrap();
        assert_eq!(v["data"][0]["type"], "scatter");
        assert!(map["text/html"].contains("id=\"neorl-fig-x-0\""));
        assert_eq!(map["text/plain"], "Figure: t & u (1 traces)");
    }

    #[test]
    fn html_builder_escapes() {
        let mut h = Html::titled("a < b");
        h.para("x & y");
        let h = h.finish();
        assert!(h.html.contains("a &lt; b") && h.html.contains("x &amp; y"));
        assert_eq!(h.text, "a < b\nx & y\n");
        assert!(h.html.starts_with("<div class=\"neorl\">"));
    }
}
