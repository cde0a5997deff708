//! The one table renderer behind every notebook table and report: HTML (for
//! evcxr's `text/html`) and aligned plain text (for `Display` and
//! `text/plain`) from the same rows. Cell text is always HTML-escaped, long
//! tables show their first and last rows around a "…" row (as pandas does),
//! and numbers are formatted in one way everywhere ([`num`]).

use std::fmt::Write as _;

/// Rows shown at the start and at the end of a long per-row table (the
/// rows between them fold into one "…" row, as pandas does).
pub const HEAD_ROWS: usize = 10;
/// See [`HEAD_ROWS`].
pub const TAIL_ROWS: usize = 5;

/// "yes" or "no".
pub fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// Escape text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A number as pandas shows it, within 11 characters: up to 4 decimals
/// without trailing zeros, scientific notation for very large or small
/// magnitudes, `NaN`/`inf` spelled out.
pub fn num(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf".into() } else { "-inf".into() }
    } else if x == 0.0 {
        "0".into()
    } else if x.abs() >= 1e6 || x.abs() < 1e-3 {
        format!("{x:.3e}")
    } else {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// `mean ± std` with [`num`].
pub fn mean_std(mean: f64, std: f64) -> String {
    format!("{} ± {}", num(mean), num(std))
}

/// Horizontal alignment of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// One table cell: plain text (escaped when rendered), optionally bold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cell {
    pub text: String,
    pub bold: bool,
}

impl Cell {
    pub fn bold(text: impl Into<String>) -> Self {
        Cell {
            text: text.into(),
            bold: true,
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Cell { text, bold: false }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Cell::from(text.to_string())
    }
}

/// A table: a caption, named columns (none for a key/value card), the rows
/// it shows and, for long tables, where rows were left out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub caption: Option<String>,
    pub columns: Vec<String>,
    /// One per column; missing entries are right-aligned.
    pub align: Vec<Align>,
    pub rows: Vec<Vec<Cell>>,
    /// `(position, count)`: `count` rows were left out before shown row `position`.
    pub elided: Option<(usize, usize)>,
    /// A line under the table (e.g. `"1000 rows × 12 columns"`).
    pub footer: Option<String>,
}

impl Table {
    /// An empty table with these columns; the first is left-aligned, the
    /// rest right-aligned (the usual layout of a name column and numbers).
    pub fn new<S: AsRef<str>>(columns: &[S]) -> Self {
        let columns: Vec<String> = columns.iter().map(|c| c.as_ref().to_string()).collect();
        let align = (0..columns.len())
            .map(|i| if i == 0 { Align::Left } else { Align::Right })
            .collect();
        Table {
            columns,
            align,
            ..Self::default()
        }
    }

    /// A two-column key/value card without a header row.
    pub fn key_value(rows: Vec<(String, String)>) -> Self {
        Table {
            align: vec![Align::Left, Align::Left],
            rows: rows
                .into_iter()
                .map(|(k, v)| vec![Cell::bold(k), Cell::from(v)])
                .collect(),
            ..Self::default()
        }
    }

    pub fn caption(mut self, caption: impl Into<String>) -> Self {
        self.caption = Some(caption.into());
        self
    }

    pub fn footer(mut self, footer: impl Into<String>) -> Self {
        self.footer = Some(footer.into());
        self
    }

    pub fn push(&mut self, row: Vec<Cell>) {
        self.rows.push(row);
    }

    /// Fill with rows `0..total`, showing all of them when `total <= head +
    /// tail`, else the first `head` and the last `tail` around a "…" row.
    /// `row(i)` is called only for the rows shown, so a million-row source
    /// costs nothing.
    pub fn fill_head_tail(
        &mut self,
        total: usize,
        head: usize,
        tail: usize,
        mut row: impl FnMut(usize) -> Vec<Cell>,
    ) {
        if total <= head + tail {
            self.rows.extend((0..total).map(&mut row));
        } else {
            self.rows.extend((0..head).map(&mut row));
            self.elided = Some((head, total - head - tail));
            self.rows.extend((total - tail..total).map(&mut row));
        }
    }

    fn align_of(&self, j: usize) -> Align {
        self.align.get(j).copied().unwrap_or(Align::Right)
    }

    fn width(&self) -> usize {
        self.rows
            .iter()
            .map(|r| r.len())
            .max()
            .unwrap_or(0)
            .max(self.columns.len())
    }

    /// The table as an HTML `<table>` (styled inline so that it looks the
    /// same in JupyterLab, the classic notebook and exported HTML).
    pub fn to_html(&self) -> String {
        let mut s = String::from(
            "<table class=\"neorl-table\" style=\"border-collapse:collapse;font-variant-numeric:tabular-nums;margin:0.3em 0\">\n",
        );
        if let Some(c) = &self.caption {
            let _ = writeln!(
                s,
                "<caption style=\"text-align:left;font-weight:bold;padding:0.2em 0\">{}</caption>",
                escape_html(c)
            );
        }
        let style = |a: Align| match a {
            Align::Left => "text-align:left;padding:0.1em 0.6em",
            Align::Right => "text-align:right;padding:0.1em 0.6em",
        };
        if !self.columns.is_empty() {
            s.push_str("<thead><tr>");
            for (j, c) in self.columns.iter().enumerate() {
                let _ = write!(
                    s,
                    "<th style=\"{}\">{}</th>",
                    style(self.align_of(j)),
                    escape_html(c)
                );
            }
            s.push_str("</tr></thead>\n");
        }
        s.push_str("<tbody>\n");
        let width = self.width();
        for (i, row) in self.rows.iter().enumerate() {
            if let Some((at, n)) = self.elided
                && at == i
            {
                let _ = writeln!(
                    s,
                    "<tr><td colspan=\"{}\" style=\"text-align:center;color:#888\">… {n} more rows …</td></tr>",
                    width.max(1)
                );
            }
            s.push_str("<tr>");
            for (j, c) in row.iter().enumerate() {
                let text = escape_html(&c.text);
                if c.bold {
                    let _ = write!(
                        s,
                        "<td style=\"{}\"><b>{text}</b></td>",
                        style(self.align_of(j))
                    );
                } else {
                    let _ = write!(s, "<td style=\"{}\">{text}</td>", style(self.align_of(j)));
                }
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</tbody>\n</table>\n");
        if let Some(f) = &self.footer {
            let _ = writeln!(
                s,
                "<div style=\"color:#666;font-size:90%\">{}</div>",
                escape_html(f)
            );
        }
        s
    }

    /// The table in GitHub Markdown: the caption above, `|` in cells
    /// escaped, bold cells as `**…**`, left- or right-aligned rules per
    /// column, and the footer as a line below.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        if let Some(c) = &self.caption {
            s.push_str(&format!("{c}\n\n"));
        }
        let escape = |x: &str| x.replace('|', "\\|");
        let head: Vec<String> = self.columns.iter().map(|c| escape(c)).collect();
        s.push_str(&format!("| {} |\n", head.join(" | ")));
        let rules: Vec<&str> = (0..self.columns.len())
            .map(|j| match self.align.get(j) {
                Some(Align::Left) => ":---",
                _ => "---:",
            })
            .collect();
        s.push_str(&format!("| {} |\n", rules.join(" | ")));
        for row in &self.rows {
            let cells: Vec<String> = row
                .iter()
                .map(|c| {
                    let text = escape(&c.text);
                    if c.bold { format!("**{text}**") } else { text }
                })
                .collect();
            s.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        if let Some(f) = &self.footer {
            s.push_str(&format!("\n{f}\n"));
        }
        s
    }

    /// The table as aligned plain text (widths counted in characters).
    pub fn to_text(&self) -> String {
        let width = self.width();
        let mut widths = vec![0usize; width];
        let len = |s: &str| s.chars().count();
        for (j, c) in self.columns.iter().enumerate() {
            widths[j] = len(c);
        }
        for row in &self.rows {
            for (j, c) in row.iter().enumerate() {
                widths[j] = widths[j].max(len(&c.text));
            }
        }
        let mut s = String::new();
        if let Some(c) = &self.caption {
            let _ = writeln!(s, "{c}");
        }
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut out = String::new();
            for (j, text) in cells.enumerate() {
                if j > 0 {
                    out.push_str("  ");
                }
                let pad = widths[j].saturating_sub(len(text));
                match self.align_of(j) {
                    Align::Left => {
                        out.push_str(text);
                        out.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        out.extend(std::iter::repeat_n(' ', pad));
                        out.push_str(text);
                    }
                }
            }
            out.trim_end().to_string()
        };
        if !self.columns.is_empty() {
            let _ = writeln!(s, "{}", line(&mut self.columns.iter().map(|c| c.as_str())));
        }
        for (i, row) in self.rows.iter().enumerate() {
            if let Some((at, n)) = self.elided
                && at == i
            {
                let _ = writeln!(s, "… {n} more rows …");
            }
            let _ = writeln!(s, "{}", line(&mut row.iter().map(|c| c.text.as_str())));
        }
        if let Some(f) = &self.footer {
            let _ = writeln!(s, "{f}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_could_open_markup() {
        assert_eq!(
            escape_html("<b>\"x\" & 'y'</b>"),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
        let mut t = Table::new(&["name", "value"]);
        t.push(vec!["<script>alert(1)</script>".into(), "1".into()]);
        let html = t.to_html();
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }

    #[test]
    fn markdown_escapes_pipes_aligns_columns_and_keeps_caption_and_footer() {
        let mut t = Table::new(&["a|b", "n"]).caption("Cap").footer("Note");
        t.push(vec![Cell::bold("x|y"), "1".into()]);
        assert_eq!(
            t.to_markdown(),
            "Cap\n\n| a\\|b | n |\n| :--- | ---: |\n| **x\\|y** | 1 |\n\nNote\n"
        );
    }

    #[test]
    fn head_tail_elides_the_middle_and_only_formats_shown_rows() {
        let mut t = Table::new(&["i"]);
        let mut asked = vec![];
        t.fill_head_tail(1000, 3, 2, |i| {
            asked.push(i);
            vec![i.to_string().into()]
        });
        assert_eq!(asked, vec![0, 1, 2, 998, 999]);
        assert_eq!(t.elided, Some((3, 995)));
        assert!(t.to_html().contains("… 995 more rows …"));
        let text = t.to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            ["i", "0", "1", "2", "… 995 more rows …", "998", "999"]
        );
        let mut short = Table::new(&["i"]);
        short.fill_head_tail(5, 3, 2, |i| vec![i.to_string().into()]);
        assert_eq!((short.rows.len(), short.elided), (5, None));
    }

    #[test]
    fn text_alignment_and_bold() {
        let mut t = Table::new(&["algo", "score"]).caption("scores");
        t.push(vec!["iql".into(), Cell::bold("81.5")]);
        t.push(vec!["bc-long".into(), "7".into()]);
        assert_eq!(
            t.to_text(),
            "scores\nalgo     score\niql       81.5\nbc-long      7\n"
        );
        assert!(t.to_html().contains("<b>81.5</b>"));
        let kv = Table::key_value(vec![("env".into(), "Hvac-v0".into())]);
        assert!(!kv.to_html().contains("<thead>"));
        assert_eq!(kv.to_text(), "env  Hvac-v0\n");
    }

    #[test]
    fn numbers() {
        assert_eq!(num(1.5), "1.5");
        assert_eq!(num(2.0), "2");
        assert_eq!(num(1234567.0), "1.235e6");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(f64::NAN), "NaN");
        assert_eq!(num(f64::NEG_INFINITY), "-inf");
        assert_eq!(mean_std(81.25, 3.5), "81.25 ± 3.5");
    }
}
