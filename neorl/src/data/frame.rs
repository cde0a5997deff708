//! The polars bridge: one row per transition ([`Dataset::to_polars`]) or per
//! episode ([`Dataset::episodes`]), Parquet export, and a [`Summary`] (count,
//! mean, std, min, quartiles, max per column; polars' Rust API has no
//! `describe`) that renders as an HTML table in notebooks and as text
//! elsewhere.

use super::dataset::Dataset;
#[cfg(feature = "frames")]
use crate::error::{Error, Result};
#[cfg(feature = "frames")]
use polars::prelude::*;
use serde::Serialize;
use std::fmt;
#[cfg(feature = "frames")]
use std::path::Path;

#[cfg(feature = "frames")]
fn pe(context: &str) -> impl Fn(PolarsError) -> Error {
    let context = context.to_string();
    move |e| Error::Frame {
        context: context.clone(),
        message: e.to_string(),
    }
}

#[cfg(feature = "frames")]
impl Dataset {
    /// One row per transition: `episode`, `t` (step within the episode),
    /// `obs_<name>` per observation, `act_<name>` per action, `reward`,
    /// `cost`, `terminal`, `timeout`, then per constraint `<name>` (its
    /// signal after the step) and `viol_<name>` (its violation flag).
    pub fn to_polars(&self) -> Result<DataFrame> {
        let n = self.len();
        let (od, ad) = (self.obs_dim(), self.act_dim());
        let mut episode = Vec::with_capacity(n);
        let mut t = Vec::with_capacity(n);
        for (e, w) in self.episode_starts().windows(2).enumerate() {
            for i in w[0]..w[1] {
                episode.push(e as u32);
                t.push((i - w[0]) as u32);
            }
        }
        let mut cols = vec![
            Column::new("episode".into(), episode),
            Column::new("t".into(), t),
        ];
        let strided = |data: &[f32], dim: usize, j: usize| -> Vec<f32> {
            data.iter().skip(j).step_by(dim).copied().collect()
        };
        for (j, name) in self.observation_names().iter().enumerate() {
            cols.push(Column::new(
                format!("obs_{name}").into(),
                strided(self.observations(), od, j),
            ));
        }
        for (j, name) in self.action_names().iter().enumerate() {
            cols.push(Column::new(
                format!("act_{name}").into(),
                strided(self.actions(), ad, j),
            ));
        }
        cols.push(Column::new("reward".into(), self.rewards()));
        cols.push(Column::new("cost".into(), self.costs()));
        cols.push(Column::new("terminal".into(), self.terminals()));
        cols.push(Column::new("timeout".into(), self.timeouts()));
        for c in self.constraints() {
            cols.push(Column::new(c.name.as_str().into(), c.values.as_slice()));
            cols.push(Column::new(
                format!("viol_{}", c.name).into(),
                c.violations.as_slice(),
            ));
        }
        DataFrame::new(n, cols).map_err(pe("building the transitions DataFrame"))
    }

    /// One row per episode: `episode`, `start` (first row), `length`,
    /// `return`, `normalized_score` (when the reference returns are known,
    /// else null), `cost` (sum of per-step costs), `violation_steps` (steps
    /// with at least one violated constraint), `terminated` (ended on a
    /// terminal: hard breach or true terminal), `truncated` (ended on a
    /// time-out).
    pub fn episodes(&self) -> Result<DataFrame> {
        let ne = self.num_episodes();
        let mut start = Vec::with_capacity(ne);
        let mut length = Vec::with_capacity(ne);
        let mut ret = Vec::with_capacity(ne);
        let mut cost = Vec::with_capacity(ne);
        let mut viol = Vec::with_capacity(ne);
        let mut term = Vec::with_capacity(ne);
        let mut trunc = Vec::with_capacity(ne);
        for w in self.episode_starts().windows(2) {
            let (a, b) = (w[0], w[1]);
            start.push(a as u64);
            length.push((b - a) as u32);
            ret.push(self.rewards()[a..b].iter().map(|&r| r as f64).sum::<f64>());
            cost.push(self.costs()[a..b].iter().map(|&r| r as f64).sum::<f64>());
            viol.push(
                (a..b)
                    .filter(|&i| self.constraints().iter().any(|c| c.violations[i]))
                    .count() as u32,
            );
            term.push(self.terminals()[b - 1]);
            trunc.push(self.timeouts()[b - 1]);
        }
        let m = self.metadata();
        let score: Vec<Option<f64>> = match (m.ref_min_score, m.ref_max_score) {
            (Some(lo), Some(hi)) if hi != lo => ret
                .iter()
                .map(|r| Some(100.0 * (r - lo) / (hi - lo)))
                .collect(),
            _ => vec![None; ne],
        };
        let cols = vec![
            Column::new("episode".into(), (0..ne as u32).collect::<Vec<_>>()),
            Column::new("start".into(), start),
            Column::new("length".into(), length),
            Column::new("return".into(), ret),
            Column::new("normalized_score".into(), score),
            Column::new("cost".into(), cost),
            Column::new("violation_steps".into(), viol),
            Column::new("terminated".into(), term),
            Column::new("truncated".into(), trunc),
        ];
        DataFrame::new(ne, cols).map_err(pe("building the episodes DataFrame"))
    }

    /// Write [`Dataset::to_polars`] to a Parquet file (zstd-compressed).
    pub fn write_parquet(&self, path: impl AsRef<Path>) -> Result<()> {
        write_parquet(&mut self.to_polars()?, path)
    }
}

impl Dataset {
    /// Count, mean, std, min, quartiles and max of every transition column
    /// (observations, actions, reward, cost, flags, constraint signals).
    pub fn summary(&self) -> Summary {
        let (od, ad) = (self.obs_dim(), self.act_dim());
        let mut cols: Vec<(String, Vec<f64>)> = vec![];
        for (j, name) in self.observation_names().iter().enumerate() {
            let v = self
                .observations()
                .iter()
                .skip(j)
                .step_by(od)
                .map(|&x| x as f64);
            cols.push((format!("obs_{name}"), v.collect()));
        }
        for (j, name) in self.action_names().iter().enumerate() {
            let v = self.actions().iter().skip(j).step_by(ad).map(|&x| x as f64);
            cols.push((format!("act_{name}"), v.collect()));
        }
        let f = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
        let b = |v: &[bool]| v.iter().map(|&x| x as u8 as f64).collect::<Vec<_>>();
        cols.push(("reward".into(), f(self.rewards())));
        cols.push(("cost".into(), f(self.costs())));
        cols.push(("terminal".into(), b(self.terminals())));
        cols.push(("timeout".into(), b(self.timeouts())));
        for c in self.constraints() {
            cols.push((c.name.clone(), f(&c.values)));
            cols.push((format!("viol_{}", c.name), b(&c.violations)));
        }
        Summary::from_columns(cols)
    }
}

/// Write any DataFrame to a Parquet file (zstd-compressed).
#[cfg(feature = "frames")]
pub fn write_parquet(df: &mut DataFrame, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    ParquetWriter::new(file)
        .finish(df)
        .map_err(pe(&format!("writing Parquet to {}", path.display())))?;
    Ok(())
}

/// Statistics of one column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnSummary {
    pub column: String,
    /// Non-missing values (NaN counts as missing, as in pandas).
    pub count: usize,
    pub mean: f64,
    /// Sample standard deviation (n − 1), as pandas' `describe`.
    pub std: f64,
    pub min: f64,
    pub q25: f64,
    pub q50: f64,
    pub q75: f64,
    pub max: f64,
}

/// pandas-style `describe()`: one row per column. `Display` is a text
/// table; [`Summary::to_html`] an HTML table (shown inline by evcxr).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub columns: Vec<ColumnSummary>,
}

/// Quantile `q` of sorted data with linear interpolation (numpy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

impl Summary {
    /// Summarise named columns of values.
    pub fn from_columns(cols: Vec<(String, Vec<f64>)>) -> Self {
        let columns = cols
            .into_iter()
            .map(|(column, mut v)| {
                v.retain(|x| !x.is_nan());
                v.sort_by(f64::total_cmp);
                let n = v.len();
                let mean = v.iter().sum::<f64>() / n as f64;
                let var = if n > 1 {
                    v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
                } else {
                    f64::NAN
                };
                ColumnSummary {
                    column,
                    count: n,
                    mean,
                    std: var.sqrt(),
                    min: v.first().copied().unwrap_or(f64::NAN),
                    q25: quantile(&v, 0.25),
                    q50: quantile(&v, 0.5),
                    q75: quantile(&v, 0.75),
                    max: v.last().copied().unwrap_or(f64::NAN),
                }
            })
            .collect();
        Summary { columns }
    }

    /// Summarise every numeric or boolean column of a DataFrame (others,
    /// e.g. strings, are skipped; nulls are not counted).
    #[cfg(feature = "frames")]
    pub fn of_frame(df: &DataFrame) -> Result<Self> {
        let mut cols = vec![];
        for c in df.columns() {
            if !(c.dtype().is_primitive_numeric() || c.dtype().is_bool()) {
                continue;
            }
            let f = c
                .cast(&DataType::Float64)
                .map_err(pe("summarising the DataFrame"))?;
            let v: Vec<f64> = f
                .f64()
                .map_err(pe("summarising the DataFrame"))?
                .iter()
                .flatten()
                .collect();
            cols.push((c.name().to_string(), v));
        }
        Ok(Self::from_columns(cols))
    }

    /// Statistics of one column by name.
    pub fn get(&self, column: &str) -> Option<&ColumnSummary> {
        self.columns.iter().find(|c| c.column == column)
    }

    fn cells(c: &ColumnSummary) -> [String; 8] {
        [
            c.count.to_string(),
            num(c.mean),
            num(c.std),
            num(c.min),
            num(c.q25),
            num(c.q50),
            num(c.q75),
            num(c.max),
        ]
    }

    /// An HTML table (for notebooks and reports).
    pub fn to_html(&self) -> String {
        let mut s = String::from(
            "<table class=\"neorl-summary\" style=\"font-family:monospace;border-collapse:collapse\">\n<thead><tr><th style=\"text-align:left\">column</th>",
        );
        for h in HEADERS {
            s.push_str(&format!("<th style=\"text-align:right\">{h}</th>"));
        }
        s.push_str("</tr></thead>\n<tbody>\n");
        for c in &self.columns {
            s.push_str(&format!(
                "<tr><td style=\"text-align:left\">{}</td>",
                html_escape(&c.column)
            ));
            for cell in Self::cells(c) {
                s.push_str(&format!(
                    "<td style=\"text-align:right;padding:0 0.6em\">{cell}</td>"
                ));
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</tbody></table>\n");
        s
    }

    /// Rich display in evcxr notebooks (called by the kernel when a cell's
    /// value is a `Summary`).
    pub fn evcxr_display(&self) {
        println!(
            "EVCXR_BEGIN_CONTENT text/html\n{}\nEVCXR_END_CONTENT",
            self.to_html()
        );
    }
}

const HEADERS: [&str; 8] = ["count", "mean", "std", "min", "25%", "50%", "75%", "max"];

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w0 = self
            .columns
            .iter()
            .map(|c| c.column.chars().count())
            .max()
            .unwrap_or(6)
            .max(6);
        write!(f, "{:<w0$}", "column")?;
        for h in HEADERS {
            write!(f, " {h:>11}")?;
        }
        writeln!(f)?;
        for c in &self.columns {
            write!(f, "{:<w0$}", c.column)?;
            for cell in Self::cells(c) {
                write!(f, " {cell:>11}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// Numbers as pandas shows them, within 11 characters.
fn num(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x == 0.0 {
        "0".into()
    } else if x.abs() >= 1e6 || x.abs() < 1e-3 {
        format!("{x:.3e}")
    } else {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// `&`, `<` and `>` as HTML entities.
pub(crate) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.25), 1.75);
        assert_eq!(quantile(&v, 0.5), 2.5);
        assert_eq!(quantile(&v, 0.75), 3.25);
        let s = Summary::from_columns(vec![("x".into(), vec![4.0, 1.0, f64::NAN, 3.0, 2.0])]);
        let c = s.get("x").unwrap();
        assert_eq!(c.count, 4);
        assert_eq!(c.mean, 2.5);
        assert!((c.std - 1.2909944487358056).abs() < 1e-12);
        assert_eq!((c.min, c.max), (1.0, 4.0));
        assert!(s.to_html().contains("<td style=\"text-align:left\">x</td>"));
        assert!(s.to_string().contains("25%"));
    }

    #[test]
    fn number_formatting() {
        assert_eq!(num(1.5), "1.5");
        assert_eq!(num(2.0), "2");
        assert_eq!(num(1234567.0), "1.235e6");
        assert_eq!(num(0.0), "0");
    }
}
