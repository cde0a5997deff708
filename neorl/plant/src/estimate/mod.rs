//! State estimation: the plant's internal state from its observations, for
//! the safety shield's look-ahead.
//!
//! The shield ([`crate::safety::Shield::decide`]) simulates the nominal
//! model forward from the plant's internal state. In the simulator that
//! state is [`crate::env::Env::state`]; a policy server at a plant gets
//! only what the sensors send. A [`StateEstimator`] turns the stream of
//! observations, and the actions applied between them, into the state the
//! shield needs:
//!
//! ```
//! use neorl_plant::estimate::estimator;
//! # fn main() -> neorl_plant::Result<()> {
//! let mut env = neorl_plant::make("ChemicalReactor-v0")?;
//! let mut est = estimator("ChemicalReactor-v0")?;
//! let mut state = vec![0.0; env.state().len()];
//! let obs = env.reset(0);
//! est.update(&obs, None, &mut state)?;          // first observation of a run
//! let action = [0.5f32];
//! env.step(&action)?;
//! est.update(env.observation(), Some(&action), &mut state)?;
//! for s in est.describe() {
//!     println!("{:>2} {:<24} {}", s.index, s.name, s.method);
//! }
//! # Ok(()) }
//! ```
//!
//! Every process uses the same estimator ([`observer`]): the nominal
//! model's prediction from the previous estimate and the applied action,
//! corrected by a Gauss–Newton step to the observation, through the
//! process's own `observe` function — so a scaled or normalised
//! observation is inverted exactly, a state observed only in a sum (a
//! pipeline, a moving average) is moved by the smallest change that
//! reproduces it, and a state no sensor sees is the nominal model's
//! prediction. [`layouts`] says, per process, which components are clocks
//! or catalogue indices and therefore advanced but not corrected.
//! [`StateEstimator::describe`] lists, for every state component, whether
//! it is measured (from which observation and at what scale), inferred or
//! predicted; the server shows that on its status page.
//!
//! ## What is not measured, per process
//!
//! | process | state | measured | inferred | predicted only (not observed) |
//! |---|---|---|---|---|
//! TABLE-SOURCES
//!
//! ## The shield's guarantee under the estimator
//!
//! TABLE-GUARANTEE

pub mod layouts;
pub mod observer;

use crate::error::{Error, Result};

pub use observer::{Layout, ModelObserver};

/// Where the estimate of one state component comes from.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// Observation `obs` is `scale ×` this component (plus noise): the
    /// estimate is the measurement.
    Measured { obs: usize, scale: f64 },
    /// Only combinations of components are observed (these observation
    /// indices): the prediction moved by the smallest change that
    /// reproduces them.
    Inferred { obs: Vec<usize> },
    /// No observation depends on it, but the next one does through the
    /// dynamics: the prediction, corrected by `gain` × the one-step
    /// least-squares change ([`observer`]).
    Hidden { gain: f64 },
    /// No observation depends on it (or it is a clock the correction
    /// leaves alone): the nominal model's prediction.
    Predicted,
}

/// One state component's source, for documentation and status pages.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StateSource {
    /// Index into the state vector (`Model::state_dim()` long).
    pub index: usize,
    /// Its name where the process names it, else `state[i]`.
    pub name: String,
    /// Measured, inferred or predicted.
    pub origin: Origin,
    /// How it is estimated, in words.
    pub method: String,
}

/// An estimator of one process's internal state from its observations.
pub trait StateEstimator: Send + std::fmt::Debug {
    /// The process (`EnvSpec::id`).
    fn env_id(&self) -> &str;
    /// Forget the history (a new plant run).
    fn reset(&mut self);
    /// Update with the latest observation and the action applied since the
    /// previous observation (`None` for the first observation of a run);
    /// write the estimate of the plant's internal state into `state`
    /// (`len = Model::state_dim()`). Wrong lengths, non-finite values or
    /// an action before the run's first observation are an [`Error`] and
    /// leave the estimate unchanged; an estimate that stops being finite
    /// is an [`Error`] that ends the run (call `reset`).
    fn update(&mut self, obs: &[f32], applied: Option<&[f32]>, state: &mut [f64]) -> Result<()>;
    /// What each state component is: measured (from which observation
    /// index and at what scale), inferred or predicted, and how.
    fn describe(&self) -> Vec<StateSource>;
}

/// The state estimator of process `env_id` (one of [`crate::env::ids`]).
pub fn estimator(env_id: &str) -> Result<Box<dyn StateEstimator>> {
    Ok(Box::new(ModelObserver::new(layouts::layout(env_id)?)?))
}

fn check_len(env: &str, what: &str, got: usize, expected: usize) -> Result<()> {
    if got != expected {
        return Err(Error::Shape {
            what: format!("{env} estimator: {what}"),
            expected,
            got,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
