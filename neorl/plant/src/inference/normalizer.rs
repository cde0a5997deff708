//! How an agent sees the plant: observations standardised with the
//! training data's mean and standard deviation, actions mapped between the
//! plant's bounds and `[-1, 1]`, rewards multiplied by a scale.
//!
//! The statistics are fitted on the training data (`neorl`'s
//! `agents::NormalizerFit`) and saved in the checkpoint's header, so the
//! deployed policy undoes exactly what training did.

use serde::{Deserialize, Serialize};

/// Standardisation of observations, scaling of actions and rewards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalizer {
    pub obs_mean: Vec<f32>,
    pub obs_std: Vec<f32>,
    pub act_low: Vec<f32>,
    pub act_high: Vec<f32>,
    /// Rewards are multiplied by this before learning.
    pub reward_scale: f32,
}

impl Normalizer {
    /// The normaliser of an agent not trained yet: observations as they
    /// are, actions mapped from the bounds `act_low..act_high`, rewards
    /// unscaled.
    pub fn identity(obs_dim: usize, act_low: &[f32], act_high: &[f32]) -> Self {
        Normalizer {
            obs_mean: vec![0.0; obs_dim],
            obs_std: vec![1.0; obs_dim],
            act_low: act_low.to_vec(),
            act_high: act_high.to_vec(),
            reward_scale: 1.0,
        }
    }

    /// The first statistic that is NaN or infinite, named (checkpoints are
    /// checked with this when written and when read for deployment).
    pub fn non_finite(&self) -> Option<String> {
        [
            ("obs_mean", &self.obs_mean),
            ("obs_std", &self.obs_std),
            ("act_low", &self.act_low),
            ("act_high", &self.act_high),
        ]
        .into_iter()
        .find(|(_, v)| v.iter().any(|x| !x.is_finite()))
        .map(|(name, _)| format!("the normalisation statistic {name} is NaN or infinite"))
        .or_else(|| {
            (!self.reward_scale.is_finite())
                .then(|| "the normalisation's reward_scale is NaN or infinite".to_string())
        })
    }

    /// Standardise one observation: `(raw − mean) / std`.
    #[inline]
    pub fn obs(&self, raw: &[f32], out: &mut [f32]) {
        for (((o, &x), &m), &s) in out
            .iter_mut()
            .zip(raw)
            .zip(&self.obs_mean)
            .zip(&self.obs_std)
        {
            *o = (x - m) / s;
        }
    }

    /// Environment units → [-1, 1].
    #[inline]
    pub fn action_to_unit(&self, raw: &[f32], out: &mut [f32]) {
        for (((o, &a), &l), &h) in out
            .iter_mut()
            .zip(raw)
            .zip(&self.act_low)
            .zip(&self.act_high)
        {
            *o = (2.0 * (a - l) / (h - l) - 1.0).clamp(-1.0, 1.0);
        }
    }

    /// [-1, 1] → environment units.
    #[inline]
    pub fn unit_to_action(&self, unit: &[f32], out: &mut [f32]) {
        for (((o, &u), &l), &h) in out
            .iter_mut()
            .zip(unit)
            .zip(&self.act_low)
            .zip(&self.act_high)
        {
            *o = l + (u.clamp(-1.0, 1.0) + 1.0) * 0.5 * (h - l);
        }
    }
}
