//! Experiment tracking against MLflow itself: runs logged through neorl are
//! read back with MLflow's own Python client (`mlflow.tracking.MlflowClient`)
//! from (1) the default local store and (2) a real `mlflow server` on
//! 127.0.0.1 (random free port, its own temporary SQLite store and artifact
//! folder), including a server outage in the middle of a run and processes
//! killed with SIGKILL.
//!
//! MLflow comes from PyPI through `scripts/bootstrap.sh`; when it is not
//! importable these tests fail and say so.

mod support;

use neorl::track::{Run, Status, Target, Tracker};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::mlflow::Server;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "neorl-track-it-{name}-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn require_mlflow() {
    let ok = Command::new("python3")
        .args(["-c", "import mlflow"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "MLflow's Python package is not importable by python3; run scripts/bootstrap.sh (it installs mlflow from PyPI)"
    );
}

/// Run a Python script (MLflow's file store allowed); its last stdout line as JSON.
fn python(script: &str, args: &[&str]) -> Value {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .env("MLFLOW_ALLOW_FILE_STORE", "true")
        .env("PYTHONWARNINGS", "ignore")
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "MLflow's client could not read the runs: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// Read runs back with MLflow's Python client. `spec`: {"uri", "runs":
/// [{"run_id", "history": [keys], "texts": [artifact paths]}]}.
fn mlflow_read(spec: &Value) -> Value {
    const SCRIPT: &str = r#"
import json, math, os, sys, tempfile
from mlflow.tracking import MlflowClient
spec = json.loads(sys.argv[1])
c = MlflowClient(tracking_uri=spec["uri"])
def fin(v):
    # repr: exact (JSON numbers would be re-parsed approximately)
    return repr(v)
out = []
for want in spec["runs"]:
    rid = want["run_id"]
    r = c.get_run(rid)
    arts = []
    def walk(path):
        for f in c.list_artifacts(rid, path):
            if f.is_dir:
                walk(f.path)
            else:
                arts.append(f.path)
    walk(None)
    texts = {}
    for a in want.get("texts", []):
        p = c.download_artifacts(rid, a, tempfile.mkdtemp())
        texts[a] = open(p, encoding="utf-8").read()
    out.append({
        "status": r.info.status, "run_name": r.info.run_name,
        "start_time": r.info.start_time, "end_time": r.info.end_time,
        "experiment": c.get_experiment(r.info.experiment_id).name,
        "params": r.data.params, "tags": r.data.tags,
        "metrics": {k: fin(v) for k, v in r.data.metrics.items()},
        "history": {k: [[m.step, fin(m.value), m.timestamp] for m in c.get_metric_history(rid, k)]
                    for k in want.get("history", [])},
        "artifacts": sorted(arts), "texts": texts,
    })
print(json.dumps(out))
"#;
    python(SCRIPT, &[&spec.to_string()])
}

/// Run ids of an experiment, through MLflow's client (newest first).
fn mlflow_run_ids(uri: &str, experiment: &str) -> Vec<(String, String, String)> {
    const SCRIPT: &str = r#"
import json, sys
from mlflow.tracking import MlflowClient
c = MlflowClient(tracking_uri=sys.argv[1])
e = c.get_experiment_by_name(sys.argv[2])
runs = c.search_runs([e.experiment_id], order_by=["attributes.start_time DESC"]) if e else []
print(json.dumps([[r.info.run_id, r.info.run_name, r.info.status] for r in runs]))
"#;
    serde_json::from_value(python(SCRIPT, &[uri, experiment])).unwrap()
}

/// The `neorl` binary with tracking settings from the test only.
fn neorl(cwd: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_neorl"));
    c.current_dir(cwd)
        .env("NEORL_PROGRESS", "off")
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("MLFLOW_EXPERIMENT_NAME")
        .env_remove("NEORL_TRACKING")
        .env_remove("NEORL_TRACKING_DIR")
        .env_remove("NEORL_SPOOL_DIR")
        // Each test generates its dataset into its own cache.
        .env("NEORL_DATA_DIR", cwd.join("data"));
    c
}

fn run_json(cmd: &mut Command) -> Value {
    let out = cmd.output().expect("neorl runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap()
}

const TRAIN_ARGS: &[&str] = &[
    "train",
    "--algo",
    "bc",
    "--dataset",
    "ChemicalReactor-medium-v0",
    "--size",
    "2000",
    "--hidden",
    "16,16",
    "--device",
    "cpu",
    "--seed",
    "3",
];

/// Start `neorl train` for ever, wait until `ready()`, then SIGKILL it.
fn kill_training_when(cwd: &Path, extra: &[&str], ready: impl Fn() -> bool) {
    let mut child = neorl(cwd)
        .args(TRAIN_ARGS)
        .args(["--steps", "100000000", "--out", "ck-killed"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !ready() {
        assert!(
            t0.elapsed() < Duration::from_secs(180),
            "training never got going"
        );
        if let Ok(Some(s)) = child.try_wait() {
            panic!("training exited early: {s}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(1500)); // some metrics too
    child.kill().unwrap(); // SIGKILL: no Drop, no clean-up
    child.wait().unwrap();
}

/// A value from the Python side (`repr` text, exact), or a JSON number.
fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("not a float: {s}")),
        other => other
            .as_f64()
            .unwrap_or_else(|| panic!("not a number: {other}")),
    }
}

fn check_points(history: &Value, n: usize, value: impl Fn(i64) -> f64) {
    let h = history.as_array().unwrap();
    assert_eq!(h.len(), n, "every point once");
    let mut steps: Vec<i64> = h.iter().map(|p| p[0].as_i64().unwrap()).collect();
    steps.sort();
    assert_eq!(steps, (0..n as i64).collect::<Vec<_>>());
    for p in h {
        let s = p[0].as_i64().unwrap();
        // Exactly equal (-0.0 == 0.0: SQLite stores no negative zero).
        assert_eq!(num(&p[1]), value(s), "value at step {s}");
    }
}

/// What a run logs in the API scenario; the same checks for both stores.
fn log_api_run(run: &mut Run, dir: &Path) {
    run.log_param("lr", "0.0003").unwrap();
    run.log_params_json(
        "agent",
        &json!({"hidden": [64, 64], "tau": 0.005, "name": "td3bc"}),
    )
    .unwrap();
    run.set_tag("purpose", "integration test").unwrap();
    for s in 0..2500u64 {
        run.log_metrics(s, &[("loss", s as f32 * 0.5), ("q", -(s as f32))])
            .unwrap();
    }
    run.log_metric("odd", f64::NAN, 0).unwrap();
    run.log_metric("odd", 1e300, 1).unwrap();
    run.log_metric("odd", -2.5e-300, 2).unwrap();
    let folder = dir.join("ckpt");
    std::fs::create_dir_all(folder.join("sub")).unwrap();
    std::fs::write(folder.join("a.bin"), [0u8, 1, 2, 255]).unwrap();
    std::fs::write(folder.join("sub/b.txt"), "bee").unwrap();
    run.log_artifact(&folder, "checkpoint").unwrap();
    run.log_json(&json!({"score": 97.5}), "report.json")
        .unwrap();
}

fn check_api_run(r: &Value, experiment: &str) {
    assert_eq!(r["status"], "FINISHED");
    assert_eq!(r["run_name"], "api");
    assert_eq!(r["experiment"], experiment);
    assert_eq!(r["params"]["lr"], "0.0003");
    assert_eq!(r["params"]["agent.hidden"], "[64,64]");
    assert_eq!(r["params"]["agent.tau"], "0.005");
    assert_eq!(r["params"]["agent.name"], "td3bc");
    assert_eq!(r["params"]["neorl_version"], env!("CARGO_PKG_VERSION"));
    assert!(r["params"]["git_commit"].is_string());
    assert_eq!(r["tags"]["purpose"], "integration test");
    assert!(r["tags"]["mlflow.user"].is_string());
    assert!(r["tags"]["mlflow.source.name"].is_string());
    assert!(r["end_time"].as_i64().unwrap() >= r["start_time"].as_i64().unwrap());
    check_points(&r["history"]["loss"], 2500, |s| s as f64 * 0.5);
    check_points(&r["history"]["q"], 2500, |s| -(s as f64));
    let odd = r["history"]["odd"].as_array().unwrap();
    assert_eq!(odd.len(), 3);
    assert_eq!(odd[0][1], "nan");
    assert_eq!(num(&odd[1][1]), 1e300);
    assert_eq!(num(&odd[2][1]), -2.5e-300);
    assert_eq!(num(&r["metrics"]["loss"]), 2499.0 * 0.5);
    assert_eq!(
        r["artifacts"],
        json!([
            "checkpoint/ckpt/a.bin",
            "checkpoint/ckpt/sub/b.txt",
            "report.json"
        ])
    );
    assert_eq!(r["texts"]["checkpoint/ckpt/sub/b.txt"], "bee");
    let report: Value = serde_json::from_str(r["texts"]["report.json"].as_str().unwrap()).unwrap();
    assert_eq!(report["score"], 97.5);
}

const API_TEXTS: &[&str] = &["checkpoint/ckpt/sub/b.txt", "report.json"];

#[test]
fn the_default_local_store_is_read_by_mlflow() {
    require_mlflow();
    let dir = tmp("local");
    // The API, into ./mlruns of a working directory.
    let store = dir.join("mlruns");
    let tracker =
        Tracker::with_target(Target::Local(store.clone()), "local-api", dir.join("spool")).unwrap();
    let mut run = tracker.start_run("api").unwrap();
    log_api_run(&mut run, &dir);
    let info = run.finish().unwrap();
    let uri = tracker.uri();
    assert!(uri.starts_with("file:///"), "{uri}");
    // A run dropped by an error ends FAILED.
    drop(tracker.start_run("dropped").unwrap());

    // The CLI with no tracking configuration at all writes ./mlruns.
    let v = run_json(
        neorl(&dir)
            .args(TRAIN_ARGS)
            .args(["--steps", "30", "--out", "ck", "--json"]),
    );
    let train_id = v["mlflow"]["run_id"].as_str().unwrap().to_string();
    assert_eq!(v["mlflow"]["tracking_uri"], uri);
    assert_eq!(v["mlflow"]["experiment"], "neorl");
    let e = run_json(neorl(&dir).args(["eval", "--checkpoint", "ck", "--episodes", "2", "--json"]));
    let eval_id = e["mlflow"]["run_id"].as_str().unwrap().to_string();
    // --no-track records nothing.
    let off = run_json(neorl(&dir).args([
        "eval",
        "--checkpoint",
        "ck",
        "--episodes",
        "1",
        "--no-track",
        "--json",
    ]));
    assert!(off["mlflow"].is_null());

    // A training process killed with SIGKILL: the next neorl process marks its run KILLED.
    kill_training_when(&dir, &["--experiment", "killed"], || {
        std::fs::read_dir(&store).is_ok_and(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(".neorl-run-"))
        }) && mlflow_like_running(&store)
    });
    let _ =
        Tracker::with_target(Target::Local(store.clone()), "killed", dir.join("spool")).unwrap();

    let runs = mlflow_run_ids(&uri, "local-api");
    let statuses: Vec<(&str, &str)> = runs.iter().map(|r| (r.1.as_str(), r.2.as_str())).collect();
    assert_eq!(statuses, [("dropped", "FAILED"), ("api", "FINISHED")]);
    let killed = mlflow_run_ids(&uri, "killed");
    assert_eq!(killed.len(), 1);
    assert_eq!(killed[0].2, "KILLED");

    let got = mlflow_read(&json!({"uri": uri, "runs": [
        {"run_id": info.run_id.unwrap(), "history": ["loss", "q", "odd"], "texts": API_TEXTS},
        {"run_id": train_id, "history": ["bc_mse"], "texts": ["dataset_card.json"]},
        {"run_id": eval_id, "history": ["episode_return"], "texts": ["evaluation_report.json"]},
    ]}));
    check_api_run(&got[0], "local-api");
    check_cli_runs(&got[1], &got[2], &train_id, 30);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Whether some run in the store is RUNNING with a metric logged.
fn mlflow_like_running(store: &Path) -> bool {
    let Ok(exps) = std::fs::read_dir(store) else {
        return false;
    };
    exps.flatten().any(|e| {
        std::fs::read_dir(e.path()).is_ok_and(|runs| {
            runs.flatten().any(|r| {
                std::fs::read_to_string(r.path().join("meta.yaml"))
                    .is_ok_and(|m| m.contains("status: 1"))
                    && r.path().join("metrics").join("bc_mse").exists()
            })
        })
    })
}

fn check_cli_runs(train: &Value, eval: &Value, train_id: &str, steps: usize) {
    assert_eq!(train["status"], "FINISHED");
    assert_eq!(train["run_name"], "bc-ChemicalReactor-v0-s3");
    let p = &train["params"];
    assert_eq!(p["algo"], "bc");
    assert_eq!(p["dataset"], "ChemicalReactor-medium-v0");
    assert_eq!(p["dataset_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(p["seed"], "3");
    assert_eq!(p["device"], "cpu");
    assert_eq!(p["agent.hidden"], "[16,16]");
    assert_eq!(p["agent.seed"], "3");
    assert!(
        p["agent.lr"].is_string() || p["agent.actor_lr"].is_string(),
        "{p}"
    );
    assert_eq!(p["neorl_version"], env!("CARGO_PKG_VERSION"));
    let h = train["history"]["bc_mse"].as_array().unwrap();
    assert_eq!(h.len(), steps, "one point per training step");
    let steps_seen: Vec<i64> = h.iter().map(|x| x[0].as_i64().unwrap()).collect();
    assert_eq!(steps_seen, (1..=steps as i64).collect::<Vec<_>>());
    let arts = train["artifacts"].as_array().unwrap();
    for want in [
        "agent.ckpt",
        "mlflow-run.json",
        "dataset_card.json",
        "learning_curve.html",
        "train_summary.json",
    ] {
        assert!(
            arts.iter().any(|a| a.as_str().unwrap().ends_with(want)),
            "{want} in {arts:?}"
        );
    }
    let card: Value =
        serde_json::from_str(train["texts"]["dataset_card.json"].as_str().unwrap()).unwrap();
    assert_eq!(
        card["transitions"].to_string(),
        p["dataset_transitions"].as_str().unwrap()
    );
    assert_eq!(card["sha256"], p["dataset_sha256"]);

    assert_eq!(eval["status"], "FINISHED");
    assert_eq!(
        eval["tags"]["neorl.train_run_id"], train_id,
        "eval names the run that trained the checkpoint"
    );
    assert_eq!(
        eval["tags"]["mlflow.parentRunId"], train_id,
        "and nests under it (same experiment)"
    );
    assert!(num(&eval["metrics"]["normalized_score"]).is_finite());
    assert_eq!(num(&eval["metrics"]["episodes"]), 2.0);
    assert_eq!(
        eval["history"]["episode_return"].as_array().unwrap().len(),
        2
    );
    let report: Value =
        serde_json::from_str(eval["texts"]["evaluation_report.json"].as_str().unwrap()).unwrap();
    assert_eq!(report["per_episode"].as_array().unwrap().len(), 2);
    assert!(
        (report["normalized_score"].as_f64().unwrap() - num(&eval["metrics"]["normalized_score"]))
            .abs()
            < 1e-9
    );
}

/// [`support::wait_until`], polling every 100 ms.
fn wait_until(what: &str, secs: u64, f: impl Fn() -> bool) {
    support::wait_until(what, secs, Duration::from_millis(100), f)
}

#[test]
fn a_real_mlflow_server_gets_every_record_exactly_once() {
    require_mlflow();
    let dir = tmp("server");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let spool = dir.join("spool");
    let tracker = Tracker::with_target(Target::Server(url.clone()), "server-api", spool.clone())
        .unwrap()
        .with_end_timeout(Duration::from_secs(120));

    // 0. The server is not up yet: the run is journaled and sent once it is.
    let mut late = tracker.start_run("late").unwrap();
    assert!(late.info().unwrap().run_id.is_none());
    for s in 0..50 {
        late.log_metric("x", s as f64, s).unwrap();
    }
    let mut server = Server {
        child: None,
        port,
        dir: dir.clone(),
    };
    server.restart();
    let late = late.end(Status::Finished).unwrap();
    assert_eq!(late.pending_records, 0);

    // 1. The API: params, metric histories, artifacts, through the REST API.
    let mut run = tracker.start_run("api").unwrap();
    assert!(run.info().unwrap().run_id.is_some(), "run created at once");
    log_api_run(&mut run, &dir);
    let api = run.finish().unwrap();
    assert_eq!(api.pending_records, 0);

    // 2. The CLI: train then eval, with --tracking-uri.
    let cwd = tmp("server-cli");
    let v = run_json(neorl(&cwd).args(TRAIN_ARGS).args([
        "--steps",
        "40",
        "--out",
        "ck",
        "--tracking-uri",
        &url,
        "--experiment",
        "server-cli",
        "--json",
    ]));
    assert_eq!(v["mlflow"]["pending_records"], 0);
    let train_id = v["mlflow"]["run_id"].as_str().unwrap().to_string();
    let e = run_json(neorl(&cwd).args([
        "eval",
        "--checkpoint",
        "ck",
        "--episodes",
        "2",
        "--tracking-uri",
        &url,
        "--experiment",
        "server-cli",
        "--json",
    ]));
    let eval_id = e["mlflow"]["run_id"].as_str().unwrap().to_string();

    // 3. Outage: the server is killed mid-run and restarted; logging goes on.
    let mut run = tracker.start_run("outage").unwrap();
    let value = |s: i64| (s as f64).sqrt();
    for s in 0..600 {
        run.log_metric("m", value(s), s).unwrap();
    }
    run.flush().unwrap();
    wait_until("the first points are on the server", 120, || {
        run.unsent() == 0
    });
    server.stop();
    for s in 600..1800 {
        run.log_metric("m", value(s), s).unwrap();
        if s % 200 == 0 {
            run.flush().unwrap();
        }
    }
    run.log_text("written while the server was down", "outage.txt")
        .unwrap();
    run.flush().unwrap();
    std::thread::sleep(Duration::from_secs(2)); // the sender fails and backs off
    assert!(run.unsent() > 0, "records wait in the spool");
    server.restart();
    for s in 1800..2400 {
        run.log_metric("m", value(s), s).unwrap();
    }
    let outage = run.finish().unwrap();
    assert_eq!(
        outage.pending_records, 0,
        "everything arrived after the restart"
    );

    // 4. A training process killed with SIGKILL: the next process sends its
    //    spool and marks the run KILLED.
    let killed_spool = dir.join("spool-killed");
    kill_training_when(
        &cwd,
        &["--tracking-uri", &url, "--experiment", "server-killed"],
        || has_acked_metrics(&cwd.join(".neorl/spool")),
    );
    std::fs::rename(cwd.join(".neorl/spool"), &killed_spool).unwrap();
    let t2 = Tracker::with_target(
        Target::Server(url.clone()),
        "server-killed",
        killed_spool.clone(),
    )
    .unwrap();
    let reports = t2.sync(Duration::from_secs(120));
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].pending, 0, "{reports:?}");
    assert!(
        std::fs::read_dir(&killed_spool).unwrap().next().is_none(),
        "the spool is emptied once everything is on the server"
    );
    let killed = mlflow_run_ids(&url, "server-killed");
    assert_eq!(killed.len(), 1);
    assert_eq!(killed[0].2, "KILLED");

    let got = mlflow_read(&json!({"uri": url, "runs": [
        {"run_id": api.run_id.unwrap(), "history": ["loss", "q", "odd"], "texts": API_TEXTS},
        {"run_id": train_id, "history": ["bc_mse"], "texts": ["dataset_card.json"]},
        {"run_id": eval_id, "history": ["episode_return"], "texts": ["evaluation_report.json"]},
        {"run_id": outage.run_id.unwrap(), "history": ["m"], "texts": ["outage.txt"]},
        {"run_id": killed[0].0, "history": ["bc_mse"]},
        {"run_id": late.run_id.unwrap(), "history": ["x"]},
    ]}));
    check_points(&got[5]["history"]["x"], 50, |s| s as f64);
    assert_eq!(got[5]["status"], "FINISHED");
    check_api_run(&got[0], "server-api");
    check_cli_runs(&got[1], &got[2], &train_id, 40);
    check_points(&got[3]["history"]["m"], 2400, value);
    assert_eq!(got[3]["status"], "FINISHED");
    assert_eq!(
        got[3]["texts"]["outage.txt"],
        "written while the server was down"
    );
    let k = got[4]["history"]["bc_mse"].as_array().unwrap();
    assert!(!k.is_empty(), "the killed run's metrics arrived");
    let mut steps: Vec<i64> = k.iter().map(|x| x[0].as_i64().unwrap()).collect();
    let n = steps.len();
    steps.dedup();
    assert_eq!(steps.len(), n, "no metric point twice");
    assert_eq!(got[4]["status"], "KILLED");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&cwd);
}

/// Whether a spool folder has a run the server confirmed with metrics.
fn has_acked_metrics(spool: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(spool) else {
        return false;
    };
    entries.flatten().any(|e| {
        let name = e.file_name().to_string_lossy().to_string();
        name.ends_with(".state.json")
            && std::fs::read_to_string(e.path())
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                // Create, params, tags and the dataset card come first.
                .is_some_and(|v| v["run_id"].is_string() && v["acked"].as_u64().unwrap_or(0) >= 8)
    })
}
