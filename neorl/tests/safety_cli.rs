//! End-to-end tests of the safety layer's CLI: `rollout --shield/--audit`,
//! `audit verify` and `bench safety`.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn neorl(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_neorl"))
        .args(args)
        .env("NEORL_PROGRESS", "off")
        .output()
        .expect("the neorl binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json_of(stdout: &str) -> Value {
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {stdout}"))
}

fn tmp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("neorl-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

fn env_ids() -> Vec<String> {
    let (code, out, err) = neorl(&["envs", "--json"]);
    assert_eq!(code, 0, "{err}");
    json_of(&out)["envs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// Write a small audit log through a shielded rollout; returns its path.
fn shielded_log(name: &str) -> (PathBuf, Value) {
    let id = &env_ids()[0];
    let path = tmp(name);
    let p = path.to_str().unwrap();
    let args = [
        "rollout",
        "--env",
        id,
        "--policy",
        "random",
        "--episodes",
        "1",
        "--shield",
        "--audit",
        p,
        "--json",
    ];
    let (code, out, err) = neorl(&args);
    assert_eq!(code, 0, "{err}");
    (path, json_of(&out))
}

#[test]
fn rollout_shield_json_reports_interventions_and_emergency_stops() {
    for id in env_ids() {
        let args = [
            "rollout",
            "--env",
            &id,
            "--policy",
            "random",
            "--episodes",
            "1",
            "--seed",
            "5",
            "--shield",
            "--json",
        ];
        let (code, out, err) = neorl(&args);
        assert_eq!(code, 0, "{id}: {err}");
        let v = json_of(&out);
        for key in [
            "interventions",
            "emergency_stops",
            "hard_violations",
            "interventions_by_kind",
            "mean_return",
            "episodes",
        ] {
            assert!(!v[key].is_null(), "{id}: {key} missing in {v}");
        }
        assert_eq!(v["shielded"], true);
        assert_eq!(v["policy"], "random");
        assert!(v["interventions"].as_u64().is_some());
        assert!(
            v["shutdowns"].as_u64().is_some(),
            "{id}: shutdowns missing in {v}"
        );
        assert_eq!(v["hard_violations"], 0, "{id}: {v}");
        let (_, again, _) = neorl(&args);
        assert_eq!(v, json_of(&again), "{id}: same seed, same shielded report");
    }
}

/// Issue 18's report, as a new user ran it: the reactor with its
/// disturbances on, a random policy through the shield. It had one
/// episode end in runaway; the shield now takes the reactor's emergency
/// shutdown (feed cut-off and quench) when no brine flow is safe.
#[test]
fn shielded_random_reactor_never_runs_away() {
    let args = [
        "rollout",
        "--env",
        "ChemicalReactor-v0",
        "--policy",
        "random",
        "--episodes",
        "20",
        "--seed",
        "3",
        "--shield",
        "--json",
    ];
    let (code, out, err) = neorl(&args);
    assert_eq!(code, 0, "{err}");
    let v = json_of(&out);
    assert_eq!(v["hard_violations"], 0, "{v}");
    assert_eq!(v["hard_violation_steps"], 0, "{v}");
    assert_eq!(
        v["shutdowns"], v["emergency_stops"],
        "every trip of the reactor's emergency stop fires its shutdown: {v}"
    );
}

#[test]
fn rollout_without_shield_keeps_its_old_json() {
    let id = &env_ids()[0];
    let (code, out, err) = neorl(&["rollout", "--env", id, "--episodes", "1", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v = json_of(&out);
    assert!(
        v["interventions"].is_null(),
        "no safety fields without --shield/--audit"
    );
}

#[test]
fn audit_verify_accepts_an_intact_log() {
    let (path, report) = shielded_log("ok.jsonl");
    let (code, out, err) = neorl(&["audit", "verify", path.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let v = json_of(&out);
    assert_eq!(v["ok"], true);
    assert!(v["first_bad"].is_null());
    assert!(v["reason"].is_null());
    assert_eq!(v["records"], report["audit"]["records"]);
    assert_eq!(v["head"], report["audit"]["head"]);
    let (code, out, _) = neorl(&["audit", "verify", path.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("ok"), "{out}");
    std::fs::remove_file(path).unwrap();
}

#[test]
fn audit_verify_rejects_tampered_logs_with_nonzero_exit() {
    let (path, _) = shielded_log("tampered.jsonl");
    let original = std::fs::read(&path).unwrap();
    let lines: Vec<&[u8]> = original.split_inclusive(|&b| b == b'\n').collect();
    assert!(lines.len() >= 4);
    let check = |bytes: &[u8], expect_first_bad: Option<u64>, what: &str| {
        std::fs::write(&path, bytes).unwrap();
        let (code, out, err) = neorl(&["audit", "verify", path.to_str().unwrap(), "--json"]);
        assert_ne!(code, 0, "{what}: must exit non-zero");
        assert!(!err.contains("panicked"), "{what}: {err}");
        let v = json_of(&out);
        assert_eq!(v["ok"], false, "{what}: {v}");
        assert!(v["reason"].is_string(), "{what}: {v}");
        if let Some(n) = expect_first_bad {
            assert_eq!(v["first_bad"], n, "{what}: {v}");
        }
    };
    // An edited byte in record 1 (a digit of its timestamp).
    let mut t = original.clone();
    let at = lines[0].len() + 20;
    t[at] = if t[at] == b'1' { b'2' } else { b'1' };
    check(&t, Some(1), "edited record 1");
    // A deleted record.
    let mut t = lines.clone();
    t.remove(2);
    check(&t.concat(), Some(2), "deleted record 2");
    // Swapped neighbours.
    let mut t = lines.clone();
    t.swap(1, 2);
    check(&t.concat(), Some(1), "swapped records 1 and 2");
    // The seal cut off.
    check(
        &lines[..lines.len() - 1].concat(),
        Some(lines.len() as u64 - 1),
        "truncated tail",
    );
    // Not a log at all, and an empty file.
    check(b"hello\n", Some(0), "garbage");
    check(b"", Some(0), "empty file");
    std::fs::remove_file(&path).unwrap();
    let (code, out, _) = neorl(&["audit", "verify", path.to_str().unwrap(), "--json"]);
    assert_ne!(code, 0);
    assert!(
        json_of(&out)["reason"]
            .as_str()
            .unwrap()
            .contains("cannot read")
    );
}

#[test]
fn bench_safety_json_shape() {
    let id = &env_ids()[0];
    let (code, out, err) = neorl(&[
        "bench",
        "safety",
        "--env",
        id,
        "--seconds",
        "0.02",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v = json_of(&out);
    let rows = v["envs"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    for key in ["id", "check_ns", "shield_ns", "step_ns"] {
        assert!(!rows[0][key].is_null(), "{key} missing in {v}");
    }
    assert!(rows[0]["check_ns"].as_f64().unwrap() > 0.0);
    assert!(rows[0]["shield_ns"].as_f64().unwrap() > 0.0);
}
