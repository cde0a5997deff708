//! Agent tests: losses on hand-computed inputs, determinism, exact resume,
//! checkpoint errors, and short learning tests that cannot pass by chance.

use super::nets::{tensor3, to_vec};
use super::*;
use crate::data::Dataset;
use crate::env::{Dim, EnvSpec};

mod combo_model;
mod deploy;
mod guards;
mod manager;
mod recipes;

fn cpu() -> Device {
    Device::cpu()
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= 1e-5 * b.abs().max(1.0)
}

/// A 3-observation, 2-action toy spec with actions in [-1, 1].
fn toy_spec() -> EnvSpec {
    EnvSpec {
        id: "Linear-v0".into(),
        description: "toy".into(),
        sources: vec![],
        observations: (0..3)
            .map(|i| Dim::new(format!("o{i}"), "-", -1.0, 1.0))
            .collect(),
        actions: (0..2)
            .map(|i| Dim::new(format!("a{i}"), "-", -1.0, 1.0))
            .collect(),
        dt: 1.0,
        horizon: 10,
        constraints: vec![],
        reward_range: (-1.0, 0.0),
        ref_random_return: -10.0,
        ref_expert_return: 0.0,
        breach: crate::env::BreachPenalty::RemainingHorizon,
    }
}

/// The known linear controller BC must recover.
fn controller(o: &[f32]) -> [f32; 2] {
    [0.6 * o[0] - 0.4 * o[1], 0.3 * o[2] + 0.2]
}

/// Transitions with uniform observations, the controller's actions and a
/// reward that prefers small actions (so critics have something to learn),
/// as one episode of `Linear-v0` with `obs_dim` observations (3 fit the
/// toy spec).
fn toy_data_dims(n: usize, seed: u64, obs_dim: usize) -> Dataset {
    use crate::data::{Columns, Metadata};
    use rand::{RngExt, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut c = Columns::with_capacity(obs_dim, 2, &[], n);
    for _ in 0..n {
        let o: Vec<f32> = (0..obs_dim).map(|_| rng.random_range(-1.0..1.0)).collect();
        let a = controller(&o);
        c.rewards.push(-(a[0] * a[0] + a[1] * a[1]));
        c.observations.extend(&o);
        c.actions.extend(a);
        let no: Vec<f32> = (0..obs_dim).map(|_| rng.random_range(-1.0..1.0)).collect();
        c.next_observations.extend(no);
        c.terminals.push(false);
        c.timeouts.push(false);
        c.costs.push(0.0);
    }
    let meta = Metadata {
        env_id: "Linear-v0".into(),
        ..Metadata::default()
    };
    Dataset::new(meta, c).unwrap()
}

fn toy_data(n: usize, seed: u64) -> Dataset {
    toy_data_dims(n, seed, 3)
}

fn small_td3bc(seed: u64) -> Td3Bc {
    let cfg = Td3BcConfig {
        seed,
        batch_size: 32,
        hidden: vec![16, 16],
        ..Default::default()
    };
    Td3Bc::new(&toy_spec(), cfg, &cpu()).unwrap()
}

#[test]
fn twin_mse_matches_hand_computation() {
    let d = cpu();
    // q: two members over two samples; y = [1, 2].
    let q = tensor3(vec![1.5, 2.0, 0.0, 4.0], [2, 2, 1], d.base());
    let y = tensor3(vec![1.0, 2.0], [1, 2, 1], d.base());
    // member 0: (0.25 + 0) / 2; member 1: (1 + 4) / 2; sum = 2.625
    let l = to_vec(&td3bc::twin_mse(q, y))[0];
    assert!(close(l, 2.625), "{l}");
}

#[test]
fn td3bc_lambda_normalisation_matches_hand_computation() {
    let d = cpu();
    let q1 = tensor3(vec![1.0, -3.0], [1, 2, 1], d.base());
    let pi = tensor3(vec![0.5, 0.0, -0.5, 1.0], [1, 2, 2], d.base());
    let a = tensor3(vec![0.0, 0.0, 0.5, 1.0], [1, 2, 2], d.base());
    let (loss, bc, lambda) = td3bc::actor_objective(q1, pi, a, 2.5);
    // λ = 2.5 / mean(|1|, |−3|) = 1.25; bc = (0.25 + 0 + 1 + 0) / 4 = 0.3125;
    // loss = −1.25 · mean(1, −3) + 0.3125 = 1.25 + 0.3125
    assert!(close(to_vec(&lambda)[0], 1.25));
    assert!(close(to_vec(&bc)[0], 0.3125));
    assert!(close(to_vec(&loss)[0], 1.5625));
}

#[test]
fn td3bc_lambda_is_not_differentiated() {
    // d/dq of −λ·mean(q) with λ constant is −λ/n per element.
    let d = cpu();
    let q1 = tensor3(vec![1.0, -3.0], [1, 2, 1], d.autodiff()).require_grad();
    let pi = tensor3(vec![0.0; 4], [1, 2, 2], d.autodiff());
    let (loss, _, _) = td3bc::actor_objective(q1.clone(), pi.clone(), pi, 2.5);
    let g = q1.grad(&loss.backward()).unwrap();
    let g: Vec<f32> = to_vec(&g);
    assert!(close(g[0], -0.625) && close(g[1], -0.625), "{g:?}");
}

#[test]
fn same_seed_gives_bit_identical_parameters() {
    let data = toy_data(500, 1);
    let mut a = small_td3bc(7);
    let mut b = small_td3bc(7);
    a.train(&data, 30).unwrap();
    b.train(&data, 30).unwrap();
    assert_eq!(a.parameters(), b.parameters());
    let mut c = small_td3bc(8);
    c.train(&data, 30).unwrap();
    assert_ne!(a.parameters(), c.parameters());
}

#[test]
fn train_save_load_train_equals_uninterrupted_training() {
    let data = toy_data(500, 2);
    let dir = std::env::temp_dir().join(format!("neorl-resume-{}", std::process::id()));
    let mut whole = small_td3bc(3);
    whole.train(&data, 25).unwrap();
    whole.train(&data, 24).unwrap(); // two calls = one call
    let mut first = small_td3bc(3);
    first.train(&data, 25).unwrap();
    first.save(&dir).unwrap();
    let mut resumed = Td3Bc::load(&dir, &cpu()).unwrap();
    assert_eq!(resumed.steps_done(), 25);
    resumed.train(&data, 24).unwrap();
    assert_eq!(whole.parameters(), resumed.parameters());
    assert_eq!(whole.history().steps, resumed.history().steps);
    assert_eq!(
        format!("{:?}", whole.history().values),
        format!("{:?}", resumed.history().values)
    );
    // The same for BC, through the generic loader.
    let small_bc = || {
        let cfg = BcConfig {
            batch_size: 16,
            hidden: vec![8],
            ..Default::default()
        };
        Bc::new(&toy_spec(), cfg, &cpu()).unwrap()
    };
    let mut bc_whole = small_bc();
    bc_whole.train(&data, 20).unwrap();
    let mut bc = small_bc();
    bc.train(&data, 9).unwrap();
    bc.save(&dir).unwrap();
    let mut bc2 = load(&dir, &cpu()).unwrap();
    assert_eq!(bc2.algo(), "bc");
    train_loop(bc2.as_mut(), &data, 11).unwrap();
    bc2.save(&dir).unwrap();
    assert_eq!(
        Bc::load(&dir, &cpu()).unwrap().parameters(),
        bc_whole.parameters()
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn corrupt_or_mismatched_checkpoints_give_clear_errors() {
    let data = toy_data(200, 3);
    let dir = std::env::temp_dir().join(format!("neorl-corrupt-{}", std::process::id()));
    let mut a = small_td3bc(1);
    a.train(&data, 3).unwrap();
    a.save(&dir).unwrap();
    // Wrong algorithm.
    let e = Bc::load(&dir, &cpu()).unwrap_err().to_string();
    assert!(e.contains("'td3bc' agent, not 'bc'"), "{e}");
    // Mismatched config (other widths): shapes are checked.
    let path = dir.join(checkpoint::FILE_NAME);
    let bytes = std::fs::read(&path).unwrap();
    let needle = b"\"hidden\":[16,16]";
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    let mut edited = bytes.clone();
    edited[at + needle.len() - 2] = b'7'; // [16,17]
    checkpoint::reseal(&mut edited); // as if written so: past the digest
    std::fs::write(&path, &edited).unwrap();
    let e = Td3Bc::load(&dir, &cpu()).unwrap_err().to_string();
    assert!(e.contains("does not match this config"), "{e}");
    // A flipped byte in the tensor data.
    let mut bad = bytes.clone();
    let n = bad.len();
    bad[n - 10] ^= 0x55;
    std::fs::write(&path, &bad).unwrap();
    let e = Td3Bc::load(&dir, &cpu()).unwrap_err().to_string();
    assert!(e.contains("checksum mismatch"), "{e}");
    // Truncated, and not a checkpoint at all.
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let e = Td3Bc::load(&dir, &cpu()).unwrap_err().to_string();
    assert!(e.contains("truncated") || e.contains("incomplete"), "{e}");
    std::fs::write(&path, b"hello world, not a checkpoint").unwrap();
    let e = Td3Bc::load(&dir, &cpu()).unwrap_err().to_string();
    assert!(e.contains("not a neorl checkpoint"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
    // No temp files are left behind by a successful save.
    let dir2 = std::env::temp_dir().join(format!("neorl-atomic-{}", std::process::id()));
    a.save(&dir2).unwrap();
    let names: Vec<_> = std::fs::read_dir(&dir2)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from(checkpoint::FILE_NAME)]);
    std::fs::remove_dir_all(&dir2).ok();
}

/// Lengths that come from the file are checked before they are used (issue
/// 17: a header length of u64::MAX made `20 + hlen` wrap and panic), and
/// sizes in its header or config are checked before anything is built.
#[test]
fn checkpoint_lengths_and_sizes_from_the_file_are_checked() {
    let dir = std::env::temp_dir().join(format!("neorl-ck-lengths-{}", std::process::id()));
    small_td3bc(1).save(&dir).unwrap();
    let path = dir.join(checkpoint::FILE_NAME);
    let bytes = std::fs::read(&path).unwrap();
    let load = |b: &[u8]| {
        std::fs::write(&path, b).unwrap();
        Td3Bc::load(&dir, &cpu()).unwrap_err().to_string()
    };
    // The header length field.
    for hlen in [u64::MAX, u64::MAX - 19, 1 << 40, bytes.len() as u64] {
        let mut b = bytes.clone();
        b[12..20].copy_from_slice(&hlen.to_le_bytes());
        let e = load(&b);
        assert!(e.contains("header"), "hlen {hlen}: {e}");
    }
    // The blob length and a tensor shape whose size overflows.
    let edit = |from: &str, to: &str| {
        let at = bytes
            .windows(from.len())
            .position(|w| w == from.as_bytes())
            .unwrap();
        let mut header = bytes[20..].to_vec();
        header.splice(at - 20..at - 20 + from.len(), to.bytes());
        let hlen = u64::from_le_bytes(bytes[12..20].try_into().unwrap());
        let new_hlen = hlen as usize + to.len() - from.len();
        let mut b = bytes[..20].to_vec();
        b[12..20].copy_from_slice(&(new_hlen as u64).to_le_bytes());
        b.extend(header);
        checkpoint::reseal(&mut b); // as if written so: past the digest
        b
    };
    let blob_len = format!(
        "\"blob_len\":{}",
        // Less the prefix, the header and the trailing digest.
        bytes.len() - 20 - u64::from_le_bytes(bytes[12..20].try_into().unwrap()) as usize - 32
    );
    let e = load(&edit(&blob_len, "\"blob_len\":18446744073709551615"));
    assert!(e.contains("memory"), "{e}");
    let e = load(&edit(
        "\"shape\":[1,3,16]",
        "\"shape\":[18446744073709551615,3,16]",
    ));
    assert!(e.contains("runs past the end"), "{e}");
    // Sizes in the header and the config: refused before any network is built.
    let e = load(&edit("\"hidden\":[16,16]", "\"hidden\":[16,100000000000]"));
    assert!(e.contains("memory") && e.contains("corrupt"), "{e}");
    let e = load(&edit("\"hidden\":[16,16]", "\"hidden\":[16,0]"));
    assert!(e.contains("at least 1"), "{e}");
    let e = load(&edit("\"obs_dim\":3", "\"obs_dim\":100000000000000"));
    assert!(e.contains("memory"), "{e}");
    std::fs::write(&path, &bytes).unwrap();
    assert!(Td3Bc::load(&dir, &cpu()).is_ok());
    if cfg!(target_os = "linux") {
        let e = Td3Bc::load("/dev/zero", &cpu()).unwrap_err().to_string();
        assert!(e.contains("not a neorl checkpoint"), "{e}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A config whose sizes cannot be built is refused with a clear error
/// (a width of 0 panicked in the network, a huge one aborted).
#[test]
fn configs_that_cannot_be_built_are_refused() {
    let with = |hidden: Vec<usize>, batch_size: usize| {
        let cfg = Td3BcConfig {
            hidden,
            batch_size,
            ..Default::default()
        };
        Td3Bc::new(&toy_spec(), cfg, &cpu()).map(|_| ())
    };
    let e = with(vec![16, 0], 32).unwrap_err().to_string();
    assert!(e.contains("at least 1"), "{e}");
    let e = with(vec![16], 0).unwrap_err().to_string();
    assert!(e.contains("batch_size"), "{e}");
    // Widths and batches past their ranges, then ones in range that need
    // more memory than any machine running these tests has.
    let e = with(vec![1_000_000_000], 32).unwrap_err().to_string();
    assert!(e.contains("hidden") && e.contains("out of range"), "{e}");
    let e = with(vec![16], 1 << 50).unwrap_err().to_string();
    assert!(
        e.contains("batch_size") && e.contains("out of range"),
        "{e}"
    );
    let e = with(vec![ranges::MAX_WIDTH; ranges::MAX_LAYERS], 32)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("needs at least") && e.contains("--hidden"),
        "{e}"
    );
    let e = with(vec![ranges::MAX_WIDTH; 2], ranges::MAX_BATCH)
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs at least"), "{e}");
    assert!(with(vec![16, 16], 32).is_ok());
}

/// BC recovers a known linear controller to within a few hundredths.
#[test]
fn bc_recovers_a_linear_controller() {
    let data = toy_data(4000, 4);
    let cfg = BcConfig {
        batch_size: 128,
        hidden: vec![64, 64],
        lr: 1e-3,
        ..Default::default()
    };
    let mut bc = Bc::new(&toy_spec(), cfg, &cpu()).unwrap();
    let s = bc.train(&data, 1500).unwrap();
    let mut p = bc.policy();
    let test = toy_data(200, 99);
    let (mut worst, mut sq) = (0f32, 0f32);
    let mut a = [0f32; 2];
    for o in test.observations().chunks(3) {
        crate::policy::Policy::act(&mut p, o, &mut a).unwrap();
        let t = controller(o);
        worst = worst.max((a[0] - t[0]).abs()).max((a[1] - t[1]).abs());
        sq += (a[0] - t[0]).powi(2) + (a[1] - t[1]).powi(2);
    }
    let rms = (sq / 400.0).sqrt();
    // Actions span about ±1: an untrained or constant policy is off by ~0.4.
    assert!(
        rms < 0.02 && worst < 0.1,
        "rms {rms}, worst {worst}, summary {s:?}"
    );
    // The learning curve has one panel per metric (the loss and the
    // learning rate), each a raw and a smoothed trace.
    assert_eq!(bc.history().names, ["bc_mse", "lr_actor"]);
    let f = crate::report::LearningCurve::learning_curve(&bc);
    assert_eq!(f.json["data"].as_array().unwrap().len(), 4);
}

#[test]
fn batch_inference_matches_single() {
    let mut a = small_td3bc(5);
    a.train(&toy_data(300, 5), 4).unwrap();
    let mut p = a.policy();
    let obs: Vec<f32> = (0..3 * 200)
        .map(|i| ((i * 37) % 17) as f32 / 8.0 - 1.0)
        .collect();
    let mut batch = vec![0f32; 2 * 200];
    p.act_batch(&obs, &mut batch);
    let mut one = [0f32; 2];
    for (o, b) in obs.chunks(3).zip(batch.chunks(2)) {
        crate::policy::Policy::act(&mut p, o, &mut one).unwrap();
        assert_eq!(one, [b[0], b[1]]);
    }
}

#[test]
fn dataset_of_another_env_is_refused() {
    let mut a = small_td3bc(0);
    let d = toy_data_dims(10, 0, 4);
    let e = a.train(&d, 1).unwrap_err().to_string();
    assert!(e.contains("does not fit the agent"), "{e}");
}

#[test]
fn expectile_loss_matches_hand_computation() {
    let d = cpu();
    // u = [1, −2], τ = 0.7: (0.7·1 + 0.3·4) / 2 = 0.95
    let u = tensor3(vec![1.0, -2.0], [1, 2, 1], d.base());
    let l = to_vec(&iql::expectile_loss(u, 0.7))[0];
    assert!(close(l, 0.95), "{l}");
}

#[test]
fn gaussian_log_prob_matches_hand_computation() {
    let d = cpu();
    // N(0, 1) at 1: −0.5 − ½ln 2π; N(1, e²) at 1: −1 − ½ln 2π; summed.
    let mean = tensor3(vec![0.0, 1.0], [1, 1, 2], d.base());
    let log_std = tensor3(vec![0.0, 1.0], [1, 1, 2], d.base());
    let a = tensor3(vec![1.0, 1.0], [1, 1, 2], d.base());
    let got = to_vec(&iql::gaussian_log_prob(mean, log_std, a))[0];
    let want = -1.5 - (2.0 * std::f32::consts::PI).ln();
    assert!(close(got, want), "{got} vs {want}");
}

#[test]
fn cql_logsumexp_matches_hand_computation() {
    let d = cpu();
    // log(e^0 + e^{ln 3}) = ln 4; with T = 2: 2·log(e^0 + e^{ln3/2})
    let x = tensor3(vec![0.0, 3f32.ln()], [1, 2, 1], d.base());
    let l = to_vec(&cql::logsumexp(x.clone(), 1, 1.0))[0];
    assert!(close(l, 4f32.ln()), "{l}");
    let l2 = to_vec(&cql::logsumexp(x, 1, 2.0))[0];
    assert!(close(l2, 2.0 * (1.0 + 3f32.sqrt()).ln()), "{l2}");
    // Large values stay finite.
    let big = tensor3(vec![1000.0, 1000.0], [1, 2, 1], d.base());
    let l3 = to_vec(&cql::logsumexp(big, 1, 1.0))[0];
    assert!(close(l3, 1000.0 + 2f32.ln()), "{l3}");
}

#[test]
fn tanh_gaussian_log_prob_includes_the_tanh_correction() {
    let d = cpu();
    // mean 0, log_std 0, eps 0 → a = 0, log p = −½ ln 2π − ln(1 + 1e-6)
    let out = tensor3(vec![0.0, 0.0], [1, 1, 2], d.base());
    let eps = tensor3(vec![0.0], [1, 1, 1], d.base());
    let (a, lp) = cql::tanh_gaussian(out, eps);
    assert_eq!(to_vec(&a)[0], 0.0);
    assert!(close(
        to_vec(&lp)[0],
        -0.5 * (2.0 * std::f32::consts::PI).ln()
    ));
}

/// IQL and CQL resume exactly too (every algorithm's state round-trips).
#[test]
fn iql_and_cql_resume_exactly() {
    let data = toy_data(300, 6);
    let dir = std::env::temp_dir().join(format!("neorl-resume2-{}", std::process::id()));
    let icfg = || IqlConfig {
        batch_size: 16,
        hidden: vec![8, 8],
        ..Default::default()
    };
    let mut a = Iql::new(&toy_spec(), icfg(), &cpu()).unwrap();
    a.train(&data, 12).unwrap();
    let mut b = Iql::new(&toy_spec(), icfg(), &cpu()).unwrap();
    b.train(&data, 5).unwrap();
    b.save(&dir).unwrap();
    let mut b = Iql::load(&dir, &cpu()).unwrap();
    b.train(&data, 7).unwrap();
    assert_eq!(a.parameters(), b.parameters());

    let ccfg = || CqlConfig {
        batch_size: 16,
        hidden: vec![8, 8],
        n_actions: 3,
        bc_steps: 4,
        lagrange: true,
        ..Default::default()
    };
    let mut a = Cql::new(&toy_spec(), ccfg(), &cpu()).unwrap();
    a.train(&data, 10).unwrap();
    let mut b = Cql::new(&toy_spec(), ccfg(), &cpu()).unwrap();
    b.train(&data, 6).unwrap();
    b.save(&dir).unwrap();
    let mut b = Cql::load(&dir, &cpu()).unwrap();
    b.train(&data, 4).unwrap();
    assert_eq!(a.parameters(), b.parameters());
    std::fs::remove_dir_all(&dir).ok();
}

/// Train `algo` (64×64 networks) on a generated ChemicalReactor-v0 medium
/// dataset and return (agent score, behaviour score) on the same 5
/// evaluation episodes. An untrained policy scores far below either.
fn learn_on_reactor(algo: &str, steps: u64) -> (f64, f64) {
    use crate::control::{PolicyKind, make_policy};
    use crate::eval::rollout;
    let id = "ChemicalReactor-v0";
    let data = Dataset::from_controller(id, PolicyKind::Medium, 20_000, 0).unwrap();
    let mut env = crate::make(id).unwrap();
    let spec = env.spec().clone();
    let mut agent = build_with(algo, &spec, 0, Some(vec![64, 64]), &cpu()).unwrap();
    let mut untrained = agent.policy();
    let before = rollout(&mut env, &mut untrained, 5, 10_000)
        .unwrap()
        .normalized_score;
    train_loop(agent.as_mut(), &data, steps).unwrap();
    let mut p = agent.policy();
    let score = rollout(&mut env, &mut p, 5, 10_000)
        .unwrap()
        .normalized_score;
    let mut medium = make_policy(&spec, PolicyKind::Medium).unwrap();
    let behaviour = rollout(&mut env, medium.as_mut(), 5, 10_000)
        .unwrap()
        .normalized_score;
    eprintln!("{algo}: untrained {before:.1}, trained {score:.1}, behaviour {behaviour:.1}");
    assert!(
        before < behaviour - 30.0,
        "the untrained policy is already good: {before}"
    );
    (score, behaviour)
}

#[test]
fn iql_beats_the_behaviour_policy() {
    let (score, behaviour) = learn_on_reactor("iql", 2_000);
    assert!(
        score > behaviour,
        "IQL {score:.1} vs behaviour {behaviour:.1}"
    );
}

#[test]
fn td3bc_beats_the_behaviour_policy() {
    let (score, behaviour) = learn_on_reactor("td3bc", 3_000);
    assert!(
        score > behaviour,
        "TD3+BC {score:.1} vs behaviour {behaviour:.1}"
    );
}

#[test]
fn combo_ensemble_nll_matches_hand_computation() {
    let d = cpu();
    // One member, one sample, d = 1: mean 1, raw log-variance 0 (inside the
    // soft bounds: ≈ 0 − softplus terms), target 3.
    let out = tensor3(vec![1.0, 0.0], [1, 1, 2], d.base());
    let y = tensor3(vec![3.0], [1, 1, 1], d.base());
    let max = tensor3(vec![0.5], [1, 1, 1], d.base());
    let min = tensor3(vec![-10.0], [1, 1, 1], d.base());
    let lv = {
        let sp = |x: f32| (1.0 + x.exp()).ln();
        let lv = 0.5 - sp(0.5 - 0.0);
        -10.0 + sp(lv + 10.0)
    };
    let want = 4.0 * (-lv).exp() + lv;
    let got = to_vec(&combo::ensemble_nll(out, y, max, min))[0];
    assert!(close(got, want), "{got} vs {want}");
}

#[test]
fn combo_fits_a_model_rolls_out_and_resumes_exactly() {
    let data = toy_data(300, 7);
    let dir = std::env::temp_dir().join(format!("neorl-combo-{}", std::process::id()));
    let cfg = || ComboConfig {
        batch_size: 16,
        hidden: vec![8, 8],
        n_actions: 2,
        model_members: 3,
        model_elites: 2,
        model_hidden: vec![8],
        model_weight_decay: vec![2.5e-5, 1e-4],
        termination_hidden: vec![8],
        model_steps: 5,
        rollout_freq: 3,
        rollout_batch: 10,
        rollout_length: 2,
        model_buffer: 50,
        ..Default::default()
    };
    let mut a = Combo::new(&toy_spec(), cfg(), &cpu()).unwrap();
    a.train(&data, 10).unwrap();
    assert_eq!(
        a.history().series("model_buffer").unwrap()[9],
        50.0,
        "the ring buffer filled up"
    );
    let mut b = Combo::new(&toy_spec(), cfg(), &cpu()).unwrap();
    b.train(&data, 4).unwrap();
    b.save(&dir).unwrap();
    let mut b = Combo::load(&dir, &cpu()).unwrap();
    assert_eq!(
        b.model_progress(),
        a.model_progress(),
        "the fit is not redone"
    );
    b.train(&data, 6).unwrap();
    assert_eq!(a.parameters(), b.parameters());
    std::fs::remove_dir_all(&dir).ok();
}

/// Training on a `Dataset` records which data (id, SHA-256, size) in the
/// agent and its checkpoint, and the normalisation saved with it is the
/// dataset's own observation statistics.
#[test]
fn checkpoints_record_the_dataset_and_its_normalisation() {
    use crate::data::{GenerateConfig, Quality, generate};
    let id = "ChemicalReactor-v0";
    let mut cfg = GenerateConfig::new(id, Quality::Medium, 2000, 5);
    cfg.dataset_id = "ChemicalReactor-medium-v0".into();
    let data = generate(&cfg).unwrap();
    let spec = crate::make(id).unwrap().spec().clone();
    let mut a = build_with("td3bc", &spec, 0, Some(vec![8, 8]), &cpu()).unwrap();
    assert_eq!(a.state().dataset, None);
    train_loop(a.as_mut(), &data, 3).unwrap();
    let src = a.state().dataset.clone().unwrap();
    assert_eq!(src.id, "ChemicalReactor-medium-v0");
    assert_eq!(src.env_id, id);
    assert_eq!(src.transitions, 2000);
    assert_eq!(src.sha256, crate::data::content_sha256(&data));
    let (mean, std) = data.observation_stats();
    let norm = a.state().norm.clone().unwrap();
    assert_eq!((norm.obs_mean.clone(), norm.obs_std.clone()), (mean, std));
    let dir = std::env::temp_dir().join(format!("neorl-provenance-{}", std::process::id()));
    a.save(&dir).unwrap();
    let ck = Checkpoint::read(&dir).unwrap();
    assert_eq!(ck.dataset(), Some(&src));
    assert_eq!((ck.algo(), ck.env_id(), ck.step()), ("td3bc", id, 3));
    let b = load(&dir, &cpu()).unwrap();
    assert_eq!(b.state().dataset, Some(src.clone()));
    assert_eq!(b.state().norm, Some(norm));
    // A split has no recorded checksum: it is computed from its content.
    assert!(data.num_episodes() >= 2);
    let (train, _) = data.split(0.5, 0).unwrap();
    assert!(train.len() < data.len());
    assert_eq!(
        BatchSource::source(&train).unwrap().sha256,
        crate::data::content_sha256(&train)
    );
    assert_ne!(BatchSource::source(&train).unwrap().sha256, src.sha256);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn settings_override_the_defaults_by_name() {
    let set: Settings = [
        ("alpha".to_string(), serde_json::json!(5.0)),
        ("td3bc.batch_size".to_string(), serde_json::json!(64)),
        ("combo.model_steps".to_string(), serde_json::json!(10)),
    ]
    .into();
    let c = configure("td3bc", Td3BcConfig::default(), &set).unwrap();
    assert_eq!((c.alpha, c.batch_size), (5.0, 64));
    assert_eq!(c.hidden, Td3BcConfig::default().hidden);
    // IQL has no `alpha`: an error that lists IQL's settings.
    let e = configure("iql", IqlConfig::default(), &set)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("iql has no setting 'alpha'") && e.contains("expectile"),
        "{e}"
    );
    let wrong: Settings = [("batch_size".to_string(), serde_json::json!("many"))].into();
    let e = configure("bc", BcConfig::default(), &wrong)
        .unwrap_err()
        .to_string();
    assert!(e.contains("batch_size"), "{e}");
    let agent = build_configured("td3bc", &toy_spec(), 1, Some(vec![4]), &set, &cpu()).unwrap();
    assert_eq!(agent.state().batch_size, 64);
}

/// An agent that keeps its parameters in plain vectors (as one written in a
/// notebook does) saves them with `put_vec` and reads them back with
/// `get_vec`, shape-checked.
#[test]
fn host_vectors_round_trip_through_a_checkpoint() {
    let spec = toy_spec();
    let st = TrainState::new(&spec, 32, 7, false);
    let mut ck = Checkpoint::new("linear", &[0.1f64, 2.0], &st).unwrap();
    let w: Vec<f32> = (0..6).map(|i| i as f32 * 0.5 - 1.0).collect();
    ck.put_vec("w", vec![3, 2], w.clone());
    ck.put_vec("b", vec![2], vec![0.25, -0.75]);
    let dir = std::env::temp_dir().join(format!("neorl-hostvec-{}", std::process::id()));
    ck.write(&dir).unwrap();
    let back = Checkpoint::read(&dir).unwrap();
    assert_eq!(back.get_vec("w", &[3, 2]).unwrap(), w);
    assert_eq!(back.get_vec("b", &[2]).unwrap(), vec![0.25, -0.75]);
    assert_eq!(back.config::<Vec<f64>>("linear").unwrap(), vec![0.1, 2.0]);
    let wrong = back.get_vec("w", &[2, 3]).unwrap_err().to_string();
    assert!(
        wrong.contains("shape [3, 2]") && wrong.contains("[2, 3]"),
        "{wrong}"
    );
    let missing = back.get_vec("v", &[1]).unwrap_err().to_string();
    assert!(missing.contains("'v' is missing"), "{missing}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The agents' modules import each other in one direction only: no cycle
/// among the `super::…` and `crate::agents::…` imports of their non-test
/// code.
#[test]
fn agent_modules_import_each_other_without_a_cycle() {
    let files: [(&str, &str); 16] = [
        ("agent", include_str!("agent.rs")),
        ("divergence", include_str!("divergence.rs")),
        ("ranges", include_str!("ranges.rs")),
        ("bc", include_str!("bc.rs")),
        ("buffer", include_str!("buffer.rs")),
        ("checkpoint", include_str!("checkpoint.rs")),
        ("combo", include_str!("combo.rs")),
        ("cql", include_str!("cql.rs")),
        ("device", include_str!("device.rs")),
        ("iql", include_str!("iql.rs")),
        ("losses", include_str!("losses.rs")),
        ("nets", include_str!("nets.rs")),
        ("optim", include_str!("optim.rs")),
        ("parts", include_str!("parts.rs")),
        ("sac", include_str!("sac.rs")),
        ("td3bc", include_str!("td3bc.rs")),
    ];
    let names: Vec<&str> = files.iter().map(|f| f.0).collect();
    let imports = |src: &str| -> Vec<usize> {
        let code = src.split("#[cfg(test)]").next().unwrap_or(src);
        names
            .iter()
            .enumerate()
            .filter(|(_, n)| {
                [format!("super::{n}::"), format!("crate::agents::{n}::")]
                    .iter()
                    .chain(&[format!("super::{n}}}"), format!("super::{n},")])
                    .any(|p| code.contains(p.as_str()))
            })
            .map(|(i, _)| i)
            .collect()
    };
    let edges: Vec<Vec<usize>> = files.iter().map(|f| imports(f.1)).collect();
    // Depth-first search; `state` 1 = on the current path, 2 = done.
    fn visit(i: usize, edges: &[Vec<usize>], state: &mut [u8], path: &mut Vec<usize>) -> bool {
        path.push(i);
        match state[i] {
            1 => return true,
            2 => {
                path.pop();
                return false;
            }
            _ => state[i] = 1,
        }
        for &j in &edges[i] {
            if j != i && visit(j, edges, state, path) {
                return true;
            }
        }
        path.pop();
        state[i] = 2;
        false
    }
    let mut state = vec![0u8; files.len()];
    for i in 0..files.len() {
        let mut path = vec![];
        if visit(i, &edges, &mut state, &mut path) {
            let cycle: Vec<&str> = path.iter().map(|&k| names[k]).collect();
            panic!("import cycle: {}", cycle.join(" → "));
        }
    }
    // The algorithms sit on top: nothing imports them.
    for (i, n) in names.iter().enumerate() {
        if ["bc", "td3bc", "iql", "cql", "combo"].contains(n) {
            assert!(
                !edges.iter().any(|e| e.contains(&i)),
                "{n} is imported by another agents module"
            );
        }
    }
}

/// The transition types and shared losses moved (to `crate::data` and
/// `losses`); every former public path still names the same item.
#[test]
#[allow(deprecated)]
fn former_paths_name_the_moved_items() {
    use crate::agents as a;
    let b: a::buffer::TransitionBatch = crate::data::Batch::new(2, 3, 2);
    let _: a::TransitionBatch = b.clone();
    let data: a::Buffer = toy_data(20, 0);
    let _: &dyn a::buffer::BatchSource = &data;
    let src: Option<a::agent::DataSource> = a::BatchSource::source(&data);
    let _: Option<a::DataSource> = src;
    let _: fn(&str, crate::control::PolicyKind, usize, u64) -> Result<a::buffer::Buffer> =
        a::Buffer::generate;
    let _ = (cql::logsumexp, cql::tanh_gaussian, iql::gaussian_log_prob);
    let _ = td3bc::twin_mse;
}

/// Every parameter's bits.
fn bits(params: Vec<Vec<f32>>) -> Vec<Vec<u32>> {
    params
        .into_iter()
        .map(|p| p.into_iter().map(f32::to_bits).collect())
        .collect()
}

/// Every algorithm, a few updates on `threads` threads, with shapes on
/// burn-flex's multi-threaded paths (256-wide layers, batch 256: products
/// of m·n·k ≥ 192³; CQL's and COMBO's sampled actions and COMBO's
/// ensemble and roll-outs batched over members): each agent's parameters'
/// bits (COMBO's with its model buffer).
fn train_on_threads(threads: usize) -> Vec<(&'static str, Vec<Vec<u32>>)> {
    let device = Device::cpu_with(Threads::new(threads).unwrap());
    assert_eq!(device.run(rayon::current_num_threads), threads);
    let data = toy_data(1_000, 11);
    let (spec, h, n) = (toy_spec(), vec![256, 256], 256);
    let steps = 4;
    let mut bc = Bc::new(
        &spec,
        BcConfig {
            batch_size: n,
            hidden: h.clone(),
            ..Default::default()
        },
        &device,
    )
    .unwrap();
    bc.train(&data, steps).unwrap();
    let mut td3bc = Td3Bc::new(
        &spec,
        Td3BcConfig {
            batch_size: n,
            hidden: h.clone(),
            ..Default::default()
        },
        &device,
    )
    .unwrap();
    td3bc.train(&data, steps).unwrap();
    let mut iql = Iql::new(
        &spec,
        IqlConfig {
            batch_size: n,
            hidden: h.clone(),
            ..Default::default()
        },
        &device,
    )
    .unwrap();
    iql.train(&data, steps).unwrap();
    let mut cql = Cql::new(
        &spec,
        CqlConfig {
            batch_size: n,
            hidden: h.clone(),
            n_actions: 3,
            bc_steps: 2,
            ..Default::default()
        },
        &device,
    )
    .unwrap();
    cql.train(&data, steps).unwrap();
    let mut combo = Combo::new(
        &spec,
        ComboConfig {
            batch_size: n,
            hidden: h.clone(),
            n_actions: 3,
            model_steps: 3,
            rollout_freq: 2,
            rollout_batch: 512,
            rollout_length: 2,
            ..Default::default()
        },
        &device,
    )
    .unwrap();
    combo.train(&data, steps).unwrap();
    vec![
        ("bc", bits(bc.parameters())),
        ("td3bc", bits(td3bc.parameters())),
        ("iql", bits(iql.parameters())),
        ("cql", bits(cql.parameters())),
        ("combo", bits(combo.parameters())),
    ]
}

/// Training gives the same parameters, bit for bit, on 1, 2 and 3 threads
/// (more threads than this machine may have cores still split the work
/// three ways).
#[test]
fn threads_do_not_change_training_results() {
    let one = train_on_threads(1);
    for threads in [2, 3] {
        for ((algo, a), (_, b)) in one.iter().zip(&train_on_threads(threads)) {
            assert!(
                a == b,
                "{algo}: parameters on {threads} threads differ from 1 thread"
            );
        }
    }
    // and they are not trivially equal: another seed's differ
    let data = toy_data(1_000, 11);
    let cfg = |seed| Td3BcConfig {
        seed,
        batch_size: 256,
        hidden: vec![256, 256],
        ..Default::default()
    };
    let mut other = Td3Bc::new(&toy_spec(), cfg(1), &Device::cpu_with(Threads::one())).unwrap();
    other.train(&data, 4).unwrap();
    assert_ne!(bits(other.parameters()), one[1].1);
}
