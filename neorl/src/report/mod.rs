//! Reports: how neorl's domain objects show themselves — dataset cards and
//! plots, trajectories against their limits, shield interventions,
//! learning curves, evaluation reports, score and results tables.
//!
//! This layer sits above everything it draws (data, agents, eval,
//! experiments) and draws with the building blocks of [`crate::viz`]
//! (figures) and the plant crate's `display` (tables, HTML). The plant's
//! own types (environment specs, rollout reports) render their tables in the
//! plant crate; their figures are here, as methods of the extension traits
//! [`TrajectoryPlots`] and [`InterventionPlots`] (in `neorl::prelude`).
//!
//! ## In a notebook
//!
//! Make any of these the value of a cell (last expression, no `;`) and it
//! shows as a table or a figure ([`crate::viz::display`] explains how). All are
//! non-generic and compiled with neorl, so such a cell compiles quickly.
//!
//! | call | shows |
//! |---|---|
//! | `env.spec()` (an [`crate::env::EnvSpec`]) | description, observations, actions and constraints with units and limits |
//! | `data` (a [`crate::data::Dataset`]) | the dataset card: id, env, quality, size, return/cost statistics, provenance, sha256 |
//! | `data.summary()` | count, mean, std, quartiles per column |
//! | `data.episodes_table()` | one row per episode (first and last when long) |
//! | `data.to_polars()?.show()` / `Frame::from(df)` | a polars DataFrame as an HTML table (head/tail, dtypes) |
//! | `data.plot_returns()` | histograms of episode returns (reference lines) and costs |
//! | `data.plot_episode(i)?` (`plot_episode_with_observations`) | episode `i`: constraint signals with limits, actions (and observations) |
//! | `record_episode(&mut env, policy, seed)?.plot()?` / [`compare_trajectories`] | rollouts against time with limits |
//! | `evaluate(…)?` ([`crate::eval::EvalReport`]) | normalized score, return, cost, violations, interventions |
//! | `rollout(…)?` ([`crate::eval::RolloutReport`]), `shielded_rollout_with(…)?` ([`crate::eval::ShieldedReport`]) | evaluation reports with per-episode tables |
//! | `score_table(…)?` ([`crate::experiments::scores::ScoreTable`]) | envs × algorithms, last and best score beside the behaviour policy; `.figure()` |
//! | `agent.train(&data, n)?` ([`crate::agents::TrainSummary`]) | updates, time, final metrics |
//! | `agent.learning_curve()`, `agent.history()` | every training metric against the step; a table of the metrics |
//! | [`compare_learning_curves`]`("q_loss", &[("iql", a.history()), …])`, [`runs_figure`] | one metric across runs (agents, MLflow runs) |
//! | `record_shielded_episode_with(&mut env, policy, SafetyConfig::default(), seed)?` ([`crate::eval::ShieldedTrajectory`]) | what the safety layer did in one episode; `.plot_interventions()?`: signals with limits, proposed vs applied actions, interventions by kind and e-stop trips over time |
//! | [`results_table`]`("normalized score", &[(env, algo, value), …])` ([`ResultsTable`]) | envs × algorithms, mean ± std, best in bold, average row; `.plot()` grouped bars; `.to_markdown()` |
//! | [`crate::viz::init_notebook`]`()` | embeds plotly.js once, explicitly |
//!
//! Figures embed plotly.js once per kernel session (see
//! [`crate::viz::PlotlyJs`], [`crate::viz::set_plotly_js`],
//! [`crate::viz::init_notebook`]). Outside notebooks every one of
//! these types implements `Display` (text tables) and `to_html()`.

mod cards;
mod dataset_plots;
mod evaluation;
mod interventions;
mod learning_curve;
pub mod paper;
mod results;
mod scores;
#[cfg(test)]
mod tests;
mod trajectory;

pub use dataset_plots::compare_trajectories;
pub use interventions::InterventionPlots;
pub use learning_curve::{
    LearningCurve, MAX_POINTS, RunSeries, compare_learning_curves, learning_curve_figure,
    runs_figure,
};
pub use results::{ResultRow, ResultsTable, results_table};
pub use trajectory::{TrajectoryPlots, trajectory_figure, trajectory_figure_with};
