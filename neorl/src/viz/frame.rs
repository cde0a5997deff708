//! [`Frame`]: a polars `DataFrame` that shows itself as an HTML table in
//! notebooks (feature `frames`). neorl's functions that return a frame
//! (`Dataset::to_polars`, `Dataset::episodes`, `neorl::track::runs`) return
//! this type; it dereferences to the `DataFrame`.

use neorl_plant::display::{Align, Cell, Html, Table, num};
use polars::prelude::*;

/// A polars DataFrame that shows itself as an HTML table in notebooks
/// (shape, column names and types, the first and last rows). It derefs to
/// the `DataFrame`, so every `&self` polars method works on it directly
/// (`frame.height()`, `frame.column("reward")`); take the frame out with
/// [`Frame::into_inner`] (or `.0`) for by-value calls such as `lazy()`.
/// Wrap any frame with `Frame::from(df)` or `df.show()` ([`FrameExt`]).
#[derive(Clone, PartialEq)]
pub struct Frame(pub DataFrame);

/// Rows shown when a frame is longer than `FRAME_HEAD + FRAME_TAIL`.
const FRAME_HEAD: usize = 10;
const FRAME_TAIL: usize = 5;
/// Columns shown when a frame is wider than `FRAME_LEFT + FRAME_RIGHT`.
const FRAME_LEFT: usize = 20;
const FRAME_RIGHT: usize = 8;

impl Frame {
    pub fn into_inner(self) -> DataFrame {
        self.0
    }

    /// The shown part of the frame as a [`Table`]: all rows up to 15, else
    /// the first 10 and the last 5; all columns up to 28, else the first 20
    /// and the last 8 around a "…" column.
    pub fn table(&self) -> Table {
        let df = &self.0;
        let cols = df.columns();
        let nc = cols.len();
        let shown: Vec<Option<usize>> = if nc <= FRAME_LEFT + FRAME_RIGHT {
            (0..nc).map(Some).collect()
        } else {
            (0..FRAME_LEFT)
                .map(Some)
                .chain(std::iter::once(None))
                .chain((nc - FRAME_RIGHT..nc).map(Some))
                .collect()
        };
        let mut head = vec![String::new()];
        let mut align = vec![Align::Right];
        for c in &shown {
            match c {
                Some(j) => {
                    let col = &cols[*j];
                    head.push(format!("{} ({})", col.name(), col.dtype()));
                    let left = matches!(col.dtype(), DataType::String | DataType::Boolean);
                    align.push(if left { Align::Left } else { Align::Right });
                }
                None => {
                    head.push("…".into());
                    align.push(Align::Left);
                }
            }
        }
        let mut t = Table::new(&head);
        t.align = align;
        t.fill_head_tail(df.height(), FRAME_HEAD, FRAME_TAIL, |i| {
            let mut row = vec![Cell::from(i.to_string())];
            for c in &shown {
                row.push(match c {
                    Some(j) => Cell::from(any_value_text(cols[*j].get(i))),
                    None => Cell::from("…"),
                });
            }
            row
        });
        t.footer(format!("{} rows × {} columns", df.height(), nc))
    }

    pub(crate) fn rich(&self) -> Html {
        let mut h = Html::default();
        h.table(&self.table());
        h.finish()
    }
}

fn any_value_text(v: PolarsResult<AnyValue<'_>>) -> String {
    match v {
        Ok(AnyValue::Null) => "null".into(),
        Ok(AnyValue::Float32(x)) => num(x as f64),
        Ok(AnyValue::Float64(x)) => num(x),
        Ok(AnyValue::String(s)) => s.to_string(),
        Ok(AnyValue::StringOwned(s)) => s.to_string(),
        Ok(v) => v.to_string(),
        Err(e) => format!("<error: {e}>"),
    }
}

neorl_plant::rich_display!(Frame);

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

impl std::ops::Deref for Frame {
    type Target = DataFrame;
    fn deref(&self) -> &DataFrame {
        &self.0
    }
}

impl std::ops::DerefMut for Frame {
    fn deref_mut(&mut self) -> &mut DataFrame {
        &mut self.0
    }
}

impl From<DataFrame> for Frame {
    fn from(df: DataFrame) -> Self {
        Frame(df)
    }
}

impl From<Frame> for DataFrame {
    fn from(f: Frame) -> Self {
        f.0
    }
}

/// `df.show()`: any polars DataFrame as a notebook table (a cheap clone:
/// polars columns are reference-counted).
pub trait FrameExt {
    fn show(&self) -> Frame;
}

impl FrameExt for DataFrame {
    fn show(&self) -> Frame {
        Frame(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_show_head_and_tail_with_types() {
        let n = 100usize;
        let df = DataFrame::new(
            n,
            vec![
                Column::new("x".into(), (0..n as u32).collect::<Vec<_>>()),
                Column::new("<name>".into(), vec!["a&b"; n]),
                Column::new(
                    "r".into(),
                    (0..n).map(|i| i as f32 * 0.5).collect::<Vec<_>>(),
                ),
            ],
        )
        .unwrap();
        let f = df.show();
        assert_eq!(f.height(), n, "derefs to the DataFrame");
        let t = f.table();
        assert_eq!(t.rows.len(), 15);
        assert_eq!(t.elided, Some((10, 85)));
        assert_eq!(t.rows[14][0].text, "99");
        assert_eq!(t.rows[14][3].text, "49.5");
        let html = f.to_html();
        assert!(html.contains("&lt;name&gt; (str)") && html.contains("a&amp;b"));
        assert!(html.contains("100 rows × 3 columns"));
        assert!(f.to_string().contains("… 85 more rows …"));
        let wide = DataFrame::new(
            1,
            (0..40)
                .map(|j| Column::new(format!("c{j}").into(), vec![j as f64]))
                .collect(),
        )
        .unwrap();
        let t = Frame::from(wide).table();
        assert_eq!(t.columns.len(), 1 + 20 + 1 + 8);
        assert_eq!(t.columns[21], "…");
        assert_eq!(t.columns[22], "c32 (f64)");
        let empty = Frame::from(DataFrame::empty());
        assert!(empty.to_html().contains("0 rows × 0 columns"));
    }
}
