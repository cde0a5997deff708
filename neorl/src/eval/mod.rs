//! Evaluation: rollouts of any [`crate::policy::Policy`] in an environment,
//! episode statistics, normalized scores and the reference returns.

pub mod reference;
pub mod rollout;

pub use rollout::{EpisodeStats, RolloutReport, Trajectory, record_episode, rollout};
