//! A privileged adversarial policy for stress-testing the shield: at every
//! step it pushes toward the nearest hard limit at full authority.
//!
//! Candidates are the corners of the action box (all `2^d` of them up to
//! `d = 6`; beyond that, each dimension at either bound with the others at
//! the middle, plus the all-low and all-high corners). Each candidate is
//! held for `hold` steps in the nominal model from the plant's true state,
//! and the one with the smallest normalised hard margin over those steps
//! is chosen — a greedy attacker that knows the physics and the state,
//! which no real policy does. Ties are broken by a seeded RNG.

use super::constraints::{ConstraintHierarchy, crossed};
use crate::env::math::uniform;
use crate::env::{EnvRng, Model};
use rand::SeedableRng;
use std::sync::Arc;

/// The worst-case-seeking policy (needs the plant's state, so it is not a
/// [`crate::policy::Policy`]: call [`Adversary::act`] with `env.state()`).
#[derive(Debug, Clone)]
pub struct Adversary {
    nominal: Arc<dyn Model>,
    hierarchy: ConstraintHierarchy,
    candidates: Vec<Vec<f64>>,
    hold: usize,
    sim: Vec<f64>,
    values: Vec<f64>,
    rng: EnvRng,
    scratch: EnvRng,
}

impl Adversary {
    /// `nominal` should be the deterministic model; `hold ≥ 1` steps of look-ahead.
    pub fn new(nominal: Arc<dyn Model>, hold: usize) -> Self {
        let spec = nominal.spec();
        let (lo, hi) = (spec.action_low(), spec.action_high());
        let d = spec.act_dim();
        let mut candidates = vec![];
        if d <= 6 {
            for mask in 0..(1usize << d) {
                candidates.push(
                    (0..d)
                        .map(|i| if mask >> i & 1 == 1 { hi[i] } else { lo[i] })
                        .collect(),
                );
            }
        } else {
            let mid: Vec<f64> = (0..d).map(|i| 0.5 * (lo[i] + hi[i])).collect();
            for i in 0..d {
                for b in [lo[i], hi[i]] {
                    let mut c = mid.clone();
                    c[i] = b;
                    candidates.push(c);
                }
            }
            candidates.push(lo.clone());
            candidates.push(hi.clone());
        }
        Adversary {
            hierarchy: ConstraintHierarchy::from_model(nominal.as_ref()),
            sim: vec![0.0; nominal.state_dim()],
            values: vec![0.0; spec.n_constraints()],
            candidates,
            hold: hold.max(1),
            rng: EnvRng::seed_from_u64(0),
            scratch: EnvRng::seed_from_u64(0),
            nominal,
        }
    }

    /// Reseed the tie-breaking RNG.
    pub fn reset(&mut self, seed: u64) {
        self.rng = EnvRng::seed_from_u64(seed ^ 0xAD7E_5A41);
    }

    /// Write the most dangerous corner for `state` into `action`.
    pub fn act(&mut self, state: &[f64], action: &mut [f32]) {
        let (mut best, mut arg, mut ties) = (f64::NAN, 0usize, 0u32);
        for (k, c) in self.candidates.iter().enumerate() {
            self.sim.copy_from_slice(state);
            let mut worst = f64::INFINITY;
            for _ in 0..self.hold {
                let tr = self.nominal.step(&mut self.sim, c, &mut self.scratch);
                self.nominal.constraints(&self.sim, &mut self.values);
                let (m, _) = self.hierarchy.min_hard_margin(&self.values, &[]);
                worst = worst.min(m);
                if crossed(m) || tr.terminal {
                    break;
                }
            }
            // Ties (e.g. every corner equally far) go to a uniformly random
            // one of them (reservoir sampling).
            if k == 0 || worst < best {
                (best, arg, ties) = (worst, k, 1);
            } else if worst == best {
                ties += 1;
                if uniform(&mut self.rng) * (ties as f64) < 1.0 {
                    arg = k;
                }
            }
        }
        let best = arg;
        for (a, &v) in action.iter_mut().zip(&self.candidates[best]) {
            *a = v as f32;
        }
    }
}
