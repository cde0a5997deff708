//! `neorl paper`: every results table and figure, made from run records
//! ([`crate::experiments::records`]) and nothing else, the same bytes every
//! time.
//!
//! # How the tables are made
//!
//! Runs are grouped by dataset quality (and size, when the sweep fixed
//! one). Failed runs are left out and counted. For each dataset and
//! algorithm, over its seeds:
//!
//! - **last** is the final evaluation's normalized score, **best** the
//!   reported score of the evaluation chosen on separate selection episodes
//!   (see [`crate::experiments::scores`]); each is given as the
//!   interquartile mean (IQM) over seeds with its 95 % bootstrap percentile
//!   interval (Agarwal et al. 2021, "Deep RL at the Edge of the Statistical
//!   Precipice");
//! - beside every score: the mean cost (constraint-violation steps per
//!   evaluation episode) and the hard-breach rate (hard
//!   violations per evaluation episode) of the same evaluations;
//! - a **↑** marks the algorithm with the highest last IQM on a dataset when
//!   it beats BC by more than the intervals: its interval lies wholly above
//!   BC's (non-overlapping 95 % intervals — a conservative rule).
//!
//! Across the datasets of a quality each algorithm gets one score matrix
//! (rows: seeds present on every dataset; columns: datasets) and its mean,
//! median, IQM and optimality gap with stratified bootstrap intervals
//! ([`crate::stats::summarize`]), the probability of improvement of every
//! algorithm over every other ([`crate::stats::improvement_matrix`]) and
//! the runs and compute per algorithm.
//!
//! Figures (plotly, written as offline HTML with `plotly.min.js` beside
//! them, and as the figure's JSON): learning curves with 95 % bands (mean
//! over seeds at each evaluation step), performance profiles with bands,
//! the aggregates with intervals, the probability-of-improvement heatmap and
//! last score against cost (one point per run, the mean marked).
//!
//! Output is deterministic: the bootstrap is seeded, maps are ordered,
//! floats are printed at fixed precision, the HTML has no timestamps or
//! random ids. [`Paper::check`] compares a fresh rendering with the files on
//! disk.

use crate::error::{Error, Result};
use crate::experiments::records::{RunRecord, RunRecords};
use crate::stats::{self, Aggregate, Bootstrap, Interval, ScoreMatrix};
use crate::viz::{Figure, JsMode};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The line before the generated section of a results file.
pub const BEGIN: &str = "<!-- neorl paper: begin -->";
/// The line after it.
pub const END: &str = "<!-- neorl paper: end -->";

/// Where the figures' plotting library is written, beside them.
const PLOTLY_JS: &str = "figures/plotly.min.js";

/// Colours of the algorithms, in order (plotly's default cycle).
const PALETTE: [(u8, u8, u8); 8] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
];

fn color(i: usize, alpha: f64) -> String {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    if alpha >= 1.0 {
        format!("rgb({r},{g},{b})")
    } else {
        format!("rgba({r},{g},{b},{alpha})")
    }
}

/// Everything `neorl paper` writes, in memory: `(path under the output
/// folder, bytes)`, sorted by path.
#[derive(Clone, PartialEq)]
pub struct Paper {
    pub files: Vec<(PathBuf, Vec<u8>)>,
    /// `tables.md`: what goes between the markers of the results file.
    pub tables: String,
}

impl std::fmt::Debug for Paper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paper")
            .field(
                "files",
                &self
                    .files
                    .iter()
                    .map(|(p, b)| format!("{} ({} bytes)", p.display(), b.len()))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// One group of datasets (a quality, and a size when fixed).
struct Group<'a> {
    label: String,
    /// Dataset ids and their envs, in the header's order.
    datasets: Vec<(&'a str, &'a str, f64)>,
    runs: Vec<&'a RunRecord>,
}

/// The algorithms of `runs`: the known ones in their usual order, others
/// after them by name.
fn algos_of(runs: &[&RunRecord]) -> Vec<String> {
    let mut out: Vec<String> = crate::agents::ALGOS
        .iter()
        .filter(|a| runs.iter().any(|r| r.algo == **a))
        .map(|a| a.to_string())
        .collect();
    let mut other: Vec<String> = runs
        .iter()
        .map(|r| r.algo.clone())
        .filter(|a| !out.contains(a))
        .collect();
    other.sort();
    other.dedup();
    out.extend(other);
    out
}

fn groups(rec: &RunRecords) -> Vec<Group<'_>> {
    let mut out: Vec<Group> = vec![];
    for d in &rec.header.datasets {
        let label = match d.size {
            Some(n) => format!("{}-{n}", d.quality.as_str()),
            None => d.quality.as_str().to_string(),
        };
        let runs: Vec<&RunRecord> = rec.runs.iter().filter(|r| r.dataset == d.id).collect();
        let g = match out.iter_mut().position(|g| g.label == label) {
            Some(i) => &mut out[i],
            None => {
                out.push(Group {
                    label,
                    datasets: vec![],
                    runs: vec![],
                });
                out.last_mut().expect("just pushed")
            }
        };
        g.datasets.push((&d.id, &d.env, d.behaviour_score.0));
        g.runs.extend(runs);
    }
    out.retain(|g| !g.runs.is_empty());
    out
}

fn ok(r: &RunRecord) -> bool {
    r.error.is_none() && r.last.is_some()
}

/// IQM of `v` over seeds with its interval; `None` without values.
fn seeds_interval(v: &[f64], agg: Aggregate, b: &Bootstrap) -> Result<Option<Interval>> {
    if v.is_empty() {
        return Ok(None);
    }
    let m = ScoreMatrix::new(vec!["task".into()], v.iter().map(|x| vec![*x]).collect())?;
    Ok(Some(stats::interval(&m, agg, b)?))
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn ci(i: &Option<Interval>) -> String {
    match i {
        Some(i) => format!("{:.1} [{:.1}, {:.1}]", i.point, i.lo, i.hi),
        None => "—".into(),
    }
}

/// One algorithm's score matrix over a group's datasets (rows: seeds with a
/// finished run on every dataset), from `pick` of each run.
fn matrix(
    g: &Group,
    algo: &str,
    pick: &dyn Fn(&RunRecord) -> Option<f64>,
) -> Result<Option<ScoreMatrix>> {
    let mut seeds: Vec<u64> = g
        .runs
        .iter()
        .filter(|r| r.algo == algo)
        .map(|r| r.seed)
        .collect();
    seeds.sort();
    seeds.dedup();
    let mut rows = vec![];
    for s in seeds {
        let row: Option<Vec<f64>> = g
            .datasets
            .iter()
            .map(|(id, _, _)| {
                g.runs
                    .iter()
                    .find(|r| r.algo == algo && r.seed == s && r.dataset == *id && ok(r))
                    .and_then(|r| pick(r))
            })
            .collect();
        if let Some(row) = row {
            rows.push(row);
        }
    }
    if rows.is_empty() {
        return Ok(None);
    }
    let tasks = g.datasets.iter().map(|(id, _, _)| id.to_string()).collect();
    Ok(Some(ScoreMatrix::new(tasks, rows)?))
}

fn last_score(r: &RunRecord) -> Option<f64> {
    r.last.as_ref().map(|o| o.score.0)
}
fn best_score(r: &RunRecord) -> Option<f64> {
    r.best.as_ref().map(|o| o.score.0)
}

/// Render every table and figure of `rec`. `progress` gets a line per
/// step of the work.
pub fn paper(rec: &RunRecords, b: &Bootstrap, progress: &mut dyn FnMut(&str)) -> Result<Paper> {
    if rec.runs.is_empty() {
        return Err(Error::InvalidArgument(
            "the records hold no runs; export a sweep that has finished tasks".into(),
        ));
    }
    let p = &rec.header.protocol;
    let mut md = String::new();
    let mut figs: Vec<(String, Figure)> = vec![];
    let _ = writeln!(
        md,
        "Made by `neorl paper` from the run records of sweep `{}` (neorl {}; format v{}). Protocol: {} gradient steps, evaluated every {} steps on {} episodes (seeds from {}); best = the reported score at the evaluation with the highest score on {} separate selection episodes (seeds from {}){}. Networks: {}. Scores are D4RL-normalized (random = 0, expert = 100): IQM over seeds [95 % bootstrap interval, {} resamples, seed {}]. Beside each score: cost = mean constraint-violation steps per evaluation episode; breach = hard violations per evaluation episode. ↑: the best algorithm's interval lies wholly above BC's (non-overlapping 95 % intervals).\n",
        rec.header.sweep,
        rec.header.neorl_version,
        rec.header.version,
        p.steps,
        p.eval_every,
        p.episodes,
        p.eval_seed,
        p.selection_episodes,
        p.selection_seed,
        if p.selection_episodes == 0 {
            " — none here, so no best is reported"
        } else {
            ""
        },
        p.hidden.as_ref().map_or("each paper's".to_string(), |h| h
            .iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join("×")),
        b.reps,
        b.seed,
    );
    for g in groups(rec) {
        progress(&format!("paper: {} ({} runs)", g.label, g.runs.len()));
        let algos = algos_of(&g.runs);
        let _ = writeln!(md, "### {} datasets\n", g.label);
        let _ = writeln!(
            md,
            "| dataset | behaviour | algorithm | seeds | last | cost | breach | best | cost | breach |\n|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"
        );
        for (id, env, behaviour) in &g.datasets {
            let mut rows = vec![];
            for algo in &algos {
                let runs: Vec<&&RunRecord> = g
                    .runs
                    .iter()
                    .filter(|r| &r.dataset == id && &r.algo == algo)
                    .collect();
                let fine: Vec<&&&RunRecord> = runs.iter().filter(|r| ok(r)).collect();
                let failed = runs.len() - fine.len();
                let last: Vec<_> = fine.iter().filter_map(|r| r.last.as_ref()).collect();
                let best: Vec<_> = fine.iter().filter_map(|r| r.best.as_ref()).collect();
                let li = seeds_interval(
                    &last.iter().map(|o| o.score.0).collect::<Vec<_>>(),
                    Aggregate::Iqm,
                    b,
                )?;
                let bi = seeds_interval(
                    &best.iter().map(|o| o.score.0).collect::<Vec<_>>(),
                    Aggregate::Iqm,
                    b,
                )?;
                let safety = |v: &[&crate::experiments::records::Outcome]| -> [String; 2] {
                    if v.is_empty() {
                        return ["—".into(), "—".into()];
                    }
                    [
                        format!(
                            "{:.2}",
                            mean(&v.iter().map(|o| o.cost.0).collect::<Vec<_>>())
                        ),
                        format!(
                            "{:.2}",
                            mean(&v.iter().map(|o| o.hard_breach_rate.0).collect::<Vec<_>>())
                        ),
                    ]
                };
                let seeds = if failed > 0 {
                    format!("{} ({failed} failed)", fine.len())
                } else {
                    fine.len().to_string()
                };
                rows.push((algo.clone(), seeds, li, safety(&last), bi, safety(&best)));
            }
            // The mark: the best non-BC algorithm above BC's interval.
            let bc = rows.iter().find(|r| r.0 == "bc").and_then(|r| r.2);
            let top = rows
                .iter()
                .enumerate()
                .filter(|(_, r)| r.0 != "bc")
                .filter_map(|(i, r)| r.2.map(|x| (i, x)))
                .fold(None, |acc: Option<(usize, Interval)>, (i, x)| match acc {
                    Some((_, y)) if y.point >= x.point => acc,
                    _ => Some((i, x)),
                });
            let marked = match (bc, top) {
                (Some(bc), Some((i, x))) if x.lo > bc.hi => Some(i),
                _ => None,
            };
            for (i, (algo, seeds, li, ls, bi, bs)) in rows.iter().enumerate() {
                let mark = if marked == Some(i) { " ↑" } else { "" };
                let _ = writeln!(
                    md,
                    "| {id} | {behaviour:.1} | {algo} | {seeds} | {}{mark} | {} | {} | {} | {} | {} |",
                    ci(li),
                    ls[0],
                    ls[1],
                    ci(bi),
                    bs[0],
                    bs[1]
                );
            }
            figs.push((
                format!("{}-curves-{}", g.label, env),
                curves(&g, id, &algos, b)?,
            ));
        }
        // Across the datasets.
        progress(&format!("paper: {}: aggregates and improvement", g.label));
        let mut lasts = vec![];
        let mut bests = vec![];
        for algo in &algos {
            if let Some(m) = matrix(&g, algo, &last_score)? {
                lasts.push((algo.clone(), m));
            }
            if let Some(m) = matrix(&g, algo, &best_score)? {
                bests.push((algo.clone(), m));
            }
        }
        // One bootstrap per set: the tables and the aggregates figure share it.
        let summary = |set: &[(String, ScoreMatrix)]| -> Result<Option<stats::StatsTable>> {
            if set.is_empty() {
                Ok(None)
            } else {
                stats::summarize(set, b).map(Some)
            }
        };
        let (last_table, best_table) = (summary(&lasts)?, summary(&bests)?);
        for (what, t) in [("last", &last_table), ("best", &best_table)] {
            let Some(t) = t else {
                continue;
            };
            let _ = writeln!(
                md,
                "\n**{} across the {} datasets, {what} evaluation** (runs: seeds with a finished run on every dataset; optimality gap below 100):\n\n{}",
                g.label,
                g.datasets.len(),
                t.to_markdown()
            );
        }
        if lasts.len() > 1 {
            let poi = stats::improvement_matrix(&lasts, b)?;
            let _ = writeln!(
                md,
                "\n**Probability of improvement** (last evaluation, {}): P(row > column) [95 % interval].\n",
                g.label
            );
            let _ = write!(md, "| P(row > column) |");
            for (a, _) in &lasts {
                let _ = write!(md, " {a} |");
            }
            let _ = writeln!(md, "\n|---|{}", "---:|".repeat(lasts.len()));
            for ((a, _), row) in lasts.iter().zip(&poi) {
                let _ = write!(md, "| {a} |");
                for c in row {
                    match c {
                        Some(i) => {
                            let _ = write!(md, " {:.2} [{:.2}, {:.2}] |", i.point, i.lo, i.hi);
                        }
                        None => md.push_str(" — |"),
                    }
                }
                md.push('\n');
            }
            figs.push((
                format!("{}-improvement", g.label),
                improvement_figure(&g.label, &lasts, &poi),
            ));
        }
        if let Some(t) = &last_table {
            progress(&format!("paper: {}: profiles", g.label));
            figs.push((
                format!("{}-profiles", g.label),
                profiles(&g.label, &lasts, b)?,
            ));
            figs.push((
                format!("{}-aggregates", g.label),
                aggregates_figure(&g.label, t),
            ));
        }
        figs.push((format!("{}-score-cost", g.label), score_cost(&g, &algos)));
        md.push('\n');
    }
    // Runs and compute.
    let all: Vec<&RunRecord> = rec.runs.iter().collect();
    let _ = writeln!(
        md,
        "**Runs and compute** (wall-clock seconds of training and evaluation, summed):\n\n| algorithm | runs | failed | seconds |\n|---|---:|---:|---:|"
    );
    let mut total = 0.0;
    for algo in algos_of(&all) {
        let mine: Vec<_> = all.iter().filter(|r| r.algo == algo).collect();
        let s: f64 = mine.iter().map(|r| r.seconds.0).sum();
        total += s;
        let _ = writeln!(
            md,
            "| {algo} | {} | {} | {s:.0} |",
            mine.len(),
            mine.iter().filter(|r| !ok(r)).count()
        );
    }
    let _ = writeln!(
        md,
        "| all | {} | {} | {total:.0} |",
        all.len(),
        all.iter().filter(|r| !ok(r)).count()
    );
    let mut files: Vec<(PathBuf, Vec<u8>)> =
        vec![(PathBuf::from("tables.md"), md.clone().into_bytes())];
    for (name, f) in &figs {
        let json = serde_json::to_string_pretty(&f.json).map_err(|source| Error::Json {
            context: name.clone(),
            source,
        })? + "\n";
        files.push((
            PathBuf::from("figures").join(format!("{name}.json")),
            json.into_bytes(),
        ));
        files.push((
            PathBuf::from("figures").join(format!("{name}.html")),
            f.to_html(&f.title(), JsMode::Sibling).into_bytes(),
        ));
    }
    files.push((
        PathBuf::from(PLOTLY_JS),
        crate::viz::plotly_js().as_bytes().to_vec(),
    ));
    files.sort_by(|a, c| a.0.cmp(&c.0));
    Ok(Paper { files, tables: md })
}

/// A band (lo forward, hi back) and a line, in colour `i`.
fn band_and_line(name: &str, i: usize, x: &[f64], y: &[f64], lo: &[f64], hi: &[f64]) -> [Value; 2] {
    let bx: Vec<f64> = x.iter().chain(x.iter().rev()).copied().collect();
    let by: Vec<f64> = lo.iter().chain(hi.iter().rev()).copied().collect();
    [
        json!({"x": bx, "y": by, "fill": "toself", "fillcolor": color(i, 0.2), "line": {"width": 0},
               "hoverinfo": "skip", "showlegend": false, "legendgroup": name, "name": format!("{name} 95 %"), "type": "scatter"}),
        json!({"x": x, "y": y, "name": name, "legendgroup": name, "mode": "lines+markers",
               "line": {"color": color(i, 1.0)}, "type": "scatter"}),
    ]
}

/// Learning curves on dataset `id`: mean over seeds at each step, 95 % band.
fn curves(g: &Group, id: &str, algos: &[String], b: &Bootstrap) -> Result<Figure> {
    let mut data = vec![];
    for (i, algo) in algos.iter().enumerate() {
        let runs: Vec<&&RunRecord> = g
            .runs
            .iter()
            .filter(|r| r.dataset == id && &r.algo == algo && ok(r))
            .collect();
        let mut steps: Vec<u64> = runs
            .iter()
            .flat_map(|r| r.evals.iter().map(|p| p.step))
            .collect();
        steps.sort();
        steps.dedup();
        let (mut x, mut y, mut lo, mut hi) = (vec![], vec![], vec![], vec![]);
        for s in steps {
            let v: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.evals.iter().find(|p| p.step == s).map(|p| p.score.0))
                .collect();
            if let Some(ci) = seeds_interval(&v, Aggregate::Mean, b)? {
                x.push(s as f64);
                y.push(ci.point);
                lo.push(ci.lo);
                hi.push(ci.hi);
            }
        }
        data.extend(band_and_line(algo, i, &x, &y, &lo, &hi));
    }
    Ok(Figure {
        json: json!({"data": data, "layout": {
            "title": {"text": format!("Learning curves on {id} (mean over seeds, 95 % bootstrap band)")},
            "xaxis": {"title": {"text": "gradient steps"}},
            "yaxis": {"title": {"text": "normalized score"}},
        }}),
        height: 450,
    })
}

/// Performance profiles: fraction of runs above τ, 95 % bands.
fn profiles(label: &str, algos: &[(String, ScoreMatrix)], b: &Bootstrap) -> Result<Figure> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (_, m) in algos {
        for r in 0..m.runs() {
            for t in 0..m.tasks().len() {
                lo = lo.min(m.get(r, t));
                hi = hi.max(m.get(r, t));
            }
        }
    }
    let (lo, hi) = (lo.floor(), hi.ceil().max(lo.floor() + 1.0));
    let taus: Vec<f64> = (0..=100)
        .map(|k| lo + (hi - lo) * k as f64 / 100.0)
        .collect();
    let mut data = vec![];
    for (i, (algo, m)) in algos.iter().enumerate() {
        let p = stats::performance_profile(m, &taus, b)?;
        data.extend(band_and_line(algo, i, &p.taus, &p.fraction, &p.lo, &p.hi));
    }
    Ok(Figure {
        json: json!({"data": data, "layout": {
            "title": {"text": format!("Performance profiles, {label} datasets (last evaluation)")},
            "xaxis": {"title": {"text": "normalized score τ"}},
            "yaxis": {"title": {"text": "fraction of runs with score > τ"}, "range": [0, 1.02]},
        }}),
        height: 450,
    })
}

/// Every aggregate per algorithm with its interval, one panel each.
/// The last evaluation's aggregates with their intervals: the same
/// `StatsTable` the tables print, drawn (not bootstrapped again).
fn aggregates_figure(label: &str, table: &stats::StatsTable) -> Figure {
    let names: Vec<&String> = table.rows.iter().map(|r| &r.algo).collect();
    let n = Aggregate::ALL.len();
    let mut data = vec![];
    let mut layout = serde_json::Map::new();
    layout.insert(
        "title".into(),
        json!({"text": format!("Aggregates with 95 % stratified bootstrap intervals, {label} datasets (last evaluation)")}),
    );
    layout.insert("showlegend".into(), json!(false));
    for (k, agg) in Aggregate::ALL.iter().enumerate() {
        let axis = if k == 0 {
            String::new()
        } else {
            (k + 1).to_string()
        };
        let ints: Vec<Interval> = table.rows.iter().map(|r| r.interval(*agg)).collect();
        data.push(json!({
            "type": "scatter", "mode": "markers",
            "x": ints.iter().map(|i| i.point).collect::<Vec<_>>(),
            "y": names,
            "error_x": {"type": "data", "symmetric": false,
                        "array": ints.iter().map(|i| i.hi - i.point).collect::<Vec<_>>(),
                        "arrayminus": ints.iter().map(|i| i.point - i.lo).collect::<Vec<_>>()},
            "marker": {"size": 10, "color": (0..names.len()).map(|i| color(i, 1.0)).collect::<Vec<_>>()},
            "xaxis": format!("x{axis}"), "yaxis": format!("y{axis}"),
            "name": agg.name(),
        }));
        let w = 1.0 / n as f64;
        layout.insert(
            format!("xaxis{axis}"),
            json!({"domain": [k as f64 * w + 0.02, (k + 1) as f64 * w - 0.02],
                   "title": {"text": format!("{}{}", agg.name(), if agg.higher_is_better() { "" } else { " (lower is better)" })}}),
        );
        layout.insert(
            format!("yaxis{axis}"),
            json!({"anchor": format!("x{axis}"), "showticklabels": k == 0}),
        );
    }
    Figure {
        json: json!({"data": data, "layout": layout}),
        height: 120 + 40 * names.len() as u32,
    }
}

/// The probability-of-improvement matrix as a heatmap.
fn improvement_figure(
    label: &str,
    algos: &[(String, ScoreMatrix)],
    poi: &[Vec<Option<Interval>>],
) -> Figure {
    let names: Vec<&String> = algos.iter().map(|(a, _)| a).collect();
    let z: Vec<Vec<Option<f64>>> = poi
        .iter()
        .map(|r| r.iter().map(|c| c.map(|i| i.point)).collect())
        .collect();
    let text: Vec<Vec<String>> = poi
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| {
                    c.map_or(String::new(), |i| {
                        format!("{:.2}<br>[{:.2}, {:.2}]", i.point, i.lo, i.hi)
                    })
                })
                .collect()
        })
        .collect();
    Figure {
        json: json!({"data": [{"type": "heatmap", "x": names, "y": names, "z": z, "text": text,
                                "texttemplate": "%{text}", "zmin": 0, "zmax": 1, "colorscale": "RdBu",
                                "colorbar": {"title": {"text": "P(row > column)"}}}],
                     "layout": {"title": {"text": format!("Probability of improvement, {label} datasets (last evaluation)")},
                                "xaxis": {"title": {"text": "column"}}, "yaxis": {"title": {"text": "row"}, "autorange": "reversed"}}}),
        height: 200 + 60 * names.len() as u32,
    }
}

/// Last score against cost: every run a point, each algorithm's mean a
/// large marker.
fn score_cost(g: &Group, algos: &[String]) -> Figure {
    let mut data = vec![];
    for (i, algo) in algos.iter().enumerate() {
        let pts: Vec<(f64, f64)> = g
            .runs
            .iter()
            .filter(|r| &r.algo == algo && ok(r))
            .filter_map(|r| r.last.as_ref().map(|o| (o.cost.0, o.score.0)))
            .collect();
        if pts.is_empty() {
            continue;
        }
        let (xs, ys): (Vec<f64>, Vec<f64>) = pts.iter().copied().unzip();
        data.push(
            json!({"type": "scatter", "mode": "markers", "name": algo, "legendgroup": algo,
                         "x": xs, "y": ys, "marker": {"color": color(i, 0.6), "size": 7}}),
        );
        data.push(json!({"type": "scatter", "mode": "markers", "name": format!("{algo} mean"), "legendgroup": algo,
                         "x": [mean(&xs)], "y": [mean(&ys)], "showlegend": false,
                         "marker": {"color": color(i, 1.0), "size": 16, "symbol": "x"}}));
    }
    Figure {
        json: json!({"data": data, "layout": {
            "title": {"text": format!("Score against cost, {} datasets (last evaluation; × = mean)", g.label)},
            "xaxis": {"title": {"text": "cost (constraint-violation steps per episode)"}},
            "yaxis": {"title": {"text": "normalized score"}},
        }}),
        height: 450,
    }
}

impl Paper {
    /// Write every file under `dir`; the paths written.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let mut out = vec![];
        for (rel, bytes) in &self.files {
            let path = dir.join(rel);
            if let Some(d) = path.parent() {
                std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
            }
            std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
            out.push(path);
        }
        Ok(out)
    }

    /// The first difference between these files and those under `dir`, if
    /// any: the file, and the first line that differs.
    ///
    /// `figures/plotly.min.js` is the plotting library, not a result: a
    /// repository does not commit its 4.6 MB (neorl's `.gitignore` leaves it
    /// out), so a missing copy is not a difference; a copy that is there
    /// must still be the one neorl writes.
    pub fn check(&self, dir: &Path) -> Result<Option<String>> {
        for (rel, bytes) in &self.files {
            let path = dir.join(rel);
            let on_disk = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound && rel == Path::new(PLOTLY_JS) =>
                {
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(Some(format!("{} is missing", path.display())));
                }
                Err(e) => return Err(Error::io(&path, e)),
            };
            if let Some(d) = first_difference(&path, &on_disk, bytes) {
                return Ok(Some(d));
            }
        }
        Ok(None)
    }
}

/// Where `on_disk` and `fresh` (the contents of `path`) first differ.
pub fn first_difference(path: &Path, on_disk: &[u8], fresh: &[u8]) -> Option<String> {
    if on_disk == fresh {
        return None;
    }
    let a = String::from_utf8_lossy(on_disk);
    let b = String::from_utf8_lossy(fresh);
    let (mut la, mut lb) = (a.lines(), b.lines());
    let mut n = 0;
    loop {
        n += 1;
        match (la.next(), lb.next()) {
            (Some(x), Some(y)) if x == y => continue,
            (x, y) => {
                let short = |s: Option<&str>| {
                    s.map_or("(end of file)".to_string(), |s| {
                        s.chars().take(100).collect()
                    })
                };
                return Some(format!(
                    "{} line {n} differs from what the records give:\n  on disk: {}\n  records: {}",
                    path.display(),
                    short(x),
                    short(y)
                ));
            }
        }
    }
}

/// `text` (a results file, `name` in errors) with the section between
/// [`BEGIN`] and [`END`] replaced by `section`.
pub fn splice(text: &str, section: &str, name: &str) -> Result<String> {
    let count = |m: &str| text.matches(m).count();
    if count(BEGIN) != 1 || count(END) != 1 {
        return Err(Error::InvalidArgument(format!(
            "{name} must hold the lines `{BEGIN}` and `{END}` once each (found {} and {}); add them where the generated tables go",
            count(BEGIN),
            count(END)
        )));
    }
    let (Some(begin), Some(end)) = (text.find(BEGIN), text.find(END)) else {
        unreachable!("both markers were counted once above")
    };
    let start = begin + BEGIN.len();
    if end < start {
        return Err(Error::InvalidArgument(format!(
            "{name}: `{END}` comes before `{BEGIN}`; put the begin marker first"
        )));
    }
    Ok(format!(
        "{}\n{}{}{}",
        &text[..start],
        section.trim_end_matches('\n'),
        "\n",
        &text[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_the_section_and_refuses_bad_markers() {
        let text = format!("a\n{BEGIN}\nold\n{END}\nb\n");
        assert_eq!(
            splice(&text, "new\n", "R").unwrap(),
            format!("a\n{BEGIN}\nnew\n{END}\nb\n")
        );
        let e = splice("a\n", "x", "R").unwrap_err().to_string();
        assert!(
            e.contains("R must hold") && e.contains("found 0 and 0"),
            "{e}"
        );
        let twice = format!("{text}{BEGIN}\n");
        assert!(
            splice(&twice, "x", "R")
                .unwrap_err()
                .to_string()
                .contains("found 2 and 1")
        );
        let reversed = format!("{END}\n{BEGIN}\n");
        assert!(
            splice(&reversed, "x", "R")
                .unwrap_err()
                .to_string()
                .contains("comes before")
        );
    }

    #[test]
    fn first_difference_names_the_line() {
        let d = first_difference(Path::new("f.md"), b"a\nb\nc\n", b"a\nB\nc\n").unwrap();
        assert!(
            d.starts_with("f.md line 2 differs") && d.contains("on disk: b"),
            "{d}"
        );
        assert!(first_difference(Path::new("f"), b"x", b"x").is_none());
        let d = first_difference(Path::new("f"), b"a\n", b"a\nb\n").unwrap();
        assert!(d.contains("(end of file)"), "{d}");
    }
}
