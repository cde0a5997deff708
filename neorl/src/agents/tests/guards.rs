//! Issue 15's guards: checkpoints whose header or tensors changed are
//! refused as corrupt (version-1 files still load, with a warning); a
//! diverged agent names the step and the network and is never saved; data
//! with NaN or Inf is refused before training; every config field out of
//! range is refused with its name.

use super::*;

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("neorl-guards-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// `toy_data` with one value replaced: `edit(columns)`.
fn toy_data_edited(edit: impl FnOnce(&mut crate::data::Columns)) -> Dataset {
    let (meta, mut cols) = toy_data(200, 3).into_parts();
    edit(&mut cols);
    Dataset::new(meta, cols).unwrap()
}

/// Where the first digit of the stored observation mean is in `bytes`.
fn obs_mean_digit(bytes: &[u8]) -> usize {
    let key = b"\"obs_mean\":[";
    let at = bytes.windows(key.len()).position(|w| w == key).unwrap() + key.len();
    at + bytes[at..].iter().position(|b| b.is_ascii_digit()).unwrap()
}

#[test]
fn a_flipped_bit_in_the_header_or_tensors_is_refused_as_corrupt() {
    let dir = tmp("flip");
    let mut a = small_td3bc(1);
    a.train(&toy_data(200, 3), 3).unwrap();
    a.save(&dir).unwrap();
    let path = dir.join(checkpoint::FILE_NAME);
    let bytes = std::fs::read(&path).unwrap();
    let mean = a.state().norm.as_ref().unwrap().obs_mean.clone();

    // One bit of the observation mean (an ASCII digit stays a digit).
    let mut flipped = bytes.clone();
    flipped[obs_mean_digit(&bytes)] ^= 1;
    std::fs::write(&path, &flipped).unwrap();
    let e = Td3Bc::load(&dir, &cpu()).unwrap_err().to_string();
    assert!(
        e.contains("corrupt") && e.contains(&path.display().to_string()),
        "{e}"
    );
    assert!(e.contains("normalisation"), "{e}");
    // The same edit with its digest recomputed loads, with another policy:
    // nothing but the digest tells such a file apart.
    checkpoint::reseal(&mut flipped);
    std::fs::write(&path, &flipped).unwrap();
    let b = Td3Bc::load(&dir, &cpu()).unwrap();
    assert_ne!(b.state().norm.as_ref().unwrap().obs_mean, mean);

    // The step and a byte of the tensor data.
    for edit in [
        Box::new(|b: &mut Vec<u8>| {
            let key = b"\"step\":3";
            let at = b.windows(key.len()).position(|w| w == key).unwrap();
            b[at + key.len() - 1] ^= 1; // 3 → 2
        }) as Box<dyn Fn(&mut Vec<u8>)>,
        Box::new(|b: &mut Vec<u8>| {
            let n = b.len();
            b[n - 32 - 100] ^= 0x10;
        }),
    ] {
        let mut b = bytes.clone();
        edit(&mut b);
        std::fs::write(&path, &b).unwrap();
        let e = Td3Bc::load(&dir, &cpu()).unwrap_err().to_string();
        assert!(
            e.contains("checksum mismatch") && e.contains("corrupt"),
            "{e}"
        );
    }
    // A config out of range behind a valid digest (written by hand, or
    // by another tool) is refused on loading too.
    let key = b"\"discount\":0.99";
    let at = bytes.windows(key.len()).position(|w| w == key).unwrap();
    let mut b = bytes.clone();
    b[at + key.len() - 4] = b'1'; // 1.99
    checkpoint::reseal(&mut b);
    std::fs::write(&path, &b).unwrap();
    let e = Td3Bc::load(&dir, &cpu()).unwrap_err().to_string();
    assert!(
        e.contains("config is out of range") && e.contains("discount = 1.99"),
        "{e}"
    );
    std::fs::write(&path, &bytes).unwrap();
    assert!(Td3Bc::load(&dir, &cpu()).is_ok());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn version_1_checkpoints_still_load_and_unknown_versions_are_refused() {
    let dir = tmp("v1");
    let mut a = small_td3bc(2);
    a.train(&toy_data(200, 3), 3).unwrap();
    a.save(&dir).unwrap();
    let path = dir.join(checkpoint::FILE_NAME);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes[8..12], 2u32.to_le_bytes());
    // Version 1: the same layout without the trailing digest.
    let mut v1 = bytes[..bytes.len() - 32].to_vec();
    v1[8..12].copy_from_slice(&1u32.to_le_bytes());
    std::fs::write(&path, &v1).unwrap();
    let b = Td3Bc::load(&dir, &cpu()).unwrap();
    assert_eq!(b.parameters(), a.parameters());
    assert_eq!(b.steps_done(), 3);
    // Saving it again writes version 2.
    b.save(&dir).unwrap();
    assert_eq!(std::fs::read(&path).unwrap()[8..12], 2u32.to_le_bytes());
    let mut v3 = bytes.clone();
    v3[8..12].copy_from_slice(&3u32.to_le_bytes());
    std::fs::write(&path, &v3).unwrap();
    let e = Td3Bc::load(&dir, &cpu()).unwrap_err().to_string();
    assert!(
        e.contains("format version 3") && e.contains("1 to 2"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn non_finite_parameters_are_never_written_and_the_last_checkpoint_stays() {
    let dir = tmp("nan-write");
    let st = small_td3bc(1).state().clone();
    let mut good = Checkpoint::new("linear", &[0.1f64], &st).unwrap();
    good.put_vec("w", vec![2], vec![1.0, 2.0]);
    good.write(&dir).unwrap();
    let before = std::fs::read(dir.join(checkpoint::FILE_NAME)).unwrap();
    let mut bad = Checkpoint::new("linear", &[0.1f64], &st).unwrap();
    bad.put_vec("w", vec![2], vec![1.0, f32::NAN]);
    let e = bad.write(&dir).unwrap_err().to_string();
    assert!(
        e.contains("not written") && e.contains("'w'") && e.contains("NaN"),
        "{e}"
    );
    assert_eq!(
        std::fs::read(dir.join(checkpoint::FILE_NAME)).unwrap(),
        before
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_diverging_agent_names_step_and_network_and_keeps_the_last_checkpoint() {
    let dir = tmp("diverge");
    let data = toy_data(200, 3);
    let mut ok = small_td3bc(1);
    ok.train(&data, 2).unwrap();
    ok.save(&dir).unwrap();
    let before = std::fs::read(dir.join(checkpoint::FILE_NAME)).unwrap();
    // A valid but absurd learning rate: the critic's weights blow up.
    let cfg = Td3BcConfig {
        batch_size: 32,
        hidden: vec![16, 16],
        critic_lr: 1e30,
        actor_lr: 1e30,
        ..Default::default()
    };
    let mut a = Td3Bc::new(&toy_spec(), cfg, &cpu()).unwrap();
    let e = a.train(&data, 50).unwrap_err().to_string();
    let step = a.steps_done() + 1;
    assert!(
        e.contains(&format!("diverged at step {step}:"))
            && (e.contains("critic (Q networks)") || e.contains("actor"))
            && e.contains("learning rate too high")
            && e.contains("1e30"),
        "{e}"
    );
    // The metric history holds only the good steps.
    assert_eq!(a.history().len() as u64, a.steps_done());
    // Whatever the diverged agent holds, the folder keeps its good checkpoint.
    let _ = a.save(&dir);
    assert_eq!(
        std::fs::read(dir.join(checkpoint::FILE_NAME)).unwrap(),
        before
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// COMBO's dynamics model is fitted without reading its loss back each
/// step; a diverged model is caught by the held-out check at the end of
/// its first epoch (200 transitions: 160 trained on, 10 updates of 16),
/// naming the model.
#[test]
fn a_diverging_dynamics_model_is_named() {
    let cfg = ComboConfig {
        batch_size: 16,
        hidden: vec![8],
        n_actions: 2,
        model_members: 2,
        model_elites: 1,
        model_hidden: vec![8],
        model_weight_decay: vec![2.5e-5, 1e-4],
        termination_hidden: vec![8],
        model_lr: 1e30,
        model_steps: 20,
        rollout_batch: 10,
        rollout_length: 1,
        model_buffer: 50,
        ..Default::default()
    };
    let mut a = Combo::new(&toy_spec(), cfg, &cpu()).unwrap();
    let e = a.train(&toy_data(200, 3), 5).unwrap_err().to_string();
    assert!(
        e.contains("combo diverged at step 10: model_holdout_mse")
            && e.contains("dynamics model")
            && e.contains("model_lr"),
        "{e}"
    );
    assert_eq!(a.steps_done(), 0);
}

#[test]
fn data_with_nan_or_inf_is_refused_before_training() {
    type Edit = fn(&mut crate::data::Columns);
    let cases: [(&str, Edit); 4] = [
        ("observations[7]", |c| c.observations[7 * 3 + 1] = f32::NAN),
        ("actions[5]", |c| c.actions[5 * 2] = f32::INFINITY),
        ("costs[9]", |c| c.costs[9] = f32::NAN),
        ("rewards[0]", |c| c.rewards[0] = f32::NEG_INFINITY),
    ];
    for (first, edit) in cases {
        let data = toy_data_edited(edit);
        let e = crate::data::validate::check_trainable(&data)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`finite` check") && e.contains(first), "{e}");
        let mut a = small_td3bc(1);
        let e = a.train(&data, 3).unwrap_err().to_string();
        assert!(e.contains("`finite` check") && e.contains(first), "{e}");
        assert_eq!(a.steps_done(), 0, "nothing trained");
        assert!(a.state().norm.is_none(), "nothing fitted");
    }
    assert!(crate::data::validate::check_trainable(&toy_data(50, 1)).is_ok());
}

#[test]
fn every_config_is_valid_by_default_and_refuses_values_out_of_range() {
    BcConfig::default().validate().unwrap();
    Td3BcConfig::default().validate().unwrap();
    IqlConfig::default().validate().unwrap();
    CqlConfig::default().validate().unwrap();
    ComboConfig::default().validate().unwrap();
    let spec = toy_spec();
    let cases: &[(&str, &str, serde_json::Value)] = &[
        ("bc", "lr", (-1.0).into()),
        ("bc", "batch_size", 0.into()),
        ("bc", "hidden", serde_json::json!([0])),
        ("td3bc", "critic_lr", 0.0.into()),
        ("td3bc", "tau", 2.0.into()),
        ("td3bc", "discount", 0.0.into()),
        ("td3bc", "policy_freq", 0.into()),
        ("td3bc", "alpha", (-2.5).into()),
        ("td3bc", "policy_noise", (-0.1).into()),
        ("iql", "value_lr", (-3e-4).into()),
        ("iql", "expectile", 1.0.into()),
        ("iql", "beta", (-1.0).into()),
        ("iql", "max_weight", 0.0.into()),
        ("cql", "alpha_lr", 0.0.into()),
        ("cql", "n_actions", 0.into()),
        ("cql", "temperature", 0.0.into()),
        ("cql", "cql_alpha", (-5.0).into()),
        ("combo", "model_lr", (-1e-3).into()),
        ("combo", "model_elites", 8.into()),
        ("combo", "model_members", 0.into()),
        ("combo", "real_ratio", 1.5.into()),
        ("combo", "model_hidden", serde_json::json!([200, 0])),
        ("combo", "rollout_batch", 0.into()),
        ("combo", "rollout_length", 0.into()),
        ("combo", "batch_size", (1u64 << 40).into()),
        ("combo", "model_weight_decay", serde_json::json!([1e-4])),
        (
            "combo",
            "model_weight_decay",
            serde_json::json!([1e-4, 1e-4, 1e-4, -1.0, 1e-4]),
        ),
        ("combo", "model_holdout", 1.0.into()),
        ("combo", "model_patience", 0.into()),
    ];
    for (algo, key, value) in cases {
        let mut settings = Settings::new();
        settings.insert(key.to_string(), value.clone());
        let e = build_configured(algo, &spec, 0, Some(vec![8]), &settings, &cpu())
            .err()
            .unwrap_or_else(|| panic!("{algo} {key}={value} accepted"))
            .to_string();
        assert!(
            e.contains(&format!("{algo}: setting {key} = ")) && e.contains("out of range"),
            "{algo} {key}: {e}"
        );
    }
    // A notebook's config, directly.
    let e = IqlConfig {
        discount: f64::NAN,
        ..Default::default()
    }
    .validate()
    .unwrap_err()
    .to_string();
    assert!(e.contains("discount = NaN") && e.contains("(0, 1]"), "{e}");
}
