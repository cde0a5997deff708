//! Reference returns for D4RL normalized scores.
//!
//! `ref_random_return` and `ref_expert_return` in every [`crate::env::EnvSpec`]
//! are the mean returns of the uniform random policy and of the expert
//! controller over [`REFERENCE_EPISODES`] episodes seeded from
//! [`REFERENCE_SEED`], with default options (noise and disturbances on). They
//! are stored in the spec so that scores are stable, and a test re-measures
//! them so they can never drift from the code. `neorl envs --calibrate`
//! prints fresh values after a model change.

use crate::control::{PolicyKind, make_policy};
use crate::env::make;
use crate::error::Result;
use crate::rollout::rollout;

/// Episodes averaged for a reference return.
pub const REFERENCE_EPISODES: usize = 100;
/// First episode seed of the reference rollouts (disjoint from small seeds users pick).
pub const REFERENCE_SEED: u64 = 1_000_000;

/// Measured (random, expert) mean returns of environment `id`.
pub fn measure(id: &str) -> Result<(f64, f64)> {
    let mut env = make(id)?;
    let spec = env.spec().clone();
    let mut random = make_policy(&spec, PolicyKind::Random)?;
    let mut expert = make_policy(&spec, PolicyKind::Expert)?;
    let r = rollout(
        &mut env,
        random.as_mut(),
        REFERENCE_EPISODES,
        REFERENCE_SEED,
    )?;
    let e = rollout(
        &mut env,
        expert.as_mut(),
        REFERENCE_EPISODES,
        REFERENCE_SEED,
    )?;
    Ok((r.mean_return, e.mean_return))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::ids;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
    }

    /// The stored reference returns are exactly what the code measures.
    #[test]
    fn stored_reference_returns_match_measurement() {
        let mut stale = vec![];
        for id in ids() {
            let spec = make(id).unwrap().spec().clone();
            let (random, expert) = measure(id).unwrap();
            if !close(random, spec.ref_random_return) || !close(expert, spec.ref_expert_return) {
                stale.push(format!(
                    "{id}: stored (random {}, expert {}), measured: ref_random_return: {random:?}, ref_expert_return: {expert:?}",
                    spec.ref_random_return, spec.ref_expert_return
                ));
            }
        }
        assert!(stale.is_empty(), "update the specs:\n{}", stale.join("\n"));
    }

    /// Over 100 episodes the expert never breaches a hard constraint and
    /// clearly beats medium, which clearly beats random; random breaches hard
    /// constraints somewhere, so the constraints have teeth.
    #[test]
    fn expert_beats_medium_beats_random_and_expert_is_safe() {
        let mut random_breaches = 0;
        for id in ids() {
            let mut env = make(id).unwrap();
            let spec = env.spec().clone();
            let mut report = |kind| {
                let mut p = make_policy(&spec, kind).unwrap();
                rollout(&mut env, p.as_mut(), REFERENCE_EPISODES, 7).unwrap()
            };
            let e = report(PolicyKind::Expert);
            let m = report(PolicyKind::Medium);
            let r = report(PolicyKind::Random);
            assert_eq!(
                e.hard_violations, 0,
                "{id}: expert breached hard constraints: {e:?}"
            );
            // "Clearly": the gaps are at least 5% of the expert–random span.
            let span = e.mean_return - r.mean_return;
            assert!(span > 0.0, "{id}: expert {e:?} vs random {r:?}");
            assert!(
                e.mean_return - m.mean_return > 0.05 * span,
                "{id}: expert {} medium {}",
                e.mean_return,
                m.mean_return
            );
            assert!(
                m.mean_return - r.mean_return > 0.05 * span,
                "{id}: medium {} random {}",
                m.mean_return,
                r.mean_return
            );
            random_breaches += r.hard_violations;
        }
        if !ids().is_empty() {
            assert!(
                random_breaches > 0,
                "random never breaches a hard limit anywhere: constraints have no teeth"
            );
        }
    }
}
