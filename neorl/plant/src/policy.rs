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

    /// Whether the action depends on the current observation alone: no
    /// per-episode state, no randomness, `reset` does nothing. Such a policy
    /// can serve many episodes at once, so evaluation steps them in lockstep
    /// and asks for their actions with [`Policy::act_many`]. `false` unless a
    /// policy says otherwise (a trained agent's network does).
    fn is_stateless(&self) -> bool {
        false
    }

    /// Actions for `n` observations (`obs`: `n × obs_dim`, `actions`:
    /// `n × act_dim`, row-major). By default one [`Policy::act`] per row;
    /// stateless policies override it with a batched computation.
    fn act_many(&mut self, n: usize, obs: &[f32], actions: &mut [f32]) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        if !obs.len().is_multiple_of(n) || !actions.len().is_multiple_of(n) {
            return Err(crate::error::Error::InvalidArgument(format!(
                "act_many: {} observation values and {} action values do not split into {n} rows",
                obs.len(),
                actions.len()
            )));
        }
        let (od, ad) = (obs.len() / n, actions.len() / n);
        for (o, a) in obs.chunks_exact(od).zip(actions.chunks_exact_mut(ad)) {
            self.act(o, a)?;
        }
        Ok(())
    }
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

/// A policy's name without the parenthesised details some names carry
/// (`"expert (PI cascade)"` → `"expert"`), for titles and legends.
pub fn short_name(policy: &str) -> &str {
    policy.split(" (").next().unwrap_or(policy).trim()
}
