//! Evaluation: rollouts of any [`crate::policy::Policy`] in an environment,
//! episode statistics, normalized scores and the reference returns,
//! rollouts through the safety layer ([`shielded`]), the one entry point
//! for notebooks and the CLI ([`evaluate()`] → [`EvalReport`]) and
//! reproducible score tables ([`scores`]).

pub mod evaluate;
pub mod reference;
pub mod rollout;
pub mod scores;
pub mod shielded;
pub mod shielded_record;

pub use evaluate::{EvalOptions, EvalReport, evaluate};
pub use rollout::{EpisodeStats, RolloutReport, Trajectory, record_episode, rollout};
pub use shielded::{ShieldedReport, shielded_rollout, shielded_rollout_with};
pub use shielded_record::{
    ShieldedTrajectory, record_shielded_episode, record_shielded_episode_with,
};
