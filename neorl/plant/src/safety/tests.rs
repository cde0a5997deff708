//! Tests of the assembled safety layer: shield guarantees on test models and
//! on every registered environment (property tests over seeds), the
//! emergency-stop and override sequences with their audit records.

use super::*;
use crate::control::{PolicyKind, make_policy};
use crate::env::math::{gaussian, uniform_in};
use crate::env::testing::Tank;
use crate::env::{ConstraintSpec, Dim, Env, EnvOptions, EnvRng, EnvSpec, Model, Transition};
use crate::policy::{FnPolicy, Policy};
use crate::rollout::shielded::run_supervised_episode;
use proptest::prelude::*;
use std::sync::Arc;

/// A cart on a rail (double integrator, `ẍ = u`) between two hard end
/// stops at ±1 m: the simplest plant with inertia. Braking from speed `v`
/// takes `v` seconds at full authority, so a one-step look-ahead is not
/// enough.
#[derive(Debug)]
pub(crate) struct Cart {
    spec: EnvSpec,
    noise: f64,
}

impl Cart {
    pub(crate) fn new(force_noise: f64) -> Self {
        Cart {
            noise: force_noise,
            spec: EnvSpec {
                id: "Cart-test".into(),
                description: "double integrator between end stops".into(),
                sources: vec![],
                observations: vec![
                    Dim::new("x", "m", -1.5, 1.5),
                    Dim::new("v", "m/s", -3.0, 3.0),
                ],
                actions: vec![Dim::new("u", "m/s2", -1.0, 1.0)],
                dt: 0.1,
                horizon: 150,
                constraints: vec![
                    ConstraintSpec::hard_max("x_max", 1.0, "m", "right end stop"),
                    ConstraintSpec::hard_min("x_min", -1.0, "m", "left end stop"),
                    ConstraintSpec::soft_max("speed", 1.0, "m/s", "speed limit"),
                ],
                reward_range: (-2.0, 0.0),
                ref_random_return: -100.0,
                ref_expert_return: -1.0,
                breach: crate::env::BreachPenalty::RemainingHorizon,
            },
        }
    }
}

impl Model for Cart {
    fn spec(&self) -> &EnvSpec {
        &self.spec
    }
    fn state_dim(&self) -> usize {
        2
    }
    fn reset(&self, state: &mut [f64], rng: &mut EnvRng) {
        state[0] = uniform_in(rng, -0.3, 0.3);
        state[1] = uniform_in(rng, -0.3, 0.3);
    }
    fn step(&self, state: &mut [f64], action: &[f64], rng: &mut EnvRng) -> Transition {
        let u = action[0]
            + if self.noise > 0.0 {
                gaussian(rng, 0.0, self.noise)
            } else {
                0.0
            };
        let dt = self.spec.dt;
        state[0] += state[1] * dt + 0.5 * u * dt * dt;
        state[1] += u * dt;
        Transition {
            reward: -(state[0] * state[0]).min(2.0),
            terminal: false,
        }
    }
    fn observe(&self, state: &[f64], obs: &mut [f32], _rng: &mut EnvRng) {
        obs[0] = state[0] as f32;
        obs[1] = state[1] as f32;
    }
    fn constraints(&self, state: &[f64], out: &mut [f64]) {
        out[0] = state[0];
        out[1] = state[0];
        out[2] = state[1].abs();
    }
    fn safe_action(&self, state: &[f64], action: &mut [f64]) {
        // Brake at full authority (deadbeat near rest).
        action[0] = (-state[1] / self.spec.dt).clamp(-1.0, 1.0);
    }
}

/// A vessel kept between two hard levels, `h' = q_in − 1 m³/s` (area 1 m²,
/// fixed draw-off), with a deliberately poor safe action: close the inlet.
/// That stops an overflow but runs the vessel dry within a step, so near
/// the high limit nothing verifies and the emergency stop must name the
/// low limit, which the safe action cannot keep, not the high one the
/// proposal crossed.
#[derive(Debug)]
struct Band {
    spec: EnvSpec,
}

impl Band {
    fn new() -> Self {
        Band {
            spec: EnvSpec {
                id: "Band-test".into(),
                description: "vessel between two hard levels".into(),
                sources: vec![],
                observations: vec![Dim::new("h", "m", 0.0, 2.0)],
                actions: vec![Dim::new("q_in", "m3/s", 0.0, 2.0)],
                dt: 1.0,
                horizon: 10,
                constraints: vec![
                    ConstraintSpec::hard_max("overflow", 1.5, "m", "high level"),
                    ConstraintSpec::hard_min("dry_run", 0.5, "m", "pump suction"),
                ],
                reward_range: (-1.0, 0.0),
                ref_random_return: -10.0,
                ref_expert_return: 0.0,
                breach: crate::env::BreachPenalty::RemainingHorizon,
            },
        }
    }
}

impl Model for Band {
    fn spec(&self) -> &EnvSpec {
        &self.spec
    }
    fn state_dim(&self) -> usize {
        1
    }
    fn reset(&self, state: &mut [f64], _rng: &mut EnvRng) {
        state[0] = 1.0;
    }
    fn step(&self, state: &mut [f64], action: &[f64], _rng: &mut EnvRng) -> Transition {
        state[0] += action[0] - 1.0;
        Transition {
            reward: -(state[0] - 1.0).abs().min(1.0),
            terminal: false,
        }
    }
    fn observe(&self, state: &[f64], obs: &mut [f32], _rng: &mut EnvRng) {
        obs[0] = state[0] as f32;
    }
    fn constraints(&self, state: &[f64], out: &mut [f64]) {
        out[0] = state[0];
        out[1] = state[0];
    }
    fn safe_action(&self, _state: &[f64], action: &mut [f64]) {
        action[0] = 0.0;
    }
}

/// Counts over a batch of episodes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Counts {
    episodes: u64,
    steps: u64,
    violations: u64,
    interventions: u64,
    emergency: u64,
    estops: u64,
    shutdowns: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.episodes += o.episodes;
        self.steps += o.steps;
        self.violations += o.violations;
        self.interventions += o.interventions;
        self.emergency += o.emergency;
        self.estops += o.estops;
        self.shutdowns += o.shutdowns;
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Attack {
    Random,
    Adversarial,
}

/// Run `episodes` episodes of `attack` on `plant` (shielded by a shield on
/// `nominal` when `shield` is given, else unshielded).
fn run_model(
    plant: Arc<dyn Model>,
    nominal: Arc<dyn Model>,
    shield: Option<ShieldConfig>,
    attack: Attack,
    seed: u64,
    episodes: u64,
) -> Counts {
    let mut env = Env::new(plant.clone(), EnvOptions::default());
    let mut sup = Supervisor::new(&env, SafetyConfig::monitor_only()).unwrap();
    if let Some(cfg) = shield {
        let s = Shield::with_model(nominal.clone(), cfg).unwrap();
        sup.set_shield(Some(s));
    }
    run_supervisor(&mut env, &mut sup, nominal, attack, seed, episodes)
}

fn run_supervisor(
    env: &mut Env,
    sup: &mut Supervisor,
    nominal: Arc<dyn Model>,
    attack: Attack,
    seed: u64,
    episodes: u64,
) -> Counts {
    let mut c = Counts {
        episodes,
        ..Counts::default()
    };
    drive(env, sup, nominal, attack, seed, episodes, |_, st, _| {
        c.steps += 1;
        c.violations += st.outcome.hard_violation as u64;
        c.interventions += st.intervened() as u64;
        c.emergency += st
            .decision
            .is_some_and(|d| d.intervention == Some(InterventionKind::Emergency))
            as u64;
        c.estops += st.tripped as u64;
        c.shutdowns += st.outcome.shutdown as u64;
    });
    c
}

/// Run `episodes` episodes of `attack` through `sup` (episode `ep` has seed
/// `seed · 1000 + ep`), calling `on_step(state before, step, supervisor)`
/// after every step.
fn drive(
    env: &mut Env,
    sup: &mut Supervisor,
    nominal: Arc<dyn Model>,
    attack: Attack,
    seed: u64,
    episodes: u64,
    mut on_step: impl FnMut(&[f64], &SupervisedStep, &Supervisor),
) {
    let mut random = crate::control::RandomPolicy::new(env.spec());
    let mut adversary = Adversary::new(nominal, 3);
    let mut action = vec![0f32; env.spec().act_dim()];
    let mut before = vec![0.0; env.state().len()];
    for ep in 0..episodes {
        let s = seed.wrapping_mul(1000).wrapping_add(ep);
        env.reset(s);
        random.reset(s);
        adversary.reset(s);
        sup.begin_episode(env, s).unwrap();
        loop {
            before.copy_from_slice(env.state());
            let st = match attack {
                Attack::Random => sup.step(env, &mut random).unwrap(),
                Attack::Adversarial => {
                    adversary.act(env.state(), &mut action);
                    sup.step_action(env, &action).unwrap()
                }
            };
            on_step(&before, &st, sup);
            if st.done() {
                break;
            }
        }
    }
}

fn tank() -> Arc<dyn Model> {
    Arc::new(Tank::new(EnvOptions::deterministic()))
}
fn cart() -> Arc<dyn Model> {
    Arc::new(Cart::new(0.0))
}

// ---------------------------------------------------------------- test models

#[test]
fn unshielded_attacks_breach_the_test_models() {
    for (name, m) in [("tank", tank()), ("cart", cart())] {
        let adv = run_model(m.clone(), m.clone(), None, Attack::Adversarial, 1, 5);
        assert_eq!(
            adv.violations, 5,
            "{name}: the adversary breaches every episode: {adv:?}"
        );
        assert_eq!(
            adv.estops, 5,
            "{name}: each breach trips the emergency stop"
        );
    }
    let rnd = run_model(tank(), tank(), None, Attack::Random, 1, 20);
    assert!(
        rnd.violations > 0,
        "random flow overfills the tank sometimes: {rnd:?}"
    );
}

#[test]
fn one_step_lookahead_cannot_stop_a_plant_with_inertia() {
    let one_step = ShieldConfig {
        horizon: 1,
        ..ShieldConfig::default()
    };
    let c = run_model(cart(), cart(), Some(one_step), Attack::Adversarial, 2, 5);
    assert!(
        c.violations > 0,
        "momentum defeats a one-step shield: {c:?}"
    );
    let with_backup = ShieldConfig {
        horizon: 30,
        ..ShieldConfig::default()
    };
    let c = run_model(cart(), cart(), Some(with_backup), Attack::Adversarial, 2, 5);
    assert_eq!(c.violations, 0, "{c:?}");
    assert!(c.interventions > 0);
    assert_eq!(
        c.emergency, 0,
        "the backup horizon keeps a verified action available"
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 16,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5AFE_5EED),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Shielded, neither random nor adversarial policies breach the test
    /// models (plant = nominal model: the guarantee holds).
    #[test]
    fn shielded_test_models_never_breach(seed in any::<u64>()) {
        let cfg = ShieldConfig { horizon: 30, ..ShieldConfig::default() };
        for (name, m) in [("tank", tank()), ("cart", cart())] {
            for attack in [Attack::Random, Attack::Adversarial] {
                let c = run_model(m.clone(), m.clone(), Some(cfg.clone()), attack, seed, 2);
                prop_assert_eq!(c.violations, 0, "{} {:?}: {:?}", name, attack, c);
                prop_assert_eq!(c.emergency, 0, "{} {:?}: {:?}", name, attack, c);
            }
        }
    }

    /// Rate limits hold on every step, and the result is still safe.
    #[test]
    fn rate_limits_hold(seed in any::<u64>()) {
        let cfg = ShieldConfig { horizon: 30, rate_limits: vec![0.3], ..ShieldConfig::default() };
        let mut env = Env::new(cart(), EnvOptions::default());
        let mut sup = Supervisor::new(&env, SafetyConfig::monitor_only()).unwrap();
        sup.set_shield(Some(Shield::with_model(cart(), cfg).unwrap()));
        let mut random = crate::control::RandomPolicy::new(env.spec());
        env.reset(seed);
        random.reset(seed);
        sup.begin_episode(&env, seed).unwrap();
        let mut prev: Option<f32> = None;
        let mut limited = 0u32;
        loop {
            let st = sup.step(&mut env, &mut random).unwrap();
            let a = sup.applied()[0];
            if let (Some(p), Some(d)) = (prev, st.decision) {
                // Only a move toward the safe action may exceed the limit.
                let exempt = matches!(
                    d.intervention,
                    Some(InterventionKind::Emergency | InterventionKind::SafeAction | InterventionKind::Projected)
                );
                prop_assert!(exempt || (a - p).abs() <= 0.3 + 1e-6, "step change {} -> {} with {:?}", p, a, d);
                limited += (d.intervention == Some(InterventionKind::RateLimited)) as u32;
            }
            prop_assert!(!st.outcome.hard_violation);
            prev = Some(a);
            if st.done() { break; }
        }
        prop_assert!(limited > 0, "random jumps of up to 2 m/s² must hit a 0.3 rate limit");
    }
}

#[test]
fn residual_violations_under_unknown_disturbances_are_measured() {
    // The plant has force noise the nominal model does not know.
    let plant: Arc<dyn Model> = Arc::new(Cart::new(0.5));
    let cfg = ShieldConfig {
        horizon: 30,
        backoff: 0.0,
        ..ShieldConfig::default()
    };
    let loose = run_model(
        plant.clone(),
        cart(),
        Some(cfg.clone()),
        Attack::Adversarial,
        3,
        20,
    );
    let tight_cfg = ShieldConfig {
        tighten: vec![0.4, 0.4, 0.0],
        ..cfg
    };
    let tight = run_model(
        plant.clone(),
        cart(),
        Some(tight_cfg),
        Attack::Adversarial,
        3,
        20,
    );
    let none = run_model(plant, cart(), None, Attack::Adversarial, 3, 20);
    eprintln!(
        "cart with unknown force noise, adversarial: unshielded {none:?}\n  shielded {loose:?}\n  tightened {tight:?}"
    );
    assert_eq!(none.violations, 20);
    assert!(loose.violations < none.violations);
    assert!(
        tight.violations < loose.violations,
        "a back-off buys robustness"
    );
}

#[test]
fn a_non_finite_proposal_is_replaced_never_applied() {
    let mut env = Env::new(tank(), EnvOptions::default());
    let mut sup = Supervisor::new(&env, SafetyConfig::monitor_only()).unwrap();
    sup.set_shield(Some(
        Shield::with_model(tank(), ShieldConfig::default()).unwrap(),
    ));
    env.reset(0);
    sup.begin_episode(&env, 0).unwrap();
    let st = sup.step_action(&mut env, &[f32::NAN]).unwrap();
    let d = st.decision.unwrap();
    assert_eq!(d.intervention, Some(InterventionKind::SafeAction));
    assert_eq!(d.proposed_margin, f64::NEG_INFINITY);
    assert_eq!(sup.applied(), &[0.0]);
    assert!(
        sup.step_action(&mut env, &[0.5, 0.5]).is_err(),
        "wrong length is an error"
    );
}

#[test]
fn the_projection_stays_close_to_the_proposal() {
    // Tank at 1.9 m: full inflow would overflow, zero inflow is safe; the
    // applied action is the largest verified inflow (bisection), not zero.
    let m = tank();
    let mut s = Shield::with_model(m.clone(), ShieldConfig::default()).unwrap();
    let mut out = [0f32];
    let d = s.decide(&[1.9], &[1.9], &[2.0], &mut out).unwrap();
    assert_eq!(d.intervention, Some(InterventionKind::Projected));
    assert_eq!(d.constraint, Some(0));
    assert_eq!(d.applied_constraint, Some(0), "binding after projection");
    assert!(d.proposed_margin < 0.0 && d.applied_margin >= 0.0, "{d:?}");
    assert!(out[0] > 1.0 && out[0] < 2.0, "{out:?}");
    // Correction in units of the actuator's range (0..2 m³/s).
    assert!(
        (d.correction - (2.0 - out[0] as f64) / 2.0).abs() < 1e-6,
        "{d:?}"
    );
    // Verified: the next level stays under 2 m.
    let mut st = [1.9];
    let mut rng = <EnvRng as rand::SeedableRng>::seed_from_u64(0);
    m.step(&mut st, &[out[0] as f64], &mut rng);
    assert!(st[0] <= 2.0, "{st:?}");
    // A safe proposal passes unchanged.
    let d = s.decide(&[1.0], &[1.0], &[0.9], &mut out).unwrap();
    assert_eq!(d.intervention, None);
    assert_eq!(out, [0.9]);
    let st = s.stats();
    assert_eq!((st.decisions, st.interventions), (2, 1));
}

#[test]
fn an_emergency_names_the_constraint_the_safe_action_cannot_keep() {
    let band: Arc<dyn Model> = Arc::new(Band::new());
    let mut s = Shield::with_model(band.clone(), ShieldConfig::default()).unwrap();
    let mut out = [0f32];
    // Full inflow overflows; the safe action (inlet closed) drains the
    // vessel from 1.0 m to 0 m in one step: below the 0.5 m dry-run limit.
    let d = s.decide(&[1.0], &[1.0], &[2.0], &mut out).unwrap();
    assert_eq!(d.intervention, Some(InterventionKind::Emergency), "{d:?}");
    assert_eq!(d.constraint, Some(0), "the proposal crosses `overflow`");
    assert_eq!(
        d.applied_constraint,
        Some(1),
        "the safe action crosses `dry_run`"
    );
    assert!(d.applied_margin < 0.0, "{d:?}");
    assert_eq!(out, [0.0], "the safe action is applied anyway");

    // The supervisor's emergency stop and audit log report `dry_run`.
    let path = std::env::temp_dir().join(format!("neorl-safety-band-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut env = Env::new(band.clone(), EnvOptions::deterministic());
    let mut sup = Supervisor::new(&env, SafetyConfig::monitor_only()).unwrap();
    sup.set_shield(Some(
        Shield::with_model(band, ShieldConfig::default()).unwrap(),
    ));
    sup.set_audit(AuditLog::open_with(&path, Some("band-test"), false).unwrap());
    env.reset(0);
    sup.begin_episode(&env, 0).unwrap();
    let st = sup.step_action(&mut env, &[2.0]).unwrap();
    assert!(st.tripped, "no verified action trips the stop");
    assert_eq!(
        sup.estop().cause(),
        Some(&TripCause::NoSafeAction {
            constraint: Some("dry_run".into())
        })
    );
    sup.close().unwrap();
    let ev = audit_events(&path);
    let intervention = ev.iter().find(|r| r.event == "intervention").unwrap();
    assert_eq!(intervention.payload["constraint"], "overflow");
    assert_eq!(intervention.payload["applied_constraint"], "dry_run");
    let trip = ev.iter().find(|r| r.event == "estop_trip").unwrap();
    assert_eq!(trip.payload["cause"]["constraint"], "dry_run");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn the_expert_is_the_first_backup() {
    let m = tank();
    let mut s = Shield::with_model(m, ShieldConfig::default()).unwrap();
    // An "expert" that holds 1.0 m³/s (steady state at 1 m).
    s.set_expert(Box::new(FnPolicy::new(
        "hold",
        |_o: &[f32], a: &mut [f32]| a[0] = 1.0,
    )));
    let mut out = [0f32];
    let d = s.decide(&[1.9], &[1.9], &[2.0], &mut out).unwrap();
    assert!(matches!(
        d.intervention,
        Some(InterventionKind::Projected) | Some(InterventionKind::Expert)
    ));
    assert!(
        out[0] >= 1.0,
        "blended toward the expert, not toward shutdown: {out:?}"
    );
}

// ------------------------------------------------- e-stop, override, audit

fn audit_events(path: &std::path::Path) -> Vec<audit::Record> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn estop_and_override_sequences_are_enforced_and_audited() {
    let path = std::env::temp_dir().join(format!("neorl-safety-seq-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut env = Env::new(tank(), EnvOptions::deterministic());
    let mut sup = Supervisor::new(&env, SafetyConfig::monitor_only()).unwrap();
    sup.set_shield(Some(
        Shield::with_model(tank(), ShieldConfig::default()).unwrap(),
    ));
    sup.set_audit(AuditLog::open_with(&path, Some("seq-test"), false).unwrap());
    let mut policy = FnPolicy::new("steady", |_o: &[f32], a: &mut [f32]| a[0] = 1.0);
    env.reset(0);
    sup.begin_episode(&env, 0).unwrap();
    for _ in 0..3 {
        let st = sup.step(&mut env, &mut policy).unwrap();
        assert_eq!(st.source, ActionSource::Policy);
    }
    // Operator takes over with a fixed flow; the policy is out of the loop.
    assert!(sup.hand_back("ana", "nothing to hand back").is_err());
    sup.take_over("ana", OverrideSource::Fixed(vec![0.8]), "inspection")
        .unwrap();
    assert!(
        sup.take_over("bo", OverrideSource::Fixed(vec![0.1]), "second")
            .is_err(),
        "no take-over while manual"
    );
    let st = sup.step(&mut env, &mut policy).unwrap();
    assert_eq!(st.source, ActionSource::Operator);
    assert_eq!(sup.applied(), &[0.8]);
    // An operator asking for an overflow is shielded too.
    sup.hand_back("ana", "done").unwrap();
    sup.take_over("bo", OverrideSource::Fixed(vec![2.0]), "test the shield")
        .unwrap();
    let mut overflows = 0;
    for _ in 0..20 {
        let st = sup.step(&mut env, &mut policy).unwrap();
        overflows += st.outcome.hard_violation as u32;
    }
    assert_eq!(overflows, 0);
    sup.hand_back("bo", "done").unwrap();
    // The button: the plant goes to its safe action and stays there.
    assert!(sup.reset_estop(&env, "ana", "nothing tripped").is_err());
    assert!(sup.press_estop("ana", "smell of smoke").unwrap());
    assert!(!sup.press_estop("bo", "again").unwrap(), "already tripped");
    for _ in 0..5 {
        let st = sup.step(&mut env, &mut policy).unwrap();
        assert_eq!(st.source, ActionSource::EmergencyStop);
        assert_eq!(sup.applied(), &[0.0], "safe action: inflow closed");
    }
    // Operators cannot bypass a tripped stop.
    sup.take_over("ana", OverrideSource::Fixed(vec![1.5]), "restart by hand")
        .unwrap();
    let st = sup.step(&mut env, &mut policy).unwrap();
    assert_eq!(st.source, ActionSource::EmergencyStop);
    sup.hand_back("ana", "wait for reset").unwrap();
    assert!(sup.reset_estop(&env, "", "anonymous").is_err());
    sup.reset_estop(&env, "ana", "checked").unwrap();
    let st = sup.step(&mut env, &mut policy).unwrap();
    assert_eq!(st.source, ActionSource::Policy);
    let t = sup.totals();
    assert_eq!(t.emergency_stops, 1);
    assert_eq!(t.handovers, 6);
    let (records, head) = sup.close().unwrap().unwrap();
    let r = verify(&path);
    assert!(r.ok, "{r:?}");
    assert_eq!(r.records, records);
    assert_eq!(r.head.as_deref(), Some(head.as_str()));
    let ev = audit_events(&path);
    let names: Vec<&str> = ev.iter().map(|r| r.event.as_str()).collect();
    assert_eq!(names.iter().filter(|e| **e == "override_take").count(), 3);
    assert_eq!(
        names.iter().filter(|e| **e == "override_hand_back").count(),
        3
    );
    assert_eq!(names.iter().filter(|e| **e == "estop_trip").count(), 1);
    assert_eq!(names.iter().filter(|e| **e == "estop_reset").count(), 1);
    assert!(
        names.contains(&"intervention"),
        "the operator's overflow was shielded"
    );
    assert_eq!(names.first(), Some(&"open"));
    assert_eq!(names.last(), Some(&"seal"));
    let take = ev.iter().find(|r| r.event == "override_take").unwrap();
    assert_eq!(take.payload["operator"], "ana");
    assert_eq!(take.episode, Some(0));
    assert_eq!(take.step, Some(3));
    let trip = ev.iter().find(|r| r.event == "estop_trip").unwrap();
    assert_eq!(trip.payload["cause"]["cause"], "operator");
    let reset = ev.iter().find(|r| r.event == "estop_reset").unwrap();
    assert_eq!(reset.payload["operator"], "ana");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_breach_trips_the_stop_and_a_new_episode_resets_it_on_record() {
    let path =
        std::env::temp_dir().join(format!("neorl-safety-breach-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut env = Env::new(tank(), EnvOptions::deterministic());
    let mut sup = Supervisor::new(&env, SafetyConfig::monitor_only()).unwrap();
    sup.set_audit(AuditLog::open(&path).unwrap());
    let mut flood = FnPolicy::new("flood", |_o: &[f32], a: &mut [f32]| a[0] = 2.0);
    let s = run_supervised_episode(&mut env, &mut flood, &mut sup, 0).unwrap();
    assert!(s.hard_violation);
    assert!(sup.estop().is_tripped());
    let s = run_supervised_episode(&mut env, &mut flood, &mut sup, 1).unwrap();
    assert!(s.hard_violation);
    assert_eq!(sup.totals().emergency_stops, 2);
    sup.close().unwrap();
    assert!(verify(&path).ok);
    let ev = audit_events(&path);
    let count = |e: &str| ev.iter().filter(|r| r.event == e).count();
    assert_eq!(count("hard_violation"), 2);
    assert_eq!(count("estop_trip"), 2);
    assert_eq!(
        count("estop_reset"),
        1,
        "the new episode re-armed the stop, on record"
    );
    assert_eq!(count("episode_start"), 2);
    assert_eq!(count("episode_end"), 2);
    assert!(count("alarm") >= 2);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn the_supervisor_needs_begin_episode() {
    let mut env = Env::new(tank(), EnvOptions::deterministic());
    let mut sup = Supervisor::new(&env, SafetyConfig::default()).unwrap();
    env.reset(0);
    let mut p = FnPolicy::new("x", |_o: &[f32], a: &mut [f32]| a[0] = 1.0);
    let e = sup.step(&mut env, &mut p).unwrap_err().to_string();
    assert!(e.contains("begin_episode"), "{e}");
}

// ------------------------------------------------- registered environments

/// Environments where the zero-violation guarantee does not hold even
/// with the plant equal to the nominal model, and why (see the module docs).
const NO_GUARANTEE: &[(&str, &str)] = &[];

fn registered(id: &str, options: EnvOptions) -> (Env, Arc<dyn Model>) {
    let env = crate::env::make_with(id, options).unwrap();
    let nominal = crate::env::model(id, EnvOptions::deterministic()).unwrap();
    (env, nominal)
}

/// Episodes per environment so that each run is about `steps` steps.
fn episodes_for(env: &Env, steps: usize) -> u64 {
    let max = std::env::var("RESIDUAL_MAX_EPISODES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    (steps / env.spec().horizon).clamp(1, max) as u64
}

fn run_registered(
    id: &str,
    options: EnvOptions,
    shield: bool,
    attack: Attack,
    seed: u64,
    steps: usize,
) -> Counts {
    let backoff = shield.then_some(ShieldConfig::default().backoff);
    run_registered_with(id, options, backoff, attack, seed, steps)
}

/// As [`run_registered`] with an explicit back-off (`None` = unshielded).
fn run_registered_with(
    id: &str,
    options: EnvOptions,
    backoff: Option<f64>,
    attack: Attack,
    seed: u64,
    steps: usize,
) -> Counts {
    let (mut env, nominal) = registered(id, options);
    let horizon = std::env::var("RESIDUAL_HORIZON")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(ShieldConfig::default().horizon);
    let config = match backoff {
        Some(backoff) => SafetyConfig {
            shield: Some(ShieldConfig {
                backoff,
                horizon,
                scenarios: std::env::var("RESIDUAL_SCENARIOS")
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(ShieldConfig::default().scenarios),
                ..ShieldConfig::default()
            }),
            ..SafetyConfig::default()
        },
        None => SafetyConfig::monitor_only(),
    };
    let mut sup = Supervisor::new(&env, config).unwrap();
    let n = episodes_for(&env, steps);
    run_supervisor(&mut env, &mut sup, nominal, attack, seed, n)
}

/// The ids the shield's long property tests run on: every v0 id, and the
/// v1 ids whose plant differs from v0's (`env::protocol::V1_PLANT_CHANGED`).
/// Elsewhere a v1 id steps exactly as v0 (only the reward differs, which
/// the shield does not read), so running it again would double the CI time
/// and test nothing new; `every_v1_id_is_shielded_and_estimated` checks
/// that the safety layer accepts every v1 id.
fn shield_test_ids() -> Vec<&'static str> {
    let mut ids = crate::env::ids();
    ids.extend(
        crate::env::all_ids()
            .into_iter()
            .filter(|id| crate::env::protocol::v1_plant_changed(id)),
    );
    ids
}

/// The safety layer matches processes by name without their version: the
/// supervisor (shield, estimator, monitor) is built for every v1 id and
/// keeps a short shielded random run safe.
#[test]
fn every_v1_id_is_shielded_and_estimated() {
    for id in crate::env::ids_of(crate::env::Version::V1) {
        let (env, _) = registered(id, EnvOptions::deterministic());
        let shield = Shield::for_model(env.model(), ShieldConfig::default()).unwrap();
        assert!(
            shield.has_expert(),
            "{id}: the shield's backup must find the expert"
        );
        crate::estimate::estimator(id).unwrap_or_else(|e| panic!("{id}: {e}"));
        let c = run_registered(
            id,
            EnvOptions::deterministic(),
            true,
            Attack::Random,
            5,
            100,
        );
        assert_eq!((c.violations, c.emergency), (0, 0), "{id}: {c:?}");
    }
}

#[test]
fn unshielded_attacks_breach_registered_envs() {
    let ids = crate::env::ids();
    if ids.is_empty() {
        return;
    }
    let mut breached = vec![];
    for id in &ids {
        let rnd = run_registered(
            id,
            EnvOptions::deterministic(),
            false,
            Attack::Random,
            7,
            2000,
        );
        let adv = run_registered(
            id,
            EnvOptions::deterministic(),
            false,
            Attack::Adversarial,
            7,
            2000,
        );
        eprintln!(
            "{id:<22} unshielded: random {}/{} episodes breached, adversarial {}/{}",
            rnd.violations, rnd.episodes, adv.violations, adv.episodes
        );
        if rnd.violations + adv.violations > 0 {
            breached.push(*id);
        }
        // Per environment: the shielded property test below has teeth.
        assert!(
            adv.violations > 0,
            "{id}: the unshielded adversary no longer breaches a hard limit, so the shielded test proves nothing here; strengthen the adversary"
        );
    }
    assert!(!breached.is_empty());
}

proptest! {
    // Fixed case seeds: CI must be reproducible.
    #![proptest_config(ProptestConfig {
        cases: 12,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5AFE_5EED),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// With the shield on and the plant equal to the nominal model, random
    /// and adversarial policies never cross a hard limit, and a verified
    /// action always exists (no emergency).
    #[test]
    fn shielded_registered_envs_never_breach(seed in any::<u64>()) {
        for id in shield_test_ids() {
            if NO_GUARANTEE.iter().any(|(n, _)| *n == id) {
                continue;
            }
            for attack in [Attack::Random, Attack::Adversarial] {
                let c = run_registered(id, EnvOptions::deterministic(), true, attack, seed, 1500);
                prop_assert_eq!(c.violations, 0, "{} {:?} seed {}: {:?}", id, attack, seed, c);
                // Recursive feasibility: a verified action always exists.
                prop_assert_eq!(c.emergency, 0, "{} {:?} seed {}: {:?}", id, attack, seed, c);
            }
        }
    }
}

proptest! {
    // Fixed case seeds: CI must be reproducible. Fewer cases than above:
    // with disturbances on, every candidate is also checked under the 8
    // disturbance scenarios (9 look-aheads instead of 1).
    #![proptest_config(ProptestConfig {
        cases: 4,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0xD157_0A8E),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// With the documented disturbances and sensor noise on (which the
    /// nominal model does not know), random and adversarial policies
    /// through the shield never cross a hard limit in any registered
    /// environment. Emergencies may happen here (the disturbance left no
    /// verified action); they fire the plant's emergency shutdown where it
    /// has one, and that must stay safe too. The residual table in the
    /// module docs measures the same over 10^5 steps per row.
    #[test]
    fn shielded_registered_envs_never_breach_with_disturbances(seed in any::<u64>()) {
        for id in shield_test_ids() {
            for attack in [Attack::Random, Attack::Adversarial] {
                let c = run_registered(id, EnvOptions::default(), true, attack, seed, 1500);
                prop_assert_eq!(c.violations, 0, "{} {:?} with disturbances, seed {}: {:?}", id, attack, seed, c);
            }
        }
    }
}

/// The shield's look-ahead is finite: a plan it verifies (the applied
/// action, then the backup law for the rest of the `horizon`) only keeps
/// the plant safe if the safe action has it settled by the time the window
/// closes. A backup still moving toward a limit then can cross it just
/// after, which is how RobotAssembly's former joint brake breached (see
/// `shield_holds_on_former_gap_seed`). For every registered environment,
/// every plan that shielded random and adversarial runs applied is replayed
/// on the nominal model and continued for two more windows: wherever it
/// keeps every hard limit within the window, it must keep them after it.
/// (With the former brake put back, this test finds four plans of the gap
/// seed that cross `contact_force_damage` on step 21.)
#[test]
fn verified_plans_hold_beyond_the_lookahead() {
    let h = ShieldConfig::default().horizon;
    let mut gaps = vec![];
    for id in crate::env::ids() {
        let (mut env, nominal) = registered(id, EnvOptions::deterministic());
        let mut sup = Supervisor::new(&env, SafetyConfig::default()).unwrap();
        let law = sup
            .shield()
            .expect("the default config shields")
            .backup_law();
        let spec = nominal.spec().clone();
        let hierarchy = ConstraintHierarchy::from_model(nominal.as_ref());
        // (state, applied action) of every shielded step: episode 0 of three
        // fixed seeds, and episodes 0 and 1 of the former gap's seed (its
        // breach was in episode 1).
        let mut plans: Vec<(Vec<f64>, Vec<f64>)> = vec![];
        let runs = [(31, 1), (32, 1), (33, 1), (4_695_325_725_870_786_795, 2)];
        for (seed, episodes) in runs {
            for attack in [Attack::Random, Attack::Adversarial] {
                drive(
                    &mut env,
                    &mut sup,
                    nominal.clone(),
                    attack,
                    seed,
                    episodes,
                    |state, _, sup| {
                        let applied = sup.applied().iter().map(|&a| a as f64).collect();
                        plans.push((state.to_vec(), applied));
                    },
                );
            }
        }
        let mut rng = <EnvRng as rand::SeedableRng>::seed_from_u64(0);
        let mut backup = vec![0.0; spec.act_dim()];
        let (low, high): (Vec<f64>, Vec<f64>) =
            spec.actions.iter().map(|d| (d.low, d.high)).unzip();
        let mut values = vec![0.0; spec.constraints.len()];
        let mut worst_after = f64::INFINITY;
        for (i, (start, applied)) in plans.iter().enumerate() {
            let mut sim = start.clone();
            let mut in_window = f64::INFINITY;
            for k in 0..3 * h {
                if k == 1 || (k > 1 && law == BackupLaw::Recompute) {
                    nominal.safe_action(&sim, &mut backup);
                    shield::as_applied(&low, &high, &mut backup);
                }
                let a = if k == 0 { applied } else { &backup };
                let terminal = nominal.step(&mut sim, a, &mut rng).terminal;
                nominal.constraints(&sim, &mut values);
                let (m, c) = hierarchy.min_hard_margin(&values, &[]);
                if k < h {
                    in_window = in_window.min(m);
                } else if in_window >= 0.0 {
                    worst_after = worst_after.min(m);
                    if constraints::crossed(m) {
                        gaps.push(format!(
                            "{id}: the plan applied at shielded step {i} keeps every hard limit for its {h} steps, then its backup ({law:?}) crosses `{}` at step {} (margin {m:.3})",
                            hierarchy.name(c.unwrap()),
                            k + 1
                        ));
                        break;
                    }
                }
                if terminal {
                    break;
                }
            }
        }
        eprintln!(
            "{id:<22} {} plans, backup law {law:?}: smallest hard margin after the window {worst_after:.3}",
            plans.len()
        );
    }
    assert!(gaps.is_empty(), "{}", gaps.join("\n"));
}

/// Regression: with this seed a random (unfixed) proptest run of
/// `shielded_registered_envs_never_breach` found an emergency fallback and
/// a hard breach in RobotAssembly-v0 under the random policy (episode 1,
/// step 58). RobotAssembly's safe action was then a viscous joint brake
/// that was still moving the arm when the shield's 20-step look-ahead
/// ended: a plan verified at step 57 drove the peg into the fixture on its
/// 21st step (80.3 N > 80 N), so at step 58 no action verified and the
/// emergency stop's brake breached at step 77. The controlled stop now
/// brings the arm to rest within 12 steps (see
/// `env::robot_assembly::tests::safe_action_stops_within_the_shield_horizon`).
#[test]
fn shield_holds_on_former_gap_seed() {
    let seed = 4_695_325_725_870_786_795;
    for id in crate::env::ids() {
        if NO_GUARANTEE.iter().any(|(n, _)| *n == id) {
            continue;
        }
        for attack in [Attack::Random, Attack::Adversarial] {
            let c = run_registered(id, EnvOptions::deterministic(), true, attack, seed, 1500);
            eprintln!("{id} {attack:?}: {c:?}");
            assert_eq!((c.violations, c.emergency), (0, 0), "{id} {attack:?}");
        }
    }
}

/// Shielded with the documented disturbances on (which the nominal model
/// does not know): prints the residual breach rate per environment.
#[test]
fn residual_rates_with_disturbances_are_reported() {
    for id in crate::env::ids() {
        for attack in [Attack::Random, Attack::Adversarial] {
            let un = run_registered(id, EnvOptions::default(), false, attack, 11, 1000);
            let sh = run_registered(id, EnvOptions::default(), true, attack, 11, 1000);
            eprintln!(
                "{id:<22} {attack:?} with disturbances: unshielded {}/{} episodes breached; shielded {}/{} ({} interventions in {} steps, {} emergency)",
                un.violations,
                un.episodes,
                sh.violations,
                sh.episodes,
                sh.interventions,
                sh.steps,
                sh.emergency
            );
            assert_eq!(
                sh.violations, 0,
                "{id} {attack:?}: a shielded run with disturbances breached"
            );
        }
    }
}

#[test]
fn a_registered_expert_is_found() {
    let Some(id) = crate::env::ids().into_iter().next() else {
        return;
    };
    let env = crate::env::make(id).unwrap();
    let s = Shield::for_model(env.model(), ShieldConfig::default()).unwrap();
    assert_eq!(
        s.has_expert(),
        make_policy(env.spec(), PolicyKind::Expert).is_ok()
    );
}

/// The residual-rate table of the module docs:
/// `cargo test -p neorl --lib residual_table -- --ignored --nocapture`.
#[test]
#[ignore]
fn residual_table() {
    let steps: usize = std::env::var("RESIDUAL_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5000);
    let only = std::env::var("RESIDUAL_ENV").ok();
    for id in crate::env::ids() {
        if only.as_deref().is_some_and(|o| o != id) {
            continue;
        }
        for attack in [Attack::Random, Attack::Adversarial] {
            let mut row = format!("{id:<20} {attack:<12?}");
            let backoffs: Vec<Option<f64>> = match std::env::var("RESIDUAL_BACKOFFS") {
                Ok(list) => list.split(',').map(|b| b.parse().ok()).collect(),
                Err(_) => vec![None, Some(0.0), Some(0.05), Some(0.1), Some(0.2), Some(0.3)],
            };
            for backoff in backoffs {
                let options = if std::env::var("RESIDUAL_DETERMINISTIC").is_ok() {
                    EnvOptions::deterministic()
                } else {
                    EnvOptions::default()
                };
                // Whole episodes until at least `steps` steps (episodes that
                // end early in a breach or a shutdown are shorter).
                let mut c = Counts::default();
                let mut chunk = 0u64;
                while c.steps < steps as u64 {
                    let more = run_registered_with(
                        id,
                        options,
                        backoff,
                        attack,
                        21 + 7919 * chunk,
                        steps - c.steps as usize,
                    );
                    c.add(&more);
                    chunk += 1;
                }
                row += &format!(
                    " | {:?}: {}/{} ep breached, {} steps, {:.1}% int, {} em, {} shutdowns",
                    backoff,
                    c.violations,
                    c.episodes,
                    c.steps,
                    100.0 * c.interventions as f64 / c.steps as f64,
                    c.emergency,
                    c.shutdowns
                );
            }
            eprintln!("{row}");
        }
    }
}

/// The expert controller through the shield against the expert alone, with
/// disturbances and noise on: normalized score, hard breaches, shield
/// interventions and shutdowns (the module docs' table).
/// `RESIDUAL_EPISODES=50 cargo test -p neorl-plant --release --lib expert_through_the_shield -- --ignored --nocapture`
#[test]
#[ignore]
fn expert_through_the_shield() {
    let episodes: usize = std::env::var("RESIDUAL_EPISODES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    for id in crate::env::ids() {
        let mut env = crate::env::make(id).unwrap();
        let mut expert = make_policy(env.spec(), PolicyKind::Expert).unwrap();
        let plain = crate::rollout::rollout(&mut env, expert.as_mut(), episodes, 500).unwrap();
        let mut sup = Supervisor::new(&env, SafetyConfig::default()).unwrap();
        let sh =
            crate::rollout::shielded_rollout(&mut env, expert.as_mut(), episodes, 500, &mut sup)
                .unwrap();
        let spec = env.spec().clone();
        let se = |r: &crate::rollout::RolloutReport| {
            let scores: Vec<f64> = r
                .per_episode
                .iter()
                .map(|e| spec.normalized_score(e.ret))
                .collect();
            let n = scores.len() as f64;
            let m = scores.iter().sum::<f64>() / n;
            let sd =
                (scores.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
            (m, sd / n.sqrt())
        };
        let (a, sa) = se(&plain);
        let (b, sb) = se(&sh.rollout);
        eprintln!(
            "| {id} | {a:.1} ± {sa:.1} | {b:.1} ± {sb:.1} | {} / {} | {:.1} % | {} |",
            plain.hard_violations,
            sh.rollout.hard_violations,
            100.0 * sh.intervention_rate,
            sh.shutdowns
        );
    }
}

/// Why ChemicalReactor-v0 needs its emergency shutdown: prints, for
/// an adversarial episode, the peak temperature under full cooling as the
/// nominal model predicts it and as the real (disturbed) plant reaches it.
/// `cargo test -p neorl --lib reactor_prediction -- --ignored --nocapture`
#[test]
#[ignore]
fn reactor_prediction_near_ignition() {
    let id = "ChemicalReactor-v0";
    let (mut env, nominal) = registered(id, EnvOptions::default());
    let mut adversary = Adversary::new(nominal.clone(), 3);
    let mut sup = Supervisor::new(&env, SafetyConfig::default()).unwrap();
    let mut action = vec![0f32; 1];
    env.reset(1001);
    adversary.reset(1001);
    sup.begin_episode(&env, 1001).unwrap();
    for t in 0..12 {
        // Compare: real plant (clone) vs nominal under full cooling from here.
        let mut real = env.clone();
        let mut s = env.state().to_vec();
        let mut rng = <EnvRng as rand::SeedableRng>::seed_from_u64(0);
        let mut v = vec![0.0; 3];
        let (mut pn, mut pr) = (0f64, 0f64);
        for _ in 0..25 {
            nominal.step(&mut s, &[40.0], &mut rng);
            nominal.constraints(&s, &mut v);
            pn = pn.max(v[0]);
            if !real.is_done() {
                real.step_in_place(&[40.0]).unwrap();
                pr = pr.max(real.constraint_values()[0]);
            }
        }
        eprintln!(
            "t={t} T={:.2} state={:?} peak under full cooling: nominal {pn:.2} real {pr:.2}",
            env.constraint_values()[0],
            env.state()
        );
        adversary.act(env.state(), &mut action);
        let st = sup.step_action(&mut env, &action).unwrap();
        eprintln!(
            "   applied {:?} {:?}",
            sup.applied(),
            st.decision.map(|d| (d.intervention, d.applied_margin))
        );
        if st.done() {
            break;
        }
    }
}

fn sup_values(sup: &Supervisor) -> Vec<f64> {
    sup.monitor().margins().to_vec()
}

/// Diagnostic: where shielded runs with disturbances on breach.
/// `RESIDUAL_ENV=… cargo test -p neorl-plant --release --lib residual_breaches -- --ignored --nocapture`
#[test]
#[ignore]
fn residual_breaches() {
    let id = std::env::var("RESIDUAL_ENV").unwrap_or_else(|_| "RobotAssembly-v0".into());
    let episodes: u64 = std::env::var("RESIDUAL_EPISODES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let attack = if std::env::var("RESIDUAL_ADVERSARIAL").is_ok() {
        Attack::Adversarial
    } else {
        Attack::Random
    };
    let (mut env, nominal) = registered(&id, EnvOptions::default());
    let mut sup = Supervisor::new(&env, SafetyConfig::default()).unwrap();
    let spec = nominal.spec().clone();
    let mut last: Vec<String> = vec![];
    drive(
        &mut env,
        &mut sup,
        nominal,
        attack,
        21,
        episodes,
        |before, st, sup| {
            last.push(format!(
                "  {:?} applied {:?} margin {:?}",
                st.decision
                    .map(|d| (d.intervention, d.proposed_margin, d.applied_margin)),
                sup.applied(),
                st.level
            ));
            if last.len() > 4 {
                last.remove(0);
            }
            if st.outcome.hard_violation {
                let crossed: Vec<_> = spec
                    .constraints
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.kind == crate::env::ConstraintKind::Hard)
                    .map(|(i, c)| format!("{} margin {:.4}", c.name, sup.monitor().margins()[i]))
                    .collect();
                eprintln!(
                    "BREACH {id} {attack:?} {crossed:?} values {:?}\n{}\nstate before {before:?}",
                    sup_values(sup),
                    last.join("\n")
                );
                let applied: Vec<f64> = sup.applied().iter().map(|&a| a as f64).collect();
                let stochastic = crate::env::model(
                    &id,
                    EnvOptions {
                        sensor_noise: false,
                        disturbances: true,
                    },
                )
                .unwrap();
                let det = crate::env::model(&id, EnvOptions::deterministic()).unwrap();
                let mut v = vec![0.0; spec.constraints.len()];
                for (name, m) in [("nominal", &det), ("stochastic", &stochastic)] {
                    let mut forces = vec![];
                    for seed in 0..2000u64 {
                        let mut x = before.to_vec();
                        let mut rng = <EnvRng as rand::SeedableRng>::seed_from_u64(seed);
                        m.step(&mut x, &applied, &mut rng);
                        m.constraints(&x, &mut v);
                        forces.push(v[6]);
                    }
                    forces.sort_by(f64::total_cmp);
                    let over = forces.iter().filter(|f| **f > 80.0).count();
                    eprintln!(
                        "   replay {name}: quantiles 0 {:.1} 50 {:.1} 90 {:.1} 99 {:.1} max {:.1}; over 80 N: {over}/2000",
                        forces[0], forces[1000], forces[1800], forces[1980], forces[1999]
                    );
                }
            }
        },
    );
}
