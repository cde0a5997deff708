//! # neorl — industrial offline reinforcement learning
//!
//! Seven physics-based industrial processes with hard and soft safety
//! constraints and their plants' own controllers as experts, built for
//! asking whether an offline-RL policy trained on logged plant data could
//! run the process better than its PID loops — and safely.
//!
//! ```no_run
//! use neorl::prelude::*;
//! let mut env = neorl::make("ChemicalReactor-v0")?;
//! let obs = env.reset(0);
//! let spec = env.spec().clone();
//! let mut expert = make_policy(&spec, PolicyKind::Expert)?;
//! let report = rollout(&mut env, expert.as_mut(), 10, 0)?;
//! println!("{report:?}");
//! # Ok::<(), neorl::Error>(())
//! ```

pub mod agents;
pub mod bench;
pub mod control;
pub mod data;
pub mod env;
pub mod error;
pub mod eval;
pub mod policy;
pub mod progress;
pub mod quickstart;
pub mod safety;
pub mod track;
pub mod viz;

pub use env::{make, make_with};

/// Offline datasets (`neorl::datasets::load(id)`); the same module as [`data`].
pub use data as datasets;
pub use error::{Error, Result};

/// The polars crate neorl's frames are made with (feature `frames`), so a
/// notebook can use the whole DataFrame API without adding a second copy:
/// `use neorl::polars::prelude::*;`.
#[cfg(feature = "frames")]
pub use polars;

/// Everything a notebook needs in scope.
pub mod prelude {
    pub use crate::agents::{
        Agent, AgentPolicy, BatchSource, Bc, BcConfig, Buffer, Combo, ComboConfig, Cql, CqlConfig,
        Device, History, Iql, IqlConfig, Td3Bc, Td3BcConfig, TrainSummary,
    };
    pub use crate::control::{PolicyKind, make_policy};
    pub use crate::data::{Batch, Dataset, EpisodesTable, Quality, Summary};
    #[cfg(feature = "frames")]
    pub use crate::data::{Frame, FrameExt};
    pub use crate::env::{
        ConstraintKind, ConstraintSpec, Env, EnvOptions, EnvSpec, Model, Step, StepInfo, VecEnv,
        make, make_with,
    };
    pub use crate::error::{Error, Result};
    pub use crate::eval::{
        EvalOptions, EvalReport, RolloutReport, ShieldedReport, ShieldedTrajectory, Trajectory,
        evaluate, record_episode, record_shielded_episode, record_shielded_episode_with, rollout,
        shielded_rollout, shielded_rollout_with,
    };
    pub use crate::policy::{FnPolicy, Policy};
    pub use crate::safety::{
        AlarmLevel, AuditLog, OverrideSource, SafetyConfig, Shield, ShieldConfig, Supervisor,
    };
    pub use crate::viz::{
        Figure, Html, JsMode, PlotlyJs, ResultsTable, RunSeries, Table, compare_learning_curves,
        compare_trajectories, init_notebook, results_table, runs_figure, set_plotly_js,
        trajectory_figure,
    };
}
