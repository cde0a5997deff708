//! Rich display in Jupyter notebooks through evcxr: the HTML side.
//!
//! evcxr shows the value of a cell through the value's `evcxr_display(&self)`
//! method, which prints one block per MIME type to stdout:
//!
//! ```text
//! EVCXR_BEGIN_CONTENT text/html
//! <table>…</table>
//! EVCXR_END_CONTENT
//! ```
//!
//! evcxr collects every block of one cell into a single `execute_result`
//! whose `data` maps each MIME type to its content, so a value can offer
//! several representations and the front-end picks the richest it can
//! render. Every neorl display emits `text/html` and a `text/plain`
//! fallback; figures (in the `neorl` crate) add plotly's JSON.
//!
//! This module has no dependency beyond `std`: the plant crate renders its
//! own types (environment specs, rollout and shield reports) with it, and
//! the `neorl` crate builds its figures and reports on top of it.

use super::table::{Table, escape_html};
use std::fmt::Write as _;
use std::io::Write as _;

/// One `EVCXR_BEGIN_CONTENT … EVCXR_END_CONTENT` block. A content line that
/// would read as the end marker gets a leading space (evcxr ends a block at
/// the first line equal to `EVCXR_END_CONTENT`).
pub fn evcxr_block(mime: &str, content: &str) -> String {
    let mut s = String::with_capacity(content.len() + 64);
    let _ = writeln!(s, "EVCXR_BEGIN_CONTENT {mime}");
    for (i, line) in content.split('\n').enumerate() {
        if i > 0 {
            s.push('\n');
        }
        if line == "EVCXR_END_CONTENT" {
            s.push(' ');
        }
        s.push_str(line);
    }
    s.push_str("\nEVCXR_END_CONTENT\n");
    s
}

/// Several blocks, one after the other: what an `evcxr_display` prints.
pub fn evcxr_output(blocks: &[(&str, &str)]) -> String {
    blocks.iter().map(|(m, c)| evcxr_block(m, c)).collect()
}

/// Print blocks to stdout in one write (evcxr reads the child's stdout line
/// by line; other output must not interleave with a block).
pub fn emit(blocks: &[(&str, &str)]) {
    let all = evcxr_output(blocks);
    let out = std::io::stdout();
    let mut out = out.lock();
    // A closed stdout has nowhere to show an error either.
    let _ = out.write_all(all.as_bytes());
    let _ = out.flush();
}

/// A displayable piece of HTML with its plain-text twin: what neorl's rich
/// types render to, built from headings, paragraphs and
/// [`Table`]s. Show one in a notebook by making it a cell's
/// value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Html {
    pub html: String,
    pub text: String,
}

impl Html {
    /// Raw HTML (trusted: it is not escaped) with a text fallback.
    pub fn raw(html: impl Into<String>, text: impl Into<String>) -> Self {
        Html {
            html: html.into(),
            text: text.into(),
        }
    }

    /// Start with a title line.
    pub fn titled(title: &str) -> Self {
        let mut r = Html::default();
        r.heading(title);
        r
    }

    pub fn heading(&mut self, title: &str) -> &mut Self {
        let _ = writeln!(
            self.html,
            "<div style=\"font-weight:bold;font-size:110%;margin:0.5em 0 0.2em\">{}</div>",
            escape_html(title)
        );
        let _ = writeln!(self.text, "{title}");
        self
    }

    pub fn para(&mut self, text: &str) -> &mut Self {
        let _ = writeln!(
            self.html,
            "<div style=\"margin:0.2em 0;max-width:60em\">{}</div>",
            escape_html(text)
        );
        let _ = writeln!(self.text, "{text}");
        self
    }

    pub fn table(&mut self, table: &Table) -> &mut Self {
        self.html.push_str(&table.to_html());
        self.text.push_str(&table.to_text());
        self
    }

    /// Wrap the HTML in one `<div class="neorl">`.
    pub fn finish(mut self) -> Self {
        self.html = format!("<div class=\"neorl\">\n{}</div>", self.html);
        self
    }

    pub fn to_html(&self) -> String {
        self.html.clone()
    }

    /// What [`Html::evcxr_display`] prints.
    pub fn evcxr_output(&self) -> String {
        evcxr_output(&[("text/html", &self.html), ("text/plain", &self.text)])
    }

    /// Rich display in evcxr notebooks: `text/html` and `text/plain`.
    pub fn evcxr_display(&self) {
        emit(&[("text/html", &self.html), ("text/plain", &self.text)]);
    }
}

impl std::fmt::Display for Html {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Give a type `to_html`, `to_text`, `evcxr_display` and `Display` from its
/// `fn rich(&self) -> Html`.
#[macro_export]
#[doc(hidden)]
macro_rules! rich_display {
    ($($t:ty),* $(,)?) => {$(
        impl $t {
            /// As HTML (what a notebook shows).
            pub fn to_html(&self) -> String {
                self.rich().html
            }
            /// As plain text (what a terminal shows).
            pub fn to_text(&self) -> String {
                self.rich().text
            }
            /// Rich display in evcxr notebooks (called by the kernel when a
            /// cell's value is this type): `text/html` and `text/plain`.
            pub fn evcxr_display(&self) {
                self.rich().evcxr_display()
            }
        }
        impl ::std::fmt::Display for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.rich().text)
            }
        }
    )*};
}
