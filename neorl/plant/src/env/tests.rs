//! Tests of the generic environment machinery (on a toy tank) and of the
//! contract every registered environment must keep.

use super::protocol::{self};
use super::testing::Tank;
use super::*;
use crate::error::Error;
use std::sync::Arc;

fn tank(options: EnvOptions) -> Env {
    Env::new(Arc::new(Tank::new(options)), options)
}

#[test]
fn truncates_at_horizon_without_terminating() {
    let mut env = tank(EnvOptions::deterministic());
    env.reset(0);
    let q_eq = [1.0f32]; // k√h = q at h = 1
    for t in 1..=50 {
        let s = env.step(&q_eq).unwrap();
        assert!(!s.terminated);
        assert_eq!(s.truncated, t == 50, "t = {t}");
    }
    assert!(matches!(env.step(&q_eq), Err(Error::EpisodeOver { .. })));
}

#[test]
fn hard_breach_terminates_and_charges_remaining_steps() {
    let mut env = tank(EnvOptions::deterministic());
    env.reset(0);
    let mut t = 0;
    loop {
        let s = env.step(&[2.0]).unwrap();
        t += 1;
        if s.done() {
            assert!(s.terminated && !s.truncated && s.info.hard_violation);
            assert!(s.info.violations[0]);
            // The breach step is charged reward_min for every step left.
            let remaining = (50 - t) as f64;
            assert!(
                s.reward <= -4.0 * remaining + 1e-12,
                "{} vs {}",
                s.reward,
                remaining
            );
            assert!(s.cost >= 1.0);
            break;
        }
        assert!(t < 50, "a full inflow must overflow the tank");
    }
}

#[test]
fn out_of_bounds_actions_are_clipped_and_reported() {
    let mut env = tank(EnvOptions::deterministic());
    env.reset(0);
    let s = env.step(&[5.0]).unwrap();
    assert!(s.info.clipped);
    assert_eq!(s.info.applied_action, vec![2.0]);
    let s = env.step(&[1.0]).unwrap();
    assert!(!s.info.clipped);
}

#[test]
fn bad_actions_are_errors_and_leave_state_unchanged() {
    let mut env = tank(EnvOptions::default());
    env.reset(3);
    let before = (env.state().to_vec(), env.t(), env.rng().clone());
    for bad in [vec![f32::NAN], vec![f32::INFINITY], vec![], vec![1.0, 1.0]] {
        let err = env.step(&bad).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("Tank-test"), "{msg}");
        assert_eq!((env.state().to_vec(), env.t(), env.rng().clone()), before);
    }
}

#[test]
fn step_before_reset_is_an_error() {
    let mut env = tank(EnvOptions::default());
    assert!(matches!(env.step(&[1.0]), Err(Error::NotReset { .. })));
}

/// Drive a single env and env `i` of a VecEnv with the same action sequence
/// and compare bit for bit, across autoresets.
fn assert_batched_matches_single(model: Arc<dyn Model>, steps: usize, threads: usize) {
    let spec = model.spec().clone();
    let n = 5;
    let seed = 11;
    let mut venv = VecEnv::new(model.clone(), n, seed, threads).unwrap();
    let mut singles: Vec<Env> = (0..n)
        .map(|i| {
            let mut e = Env::new(model.clone(), EnvOptions::default());
            e.reset(seed + i as u64);
            e
        })
        .collect();
    for (i, e) in singles.iter().enumerate() {
        let od = spec.obs_dim();
        assert_eq!(e.observation(), &venv.observations()[i * od..(i + 1) * od]);
    }
    let ad = spec.act_dim();
    let mut rng = <EnvRng as rand::SeedableRng>::seed_from_u64(99);
    for _ in 0..steps {
        let actions: Vec<f32> = (0..n * ad)
            .map(|j| {
                let d = &spec.actions[j % ad];
                math::uniform_in(&mut rng, d.low, d.high) as f32
            })
            .collect();
        let outs = venv.step(&actions).unwrap().to_vec();
        for (i, e) in singles.iter_mut().enumerate() {
            let s = e.step(&actions[i * ad..(i + 1) * ad]).unwrap();
            assert_eq!(
                s.reward.to_bits(),
                outs[i].reward.to_bits(),
                "{} env {i}",
                spec.id
            );
            assert_eq!(
                (s.terminated, s.truncated),
                (outs[i].terminated, outs[i].truncated)
            );
            let od = spec.obs_dim();
            if s.done() {
                assert_eq!(s.obs, &venv.final_observations()[i * od..(i + 1) * od]);
                e.reset_continue();
            }
            assert_eq!(e.observation(), &venv.observations()[i * od..(i + 1) * od]);
        }
    }
}

#[test]
fn batched_matches_single_on_the_tank() {
    for threads in [1, 2] {
        assert_batched_matches_single(Arc::new(Tank::new(EnvOptions::default())), 200, threads);
    }
}

#[test]
fn every_registered_env_batched_matches_single() {
    for id in all_ids() {
        assert_batched_matches_single(model(id, EnvOptions::default()).unwrap(), 300, 2);
    }
}

#[test]
fn vec_env_rejects_bad_actions_without_moving() {
    let mut venv = VecEnv::new(Arc::new(Tank::new(EnvOptions::default())), 3, 0, 2).unwrap();
    let before = venv.states().to_vec();
    assert!(venv.step(&[1.0, 1.0]).is_err());
    assert!(venv.step(&[1.0, f32::NAN, 1.0]).is_err());
    assert_eq!(venv.states(), &before[..]);
}

#[test]
fn unknown_env_lists_the_known_ones() {
    let err = make("NoSuchPlant-v0").unwrap_err().to_string();
    assert!(err.contains("NoSuchPlant-v0"), "{err}");
    for id in all_ids() {
        assert!(err.contains(id), "{err}");
    }
}

#[test]
fn every_spec_is_well_formed() {
    for id in all_ids() {
        let env = make(id).unwrap();
        let s = env.spec();
        assert_eq!(s.id, id);
        assert!(s.dt > 0.0 && s.horizon > 0, "{id}");
        assert!(!s.sources.is_empty(), "{id}: cite the model's sources");
        for d in s.observations.iter().chain(&s.actions) {
            assert!(d.low < d.high, "{id}: {} bounds", d.name);
            assert!(!d.unit.is_empty(), "{id}: {} needs a unit", d.name);
        }
        let mut names: Vec<_> = s.observations.iter().map(|d| &d.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(
            names.len(),
            s.obs_dim(),
            "{id}: duplicate observation names"
        );
        assert!(
            s.constraints.iter().any(|c| c.kind == ConstraintKind::Hard),
            "{id}"
        );
        assert!(
            s.constraints.iter().any(|c| c.kind == ConstraintKind::Soft),
            "{id}"
        );
        assert!(s.reward_range.0 < s.reward_range.1 && s.reward_range.0.is_finite());
        assert!(
            s.ref_expert_return > s.ref_random_return,
            "{id}: expert must beat random"
        );
    }
}

#[test]
fn every_env_is_deterministic_and_starts_safe() {
    for id in all_ids() {
        for seed in 0..20 {
            let run = |seed| {
                let mut env = make(id).unwrap();
                let mut out = vec![env.reset(seed)];
                let cons = env.constraint_values().to_vec();
                for (c, v) in env.spec().constraints.iter().zip(&cons) {
                    assert!(
                        !(c.kind == ConstraintKind::Hard && c.violated(*v)),
                        "{id} seed {seed}: reset state violates {}",
                        c.name
                    );
                }
                let mut safe = vec![0.0; env.spec().act_dim()];
                env.model().safe_action(env.state(), &mut safe);
                for (a, d) in safe.iter().zip(&env.spec().actions) {
                    assert!(
                        *a >= d.low && *a <= d.high,
                        "{id}: safe action out of bounds"
                    );
                }
                let mid: Vec<f32> = env
                    .spec()
                    .actions
                    .iter()
                    .map(|d| (0.5 * (d.low + d.high)) as f32)
                    .collect();
                for _ in 0..50 {
                    let s = env.step(&mid).unwrap();
                    assert!(s.obs.iter().all(|x| x.is_finite()), "{id}: non-finite obs");
                    assert!(s.reward.is_finite(), "{id}: non-finite reward");
                    let done = s.done();
                    out.push(s.obs);
                    if done {
                        break;
                    }
                }
                out
            };
            assert_eq!(run(seed), run(seed), "{id} seed {seed}");
        }
    }
}

/// Protocol v1's alive reward adds the same constant, `horizon × offset`,
/// to every episode's return — ended by the time limit, a breach or the
/// goal — so rankings and normalized scores are v0's; and no v1 transition
/// leaves the per-step reward range (v0's breach transitions do, by up to
/// `horizon ×` the worst reward). Checked per episode on every process
/// whose v1 plant is v0's (PowerGrid-v1's plant differs; see its tests).
#[test]
fn v1_returns_are_v0_returns_plus_a_constant_and_stay_in_range() {
    use crate::control::{PolicyKind, make_policy};
    for id in ids_of(Version::V1) {
        if protocol::v1_plant_changed(id) {
            continue;
        }
        let v0_id = format!("{}-v0", process_of(id));
        let (mut v0, mut v1) = (make(&v0_id).unwrap(), make(id).unwrap());
        let spec = v1.spec().clone();
        let BreachPenalty::Alive { offset } = spec.breach else {
            panic!("{id}: v1 without the alive reward");
        };
        assert_eq!(offset, -v0.spec().reward_range.0, "{id}");
        let shift = spec.horizon as f64 * offset;
        let (lo, hi) = spec.reward_range;
        for (kind, episodes) in [(PolicyKind::Random, 4), (PolicyKind::Medium, 1)] {
            let mut policy = make_policy(&spec, kind).unwrap();
            let mut a = vec![0f32; spec.act_dim()];
            for seed in 0..episodes {
                let (mut r0, mut r1) = (0.0, 0.0);
                let mut obs = v0.reset(seed);
                assert_eq!(obs, v1.reset(seed), "{id}");
                policy.reset(seed);
                loop {
                    policy.act(&obs, &mut a).unwrap();
                    let (s0, s1) = (v0.step(&a).unwrap(), v1.step(&a).unwrap());
                    assert_eq!(s0.obs, s1.obs, "{id}: v1 must step as v0");
                    assert_eq!((s0.terminated, s0.truncated), (s1.terminated, s1.truncated));
                    let goal = s1.terminated && !s1.info.hard_violation;
                    if !goal {
                        assert!(
                            s1.reward >= lo - 1e-9 && s1.reward <= hi + 1e-9,
                            "{id}: v1 reward {} outside {lo}..{hi}",
                            s1.reward
                        );
                    }
                    r0 += s0.reward;
                    r1 += s1.reward;
                    if s1.done() {
                        break;
                    }
                    obs = s1.obs;
                }
                assert!(
                    (r1 - r0 - shift).abs() <= 1e-9 * shift.abs().max(r0.abs()),
                    "{id} {kind} seed {seed}: v1 {r1} vs v0 {r0} + {shift}"
                );
            }
        }
    }
}

/// PowerGrid-v1's plant ramps the applied set-point at most
/// `SETPOINT_RAMP_V1 × dt` per AGC cycle, whatever the command, and the
/// `ramp_i` signal reports the commanded rate; v0 applies the command.
#[test]
fn power_grid_v1_rate_limits_the_set_point_in_the_plant() {
    use super::power_grid::{DT, SETPOINT_RAMP_V1};
    for (id, limited) in [("PowerGrid-v0", false), ("PowerGrid-v1", true)] {
        let mut env = make_with(id, EnvOptions::deterministic()).unwrap();
        env.reset(3);
        let n = env.spec().act_dim();
        let pref = |e: &Env| e.observation()[4 * n..5 * n].to_vec();
        for k in 0..40 {
            let before = pref(&env);
            let cmd = if k % 2 == 0 { 0.25f32 } else { -0.25 };
            let s = env.step(&vec![cmd; n]).unwrap();
            let after = pref(&env);
            for i in 0..n {
                let moved = (after[i] - before[i]).abs() as f64;
                if limited {
                    assert!(
                        moved <= SETPOINT_RAMP_V1 * DT * (1.0 + 1e-5),
                        "{id}: moved {moved}"
                    );
                    let ramp = s.info.constraint_values[s.info.constraint_values.len() - n + i];
                    assert!((ramp - (cmd as f64 - before[i] as f64).abs() / DT).abs() < 1e-6);
                } else {
                    assert_eq!(after[i], cmd, "{id}");
                }
            }
            if s.done() {
                assert!(!limited, "{id}: a rate-limited grid breached");
                break;
            }
        }
    }
}
