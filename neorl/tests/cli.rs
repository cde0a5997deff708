//! End-to-end tests of the `neorl` binary: JSON contracts and error handling.

use serde_json::Value;
use std::process::Command;

fn neorl(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_neorl"))
        .args(args)
        .env("NEORL_PROGRESS", "off")
        // Tracked commands record into a scratch MLflow store, not ./mlruns.
        .env_remove("MLFLOW_TRACKING_URI")
        .env(
            "NEORL_TRACKING_DIR",
            std::env::temp_dir().join(format!("neorl-cli-mlruns-{}", std::process::id())),
        )
        .output()
        .expect("the neorl binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Run with `--json`, expect success and exactly one JSON object on stdout.
fn json(args: &[&str]) -> Value {
    let (code, stdout, stderr) = neorl(args);
    assert_eq!(code, 0, "neorl {args:?} failed: {stderr}");
    let v: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("neorl {args:?}: stdout is not one JSON object ({e}): {stdout}")
    });
    assert!(v.is_object());
    v
}

fn env_ids() -> Vec<String> {
    json(&["envs", "--json"])["envs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn envs_json_has_the_documented_fields() {
    let v = json(&["envs", "--json"]);
    let envs = v["envs"].as_array().unwrap();
    assert_eq!(envs.len(), 7, "seven processes are registered");
    for e in envs {
        for key in [
            "id",
            "obs_dim",
            "act_dim",
            "horizon",
            "ref_random_return",
            "ref_expert_return",
        ] {
            assert!(!e[key].is_null(), "{key} missing in {e}");
        }
        let cons = e["constraints"].as_array().unwrap();
        assert!(!cons.is_empty());
        for c in cons {
            assert!(c["name"].is_string());
            assert!(matches!(c["kind"].as_str(), Some("hard" | "soft")), "{c}");
            assert!(c["limit"].is_number());
        }
    }
}

#[test]
fn rollout_json_reports_every_field_and_is_reproducible() {
    for id in env_ids() {
        let args = [
            "rollout",
            "--env",
            &id,
            "--policy",
            "expert",
            "--episodes",
            "2",
            "--seed",
            "3",
            "--json",
        ];
        let v = json(&args);
        for key in [
            "env",
            "policy",
            "episodes",
            "mean_return",
            "std_return",
            "mean_cost",
            "hard_violations",
            "mean_length",
        ] {
            assert!(!v[key].is_null(), "{id}: {key} missing in {v}");
        }
        assert_eq!(v["env"], id.as_str());
        assert_eq!(v["policy"], "expert");
        assert_eq!(v["episodes"], 2);
        assert_eq!(v, json(&args), "{id}: same seed, same report");
    }
}

#[test]
fn bad_input_gives_a_clear_error_and_nonzero_exit() {
    let (code, stdout, stderr) = neorl(&["rollout", "--env", "NoSuchPlant-v0", "--json"]);
    assert_ne!(code, 0);
    let v: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(v["error"].as_str().unwrap().contains("NoSuchPlant-v0"));
    assert!(stderr.contains("neorl envs"), "{stderr}");
    let (code, _, stderr) = neorl(&[
        "rollout",
        "--env",
        "ChemicalReactor-v0",
        "--policy",
        "genius",
    ]);
    assert_ne!(code, 0);
    assert!(stderr.contains("expert, medium, random"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bench_envs_json_shape() {
    let id = &env_ids()[0];
    let v = json(&[
        "bench",
        "envs",
        "--env",
        id,
        "--batch",
        "32",
        "--seconds",
        "0.02",
        "--json",
    ]);
    let rows = v["envs"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    for key in [
        "id",
        "single_steps_per_s",
        "batched_1t_steps_per_s",
        "batched_2t_steps_per_s",
    ] {
        assert!(!rows[0][key].is_null(), "{key} missing");
    }
    assert!(rows[0]["single_steps_per_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn quickstart_writes_summary_and_one_figure_per_env() {
    let dir = std::env::temp_dir().join(format!("neorl-qs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let v = json(&[
        "quickstart",
        "--out",
        dir.to_str().unwrap(),
        "--episodes",
        "2",
        "--train-steps",
        "20",
        "--dataset-size",
        "2000",
        "--json",
    ]);
    assert_eq!(v["agent"]["steps"], 20);
    assert!(dir.join("learning_curve.html").exists());
    let ids = env_ids();
    assert_eq!(v["envs"].as_array().unwrap().len(), ids.len());
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    let js = std::fs::read_to_string(dir.join("plotly.min.js")).unwrap();
    assert!(
        js.len() > 1_000_000,
        "plotly.js is shipped for offline viewing"
    );
    for id in ids {
        assert!(md.contains(&id), "{id} in summary");
        let html = std::fs::read_to_string(dir.join(format!("{id}.html"))).unwrap();
        assert!(html.contains("<script src=\"plotly.min.js\">"));
        assert!(html.contains("Plotly.newPlot"));
        assert!(!html.contains("cdn."), "{id}: figure must work offline");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `neorl train` writes a checkpoint, continues from it, and `neorl eval`
/// reads it; both print exactly one JSON object with the documented fields.
#[test]
fn train_then_eval_a_checkpoint() {
    let id = &env_ids()[0];
    let dir = std::env::temp_dir().join(format!("neorl-train-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let dataset = format!("{id}:medium:1500");
    let args = |steps: &str| {
        vec![
            "train".to_string(),
            "--algo".into(),
            "td3bc".into(),
            "--dataset".into(),
            dataset.clone(),
            "--steps".into(),
            steps.into(),
            "--seed".into(),
            "1".into(),
            "--device".into(),
            "cpu".into(),
            "--out".into(),
            dir.to_str().unwrap().into(),
            "--json".into(),
        ]
    };
    let a: Vec<String> = args("6");
    let v = json(&a.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    for k in [
        "algo",
        "dataset",
        "steps",
        "seed",
        "checkpoint",
        "final_metrics",
    ] {
        assert!(v.get(k).is_some(), "{k} missing in {v}");
    }
    assert_eq!(v["algo"], "td3bc");
    assert!(v["final_metrics"]["critic_loss"].is_number(), "{v}");
    let a: Vec<String> = args("4");
    let v = json(&a.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    assert_eq!(
        v["steps"], 10,
        "training continued from the checkpoint: {v}"
    );
    let v = json(&[
        "eval",
        "--checkpoint",
        dir.to_str().unwrap(),
        "--episodes",
        "2",
        "--json",
    ]);
    for k in [
        "normalized_score",
        "mean_return",
        "mean_cost",
        "hard_violations",
        "episodes",
    ] {
        assert!(v.get(k).is_some(), "{k} missing in {v}");
    }
    assert_eq!(v["episodes"], 2);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_agent_arguments_give_one_json_error() {
    let (code, out, _) = neorl(&[
        "train",
        "--algo",
        "ppo",
        "--dataset",
        "PowerGrid-v0:medium:100",
        "--steps",
        "1",
        "--json",
    ]);
    assert_ne!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(
        v["error"].as_str().unwrap().contains("unknown algorithm"),
        "{v}"
    );
    let (code, out, _) = neorl(&["eval", "--checkpoint", "/nonexistent/ckpt", "--json"]);
    assert_ne!(code, 0);
    assert!(out.contains("error"));
}

#[test]
fn bench_train_and_inference_report_the_documented_fields() {
    let v = json(&[
        "bench",
        "train",
        "--algo",
        "bc",
        "--device",
        "cpu",
        "--seconds",
        "0.2",
        "--json",
    ]);
    for k in [
        "algo",
        "device",
        "batch",
        "hidden",
        "updates_per_s",
        "transitions_per_s",
    ] {
        assert!(v.get(k).is_some(), "{k} missing in {v}");
    }
    assert_eq!(v["batch"], 256);
    let v = json(&["bench", "inference", "--seconds", "0.2", "--json"]);
    for k in ["single_p50_us", "single_p99_us", "batch_obs_per_s"] {
        assert!(v[k].as_f64().unwrap() > 0.0, "{k} in {v}");
    }
}
