//! `neorl bench safety`: the cost of the safety layer per environment —
//! one full constraint check, one monitor update and one shield decision —
//! measured in the same run as a plain environment step, so the ratios
//! hold even on a noisy shared machine.

use crate::control::RandomPolicy;
use crate::env::{EnvOptions, make_with};
use crate::error::Result;
use crate::policy::Policy;
use crate::safety::{ConstraintHierarchy, Monitor, MonitorConfig, Shield, ShieldConfig};
use serde::Serialize;
use std::hint::black_box;
use std::time::Duration;

/// Costs for one environment, in nanoseconds.
#[derive(Debug, Clone, Serialize)]
pub struct SafetyBench {
    pub id: String,
    /// One plain `Env::step_in_place` (random actions, resets included).
    pub step_ns: f64,
    /// One full constraint check: the model's constraint signals plus the
    /// hierarchy's margins, normalised margins and summary.
    pub check_ns: f64,
    /// One monitor update (check + alarm levels + rolling window).
    pub monitor_ns: f64,
    /// One shield decision on a random proposal (look-ahead, projection if needed).
    pub shield_ns: f64,
    /// Fraction of those random proposals the shield changed.
    pub shield_intervention_rate: f64,
    /// Look-ahead simulations per decision.
    pub lookaheads_per_decision: f64,
    /// The shield's look-ahead horizon (steps).
    pub horizon: usize,
    pub check_over_step: f64,
    pub shield_over_step: f64,
}

/// Time `f` (which does `n` operations per call) for at least `min_time`;
/// nanoseconds per operation.
fn ns_per(min_time: Duration, n: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    let per_s = super::rate(min_time, || f().map(|()| n))?;
    Ok(1e9 / per_s)
}

/// Benchmark every environment in `ids`.
pub fn run(ids: &[&str], min_time: Duration, config: &ShieldConfig) -> Result<Vec<SafetyBench>> {
    ids.iter()
        .map(|id| bench_one(id, min_time, config))
        .collect()
}

fn bench_one(id: &str, min_time: Duration, config: &ShieldConfig) -> Result<SafetyBench> {
    const ROWS: usize = 256;
    let mut env = make_with(id, EnvOptions::default())?;
    let spec = env.spec().clone();
    let (ad, nc) = (spec.act_dim(), spec.n_constraints());
    // Realistic states: a random-policy trajectory, resetting on episode end.
    let mut policy = RandomPolicy::new(&spec);
    policy.reset(7);
    env.reset(7);
    let (mut states, mut obs, mut actions) = (vec![], vec![], vec![]);
    let mut a = vec![0f32; ad];
    for _ in 0..ROWS {
        policy.act(env.observation(), &mut a)?;
        states.push(env.state().to_vec());
        obs.push(env.observation().to_vec());
        actions.push(a.clone());
        let out = env.step_in_place(&a)?;
        if out.terminated || out.truncated {
            env.reset_continue();
        }
    }
    let model = env.model().clone();
    let mut k = 0usize;
    env.reset(8);
    let step_ns = ns_per(min_time, 1000, || {
        for _ in 0..1000 {
            let out = env.step_in_place(&actions[k % ROWS])?;
            k += 1;
            if out.terminated || out.truncated {
                env.reset_continue();
            }
        }
        Ok(())
    })?;
    let hierarchy = ConstraintHierarchy::from_model(model.as_ref());
    let (mut values, mut margins, mut normalised) = (vec![0.0; nc], vec![0.0; nc], vec![0.0; nc]);
    let check_ns = ns_per(min_time, 1000, || {
        for i in 0..1000 {
            let s = &states[i % ROWS];
            model.constraints(black_box(s), &mut values);
            black_box(hierarchy.check(&values, &mut margins, &mut normalised));
        }
        Ok(())
    })?;
    let mut monitor = Monitor::new(hierarchy.clone(), MonitorConfig::default())?;
    let monitor_ns = ns_per(min_time, 1000, || {
        for i in 0..1000 {
            model.constraints(black_box(&states[i % ROWS]), &mut values);
            black_box(monitor.observe(&values));
        }
        Ok(())
    })?;
    let mut shield = Shield::for_model(&model, config.clone())?;
    let mut out = vec![0f32; ad];
    let shield_ns = ns_per(min_time, ROWS, || {
        shield.reset(0);
        for i in 0..ROWS {
            black_box(shield.decide(&states[i], &obs[i], &actions[i], &mut out)?);
        }
        Ok(())
    })?;
    let st = shield.stats();
    Ok(SafetyBench {
        id: id.to_string(),
        step_ns,
        check_ns,
        monitor_ns,
        shield_ns,
        shield_intervention_rate: st.interventions as f64 / st.decisions.max(1) as f64,
        lookaheads_per_decision: st.lookaheads as f64 / st.decisions.max(1) as f64,
        horizon: config.horizon,
        check_over_step: check_ns / step_ns,
        shield_over_step: shield_ns / step_ns,
    })
}
