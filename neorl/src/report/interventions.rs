//! Shield interventions over time: one supervised episode's constraint
//! signals with their limits, each action as proposed and as applied, and a
//! strip marking every step the shield intervened (by kind) and every
//! emergency-stop trip. Plus the episode's summary table.

use super::trajectory::{registered_spec, short_name};
use crate::error::{Error, Result};
use crate::eval::ShieldedTrajectory;
use crate::safety::InterventionKind;
use crate::viz::Figure;
use crate::viz::panels::{Panel, Series, Values, stacked, step_times, time_unit};
use plotly::common::DashType;

/// Colour of each intervention kind on the event strip.
fn kind_color(k: InterventionKind) -> &'static str {
    match k {
        InterventionKind::RateLimited => "#9edae5",
        InterventionKind::Projected => "#1f77b4",
        InterventionKind::Expert => "#2ca02c",
        InterventionKind::Hold => "#8c564b",
        InterventionKind::SafeAction => "#ff7f0e",
        InterventionKind::Emergency => "#d62728",
    }
}

const TRIP: &str = "estop trip";

/// The figure of one supervised episode ([`ShieldedTrajectory`], from
/// [`crate::eval::record_shielded_episode`]). `ShieldedTrajectory` belongs to
/// the plant crate, which draws no figures, so its plot is this trait's
/// method; the trait is in `neorl::prelude`.
pub trait InterventionPlots {
    /// The figure: constraint signals with limits, actions proposed (grey,
    /// dotted) and applied (blue), and a strip with a marker at every
    /// intervention (one row per kind) and every emergency-stop trip.
    fn plot_interventions(&self) -> Result<Figure>;
}

impl InterventionPlots for ShieldedTrajectory {
    fn plot_interventions(&self) -> Result<Figure> {
        let tr = &self.trajectory;
        let spec = registered_spec(&tr.env)?;
        let n = self.len();
        if tr
            .constraint_values
            .iter()
            .any(|c| c.len() != spec.n_constraints())
            || self.proposed.iter().any(|a| a.len() != spec.act_dim())
        {
            return Err(Error::InvalidArgument(format!(
                "the record does not match {} (its constraints or actions differ)",
                spec.id
            )));
        }
        let t = step_times(&spec, n);
        let mut panels = vec![];
        for (k, c) in spec.constraints.iter().enumerate() {
            let mut p = Panel::new(format!("{} [{}]", c.name, c.unit));
            let y = tr.constraint_values.iter().map(|v| v[k]).collect();
            let mut s = Series::line("signal", t.clone(), y, "#1f77b4");
            s.show_legend = k == 0;
            s.legend_group = Some("signal".into());
            p.series.push(s);
            p.limit(c);
            panels.push(p);
        }
        for (j, d) in spec.actions.iter().enumerate() {
            let mut p = Panel::new(format!("{} [{}]", d.name, d.unit));
            let mut proposed = Series::line(
                "proposed",
                t.clone(),
                self.proposed.iter().map(|a| a[j]).collect(),
                "#7f7f7f",
            );
            proposed.dash = Some(DashType::Dot);
            proposed.width = 1.0;
            proposed.show_legend = j == 0;
            proposed.legend_group = Some("proposed".into());
            let mut applied = Series::line(
                "applied",
                t.clone(),
                tr.actions.iter().map(|a| a[j]).collect(),
                "#1f77b4",
            );
            applied.show_legend = j == 0;
            applied.legend_group = Some("applied".into());
            p.series.push(proposed);
            p.series.push(applied);
            panels.push(p);
        }
        let mut strip = Panel::new("shield".into());
        let mut categories: Vec<String> = InterventionKind::ALL
            .iter()
            .map(|k| k.as_str().to_string())
            .collect();
        categories.push(TRIP.into());
        for kind in InterventionKind::ALL {
            let x: Vec<f64> = (0..n)
                .filter(|&i| self.interventions[i] == Some(kind))
                .map(|i| t[i])
                .collect();
            if x.is_empty() {
                continue;
            }
            let y = vec![kind.as_str().to_string(); x.len()];
            let mut s = Series::line(kind.as_str(), x, vec![], kind_color(kind));
            s.y = Values::Cat(y);
            s.markers = true;
            s.show_legend = true;
            strip.series.push(s);
        }
        let trips: Vec<f64> = (0..n).filter(|&i| self.trips[i]).map(|i| t[i]).collect();
        if !trips.is_empty() {
            let mut s = Series::line(TRIP, trips.clone(), vec![], "#000000");
            s.y = Values::Cat(vec![TRIP.to_string(); trips.len()]);
            s.markers = true;
            s.show_legend = true;
            strip.series.push(s);
        }
        strip.categories = Some(categories);
        panels.push(strip);
        let (_, unit) = time_unit(&spec);
        let x_end = t.last().copied().unwrap_or(0.0);
        let title = format!(
            "{}: {} through the {} — {} interventions in {} steps",
            spec.id,
            short_name(&tr.policy),
            if self.shielded {
                "shield"
            } else {
                "safety layer (no shield)"
            },
            self.n_interventions(),
            n
        );
        stacked(&title, &format!("time [{unit}]"), x_end, &panels)
    }
}
