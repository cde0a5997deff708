//! COMBO's dynamics model, fitted as MBPO and OfflineRL-Kit fit it (held-out
//! split, early stopping, weight decay, learned log-variance bounds, elites
//! by held-out error), and its rollouts' termination head.

use super::*;
use crate::agents::nets::{Mlp, T3};
use crate::data::{Columns, Metadata};
use rand::{RngExt, SeedableRng};

/// An easy, noisy problem: `s' = 0.5·s + N(0, 0.1²)`, `r = s₀`, and the
/// episode ends where `s'₀ > 0` (about half the transitions).
fn easy_data(n: usize, seed: u64) -> Dataset {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut c = Columns::with_capacity(3, 2, &[], n);
    for _ in 0..n {
        let o: Vec<f32> = (0..3).map(|_| rng.random_range(-1.0..1.0)).collect();
        let a = controller(&o);
        let no: Vec<f32> = o
            .iter()
            .map(|v| 0.5 * v + 0.1 * (rng.random_range(-1.0f32..1.0) * 1.732))
            .collect();
        c.rewards.push(o[0]);
        c.observations.extend(&o);
        c.actions.extend(a);
        c.terminals.push(no[0] > 0.0);
        c.next_observations.extend(no);
        c.timeouts.push(false);
        c.costs.push(0.0);
    }
    let meta = Metadata {
        env_id: "Linear-v0".into(),
        ..Metadata::default()
    };
    Dataset::new(meta, c).unwrap()
}

fn small(model_steps: u64) -> ComboConfig {
    ComboConfig {
        batch_size: 32,
        hidden: vec![8],
        n_actions: 2,
        model_members: 6,
        model_elites: 3,
        model_hidden: vec![16, 16],
        model_weight_decay: vec![2.5e-5, 5e-5, 1e-4],
        termination_hidden: vec![16],
        model_steps,
        rollout_freq: 1_000,
        rollout_batch: 10,
        rollout_length: 5,
        model_buffer: 1_000,
        ..Default::default()
    }
}

#[test]
fn combo_holds_out_a_disjoint_fifth_capped_at_1000() {
    let data = easy_data(300, 1);
    let mut a = Combo::new(&toy_spec(), small(1), &cpu()).unwrap();
    let fit = a.fit_model(&data).unwrap();
    assert_eq!((fit.holdout.len(), fit.train.len()), (60, 240));
    let mut all: Vec<u32> = fit.holdout.iter().chain(&fit.train).copied().collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..300).collect::<Vec<u32>>(),
        "disjoint, covering all"
    );
    assert_eq!((fit.updates, fit.epochs), (1, 1), "the cap of 1 update");
    // 0.2 · 6 000 = 1 200, capped at 1 000.
    let data = easy_data(6_000, 2);
    let mut a = Combo::new(&toy_spec(), small(1), &cpu()).unwrap();
    assert_eq!(a.fit_model(&data).unwrap().holdout.len(), 1_000);
    // Too little data to hold any out: an error naming the setting.
    let mut a = Combo::new(&toy_spec(), small(1), &cpu()).unwrap();
    let e = a.fit_model(&easy_data(4, 3)).unwrap_err().to_string();
    assert!(
        e.contains("model_holdout") && e.contains("at least 6"),
        "{e}"
    );
}

#[test]
fn combo_model_fit_stops_early_on_an_easy_problem() {
    let data = easy_data(400, 4);
    let cap = 100_000;
    let mut a = Combo::new(&toy_spec(), small(cap), &cpu()).unwrap();
    let fit = a.fit_model(&data).unwrap();
    // 320 training rows in minibatches of 32: 10 updates an epoch.
    assert_eq!(fit.updates, 10 * fit.epochs);
    assert!(fit.updates < cap, "{fit:?}");
    assert!(fit.epochs > 5, "at least the patience: {fit:?}");
    // It learned: the noise floor of the targets' MSE is 0.0075.
    let mut best = fit.holdout_mse.clone();
    best.sort_by(f64::total_cmp);
    assert!(best[0] < 0.05, "{best:?}");
}

#[test]
fn combo_model_loss_has_weight_decay_and_the_bounds_penalty() {
    let d = cpu();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let net = Mlp::new(2, &[3, 4, 4], &mut rng, d.base());
    let out = net.forward(tensor3(vec![0.3; 2 * 5 * 3], [2, 5, 3], d.base()));
    let y = tensor3(vec![0.1; 2 * 5 * 2], [2, 5, 2], d.base());
    let bounds = (
        tensor3(vec![0.5, 0.25], [1, 1, 2], d.base()),
        tensor3(vec![-10.0, -8.0], [1, 1, 2], d.base()),
    );
    let loss = |decays: &[f64], penalty| {
        to_vec(&combo::model_loss(
            &net,
            out.clone(),
            y.clone(),
            bounds.clone(),
            decays,
            penalty,
        ))[0]
    };
    let base = loss(&[0.0, 0.0], 0.0);
    let ss = |p: &T3| to_vec(p).iter().map(|v| v * v).sum::<f32>();
    let want = 0.5 * 2.5e-5 * ss(&net.params[0]) + 0.5 * 1e-4 * ss(&net.params[2]);
    let got = loss(&[2.5e-5, 1e-4], 0.0) - base;
    assert!(
        want > 0.0 && (got - want).abs() <= 1e-3 * want + 1e-6,
        "{got} vs {want}"
    );
    // 0.01 · (0.5 + 0.25 − (−10 − 8)) = 0.1875
    let got = loss(&[0.0, 0.0], 0.01) - base;
    assert!(close(got, 0.1875), "{got}");
}

#[test]
fn combo_logvar_bounds_are_learned() {
    let data = easy_data(300, 6);
    let mut a = Combo::new(&toy_spec(), small(200), &cpu()).unwrap();
    let (max0, min0) = a.logvar_bounds();
    assert_eq!((max0[0], min0[0]), (0.5, -10.0));
    a.fit_model(&data).unwrap();
    let (max1, min1) = a.logvar_bounds();
    assert!(max1.iter().zip(&max0).all(|(a, b)| a != b), "{max1:?}");
    assert!(min1.iter().zip(&min0).all(|(a, b)| a != b), "{min1:?}");
}

#[test]
fn combo_elites_are_the_members_best_on_held_out_data() {
    let data = easy_data(400, 7);
    let mut a = Combo::new(&toy_spec(), small(300), &cpu()).unwrap();
    let fit = a.fit_model(&data).unwrap();
    // Each member is back at its best snapshot: its held-out MSE now is the
    // best it reached.
    let now = a.model_mse(&data, &fit.holdout);
    for (n, b) in now.iter().zip(&fit.holdout_mse) {
        assert!(
            (n - b).abs() <= 1e-5 * b,
            "{now:?} vs {:?}",
            fit.holdout_mse
        );
    }
    let mut rank: Vec<usize> = (0..6).collect();
    rank.sort_by(|&i, &j| now[i].total_cmp(&now[j]));
    let mut want = rank[..3].to_vec();
    want.sort_unstable();
    assert_eq!(a.elites(), &want[..], "{now:?}");
}

#[test]
fn combo_rollouts_end_where_the_termination_head_fires() {
    let data = easy_data(300, 8);
    let mut a = Combo::new(&toy_spec(), small(100), &cpu()).unwrap();
    a.train(&data, 1).unwrap();
    let buffer = |a: &Combo| {
        let p = a.parameters();
        let n = p.len();
        (p[n - 2].len(), p[n - 1].clone())
    };
    let (n0, _) = buffer(&a);
    // Always fires: every rollout ends after its first step, stored terminal.
    a.set_termination_logit(10.0);
    a.rollout_now();
    let (n1, t1) = buffer(&a);
    assert_eq!(n1 - n0, 10);
    assert!(t1[n0..].iter().all(|&t| t == 1.0));
    // Never fires: 10 rollouts of 5 steps, none terminal.
    a.set_termination_logit(-10.0);
    a.rollout_now();
    let (n2, t2) = buffer(&a);
    assert_eq!(n2 - n1, 50);
    assert!(t2[n1..].iter().all(|&t| t == 0.0));
}

#[test]
fn combo_termination_head_learns_the_datasets_terminals() {
    let data = easy_data(1_000, 9);
    let mut a = Combo::new(&toy_spec(), small(2_000), &cpu()).unwrap();
    let fit = a.fit_model(&data).unwrap();
    let p = a.termination_probability(&data, &fit.holdout);
    let right = fit
        .holdout
        .iter()
        .zip(&p)
        .filter(|(i, p)| data.terminal(**i as usize) == (**p > 0.5))
        .count();
    // About half the transitions are terminal: 90 % is far above chance.
    assert!(
        right * 10 >= fit.holdout.len() * 9,
        "{right} of {}",
        fit.holdout.len()
    );
}

/// The fit happens in one go before the first update; a checkpoint after
/// it holds the fitted model, its bounds, the termination head and the
/// model buffer with its terminal flags, and resumes bit for bit.
#[test]
fn combo_resumes_exactly_with_terminated_rollouts() {
    let data = easy_data(300, 10);
    let cfg = || ComboConfig {
        batch_size: 16,
        rollout_freq: 2,
        ..small(300)
    };
    let dir = std::env::temp_dir().join(format!("neorl-combo-term-{}", std::process::id()));
    let mut a = Combo::new(&toy_spec(), cfg(), &cpu()).unwrap();
    a.train(&data, 6).unwrap();
    let terminals = a.parameters().pop().unwrap();
    assert!(terminals.contains(&1.0), "some rollouts terminated");
    let mut b = Combo::new(&toy_spec(), cfg(), &cpu()).unwrap();
    b.train(&data, 3).unwrap();
    b.save(&dir).unwrap();
    let mut b = Combo::load(&dir, &cpu()).unwrap();
    assert_eq!(b.model_progress(), a.model_progress());
    assert_eq!(b.elites(), a.elites());
    b.train(&data, 3).unwrap();
    assert_eq!(a.parameters(), b.parameters());
    std::fs::remove_dir_all(&dir).ok();
}
