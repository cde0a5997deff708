//! The uniform random policy: every action component independently uniform
//! over its bounds. This is D4RL's "random" reference policy.

use crate::env::EnvSpec;
use crate::env::math::uniform_in;
use crate::env::model::EnvRng;
use crate::error::Result;
use crate::policy::Policy;
use rand::SeedableRng;

/// Uniform over the action box, seeded per episode.
#[derive(Debug, Clone)]
pub struct RandomPolicy {
    low: Vec<f64>,
    high: Vec<f64>,
    rng: EnvRng,
}

impl RandomPolicy {
    pub fn new(spec: &EnvSpec) -> Self {
        RandomPolicy {
            low: spec.action_low(),
            high: spec.action_high(),
            rng: EnvRng::seed_from_u64(0),
        }
    }
}

impl Policy for RandomPolicy {
    fn name(&self) -> String {
        "random (uniform over the action bounds)".into()
    }
    fn reset(&mut self, seed: u64) {
        self.rng = EnvRng::seed_from_u64(seed ^ super::POLICY_SEED_SALT);
    }
    fn act(&mut self, _obs: &[f32], action: &mut [f32]) -> Result<()> {
        for ((a, &lo), &hi) in action.iter_mut().zip(&self.low).zip(&self.high) {
            *a = uniform_in(&mut self.rng, lo, hi) as f32;
        }
        Ok(())
    }
}
