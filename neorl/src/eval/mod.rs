//! Evaluation: rollouts of any [`crate::policy::Policy`] in an environment,
//! episode statistics, normalized scores and the reference returns,
//! rollouts through the safety layer ([`shielded`]), and the one entry point
//! for notebooks and the CLI ([`evaluate()`] → [`EvalReport`]).
//!
//! It only evaluates a policy it is given: training agents and aggregating
//! over seeds (score tables) is [`crate::experiments`], and how a report
//! shows itself is [`crate::report`].

pub mod evaluate;

// Rollouts (plain and through the safety layer) and the reference returns
// live in the plant crate; their modules keep their paths here.
pub use neorl_plant::rollout::{plain as rollout, reference, shielded, shielded_record};

pub use evaluate::{EvalOptions, EvalReport, evaluate};
pub use rollout::{
    EpisodeStats, MAX_EPISODES, RolloutReport, Trajectory, record_episode, rollout,
    rollout_observed,
};
pub use shielded::{
    ShieldedReport, shielded_rollout, shielded_rollout_observed, shielded_rollout_with,
    shielded_rollout_with_observed,
};
pub use shielded_record::{
    ShieldedTrajectory, record_shielded_episode, record_shielded_episode_with,
};

/// Former path of [`crate::experiments::scores`] (architecture v2), kept so
/// code written against it still builds; a name only, nothing here uses it.
#[doc(hidden)]
pub use crate::experiments::scores;
