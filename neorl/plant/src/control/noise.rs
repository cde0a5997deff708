//! Actuator noise for behaviour policies: the "medium" controllers are the
//! expert's structure with detuned gains *and* Gaussian noise on the
//! actuator commands, as a poorly maintained valve or an operator's manual
//! moves would add. Noise is `N(0, (sigma_frac · range)²)` per component,
//! clipped to the bounds, from the policy's own seeded RNG.

use crate::env::EnvSpec;
use crate::env::math::normal;
use crate::env::model::EnvRng;
use crate::error::Result;
use crate::policy::Policy;
use rand::SeedableRng;

/// Wraps a policy and adds clipped Gaussian noise to its actions.
#[derive(Debug)]
pub struct WithActionNoise {
    inner: Box<dyn Policy>,
    sigma_frac: f64,
    low: Vec<f64>,
    high: Vec<f64>,
    rng: EnvRng,
}

impl WithActionNoise {
    /// `sigma_frac` is the noise standard deviation as a fraction of each
    /// action's range (`high - low`).
    pub fn new(inner: Box<dyn Policy>, spec: &EnvSpec, sigma_frac: f64) -> Self {
        WithActionNoise {
            inner,
            sigma_frac,
            low: spec.action_low(),
            high: spec.action_high(),
            rng: EnvRng::seed_from_u64(0),
        }
    }
}

impl Policy for WithActionNoise {
    fn name(&self) -> String {
        format!(
            "{} + {:.0}% actuator noise",
            self.inner.name(),
            self.sigma_frac * 100.0
        )
    }
    fn reset(&mut self, seed: u64) {
        self.inner.reset(seed);
        self.rng = EnvRng::seed_from_u64(seed ^ super::POLICY_SEED_SALT ^ 0xA5A5);
    }
    fn act(&mut self, obs: &[f32], action: &mut [f32]) -> Result<()> {
        self.inner.act(obs, action)?;
        for ((a, &lo), &hi) in action.iter_mut().zip(&self.low).zip(&self.high) {
            let noisy = *a as f64 + self.sigma_frac * (hi - lo) * normal(&mut self.rng);
            *a = noisy.clamp(lo, hi) as f32;
        }
        Ok(())
    }
}
