//! The polars bridge: one row per transition ([`Dataset::to_polars`]) or per
//! episode ([`Dataset::episodes`]), Parquet export (feature `parquet`), and a [`Summary`] (count,
//! mean, std, min, quartiles, max per column; polars' Rust API has no
//! `describe`) that renders as an HTML table in notebooks and as text
//! elsewhere.

use super::dataset::Dataset;
#[cfg(feature = "frames")]
use crate::error::{Error, Result};
use neorl_plant::display::{Cell, Html, Table, num};
#[cfg(feature = "frames")]
use polars::prelude::*;
use serde::Serialize;
#[cfg(feature = "parquet")]
use std::path::Path;

/// The notebook-displayable frame lives with the other display building
/// blocks (`crate::viz`), so that every layer can return one.
#[cfg(feature = "frames")]
pub use crate::viz::frame::{Frame, FrameExt};

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
    ///
    /// A [`Frame`]: an HTML table in a notebook, and a `DataFrame` through
    /// `Deref` (`df.column("reward")`, `df.height()`); `.into_inner()` gives
    /// the `DataFrame` itself for by-value calls such as `lazy()`.
    pub fn to_polars(&self) -> Result<Frame> {
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
        DataFrame::new(n, cols)
            .map(Frame)
            .map_err(pe("building the transitions DataFrame"))
    }

    /// One row per episode: `episode`, `start` (first row), `length`,
    /// `return`, `normalized_score` (when the reference returns are known,
    /// else null), `cost` (sum of per-step costs), `violation_steps` (steps
    /// with at least one violated constraint), `terminated` (ended on a
    /// terminal: hard breach or true terminal), `truncated` (ended on a
    /// time-out).
    /// A [`Frame`], as for [`Dataset::to_polars`].
    pub fn episodes(&self) -> Result<Frame> {
        let rows = self.episode_rows();
        let ne = rows.len();
        let col = |name: &str, f: &dyn Fn(&super::EpisodeRow) -> f64| {
            Column::new(name.into(), rows.iter().map(f).collect::<Vec<f64>>())
        };
        let cols = vec![
            Column::new(
                "episode".into(),
                rows.iter().map(|r| r.episode as u32).collect::<Vec<_>>(),
            ),
            Column::new(
                "start".into(),
                rows.iter().map(|r| r.start as u64).collect::<Vec<_>>(),
            ),
            Column::new(
                "length".into(),
                rows.iter().map(|r| r.length as u32).collect::<Vec<_>>(),
            ),
            col("return", &|r| r.ret),
            Column::new(
                "normalized_score".into(),
                rows.iter()
                    .map(|r| r.normalized_score)
                    .collect::<Vec<Option<f64>>>(),
            ),
            col("cost", &|r| r.cost),
            Column::new(
                "violation_steps".into(),
                rows.iter()
                    .map(|r| r.violation_steps as u32)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "terminated".into(),
                rows.iter().map(|r| r.terminated).collect::<Vec<_>>(),
            ),
            Column::new(
                "truncated".into(),
                rows.iter().map(|r| r.truncated).collect::<Vec<_>>(),
            ),
        ];
        DataFrame::new(ne, cols)
            .map(Frame)
            .map_err(pe("building the episodes DataFrame"))
    }

    /// Write [`Dataset::to_polars`] to a Parquet file (zstd-compressed).
    #[cfg(feature = "parquet")]
    pub fn write_parquet(&self, path: impl AsRef<Path>) -> Result<()> {
        write_parquet(&mut self.to_polars()?.0, path)
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
#[cfg(feature = "parquet")]
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

    /// The statistics as a [`Table`] (one row per column).
    pub fn table(&self) -> Table {
        let mut head = vec!["column"];
        head.extend(HEADERS);
        let mut t = Table::new(&head);
        for c in &self.columns {
            let mut row: Vec<Cell> = vec![c.column.clone().into()];
            row.extend(Self::cells(c).into_iter().map(Cell::from));
            t.push(row);
        }
        t
    }

    pub(crate) fn rich(&self) -> Html {
        let mut h = Html::default();
        h.table(&self.table());
        h.finish()
    }
}

neorl_plant::rich_display!(Summary);

const HEADERS: [&str; 8] = ["count", "mean", "std", "min", "25%", "50%", "75%", "max"];

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
        assert!(s.to_html().contains(">x</td>"));
        assert!(s.to_string().contains("25%"));
    }
}
