//! `neorl train`'s checkpoint manager flags: checked before anything runs,
//! the last N and the best kept, and a run killed with SIGKILL resuming from
//! its latest checkpoint to the same bits as an uninterrupted run.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("neorl-ckpt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// `neorl train` of a small BC on a 1500-transition reactor dataset
/// (cached in `data`) into `out`, with `extra` flags.
fn train(data: &Path, out: &Path, steps: u64, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_neorl"));
    cmd.args([
        "train",
        "--algo",
        "bc",
        "--dataset",
        "ChemicalReactor-medium-v0",
    ])
    .args([
        "--size", "1500", "--hidden", "8", "--device", "cpu", "--json",
    ])
    .args(["--steps", &steps.to_string(), "--out"])
    .arg(out)
    .args(extra)
    .env("NEORL_PROGRESS", "off")
    .env("NEORL_DATA_DIR", data)
    .env_remove("MLFLOW_TRACKING_URI")
    .env(
        "NEORL_TRACKING_DIR",
        std::env::temp_dir().join(format!("neorl-ckpt-mlruns-{}", std::process::id())),
    );
    cmd
}

/// Run to the end; the JSON object it prints (success or error).
fn run(cmd: Command) -> (bool, Value) {
    let (ok, v, _) = run_err(cmd);
    (ok, v)
}

/// As [`run`], with what it wrote to stderr.
fn run_err(mut cmd: Command) -> (bool, Value, String) {
    let out = cmd.output().expect("the neorl binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "not one JSON object ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (
        out.status.success(),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn step_of(file: &Path) -> u64 {
    neorl::agents::Checkpoint::read(file).unwrap().step()
}

#[test]
fn checkpoint_flags_out_of_range_are_refused_before_training() {
    let (data, out) = (tmp("bad-data"), tmp("bad-out"));
    for (flags, needle) in [
        (&["--save-every", "0"][..], "--save-every) is 0"),
        (&["--keep-last", "0"], "--keep-last) is 0"),
        (&["--eval-every", "0"], "--eval-every) is 0"),
        (&["--keep-best"], "needs eval_every (--eval-every M)"),
    ] {
        let (ok, v) = run(train(&data, &out, 5, flags));
        assert!(!ok, "{flags:?} accepted");
        let msg = v["error"].as_str().unwrap_or_default();
        assert!(msg.contains(needle), "{flags:?}: {msg}");
    }
    assert!(
        !out.exists() && !data.exists(),
        "refused before anything ran"
    );
}

#[test]
fn keep_last_and_keep_best_on_the_command_line() {
    let (data, out) = (tmp("keep-data"), tmp("keep-out"));
    let flags = [
        "--save-every",
        "10",
        "--keep-last",
        "2",
        "--keep-best",
        "--eval-every",
        "10",
        "--eval-episodes",
        "1",
    ];
    let (ok, v) = run(train(&data, &out, 40, &flags));
    assert!(ok, "{v}");
    let c = &v["checkpoints"];
    let evals = c["evaluations"].as_array().unwrap();
    assert_eq!(evals.len(), 4, "{c}");
    // The best is the first evaluation of the highest score.
    let scores: Vec<(u64, f64)> = evals
        .iter()
        .map(|e| (e[0].as_u64().unwrap(), e[1].as_f64().unwrap()))
        .collect();
    let top = scores.iter().map(|s| s.1).fold(f64::NEG_INFINITY, f64::max);
    let best = scores.iter().find(|s| s.1 == top).unwrap().0;
    assert_eq!(c["best"]["step"], best, "{c}");
    let mut kept: Vec<u64> = vec![30, 40];
    if best < 30 {
        kept.insert(0, best);
    }
    assert_eq!(c["kept"], serde_json::json!(kept), "{c}");
    assert_eq!(step_of(&out.join("best/agent.ckpt")), best);
    assert_eq!(step_of(&out.join("agent.ckpt")), 40);
    assert!(out.join("checkpoints.json").is_file());

    // A corrupt latest: the next run warns, naming it, and continues from
    // the newest kept checkpoint (step 40, kept in checkpoints/).
    let latest = out.join("agent.ckpt");
    let mut bytes = std::fs::read(&latest).unwrap();
    let n = bytes.len() / 2;
    bytes[n] ^= 1;
    std::fs::write(&latest, bytes).unwrap();
    let (ok, v, stderr) = run_err(train(&data, &out, 10, &flags));
    assert!(ok, "{v}");
    assert!(
        stderr.contains(&format!("warning: {} cannot be loaded", latest.display()))
            && stderr.contains("step-000000040"),
        "{stderr}"
    );
    assert_eq!(v["steps"], 50);
    std::fs::remove_dir_all(&out).ok();
    std::fs::remove_dir_all(&data).ok();
}

#[test]
fn a_killed_train_resumes_from_its_latest_checkpoint_to_the_same_bits() {
    let (data, killed, whole) = (tmp("kill-data"), tmp("killed"), tmp("whole"));
    const K: u64 = 10;
    // The data first, so the killed run spends its time training.
    assert!(run(train(&data, &tmp("warm"), 1, &[])).0);
    let mut child = train(&data, &killed, 1_000_000, &["--save-every", "10"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let latest = killed.join("agent.ckpt");
    let t0 = Instant::now();
    while !(latest.is_file() && step_of(&latest) >= 2 * K) {
        assert!(t0.elapsed() < Duration::from_secs(120), "no checkpoint");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no chance to save
    child.wait().unwrap();
    let at = step_of(&latest);
    assert_eq!(at % K, 0, "the latest is on the save cadence: {at}");
    // Resumed with the same command (10 more steps) …
    let (ok, v) = run(train(&data, &killed, K, &["--save-every", "10"]));
    assert!(ok, "{v}");
    assert_eq!(v["steps"], at + K);
    // … it ends with the bits of an uninterrupted run of as many steps,
    // planned as the killed run was (the plan is in the checkpoint).
    let plan = ["--set", "planned_steps=1000000"];
    assert!(run(train(&data, &whole, at + K, &plan)).0);
    assert_eq!(
        std::fs::read(&latest).unwrap(),
        std::fs::read(whole.join("agent.ckpt")).unwrap()
    );
    for d in [data, killed, whole, tmp("warm")] {
        std::fs::remove_dir_all(d).ok();
    }
}
