//! How a [`ScoreTable`] shows itself: Markdown (the CLI, `scores.md`,
//! `Display`), HTML (notebooks, `scores.html`), a grouped bar chart of the
//! normalized scores, and the files `neorl scores` writes.

use crate::error::{Error, Result};
use crate::experiments::scores::{BestRule, ScoreRow, ScoreTable};
use crate::viz::escape_html as html_escape;
use crate::viz::{Figure, JsMode};
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

/// `mean ± std`, or what went wrong.
fn cell(mean: f64, std: f64, row: &ScoreRow) -> String {
    if row.seeds == 0 {
        "failed".into()
    } else if mean.is_nan() {
        // No best: `selection_episodes = 0`.
        "—".into()
    } else {
        format!("{mean:.1} ± {std:.1}")
    }
}

impl ScoreTable {
    /// The table's rows as text cells: env, algo, last, best, behaviour, seeds.
    fn cells(&self) -> Vec<[String; 6]> {
        self.rows
            .iter()
            .map(|r| {
                let mut seeds = r.seeds.to_string();
                if !r.failed.is_empty() {
                    let f: Vec<String> = r.failed.iter().map(|s| s.to_string()).collect();
                    seeds.push_str(&format!(" (failed: {})", f.join(", ")));
                }
                [
                    r.env.clone(),
                    r.algo.clone(),
                    cell(r.last_mean, r.last_std, r),
                    cell(r.best_mean, r.best_std, r),
                    format!("{:.1}", r.behaviour_score),
                    seeds,
                ]
            })
            .collect()
    }

    const HEADERS: [&'static str; 6] = ["env", "algo", "last", "best", "behaviour", "seeds"];

    /// What was run, in one paragraph.
    fn protocol(&self) -> String {
        let c = &self.config;
        let settings = if c.settings.is_empty() {
            "none".to_string()
        } else {
            c.settings
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let hidden = c.hidden.as_ref().map_or("each paper's".to_string(), |h| {
            h.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join("×")
        });
        format!(
            "D4RL normalized score (random = 0, expert = 100), mean ± std over seeds 0–{}; {} gradient steps, evaluated every {} steps on {} episodes (seeds {}–{}, no shield); last = final evaluation, {}. Datasets: the registry's {}-quality data{}; behaviour = normalized mean return of the dataset's complete episodes. Networks: {hidden}; settings over the papers' defaults: {settings}; device {}; {:.0} s in all; neorl {}.",
            c.seeds - 1,
            c.steps,
            c.eval_every,
            c.episodes,
            c.eval_seed,
            c.eval_seed.wrapping_add(c.episodes as u64 - 1),
            match c.selection_episodes.unwrap_or(c.episodes) {
                _ if self
                    .runs
                    .iter()
                    .any(|r| r.best_rule == BestRule::SameEpisodes) =>
                    "best = best evaluation (selected on the reported episodes: optimistic)"
                        .to_string(),
                0 => "no best (no selection episodes)".to_string(),
                n => format!(
                    "best = the reported score of the evaluation with the best score on {n} separate selection episodes (seeds from {})",
                    c.eval_seed
                        .wrapping_add(crate::experiments::scores::SELECTION_SEED_OFFSET)
                ),
            },
            c.quality.as_str(),
            c.dataset_size
                .map_or(String::new(), |n| format!(" at {n} transitions")),
            c.device,
            self.seconds,
            self.neorl_version
        )
    }

    /// The table as Markdown (with the protocol and the datasets).
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "| {} |", Self::HEADERS.join(" | "));
        s.push_str("|---|---|---:|---:|---:|---|\n");
        for c in self.cells() {
            let _ = writeln!(s, "| {} |", c.join(" | "));
        }
        let _ = writeln!(s, "\n{}\n", self.protocol());
        s.push_str("| dataset | transitions | episodes | behaviour score | SHA-256 |\n|---|---:|---:|---:|---|\n");
        for d in &self.datasets {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.1} | `{}` |",
                d.dataset, d.transitions, d.episodes, d.behaviour_score, d.sha256
            );
        }
        s
    }

    /// An HTML table (for notebooks and reports).
    pub fn to_html(&self) -> String {
        let mut s = String::from(
            "<table class=\"neorl-scores\" style=\"font-family:monospace;border-collapse:collapse\">\n<thead><tr>",
        );
        for h in Self::HEADERS {
            s.push_str(&format!("<th style=\"padding:0 0.6em\">{h}</th>"));
        }
        s.push_str("</tr></thead>\n<tbody>\n");
        for c in self.cells() {
            s.push_str("<tr>");
            for (i, v) in c.iter().enumerate() {
                let align = if (2..5).contains(&i) { "right" } else { "left" };
                s.push_str(&format!(
                    "<td style=\"text-align:{align};padding:0 0.6em\">{}</td>",
                    html_escape(v)
                ));
            }
            s.push_str("</tr>\n");
        }
        s.push_str(&format!(
            "</tbody></table>\n<p style=\"font-size:smaller\">{}</p>\n",
            html_escape(&self.protocol())
        ));
        s
    }

    /// Rich display in evcxr notebooks.
    pub fn evcxr_display(&self) {
        println!(
            "EVCXR_BEGIN_CONTENT text/html\n{}\nEVCXR_END_CONTENT",
            self.to_html()
        );
    }

    /// Grouped bars: one group per environment, one bar per algorithm (last
    /// evaluation, mean with the std as error bar), the behaviour score as a
    /// black line across each group.
    pub fn figure(&self) -> Figure {
        let envs: Vec<&str> = self.datasets.iter().map(|d| d.env.as_str()).collect();
        let mut data = vec![];
        let mut algos: Vec<&str> = vec![];
        for r in &self.rows {
            if !algos.contains(&r.algo.as_str()) {
                algos.push(&r.algo);
            }
        }
        for algo in algos {
            let row = |env: &str| self.rows.iter().find(|r| r.env == env && r.algo == algo);
            let y: Vec<Option<f64>> = envs
                .iter()
                .map(|e| row(e).filter(|r| r.seeds > 0).map(|r| r.last_mean))
                .collect();
            let err: Vec<Option<f64>> = envs
                .iter()
                .map(|e| row(e).filter(|r| r.seeds > 0).map(|r| r.last_std))
                .collect();
            data.push(
                serde_json::json!({"type": "bar", "name": algo, "x": envs, "y": y,
                "error_y": {"type": "data", "array": err, "visible": true}}),
            );
        }
        let behaviour: Vec<f64> = self.datasets.iter().map(|d| d.behaviour_score).collect();
        data.push(serde_json::json!({"type": "scatter", "mode": "markers", "name": "behaviour (dataset)",
            "x": envs, "y": behaviour, "marker": {"symbol": "line-ew-open", "size": 40, "color": "black", "line": {"width": 3}}}));
        Figure {
            json: serde_json::json!({"data": data, "layout": {
                "title": {"text": format!("normalized score after {} steps ({} seeds, mean ± std)", self.config.steps, self.config.seeds)},
                "barmode": "group",
                "yaxis": {"title": {"text": "normalized score"}},
                "margin": {"l": 70, "r": 20, "t": 50, "b": 80},
            }}),
            height: 480,
        }
    }

    /// Write `scores.md`, `scores.json` and `scores.html` (the figure, with
    /// plotly.js next to it) into `dir`; returns their paths.
    pub fn write(&self, dir: impl AsRef<Path>) -> Result<Vec<PathBuf>> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let md = dir.join("scores.md");
        let text = format!("# neorl score table\n\n{}", self.to_markdown());
        std::fs::write(&md, text).map_err(|e| Error::io(&md, e))?;
        let js = dir.join("scores.json");
        let json = serde_json::to_string_pretty(self).map_err(|source| Error::Json {
            context: "score table".into(),
            source,
        })?;
        std::fs::write(&js, json).map_err(|e| Error::io(&js, e))?;
        let html = dir.join("scores.html");
        self.figure()
            .write_html(&html, "neorl score table", JsMode::Sibling)?;
        Ok(vec![md, js, html])
    }
}

impl fmt::Display for ScoreTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_markdown())
    }
}
