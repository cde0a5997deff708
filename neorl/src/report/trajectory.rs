//! Trajectory figure: every constraint signal with its limit drawn, and every
//! action (optionally every observation first), one stacked panel each, for
//! one or more episodes.

use crate::env::{EnvOptions, EnvSpec};
use crate::error::{Error, Result};
use crate::eval::Trajectory;
use crate::viz::Figure;
use crate::viz::panels::{COLORS, Panel, Series, stacked, step_times, time_unit};

/// The environment spec of a registered environment id.
pub(crate) fn registered_spec(env_id: &str) -> Result<EnvSpec> {
    Ok(crate::env::model(env_id, EnvOptions::default())?
        .spec()
        .clone())
}

/// Figures of a recorded episode ([`Trajectory`], from
/// [`crate::eval::record_episode`]). `Trajectory` belongs to the plant crate,
/// which draws no figures, so its plots are this trait's methods; the trait
/// is in `neorl::prelude`.
pub trait TrajectoryPlots {
    /// This trajectory's figure (its environment must be registered): see
    /// [`trajectory_figure`] to compare several in one figure.
    fn plot(&self) -> Result<Figure>;

    /// [`TrajectoryPlots::plot`] with a panel per observation on top.
    fn plot_with_observations(&self) -> Result<Figure>;
}

impl TrajectoryPlots for Trajectory {
    fn plot(&self) -> Result<Figure> {
        let spec = registered_spec(&self.env)?;
        trajectory_figure(&spec, &[self])
    }

    fn plot_with_observations(&self) -> Result<Figure> {
        let spec = registered_spec(&self.env)?;
        trajectory_figure_with(&spec, &[self], true)
    }
}

/// Stacked panels over time (hours or steps): one per constraint signal with
/// its limit as a red (hard) or orange (soft) dashed line, then one per
/// action. Each trajectory gets its own colour.
pub fn trajectory_figure(spec: &EnvSpec, trajectories: &[&Trajectory]) -> Result<Figure> {
    trajectory_figure_with(spec, trajectories, false)
}

/// [`trajectory_figure`], with one panel per observation (the measured
/// state, in its unit) above the constraint panels when `observations`.
pub fn trajectory_figure_with(
    spec: &EnvSpec,
    trajectories: &[&Trajectory],
    observations: bool,
) -> Result<Figure> {
    let nc = spec.n_constraints();
    let no = if observations { spec.obs_dim() } else { 0 };
    for tr in trajectories {
        if tr.actions.iter().any(|a| a.len() != spec.act_dim())
            || tr.constraint_values.iter().any(|c| c.len() != nc)
            || tr.observations.iter().any(|o| o.len() != spec.obs_dim())
        {
            return Err(Error::InvalidArgument(format!(
                "trajectory of '{}' does not match {} ({} observations, {} actions, {nc} constraints); plot it with its own environment's spec",
                tr.env,
                spec.id,
                spec.obs_dim(),
                spec.act_dim()
            )));
        }
    }
    let mut panels: Vec<Panel> = spec.observations[..no]
        .iter()
        .map(|d| Panel::new(format!("{} [{}]", d.name, d.unit)))
        .chain(spec.constraints.iter().map(|c| {
            let mut p = Panel::new(format!("{} [{}]", c.name, c.unit));
            p.limit(c);
            p
        }))
        .chain(
            spec.actions
                .iter()
                .map(|d| Panel::new(format!("{} [{}]", d.name, d.unit))),
        )
        .collect();
    for (ti, tr) in trajectories.iter().enumerate() {
        let color = COLORS[ti % COLORS.len()];
        let who = short_name(&tr.policy);
        let t = step_times(spec, tr.rewards.len());
        let columns = tr
            .constraint_values
            .iter()
            .map(|v| v.as_slice())
            .collect::<Vec<_>>();
        let actions = tr.actions.iter().map(|v| v.as_slice()).collect::<Vec<_>>();
        // The observation after each step (the reset observation is not plotted).
        let obs: Vec<Vec<f64>> = tr
            .observations
            .iter()
            .skip(1)
            .map(|o| o.iter().map(|&x| x as f64).collect())
            .collect();
        let obs = obs.iter().map(|v| v.as_slice()).collect::<Vec<_>>();
        for (k, panel) in panels.iter_mut().enumerate() {
            let (rows, j, width) = if k < no {
                (&obs, k, 1.5)
            } else if k < no + nc {
                (&columns, k - no, 1.5)
            } else {
                (&actions, k - no - nc, 1.0)
            };
            let mut s = Series::line(who, t.clone(), rows.iter().map(|r| r[j]).collect(), color);
            s.width = width;
            s.show_legend = k == 0;
            s.legend_group = Some(who.to_string());
            panel.series.push(s);
        }
    }
    let (scale, unit) = time_unit(spec);
    let t_end = trajectories
        .iter()
        .map(|tr| tr.rewards.len())
        .max()
        .unwrap_or(spec.horizon) as f64
        * spec.dt
        / scale;
    let title = format!(
        "{}: {}",
        spec.id,
        trajectories
            .iter()
            .map(|t| short_name(&t.policy))
            .collect::<Vec<_>>()
            .join(" vs ")
    );
    stacked(&title, &format!("time [{unit}]"), t_end, &panels)
}

/// The policy's name up to its parenthesised details (`"expert (PI cascade …)"` → `"expert"`).
pub(crate) use crate::policy::short_name;
