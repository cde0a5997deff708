//! Issue 15's optimiser recipes and fidelity: schedules reach the agents
//! (IQL's cosine by default), every network's rate is in the history,
//! resume is exact with every recipe on, settings reach nested recipes and
//! are refused out of range; CQL's CORL initialisation and Lagrangian α'.

use super::*;

fn settings(pairs: &[(&str, serde_json::Value)]) -> Settings {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn config_of(algo: &str, s: &Settings) -> serde_json::Value {
    build_configured(algo, &toy_spec(), 0, Some(vec![8]), s, &cpu())
        .unwrap()
        .config_json()
}

/// IQL's actor follows CORL's cosine over the planned steps; its critics
/// and value keep their rates; without a plan the rate stays constant.
#[test]
fn iql_actor_rate_is_a_cosine_over_the_planned_steps_by_default() {
    assert_eq!(IqlConfig::default().actor_optim.schedule, Schedule::Cosine);
    assert_eq!(IqlConfig::default().critic_optim, OptimConfig::default());
    let data = toy_data(200, 1);
    let cfg = |planned| IqlConfig {
        batch_size: 16,
        hidden: vec![8],
        planned_steps: planned,
        ..Default::default()
    };
    let mut a = Iql::new(&toy_spec(), cfg(Some(8)), &cpu()).unwrap();
    a.train(&data, 9).unwrap();
    let lr = a.history().series("lr_actor").unwrap().to_vec();
    let cosine = |k: f64| 3e-4 * 0.5 * (1.0 + (std::f64::consts::PI * k / 8.0).cos());
    for (k, got) in lr.iter().enumerate() {
        assert!(
            (*got as f64 - cosine((k as f64).min(8.0))).abs() < 1e-9,
            "step {k}: {got} (all: {lr:?})"
        );
    }
    assert_eq!(lr[0], 3e-4);
    assert!((lr[4] - 1.5e-4).abs() < 1e-9 && lr[8] == 0.0, "{lr:?}");
    let critic = a.history().series("lr_critic").unwrap();
    assert!(critic.iter().all(|&r| r == 3e-4_f32), "{critic:?}");
    assert!(a.history().series("lr_value").is_some());
    let mut b = Iql::new(&toy_spec(), cfg(None), &cpu()).unwrap();
    b.train(&data, 3).unwrap();
    assert!(
        b.history()
            .series("lr_actor")
            .unwrap()
            .iter()
            .all(|&r| r == 3e-4_f32)
    );
}

/// Every algorithm logs the rate of each of its networks.
#[test]
fn every_agent_logs_its_learning_rates() {
    let data = toy_data(200, 2);
    let want: &[(&str, &[&str])] = &[
        ("bc", &["lr_actor"]),
        ("td3bc", &["lr_actor", "lr_critic"]),
        ("iql", &["lr_actor", "lr_critic", "lr_value"]),
        ("cql", &["lr_actor", "lr_critic", "lr_alpha"]),
        ("combo", &["lr_actor", "lr_critic", "lr_alpha"]),
    ];
    let small = settings(&[
        ("batch_size", 8.into()),
        ("cql.n_actions", 2.into()),
        ("combo.n_actions", 2.into()),
        ("combo.model_steps", 2.into()),
        ("combo.rollout_batch", 4.into()),
        ("combo.model_members", 2.into()),
        ("combo.model_elites", 1.into()),
    ]);
    for (algo, names) in want {
        let mut agent =
            build_configured(algo, &toy_spec(), 0, Some(vec![8]), &small, &cpu()).unwrap();
        train_loop_with(agent.as_mut(), &data, 2, false).unwrap();
        for name in *names {
            let series = agent.history().series(name);
            assert!(
                series.is_some_and(|s| s.len() == 2 && s.iter().all(|r| *r > 0.0)),
                "{algo}: {name} missing from {:?}",
                agent.history().names
            );
        }
    }
}

/// Schedules with warm-up, clipping and weight decay on every network:
/// training 12 steps straight and 5 + save + load + 7 give the same bits,
/// and the recipes changed the result.
#[test]
fn resume_is_exact_with_every_recipe_on() {
    let data = toy_data(300, 6);
    let dir = std::env::temp_dir().join(format!("neorl-recipes-{}", std::process::id()));
    let on = OptimConfig {
        schedule: Schedule::Linear,
        warmup_steps: 3,
        final_lr: 0.1,
        clip_norm: Some(0.5),
        weight_decay: 1e-2,
    };
    let icfg = |recipes: bool| IqlConfig {
        batch_size: 16,
        hidden: vec![8, 8],
        planned_steps: Some(12),
        actor_optim: OptimConfig {
            warmup_steps: 2,
            clip_norm: Some(1.0),
            weight_decay: 1e-3,
            ..OptimConfig::cosine()
        },
        critic_optim: if recipes {
            on.clone()
        } else {
            OptimConfig::default()
        },
        value_optim: if recipes {
            on.clone()
        } else {
            OptimConfig::default()
        },
        ..Default::default()
    };
    let mut a = Iql::new(&toy_spec(), icfg(true), &cpu()).unwrap();
    a.train(&data, 12).unwrap();
    let mut b = Iql::new(&toy_spec(), icfg(true), &cpu()).unwrap();
    b.train(&data, 5).unwrap();
    b.save(&dir).unwrap();
    let mut b = Iql::load(&dir, &cpu()).unwrap();
    b.train(&data, 7).unwrap();
    assert_eq!(bits(a.parameters()), bits(b.parameters()));
    assert_eq!(
        a.history().series("lr_critic"),
        b.history().series("lr_critic")
    );
    let mut plain = Iql::new(&toy_spec(), icfg(false), &cpu()).unwrap();
    plain.train(&data, 12).unwrap();
    assert_ne!(bits(a.parameters()), bits(plain.parameters()));

    let ccfg = || CqlConfig {
        batch_size: 16,
        hidden: vec![8, 8],
        n_actions: 3,
        bc_steps: 4,
        lagrange: true,
        planned_steps: Some(10),
        actor_optim: on.clone(),
        critic_optim: OptimConfig {
            clip_norm: Some(0.1),
            ..OptimConfig::cosine()
        },
        alpha_optim: on.clone(),
        ..Default::default()
    };
    let mut a = Cql::new(&toy_spec(), ccfg(), &cpu()).unwrap();
    a.train(&data, 10).unwrap();
    let mut b = Cql::new(&toy_spec(), ccfg(), &cpu()).unwrap();
    b.train(&data, 6).unwrap();
    b.save(&dir).unwrap();
    let mut b = Cql::load(&dir, &cpu()).unwrap();
    b.train(&data, 4).unwrap();
    assert_eq!(bits(a.parameters()), bits(b.parameters()));
    std::fs::remove_dir_all(&dir).ok();
}

/// `--set` reaches nested recipes by a dotted path or an object (which
/// keeps the recipe's other parts), an algorithm's prefix wins over the
/// plain setting, and `with_planned_steps` plans only what is not planned.
#[test]
fn settings_reach_nested_recipes_and_the_plan() {
    let c = config_of(
        "iql",
        &settings(&[("actor_optim", serde_json::json!({"clip_norm": 1.0}))]),
    );
    assert_eq!(
        c["actor_optim"]["schedule"], "cosine",
        "merged, not replaced"
    );
    assert_eq!(c["actor_optim"]["clip_norm"], 1.0);
    let c = config_of(
        "td3bc",
        &settings(&[("critic_optim.schedule", "linear".into())]),
    );
    assert_eq!(c["critic_optim"]["schedule"], "linear");
    let both = settings(&[("planned_steps", 5.into()), ("iql.planned_steps", 7.into())]);
    assert_eq!(config_of("iql", &both)["planned_steps"], 7);
    assert_eq!(config_of("bc", &both)["planned_steps"], 5);
    let planned = with_planned_steps(&Settings::new(), 40);
    assert_eq!(planned["planned_steps"], 40);
    let own = with_planned_steps(&settings(&[("iql.planned_steps", 9.into())]), 40);
    assert!(!own.contains_key("planned_steps"));
}

/// Recipes out of range, unknown schedules and parts, and a warm-up longer
/// than the plan are refused with the setting's name.
#[test]
fn bad_recipes_are_refused_naming_the_setting() {
    let refuse = |algo: &str, s: Settings| {
        build_configured(algo, &toy_spec(), 0, Some(vec![8]), &s, &cpu())
            .err()
            .unwrap_or_else(|| panic!("{algo} {s:?} accepted"))
            .to_string()
    };
    for (algo, key, value) in [
        ("iql", "actor_optim.clip_norm", serde_json::json!(-1.0)),
        (
            "td3bc",
            "critic_optim.weight_decay",
            serde_json::json!(-0.1),
        ),
        ("combo", "alpha_optim.final_lr", serde_json::json!(2.0)),
        ("bc", "planned_steps", serde_json::json!(0)),
        ("cql", "alpha_prime_lr", serde_json::json!(0.0)),
    ] {
        let e = refuse(algo, settings(&[(key, value)]));
        assert!(e.contains(&format!("{algo}: setting {key} = ")), "{e}");
    }
    let e = refuse(
        "iql",
        settings(&[("actor_optim.schedule", "exponential".into())]),
    );
    assert!(e.contains("exponential") && e.contains("cosine"), "{e}");
    let e = refuse("iql", settings(&[("actor_optim.decay", 1.into())]));
    assert!(
        e.contains("'actor_optim' has no part 'decay'") && e.contains("weight_decay"),
        "{e}"
    );
    let e = refuse(
        "cql",
        settings(&[
            ("planned_steps", 100.into()),
            ("critic_optim.warmup_steps", 500.into()),
        ]),
    );
    assert!(
        e.contains("critic_optim.warmup_steps = 500") && e.contains("0 to 100"),
        "{e}"
    );
    // TD3+BC's actor steps every `policy_freq` updates: half the plan.
    let e = refuse(
        "td3bc",
        settings(&[
            ("planned_steps", 100.into()),
            ("actor_optim.warmup_steps", 60.into()),
        ]),
    );
    assert!(e.contains("0 to 50"), "{e}");
}

/// CORL's initialisation: the actor starts near-deterministic-mean with
/// σ ≈ e⁻¹ ≈ 0.37, and the critics' last layers are orthogonal with gain
/// 10⁻² (a unit vector times 0.01 for a single output).
#[test]
fn cql_starts_from_corls_initialisation() {
    let cfg = CqlConfig {
        hidden: vec![16, 16],
        ..Default::default()
    };
    let agent = Cql::new(&toy_spec(), cfg, &cpu()).unwrap();
    let net = agent.policy().net;
    let (mut a, mut b) = (vec![], vec![]);
    for obs in [[0.5f32, -1.0, 2.0], [0.0, 0.0, 0.0], [-2.0, 1.5, 0.3]] {
        let out = net.forward(&obs, &mut a, &mut b).to_vec();
        for &mean in &out[..2] {
            assert!(mean.abs() < 0.1, "mean {mean}");
        }
        for &log_std in &out[2..] {
            assert!((log_std + 1.0).abs() < 0.1, "σ = {}", log_std.exp());
        }
    }
    // parameters: actor (3 layers: 6 tensors), then the critics.
    let p = agent.parameters();
    assert_eq!(&p[5], &[0.0, 0.0, -1.0, -1.0], "actor's last bias");
    let critic_last = &p[10]; // [2 members, 16, 1]
    for member in critic_last.chunks(16) {
        let norm = member.iter().map(|w| w * w).sum::<f32>().sqrt();
        assert!((norm - 0.01).abs() < 1e-6, "{norm}");
    }
    assert_eq!(&p[11], &[0.0, 0.0], "critics' last biases");
    // PyTorch's default draws would not give this: switch it off.
    let torch = Cql::new(
        &toy_spec(),
        CqlConfig {
            hidden: vec![16, 16],
            orthogonal_init: false,
            ..Default::default()
        },
        &cpu(),
    )
    .unwrap();
    let last = &torch.parameters()[10];
    let bound = 1e-2 * (6.0f32 / 17.0).sqrt();
    assert!(
        last.iter().all(|w| w.abs() <= bound),
        "Xavier with gain 1e-2"
    );
}

/// The Lagrangian α' starts at 1 and moves towards the target gap: down
/// when the gap is below it, up when above, at its own rate of 3e-4.
#[test]
fn cql_lagrangian_alpha_prime_moves_towards_the_target_gap() {
    let data = toy_data(200, 4);
    let run = |target: f64| {
        let cfg = CqlConfig {
            batch_size: 16,
            hidden: vec![8],
            n_actions: 2,
            lagrange: true,
            target_action_gap: target,
            ..Default::default()
        };
        let mut a = Cql::new(&toy_spec(), cfg, &cpu()).unwrap();
        a.train(&data, 5).unwrap();
        let h = a.history();
        let ap = h.series("alpha_prime").unwrap().to_vec();
        assert!(
            h.series("lr_alpha_prime")
                .unwrap()
                .iter()
                .all(|&r| r == 3e-4_f32)
        );
        ap
    };
    let down = run(1e3);
    assert_eq!(down[0], 1.0, "α' starts at 1");
    assert!(down.windows(2).all(|w| w[1] < w[0]), "{down:?}");
    let up = run(-1e3);
    assert!(up.windows(2).all(|w| w[1] > w[0]), "{up:?}");
    // Adam's first steps move log α' by about its rate.
    assert!((down[1].ln() + 3e-4).abs() < 1e-5, "{}", down[1].ln());
}
