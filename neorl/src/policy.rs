//! The [`Policy`] trait: anything that turns an observation into an action —
//! a plant controller, a trained agent, a user's closure. Evaluation and the
//! safety shield only ever see this trait.

use crate::error::Result;
use std::fmt::Debug;

/// A (possibly stateful) mapping from observations to actions.
pub trait Policy: Send + Debug {
    /// A short human-readable name (`"expert (PI cascade)"`, `"td3bc"`...).
    fn name(&self) -> String;

    /// Called at the start of every episode. Stateful controllers clear
    /// their integrators here; stochastic ones reseed their RNG from `seed`.
    fn reset(&mut self, seed: u64) {
        let _ = seed;
    }

    /// Write the action for `obs` into `action` (`len == act_dim`).
    fn act(&mut self, obs: &[f32], action: &mut [f32]) -> Result<()>;
}

/// A policy from a closure, for notebooks: `FnPolicy::new("hold", |obs, act| { act[0] = 0.5; })`.
pub struct FnPolicy<F> {
    name: String,
    f: F,
}

impl<F: FnMut(&[f32], &mut [f32]) + Send> FnPolicy<F> {
    pub fn new(name: impl Into<String>, f: F) -> Self {
        FnPolicy {
            name: name.into(),
            f,
        }
    }
}

impl<F> Debug for FnPolicy<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnPolicy")
            .field("name", &self.name)
            .finish()
    }
}

impl<F: FnMut(&[f32], &mut [f32]) + Send> Policy for FnPolicy<F> {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn act(&mut self, obs: &[f32], action: &mut [f32]) -> Result<()> {
        (self.f)(obs, action);
        Ok(())
    }
}
