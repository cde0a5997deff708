//! How an [`EvalReport`] shows itself: one line saying what was evaluated,
//! then the normalized score, return, cost, violations and — through the
//! safety layer — interventions, emergency stops and the audit log, as text
//! (`Display`, the CLI) and as an HTML table (notebooks).

use crate::eval::EvalReport;
use crate::eval::shielded::interventions_by_kind_text;
use crate::viz::escape_html as html_escape;
use std::fmt;

impl EvalReport {
    /// What was evaluated, in one line.
    fn heading(&self) -> String {
        let mode = if self.shielded {
            "through the safety shield"
        } else if self.audit.is_some() {
            "monitored (no shield)"
        } else {
            "no shield"
        };
        format!(
            "{} / {}: {} episodes from seed {}, {mode}",
            self.env, self.policy, self.episodes, self.seed
        )
    }

    /// The figures as (label, value) rows, shared by the text and HTML forms.
    fn rows(&self) -> Vec<(&'static str, String)> {
        let mut rows = vec![
            (
                "normalized score",
                format!(
                    "{:.1} ± {:.1}",
                    self.normalized_score, self.std_normalized_score
                ),
            ),
            (
                "return",
                format!("{:.3} ± {:.3}", self.mean_return, self.std_return),
            ),
            ("cost per episode", format!("{:.2}", self.mean_cost)),
            (
                "hard violations",
                format!("{} of {} episodes", self.hard_violations, self.episodes),
            ),
            ("episode length", format!("{:.1}", self.mean_length)),
        ];
        if self.shielded || self.audit.is_some() {
            let kinds = interventions_by_kind_text(&self.interventions_by_kind);
            rows.push((
                "interventions",
                format!(
                    "{} ({:.2}% of steps{}{})",
                    self.interventions,
                    100.0 * self.intervention_rate,
                    if kinds.is_empty() { "" } else { ": " },
                    kinds
                ),
            ));
            rows.push(("emergency stops", self.emergency_stops.to_string()));
            rows.push(("shutdowns", self.shutdowns.to_string()));
        }
        if let Some(a) = &self.audit {
            rows.push(("audit log", a.to_string()));
        }
        rows
    }

    /// An HTML table (for notebooks and reports).
    pub fn to_html(&self) -> String {
        let mut s = format!(
            "<table class=\"neorl-eval\" style=\"font-family:monospace;border-collapse:collapse\">\n<caption style=\"text-align:left;font-weight:bold\">{}</caption>\n<tbody>\n",
            html_escape(&self.heading())
        );
        for (k, v) in self.rows() {
            s.push_str(&format!(
                "<tr><td style=\"text-align:left;padding:0 1em 0 0\">{k}</td><td style=\"text-align:right\">{}</td></tr>\n",
                html_escape(&v)
            ));
        }
        s.push_str("</tbody></table>\n");
        s
    }

    /// Rich display in evcxr notebooks (called by the kernel when a cell's
    /// value is an `EvalReport`).
    pub fn evcxr_display(&self) {
        println!(
            "EVCXR_BEGIN_CONTENT text/html\n{}\nEVCXR_END_CONTENT",
            self.to_html()
        );
    }
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.heading())?;
        for (k, v) in self.rows() {
            writeln!(f, "  {k:<17} {v}")?;
        }
        Ok(())
    }
}
