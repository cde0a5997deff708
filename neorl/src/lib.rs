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
pub mod data;
pub mod eval;
pub mod experiments;
pub mod progress;
pub mod quickstart;
pub mod report;
pub mod stats;
pub mod sweep;
pub mod track;
pub mod viz;

// The plant side lives in its own crate (`neorl-plant`, no learning or data
// stack); its modules keep their paths here.
pub use neorl_plant::{control, env, error, inference, limits, paths, policy, safety};

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
        Device, History, Iql, IqlConfig, Td3Bc, Td3BcConfig, Threads, TrainSummary,
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
    pub use crate::report::{
        InterventionPlots, LearningCurve, ResultsTable, RunSeries, TrajectoryPlots,
        compare_learning_curves, compare_trajectories, results_table, runs_figure,
        trajectory_figure,
    };
    pub use crate::safety::{
        AlarmLevel, AuditLog, OverrideSource, SafetyConfig, Shield, ShieldConfig, Supervisor,
    };
    /// Every `Debug` value shows as a cell's result in one build (see the trait).
    pub use crate::viz::display::DebugDisplay;
    pub use crate::viz::{Figure, Html, JsMode, PlotlyJs, Table, init_notebook, set_plotly_js};
}
