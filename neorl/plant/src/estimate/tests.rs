use super::*;
use crate::control::RandomPolicy;
use crate::env::{EnvOptions, EnvRng, Model};
use crate::policy::Policy;
use crate::safety::{Adversary, BackupLaw, InterventionKind, Shield, ShieldConfig};
use rand::SeedableRng;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Attack {
    Random,
    Adversarial,
}

/// What one set of runs measured.
#[derive(Debug, Default, Clone)]
struct Run {
    episodes: u64,
    steps: u64,
    /// Episodes that crossed a hard limit.
    breaches: u64,
    /// The hard constraints crossed, by name (one entry per breach step).
    crossed: Vec<String>,
    interventions: u64,
    emergencies: u64,
    shutdowns: u64,
    /// Sum of squared estimate errors per state component, and their count.
    err_sq: Vec<f64>,
    /// Sum of squared true values per state component.
    truth_sq: Vec<f64>,
    /// Sum of squared sensor noise per observation component.
    noise_sq: Vec<f64>,
    samples: u64,
}

impl Run {
    fn rms(&self, i: usize) -> f64 {
        (self.err_sq[i] / self.samples.max(1) as f64).sqrt()
    }
    /// The `f32` observation's rounding at state `i`'s typical size.
    fn rounding(&self, i: usize) -> f64 {
        1e-6 * (1.0 + (self.truth_sq[i] / self.samples.max(1) as f64).sqrt())
    }
    fn noise_rms(&self, i: usize) -> f64 {
        (self.noise_sq[i] / self.samples.max(1) as f64).sqrt()
    }
}

/// Run whole episodes of `attack` on process `id` until at least `steps`
/// steps, the shield (`Shield::for_env`, default configuration) fed the
/// true state or, with `estimated`, the estimator's. `shielded = false`
/// runs the policy unshielded (for the estimator's accuracy alone). The
/// emergency stop is mirrored from `Supervisor::step_proposed`: an
/// `Emergency` decision trips it; a plant with a shutdown fires it on the
/// same step (ending the episode), any other plant gets the safe action,
/// computed from the state the shield sees (once, for a latched backup
/// law), for the rest of the episode.
fn run(
    id: &str,
    options: EnvOptions,
    attack: Attack,
    shielded: bool,
    estimated: bool,
    seed: u64,
    steps: u64,
) -> Run {
    let mut env = crate::env::make_with(id, options).unwrap();
    let nominal: Arc<dyn Model> = crate::env::model(id, EnvOptions::deterministic()).unwrap();
    let spec = env.spec().clone();
    let mut shield = Shield::for_env(&env, ShieldConfig::default()).unwrap();
    let mut est: Box<dyn StateEstimator> = match std::env::var("ESTIMATE_HIDDEN_GAIN") {
        Ok(g) => Box::new(
            ModelObserver::new(layouts::layout(id).unwrap())
                .unwrap()
                .with_hidden_gain(g.parse().unwrap())
                .unwrap(),
        ),
        Err(_) => estimator(id).unwrap(),
    };
    let mut random = RandomPolicy::new(&spec);
    let mut adversary = Adversary::new(nominal.clone(), 3);
    let (n, m, ad) = (env.state().len(), spec.obs_dim(), spec.act_dim());
    let mut x_hat = vec![0.0; n];
    let mut proposed = vec![0f32; ad];
    let mut applied = vec![0f32; ad];
    let mut safe = vec![0.0; ad];
    let mut clean = vec![0f32; m];
    let mut rng = EnvRng::seed_from_u64(0);
    let mut r = Run {
        err_sq: vec![0.0; n],
        truth_sq: vec![0.0; n],
        noise_sq: vec![0.0; m],
        ..Run::default()
    };
    let has_shutdown = nominal.shutdown().is_some();
    let mut ep = 0u64;
    while r.steps < steps {
        let s = seed.wrapping_mul(1000).wrapping_add(ep);
        ep += 1;
        r.episodes += 1;
        let obs = env.reset(s);
        random.reset(s);
        adversary.reset(s);
        shield.reset(s);
        est.reset();
        est.update(&obs, None, &mut x_hat).unwrap();
        let (mut tripped, mut latched, mut breached) = (false, false, false);
        loop {
            let obs = env.observation().to_vec();
            match attack {
                Attack::Random => random.act(&obs, &mut proposed).unwrap(),
                // The adversary is privileged: it attacks from the true state.
                Attack::Adversarial => adversary.act(env.state(), &mut proposed),
            }
            let seen: Vec<f64> = if estimated {
                x_hat.clone()
            } else {
                env.state().to_vec()
            };
            if !shielded {
                applied.copy_from_slice(&proposed);
            } else if tripped {
                if !latched {
                    nominal.safe_action(&seen, &mut safe);
                    latched = shield.backup_law() == BackupLaw::Latch;
                }
                for (a, &v) in applied.iter_mut().zip(&safe) {
                    *a = v as f32;
                }
                shield.note_applied(&applied);
            } else {
                let d = shield.decide(&seen, &obs, &proposed, &mut applied).unwrap();
                r.interventions += d.intervention.is_some() as u64;
                if d.intervention == Some(InterventionKind::Emergency) {
                    r.emergencies += 1;
                    tripped = true;
                }
            }
            let out = if tripped && has_shutdown {
                env.shut_down().unwrap()
            } else {
                env.step_in_place(&applied).unwrap()
            };
            r.steps += 1;
            r.shutdowns += out.shutdown as u64;
            breached |= out.hard_violation;
            if out.hard_violation {
                for (c, &v) in spec.constraints.iter().zip(env.constraint_values()) {
                    if c.kind == crate::env::ConstraintKind::Hard && c.violated(v) {
                        r.crossed.push(c.name.clone());
                    }
                }
            }
            if out.terminated || out.truncated {
                break;
            }
            est.update(env.observation(), Some(&applied), &mut x_hat)
                .unwrap();
            nominal.observe(env.state(), &mut clean, &mut rng);
            for (e, (a, b)) in r.err_sq.iter_mut().zip(x_hat.iter().zip(env.state())) {
                *e += (a - b) * (a - b);
            }
            for (e, b) in r.truth_sq.iter_mut().zip(env.state()) {
                *e += b * b;
            }
            for (e, (a, b)) in r
                .noise_sq
                .iter_mut()
                .zip(env.observation().iter().zip(&clean))
            {
                *e += ((a - b) as f64).powi(2);
            }
            r.samples += 1;
        }
        r.breaches += breached as u64;
    }
    r
}

/// Registry: every process has an estimator; an unknown id is an error
/// that names the known ones.
#[test]
fn every_process_has_an_estimator() {
    for id in crate::env::ids() {
        let e = estimator(id).unwrap();
        assert_eq!(e.env_id(), id);
        let model = crate::env::model(id, EnvOptions::deterministic()).unwrap();
        let d = e.describe();
        assert_eq!(d.len(), model.state_dim(), "{id}");
        assert!(
            d.iter()
                .any(|s| matches!(s.origin, Origin::Measured { .. })),
            "{id}: no measured state"
        );
        serde_json::to_string(&d).unwrap();
    }
    let err = estimator("Nope-v0").unwrap_err().to_string();
    assert!(
        err.contains("Nope-v0") && err.contains("ChemicalReactor-v0"),
        "{err}"
    );
}

/// Bad input is an error naming the problem, never a panic, and leaves
/// the estimate alone.
#[test]
fn bad_input_is_an_error() {
    let id = "ChemicalReactor-v0";
    let mut env = crate::env::make(id).unwrap();
    let mut e = estimator(id).unwrap();
    let mut x = vec![0.0; env.state().len()];
    let obs = env.reset(3);
    let a = [0.5f32];
    let msg = e.update(&obs, Some(&a), &mut x).unwrap_err().to_string();
    assert!(msg.contains("first observation"), "{msg}");
    assert!(e.update(&obs[1..], None, &mut x).is_err());
    assert!(e.update(&obs, None, &mut x[1..]).is_err());
    let mut bad = obs.clone();
    bad[1] = f32::NAN;
    let msg = e.update(&bad, None, &mut x).unwrap_err().to_string();
    assert!(msg.contains("observation[1]"), "{msg}");
    e.update(&obs, None, &mut x).unwrap();
    let before = x.clone();
    let msg = e
        .update(&obs, Some(&[f32::INFINITY]), &mut x)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("applied action[0]"), "{msg}");
    assert!(e.update(&obs, Some(&[0.1, 0.2]), &mut x).is_err());
    assert_eq!(x, before);
    e.update(&obs, Some(&a), &mut x).unwrap();
}

/// Measured states equal the truth: exactly (to the `f32` observation's
/// rounding) without sensor noise, and within the sensor noise with it.
/// Disturbances on in both.
#[test]
fn measured_states_equal_the_truth_up_to_sensor_noise() {
    for id in crate::env::ids() {
        let e = estimator(id).unwrap();
        let measured: Vec<(usize, usize, f64)> = e
            .describe()
            .iter()
            .filter_map(|s| match s.origin {
                Origin::Measured { obs, scale } => Some((s.index, obs, scale)),
                _ => None,
            })
            .collect();
        let quiet = EnvOptions {
            sensor_noise: false,
            disturbances: true,
        };
        let r = run(id, quiet, Attack::Random, false, true, 5, 400);
        for &(i, _, _) in &measured {
            assert!(
                r.rms(i) <= 10.0 * r.rounding(i),
                "{id}: measured state {i} off by {} without sensor noise",
                r.rms(i)
            );
        }
        let r = run(
            id,
            EnvOptions::default(),
            Attack::Random,
            false,
            true,
            5,
            400,
        );
        for &(i, o, scale) in &measured {
            let bound = 1.5 * r.noise_rms(o) / scale.abs() + 10.0 * r.rounding(i);
            assert!(
                r.rms(i) <= bound,
                "{id}: measured state {i} off by {} (rms), sensor noise {} / {scale}",
                r.rms(i),
                r.noise_rms(o)
            );
        }
    }
}

/// Hard-limit breaches (episodes) the shield fed the estimator's state
/// may have where the true-state shield has none, per process, over the
/// fast test's runs; each with the reason (the module docs' table).
const ALLOWED: &[(&str, u64, &str)] = &[];

/// The shield's guarantee under the estimator: random and adversarial
/// policies, disturbances and sensor noise on, the shield fed the true
/// state and then the estimate; no breach under the estimate where the
/// true state has none (unless `ALLOWED` says otherwise, and why).
#[test]
fn the_shield_keeps_its_guarantee_under_the_estimator() {
    for id in crate::env::ids() {
        for attack in [Attack::Random, Attack::Adversarial] {
            let steps = 600;
            let truth = run(id, EnvOptions::default(), attack, true, false, 11, steps);
            let est = run(id, EnvOptions::default(), attack, true, true, 11, steps);
            eprintln!(
                "{id:<20} {attack:<12?} breached episodes: true state {}/{}, estimate {}/{}",
                truth.breaches, truth.episodes, est.breaches, est.episodes
            );
            let allowed = ALLOWED.iter().find(|(i, _, _)| *i == id).map_or(0, |a| a.1);
            if truth.breaches == 0 {
                assert!(
                    est.breaches <= allowed,
                    "{id} {attack:?}: {} episodes breached under the estimator (allowed {allowed})",
                    est.breaches
                );
            }
        }
    }
}

/// The module docs' tables: `ESTIMATE_STEPS=20000 nice cargo test -p
/// neorl-plant --release --lib estimator_table -- --ignored --nocapture`.
#[test]
#[ignore]
fn estimator_table() {
    let steps: u64 = std::env::var("ESTIMATE_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5000);
    let only = std::env::var("ESTIMATE_ENV").ok();
    for id in crate::env::ids() {
        if only.as_deref().is_some_and(|o| o != id) {
            continue;
        }
        let e = estimator(id).unwrap();
        let d = e.describe();
        let count = |f: fn(&Origin) -> bool| d.iter().filter(|s| f(&s.origin)).count();
        eprintln!(
            "SOURCES | {id} | {} | {} | {} | {} | {} |",
            d.len(),
            count(|o| matches!(o, Origin::Measured { .. })),
            count(|o| matches!(o, Origin::Inferred { .. })),
            d.iter()
                .filter(|s| matches!(s.origin, Origin::Hidden { .. }))
                .map(|s| s.name.clone())
                .collect::<Vec<_>>()
                .join(", "),
            d.iter()
                .filter(|s| matches!(s.origin, Origin::Predicted))
                .map(|s| s.name.clone())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut row = format!("GUARANTEE | {id} |");
        let mut errs = None;
        for attack in [Attack::Random, Attack::Adversarial] {
            let t = run(id, EnvOptions::default(), attack, true, false, 21, steps);
            let s = run(id, EnvOptions::default(), attack, true, true, 21, steps);
            row += &format!(
                " {}/{} → {}/{} ({}k steps, int {:.1}% → {:.1}%, em {} → {}, sd {} → {}) |",
                t.breaches,
                t.episodes,
                s.breaches,
                s.episodes,
                s.steps / 1000,
                100.0 * t.interventions as f64 / t.steps as f64,
                100.0 * s.interventions as f64 / s.steps as f64,
                t.emergencies,
                s.emergencies,
                t.shutdowns,
                s.shutdowns
            );
            if !s.crossed.is_empty() {
                eprintln!(
                    "CROSSED {id} {attack:?} under the estimate: {:?}",
                    s.crossed
                );
            }
            if attack == Attack::Random {
                errs = Some(s);
            }
        }
        eprintln!("{row}");
        if let Some(r) = errs {
            for s in &d {
                eprintln!(
                    "ERR {id} {:>2} {:<28} {:<9} rms {:.4e}",
                    s.index,
                    s.name,
                    match s.origin {
                        Origin::Measured { .. } => "measured",
                        Origin::Inferred { .. } => "inferred",
                        Origin::Hidden { .. } => "hidden",
                        Origin::Predicted => "predicted",
                    },
                    r.rms(s.index)
                );
            }
        }
    }
}
