//! Rollouts: a [`crate::policy::Policy`] driving an environment for whole
//! episodes, plainly ([`plain`]) or through the safety layer ([`shielded`],
//! [`shielded_record`]), with per-episode statistics, D4RL normalized
//! scores and the reference returns those scores are measured against
//! ([`reference`]).
//!
//! This is the plant-side half of evaluation: it needs no learning stack,
//! so a deployment tool or a controller study can use it alone. The `neorl`
//! crate's `eval` module re-exports it and adds the evaluation of trained
//! agents.

pub mod plain;
pub mod reference;
pub mod shielded;
pub mod shielded_record;

pub use plain::{
    EpisodeStats, MAX_EPISODES, RolloutReport, Trajectory, check_episodes, record_episode, rollout,
    rollout_observed,
};
pub use shielded::{
    ShieldedReport, shielded_rollout, shielded_rollout_observed, shielded_rollout_with,
    shielded_rollout_with_observed,
};
pub use shielded_record::{
    ShieldedTrajectory, record_shielded_episode, record_shielded_episode_with,
};
