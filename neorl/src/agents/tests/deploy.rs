//! Deployment reads a checkpoint without the learning stack
//! (`neorl_plant::inference`): the policy it builds must act exactly as the
//! trained agent's own `policy()`, for every algorithm, and refuse a
//! corrupt file.

use super::super::*;
use super::{cpu, toy_data, toy_spec};
use crate::inference::AgentPolicy as DeployedPolicy;
use crate::policy::Policy;

#[test]
fn a_checkpoint_deploys_bit_identically_for_every_algorithm() {
    let data = toy_data(200, 9);
    let mut settings = Settings::new();
    // COMBO: a short model fit and small ensemble keep this test quick.
    for (k, v) in [("combo.model_steps", 20), ("batch_size", 16)] {
        settings.insert(k.into(), v.into());
    }
    for algo in ALGOS {
        let dir = std::env::temp_dir().join(format!("neorl-deploy-{algo}-{}", std::process::id()));
        let mut agent =
            build_configured(algo, &toy_spec(), 3, Some(vec![8, 8]), &settings, &cpu()).unwrap();
        agent.train(&data, 6).unwrap();
        agent.save(&dir).unwrap();
        let (mut deployed, info) = DeployedPolicy::from_checkpoint(&dir).unwrap();
        assert_eq!(info.algo, *algo);
        assert_eq!(info.env_id, "Linear-v0");
        assert_eq!(info.step, 6);
        assert!(info.trained);
        assert_eq!(info.sizes.first(), Some(&3));
        let mut trained = agent.policy();
        for i in 0..20 {
            let o = [
                i as f32 * 0.1 - 1.0,
                (i % 7) as f32 * 0.3,
                0.5 - i as f32 * 0.05,
            ];
            let (mut a, mut b) = ([0f32; 2], [0f32; 2]);
            trained.act(&o, &mut a).unwrap();
            deployed.act(&o, &mut b).unwrap();
            assert_eq!(
                a.map(f32::to_bits),
                b.map(f32::to_bits),
                "{algo}: obs {o:?}"
            );
        }
        // A wrong observation width is an error, not a panic.
        let mut a = [0f32; 2];
        assert!(deployed.act(&[0.0; 4], &mut a).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn deployment_refuses_corrupt_or_foreign_files() {
    let data = toy_data(100, 2);
    let dir = std::env::temp_dir().join(format!("neorl-deploy-bad-{}", std::process::id()));
    let mut agent = build_with("td3bc", &toy_spec(), 1, Some(vec![8]), &cpu()).unwrap();
    agent.train(&data, 2).unwrap();
    agent.save(&dir).unwrap();
    let file = dir.join("agent.ckpt");
    let good = std::fs::read(&file).unwrap();
    // One flipped bit in the middle of the file: the digest catches it.
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x10;
    std::fs::write(&file, &bad).unwrap();
    let err = DeployedPolicy::from_checkpoint(&dir)
        .unwrap_err()
        .to_string();
    assert!(err.contains("checksum mismatch"), "{err}");
    // Not a checkpoint at all.
    std::fs::write(&file, b"hello").unwrap();
    let err = DeployedPolicy::from_checkpoint(&dir)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a neorl checkpoint"), "{err}");
    // A missing folder names the path.
    let err = DeployedPolicy::from_checkpoint(dir.join("nope"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
