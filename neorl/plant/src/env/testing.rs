//! A toy model for testing the generic machinery (not registered): a
//! gravity-drained tank, `A dh/dt = q_in − k√h`.

use super::math::{gaussian, rk4};
use super::model::{EnvOptions, EnvRng, Model, Transition};
use super::spec::{ConstraintSpec, Dim, EnvSpec};

#[derive(Debug)]
pub struct Tank {
    spec: EnvSpec,
    options: EnvOptions,
}

pub const AREA: f64 = 1.0;
pub const K_OUT: f64 = 1.0;

impl Tank {
    pub fn new(options: EnvOptions) -> Self {
        Tank {
            options,
            spec: EnvSpec {
                id: "Tank-test".into(),
                description: "toy tank".into(),
                sources: vec![],
                observations: vec![Dim::new("level", "m", 0.0, 3.0)],
                actions: vec![Dim::new("q_in", "m3/s", 0.0, 2.0)],
                dt: 1.0,
                horizon: 50,
                constraints: vec![
                    ConstraintSpec::hard_max("level_max", 2.0, "m", "overflow"),
                    ConstraintSpec::soft_min("level_min", 0.5, "m", "pump suction"),
                ],
                reward_range: (-4.0, 0.0),
                ref_random_return: -20.0,
                ref_expert_return: -1.0,
                breach: super::spec::BreachPenalty::RemainingHorizon,
            },
        }
    }
}

impl Model for Tank {
    fn spec(&self) -> &EnvSpec {
        &self.spec
    }
    fn state_dim(&self) -> usize {
        1
    }
    fn reset(&self, state: &mut [f64], rng: &mut EnvRng) {
        state[0] = super::math::uniform_in(rng, 0.8, 1.2);
    }
    fn step(&self, state: &mut [f64], action: &[f64], rng: &mut EnvRng) -> Transition {
        let mut x = [state[0]];
        let q = action[0]
            + if self.options.disturbances {
                gaussian(rng, 0.0, 0.01)
            } else {
                0.0
            };
        rk4(&mut x, self.spec.dt, |x, d| {
            d[0] = (q - K_OUT * libm::sqrt(x[0].max(0.0))) / AREA
        });
        state[0] = x[0].max(0.0);
        let e = state[0] - 1.0;
        Transition {
            reward: -(e * e).min(4.0),
            terminal: false,
        }
    }
    fn observe(&self, state: &[f64], obs: &mut [f32], rng: &mut EnvRng) {
        let n = if self.options.sensor_noise {
            gaussian(rng, 0.0, 0.01)
        } else {
            0.0
        };
        obs[0] = (state[0] + n) as f32;
    }
    fn constraints(&self, state: &[f64], out: &mut [f64]) {
        out[0] = state[0];
        out[1] = state[0];
    }
    fn safe_action(&self, _state: &[f64], action: &mut [f64]) {
        action[0] = 0.0;
    }
}
