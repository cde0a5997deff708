//! Optimiser recipes: how one network's optimiser steps, beyond Adam's
//! own update — a learning-rate schedule over the planned number of steps
//! (constant, linear decay or cosine, each after an optional linear
//! warm-up), gradient clipping by global norm, and AdamW's decoupled
//! weight decay (Loshchilov & Hutter, "Decoupled Weight Decay
//! Regularization", ICLR 2019). Each algorithm's `…Config` holds one
//! [`OptimConfig`] per network (`actor_optim`, `critic_optim`, …) with its
//! paper's recipe as the default; the `Adam` of `nets.rs` applies it.
//!
//! ```text
//! warm-up   (k < W):  lr_k = lr · (k + 1) / W
//! then      p = (k − W) / (H − W)  clamped to [0, 1]
//!   constant: lr_k = lr
//!   linear:   lr_k = lr · (1 − (1 − f) p)
//!   cosine:   lr_k = lr · (f + (1 − f) (1 + cos π p) / 2)    (Loshchilov & Hutter 2017, SGDR, without restarts)
//! clipping:   g ← g · min(1, c / (‖g‖₂ + 1e-6)),  ‖g‖₂ over all of the network's tensors
//! AdamW:      θ ← θ · (1 − lr_k · λ), then Adam's step with lr_k
//! ```
//!
//! `k` is the optimiser's own step count (0 for its first step, which
//! checkpoints save, so a resumed run continues the schedule exactly), `H`
//! the number of steps the optimiser is planned to take (the agent's
//! `planned_steps`; half of it for TD3+BC's delayed actor), `W` the
//! warm-up steps and `f` the final rate as a fraction of `lr`. Cosine with
//! `f = 0` and no warm-up is PyTorch's `CosineAnnealingLR(T_max = H)`, as
//! CORL's IQL uses it; past `H` the rate stays at its final value (PyTorch's
//! would rise again). Without a planned total (`planned_steps` unset, only
//! outside `neorl train`, sweeps and score tables, which set it), a
//! decaying schedule has no end to decay towards and the rate stays at
//! `lr` after the warm-up; the history's `lr_…` metrics show the rate used.
//!
//! Written by hand, not burn 0.21's `optim`: burn's `GradientClipping::Norm`
//! clips each parameter tensor by its own norm, not the network's global
//! norm (PyTorch's `clip_grad_norm_`, which the papers' code uses); its
//! learning-rate schedulers are stateful iterators whose cosine restarts
//! after `num_iters` and whose composition (`ComposedLrScheduler`)
//! averages, sums or multiplies rates rather than running a warm-up
//! before a decay; and its `AdamW` (usable on a bare tensor through
//! `SimpleOptimizer::step`) computes the bias corrections in f32 and the
//! step as m̂ / (√v̂ + ε), where our Adam follows PyTorch's order of
//! operations in f64 scalars — switching would change every trained bit
//! and the moments' layout that checkpoints hold, for the same
//! arithmetic up to rounding. The decay itself is the same one line here
//! as there. Here the rate is a pure function of the saved step count,
//! and the clipping norm is taken per ensemble member: members
//! are independent networks (as CORL's CQL has one optimiser per critic),
//! so one member's large gradient does not shrink another's step.

use super::device::B;
use super::ranges::Ranges;
use crate::error::Result;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// The decay of the learning rate after the warm-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// The base rate throughout.
    #[default]
    Constant,
    /// Linear from the base rate to `final_lr` × base at the planned end.
    Linear,
    /// Half a cosine from the base rate to `final_lr` × base at the planned end.
    Cosine,
}

/// One network's optimiser recipe (its learning rate is the config's
/// `…_lr` field). `Default` is plain Adam at a constant rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OptimConfig {
    /// `"constant"`, `"linear"` or `"cosine"`.
    pub schedule: Schedule,
    /// Steps of linear warm-up from lr / W to lr before the schedule (0: none).
    pub warmup_steps: u64,
    /// The rate at the planned end, as a fraction of the base rate
    /// (PyTorch's `eta_min / lr`; 0 decays to zero).
    pub final_lr: f64,
    /// Clip the gradient's global norm to this (`null`: no clipping).
    pub clip_norm: Option<f64>,
    /// AdamW's decoupled weight decay λ (0: Adam).
    pub weight_decay: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            schedule: Schedule::Constant,
            warmup_steps: 0,
            final_lr: 0.0,
            clip_norm: None,
            weight_decay: 0.0,
        }
    }
}

/// The small constant PyTorch's `clip_grad_norm_` adds to the norm.
const CLIP_EPS: f64 = 1e-6;

impl OptimConfig {
    /// A cosine decay to zero over the planned steps (CORL's IQL actor).
    pub fn cosine() -> Self {
        OptimConfig {
            schedule: Schedule::Cosine,
            ..OptimConfig::default()
        }
    }

    /// Check the recipe of setting `name` (`"actor_optim"`) against its
    /// ranges and against `planned` steps (a warm-up longer than the plan
    /// is refused).
    pub fn validate(&self, r: &Ranges, name: &str, planned: Option<u64>) -> Result<()> {
        r.fraction(&format!("{name}.final_lr"), self.final_lr)?;
        r.non_negative(&format!("{name}.weight_decay"), self.weight_decay)?;
        if let Some(c) = self.clip_norm {
            r.positive(&format!("{name}.clip_norm"), c)?;
        }
        if let Some(h) = planned {
            r.count(&format!("{name}.warmup_steps"), self.warmup_steps, 0, h)?;
        }
        Ok(())
    }

    /// The learning rate of optimiser step `k` (0-based) for base rate `lr`
    /// and a plan of `horizon` optimiser steps (see the module docs).
    pub fn rate(&self, lr: f64, k: u64, horizon: Option<u64>) -> f64 {
        let w = self.warmup_steps;
        if k < w {
            return lr * (k + 1) as f64 / w as f64;
        }
        let Some(h) = horizon else { return lr };
        let p = match h.saturating_sub(w) {
            0 => 1.0,
            span => ((k - w) as f64 / span as f64).min(1.0),
        };
        let f = self.final_lr;
        match self.schedule {
            Schedule::Constant => lr,
            Schedule::Linear => lr * (1.0 - (1.0 - f) * p),
            Schedule::Cosine => {
                lr * (f + (1.0 - f) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos()))
            }
        }
    }
}

/// Check a config's `planned_steps`: when set, at least 1.
pub fn check_planned(r: &Ranges, planned: Option<u64>) -> Result<()> {
    match planned {
        Some(h) => r.count("planned_steps", h, 1, u64::MAX),
        None => Ok(()),
    }
}

/// Scale `grads` (one optimiser's, all `[members, ·, ·]`) so that each
/// member's global L2 norm is at most `max_norm`, as PyTorch's
/// `clip_grad_norm_` does for one network. Tensors whose member count
/// differs from the first's are clipped with the norm over everything.
pub fn clip_global_norm(grads: Vec<Tensor<B, 3>>, max_norm: f64) -> Vec<Tensor<B, 3>> {
    let Some(first) = grads.first() else {
        return grads;
    };
    let members = first.dims()[0];
    let per_member = grads.iter().all(|g| g.dims()[0] == members);
    let squares = grads.iter().map(|g| {
        let s = (g.clone() * g.clone()).sum_dim(2).sum_dim(1); // [m, 1, 1]
        if per_member {
            s
        } else {
            s.sum().reshape([1, 1, 1])
        }
    });
    let norm = squares.reduce(|a, b| a + b).map(|s| s.sqrt());
    let Some(norm) = norm else { return grads };
    let coef = (norm + CLIP_EPS)
        .recip()
        .mul_scalar(max_norm)
        .clamp_max(1.0);
    grads
        .into_iter()
        .map(|g| {
            let [m, r, c] = g.dims();
            let k = if coef.dims()[0] == m {
                coef.clone()
            } else {
                coef.clone().expand([m, 1, 1])
            };
            g * k.expand([m, r, c])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::Device;
    use crate::agents::nets::{tensor3, to_vec};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn cosine_starts_at_the_rate_halves_midway_and_ends_at_the_final_rate() {
        let c = OptimConfig::cosine();
        let h = Some(1000);
        assert_eq!(c.rate(3e-4, 0, h), 3e-4);
        assert!(close(c.rate(3e-4, 500, h), 1.5e-4));
        assert!(close(c.rate(3e-4, 1000, h), 0.0));
        assert!(close(c.rate(3e-4, 5000, h), 0.0), "held past the plan");
        // PyTorch's CosineAnnealingLR closed form at k = 250.
        let torch = 3e-4 * 0.5 * (1.0 + (std::f64::consts::PI / 4.0).cos());
        assert!(close(c.rate(3e-4, 250, h), torch));
        let f = OptimConfig {
            final_lr: 0.1,
            ..OptimConfig::cosine()
        };
        assert!(close(f.rate(1.0, 1000, h), 0.1));
        // Without a plan the decay has no end: the base rate.
        assert_eq!(c.rate(3e-4, 500, None), 3e-4);
    }

    #[test]
    fn warm_up_rises_linearly_then_the_schedule_runs_over_the_rest() {
        let c = OptimConfig {
            schedule: Schedule::Linear,
            warmup_steps: 10,
            ..OptimConfig::default()
        };
        let h = Some(110);
        assert!(close(c.rate(1.0, 0, h), 0.1));
        assert!(close(c.rate(1.0, 4, h), 0.5));
        assert!(close(c.rate(1.0, 9, h), 1.0));
        assert!(close(c.rate(1.0, 10, h), 1.0));
        assert!(close(c.rate(1.0, 60, h), 0.5));
        assert!(close(c.rate(1.0, 110, h), 0.0));
        // Warm-up needs no plan.
        assert!(close(c.rate(1.0, 4, None), 0.5));
        assert_eq!(OptimConfig::default().rate(0.25, 7, h), 0.25);
    }

    #[test]
    fn clipping_bounds_each_members_global_norm_and_keeps_small_gradients() {
        let dev = Device::cpu();
        // Member 0: norm √(9·4 + 16·4) = 10 over two tensors; member 1: norm 0.5.
        let a = tensor3(
            vec![3.0; 4]
                .into_iter()
                .chain(vec![0.3, 0.4, 0.0, 0.0])
                .collect(),
            [2, 2, 2],
            dev.base(),
        );
        let b = tensor3(
            vec![4.0; 4].into_iter().chain(vec![0.0; 4]).collect(),
            [2, 4, 1],
            dev.base(),
        );
        let clipped = clip_global_norm(vec![a, b], 1.0);
        let (ca, cb) = (to_vec(&clipped[0]), to_vec(&clipped[1]));
        let norm0 = (ca[..4].iter().chain(&cb[..4]).map(|x| x * x).sum::<f32>()).sqrt();
        assert!((norm0 - 1.0).abs() < 1e-5, "{norm0}");
        assert!((ca[0] / cb[0] - 0.75).abs() < 1e-6, "direction kept");
        assert_eq!(
            &ca[4..],
            &[0.3, 0.4, 0.0, 0.0],
            "a small member is left alone"
        );
    }

    #[test]
    fn ranges_refuse_bad_recipes() {
        let r = Ranges::new("iql", "IqlConfig");
        let ok = OptimConfig {
            warmup_steps: 100,
            clip_norm: Some(1.0),
            weight_decay: 1e-4,
            ..OptimConfig::cosine()
        };
        assert!(ok.validate(&r, "actor_optim", Some(100)).is_ok());
        assert!(ok.validate(&r, "actor_optim", None).is_ok());
        let e = ok
            .validate(&r, "actor_optim", Some(99))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("actor_optim.warmup_steps = 100") && e.contains("0 to 99"),
            "{e}"
        );
        for bad in [
            OptimConfig {
                clip_norm: Some(-1.0),
                ..ok.clone()
            },
            OptimConfig {
                clip_norm: Some(0.0),
                ..ok.clone()
            },
            OptimConfig {
                weight_decay: -1e-3,
                ..ok.clone()
            },
            OptimConfig {
                final_lr: 1.5,
                ..ok.clone()
            },
            OptimConfig {
                weight_decay: f64::NAN,
                ..ok.clone()
            },
        ] {
            assert!(bad.validate(&r, "actor_optim", None).is_err(), "{bad:?}");
        }
        let e =
            serde_json::from_value::<OptimConfig>(serde_json::json!({"schedule": "exponential"}))
                .unwrap_err()
                .to_string();
        assert!(e.contains("exponential") && e.contains("cosine"), "{e}");
    }
}
