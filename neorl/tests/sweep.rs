//! Sweeps with real components: a single-node SLURM cluster (munged,
//! slurmctld, slurmd) and an `mlflow server`, both started here and stopped
//! at the end. A tiny sweep (2 algorithms × 1 environment × 2 seeds) goes
//! through `sbatch --wait`; one task is cancelled mid-way (`scancel`) and
//! resubmitted; `collect` gives the same table, bit for bit, as the same
//! spec run locally; MLflow's own Python client sees one parent run with
//! its children. Also without SLURM: a task stopped by SIGTERM continues to
//! the same bits; a task whose tracking server is down fails and, run again
//! once it is back, delivers its records; bad input is refused with a clear
//! error.

mod support;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::mlflow::Server;
use support::slurm::Slurm;

fn tmp(name: &str) -> PathBuf {
    support::scratch("sweep-it", name)
}

/// Long enough (4000 steps, a checkpoint every 50) to be stopped mid-way.
const SPEC: &str = r#"
name = "it"
algorithms = ["bc", "td3bc"]
environments = ["ChemicalReactor-v0"]
sizes = [3000]
seeds = 2
steps = 4000
hidden = [16, 16]
checkpoint_every = 50

[evaluation]
every = 1000
episodes = 2

[set.td3bc]
batch_size = 32

[slurm]
time = "00:10:00"
signal_seconds = 30
"#;

/// `neorl` with settings from the test only; datasets in `root/data`.
fn neorl(root: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_neorl"));
    c.current_dir(root)
        .env("NEORL_PROGRESS", "off")
        .env("NEORL_DATA_DIR", root.join("data"))
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("MLFLOW_EXPERIMENT_NAME")
        .env_remove("NEORL_TRACKING")
        .env_remove("NEORL_TRACKING_DIR")
        .env_remove("NEORL_SPOOL_DIR")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX");
    c
}

fn ok_json(cmd: &mut Command) -> Value {
    let out = cmd.output().expect("neorl runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap()
}

/// The error line of a command that must fail.
fn err(cmd: &mut Command) -> String {
    let out = cmd.output().expect("neorl runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{cmd:?} should fail: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

fn step_of(dir: &Path, index: usize) -> u64 {
    std::fs::read_to_string(dir.join(format!("tasks/{index}/state.json")))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["step"].as_u64())
        .unwrap_or(0)
}

/// [`support::wait_until`], polling every 20 ms.
fn wait_until(what: &str, secs: u64, f: impl Fn() -> bool) {
    support::wait_until(what, secs, Duration::from_millis(20), f)
}

/// A score table's numbers: rows, datasets, and every run's evaluations
/// (not the seconds it took).
fn numbers(table: &Value) -> Value {
    let runs: Vec<Value> = table["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            json!([
                r["env"], r["algo"], r["seed"], r["evals"], r["last"], r["best"], r["error"]
            ])
        })
        .collect();
    json!({"rows": table["rows"], "datasets": table["datasets"], "runs": runs})
}

/// The tags of a finished task (its result), without its timing.
fn result_tags(dir: &Path, index: usize) -> Value {
    let text = std::fs::read_to_string(dir.join(format!("tasks/{index}/done.json"))).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    let tags = v["tags"].as_object_mut().unwrap();
    tags.remove("neorl.seconds");
    v["tags"].clone()
}

/// Plan `SPEC` into `root/name` with `args`, run it here, collect: the table.
fn local_table(root: &Path, name: &str, args: &[&str]) -> Value {
    std::fs::write(root.join("spec.toml"), SPEC).unwrap();
    let dir = root.join(name);
    ok_json(
        neorl(root)
            .args(["sweep", "plan", "spec.toml", "--out"])
            .arg(&dir)
            .args(args)
            .arg("--json"),
    );
    ok_json(
        neorl(root)
            .args(["sweep", "run-local"])
            .arg(&dir)
            .args(["--jobs", "2", "--json"]),
    );
    let v = ok_json(
        neorl(root)
            .args(["sweep", "collect"])
            .arg(&dir)
            .arg("--json"),
    );
    v["tables"][0]["table"].clone()
}

#[test]
fn a_sweep_runs_on_a_real_slurm_cluster_and_collects_the_local_table() {
    let root = tmp("slurm");
    let t0 = Instant::now();
    let Some(slurm) = Slurm::start(&root.join("slurm")) else {
        return;
    };
    std::fs::create_dir_all(root.join("mlflow")).unwrap();
    let server = Server::start(root.join("mlflow"));
    eprintln!(
        "SLURM and MLflow up after {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let url = server.url();
    std::fs::write(root.join("spec.toml"), SPEC).unwrap();
    let dir = root.join("sweep");
    let with_slurm = |c: &mut Command| {
        c.env("SLURM_CONF", slurm.conf());
    };
    let status_of = |dir: &Path| {
        let mut c = neorl(&root);
        with_slurm(&mut c);
        ok_json(c.args(["sweep", "status"]).arg(dir).arg("--json"))
    };
    let mut plan = neorl(&root);
    with_slurm(&mut plan);
    let p = ok_json(
        plan.args(["sweep", "plan", "spec.toml", "--out"])
            .arg(&dir)
            .args(["--tracking-uri", &url, "--experiment", "sweep-it"])
            .args(["--sbatch-arg=--partition=test", "--json"]),
    );
    assert_eq!(p["tasks"], 4);
    let parent = p["parent_run_id"].as_str().unwrap().to_string();
    let script = std::fs::read_to_string(dir.join("sweep.sbatch")).unwrap();
    for line in [
        "#SBATCH --array=0-3\n",
        "#SBATCH --cpus-per-task=1\n",
        "#SBATCH --time=00:10:00\n",
        "#SBATCH --signal=B:TERM@30\n",
        "#SBATCH --partition=test\n",
    ] {
        assert!(script.contains(line), "{line} in {script}");
    }

    // The whole array through `sbatch --wait`; task 0 is cancelled mid-way.
    let mut submit = neorl(&root);
    with_slurm(&mut submit);
    let submit = submit
        .args(["sweep", "submit"])
        .arg(&dir)
        .args(["--sbatch-arg=--wait", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("task 0 writes a checkpoint", 180, || step_of(&dir, 0) >= 50);
    // While the array runs (2 tasks at once on 2 CPUs), nothing is to be
    // resubmitted: every task is done, running or queued.
    let during = status_of(&dir);
    assert_eq!(during["scheduler"], true, "{during}");
    assert!(
        during["running"].as_array().unwrap().contains(&json!(0)),
        "{during}"
    );
    assert_eq!(during["resubmit"], Value::Null, "{during}");
    let squeue = slurm
        .command("squeue")
        .args(["-h", "-r", "-o", "%i"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&squeue.stdout).to_string();
    let task0 = listed
        .lines()
        .map(str::trim)
        .find(|l| l.ends_with("_0"))
        .unwrap_or_else(|| panic!("task 0 is not in squeue: {listed}\n{}", slurm.logs()))
        .to_string();
    assert!(
        slurm
            .command("scancel")
            .arg(&task0)
            .status()
            .unwrap()
            .success()
    );
    let out = submit.wait_with_output().unwrap();
    // One task was cancelled, so `sbatch --wait` reports a failure.
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let status = status_of(&dir);
    assert_eq!(
        status["done"],
        json!([1, 2, 3]),
        "{status}\n{}",
        slurm.logs()
    );
    assert_eq!(status["failed"], json!([0]), "{status}");
    let stopped_at = status["tasks"][0]["step"].as_u64().unwrap();
    assert!((50..4000).contains(&stopped_at), "stopped at {stopped_at}");
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("tasks/0/state.json")).unwrap())
            .unwrap();
    assert_eq!(state["state"], "stopped", "{state}");
    let resubmit = status["resubmit"].as_str().unwrap();
    assert!(resubmit.ends_with("--sbatch-arg=--array=0"), "{resubmit}");

    // The resubmit line, waiting this time: task 0 continues from its checkpoint.
    let mut again = neorl(&root);
    with_slurm(&mut again);
    ok_json(again.args(["sweep", "submit"]).arg(&dir).args([
        "--sbatch-arg=--array=0",
        "--sbatch-arg=--wait",
        "--json",
    ]));
    let log = std::fs::read_dir(dir.join("logs"))
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(log.contains("task 0: continuing from step"), "{log}");
    let status = status_of(&dir);
    assert_eq!(status["done"], json!([0, 1, 2, 3]), "{status}");
    assert_eq!(status["resubmit"], Value::Null);
    let submissions = std::fs::read_to_string(dir.join("submissions.jsonl")).unwrap();
    assert_eq!(submissions.lines().count(), 2, "{submissions}");

    // collect, from the server, equals the same spec run here, bit for bit.
    let v = ok_json(
        neorl(&root)
            .args(["sweep", "collect"])
            .arg(&dir)
            .arg("--json"),
    );
    let cluster = v["tables"][0]["table"].clone();
    for f in ["scores.md", "scores.json", "scores.html"] {
        assert!(dir.join(f).exists(), "{f}");
    }
    let here = local_table(&root, "local", &[]);
    assert_eq!(numbers(&cluster), numbers(&here));
    assert_eq!(cluster["rows"].as_array().unwrap().len(), 2);

    // MLflow's own client: one parent, its children, one finished per task.
    const SCRIPT: &str = r#"
import json, sys
from mlflow.tracking import MlflowClient
c = MlflowClient(tracking_uri=sys.argv[1])
e = c.get_experiment_by_name("sweep-it")
runs = c.search_runs([e.experiment_id], max_results=1000)
print(json.dumps([{"id": r.info.run_id, "status": r.info.status, "tags": r.data.tags} for r in runs]))
"#;
    let out = Command::new("python3")
        .args(["-c", SCRIPT, &url])
        .env("PYTHONWARNINGS", "ignore")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs: Vec<Value> =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    let parents: Vec<&Value> = runs
        .iter()
        .filter(|r| r["tags"].get("mlflow.parentRunId").is_none())
        .collect();
    assert_eq!(parents.len(), 1, "{runs:?}");
    assert_eq!(parents[0]["id"], parent);
    let sweep_id = parents[0]["tags"]["neorl.sweep_id"].clone();
    let children: Vec<&Value> = runs
        .iter()
        .filter(|r| r["tags"]["mlflow.parentRunId"] == parent)
        .collect();
    assert_eq!(children.len() + 1, runs.len(), "every other run is a child");
    assert!(
        children
            .iter()
            .all(|r| r["tags"]["neorl.sweep_id"] == sweep_id)
    );
    let mut finished: Vec<u64> = children
        .iter()
        .filter(|r| r["status"] == "FINISHED")
        .map(|r| {
            r["tags"]["neorl.task_index"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    finished.sort();
    assert_eq!(finished, [0, 1, 2, 3]);
    assert!(
        children
            .iter()
            .any(|r| r["status"] == "KILLED" && r["tags"]["neorl.task_index"] == "0"),
        "the cancelled attempt of task 0 ends KILLED: {children:?}"
    );
    drop(server);
    drop(slurm);
    eprintln!("whole test: {:.1} s", t0.elapsed().as_secs_f64());
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn a_task_stopped_by_sigterm_continues_to_the_same_bits() {
    let root = tmp("sigterm");
    std::fs::write(root.join("spec.toml"), SPEC).unwrap();
    for d in ["a", "b"] {
        ok_json(neorl(&root).args([
            "sweep",
            "plan",
            "spec.toml",
            "--no-track",
            "--out",
            d,
            "--json",
        ]));
    }
    // b: task 1 uninterrupted, from SLURM's variable.
    ok_json(
        neorl(&root)
            .args(["sweep", "run", "b", "--json"])
            .env("SLURM_ARRAY_TASK_ID", "1"),
    );
    // a: task 1 stopped by SIGTERM after its first checkpoints, then again.
    let a = root.join("a");
    let child = neorl(&root)
        .args(["sweep", "run", "a", "--json"])
        .env("JOB_COMPLETION_INDEX", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("task 1 writes a checkpoint", 120, || step_of(&a, 1) >= 50);
    // SAFETY: kill has no memory preconditions; the pid is our child's.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a stopped task exits non-zero");
    assert!(stderr.contains("stopped by a signal at step"), "{stderr}");
    let stopped = step_of(&a, 1);
    assert!((50..4000).contains(&stopped), "{stopped}");
    eprintln!("task 1 stopped at step {stopped}");
    let v = ok_json(neorl(&root).args(["sweep", "run", "a", "--index", "1", "--json"]));
    assert_eq!(v["outcome"], "done");
    assert_eq!(result_tags(&a, 1), result_tags(&root.join("b"), 1));
    // Done is done.
    let v = ok_json(neorl(&root).args(["sweep", "run", "a", "--index", "1", "--json"]));
    assert_eq!(v["outcome"], "already done");
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn bad_input_is_refused_with_a_clear_error() {
    let root = tmp("bad");
    std::fs::write(root.join("spec.toml"), SPEC).unwrap();
    // A bad field fails at plan, named.
    std::fs::write(
        root.join("bad.toml"),
        SPEC.replace("seeds = 2", "seeds = -1"),
    )
    .unwrap();
    let e = err(neorl(&root).args(["sweep", "plan", "bad.toml", "--out", "x"]));
    assert!(e.contains("seeds"), "{e}");
    std::fs::write(
        root.join("bad.toml"),
        SPEC.replace("[\"bc\", ", "[\"ppo\", "),
    )
    .unwrap();
    let e = err(neorl(&root).args(["sweep", "plan", "bad.toml", "--out", "x"]));
    assert!(e.contains("`algorithms`") && e.contains("ppo"), "{e}");
    ok_json(neorl(&root).args([
        "sweep",
        "plan",
        "spec.toml",
        "--no-track",
        "--out",
        "s",
        "--json",
    ]));

    // No sbatch here: say how to run it locally.
    let e = err(neorl(&root)
        .args(["sweep", "submit", "s"])
        .env("PATH", "/nonexistent"));
    assert!(
        e.contains("`sbatch` is not on PATH") && e.contains("neorl sweep run-local"),
        "{e}"
    );
    // An index out of range.
    let e = err(neorl(&root).args(["sweep", "run", "s", "--index", "4"]));
    assert!(
        e.contains("task index 4 is out of range") && e.contains("0 to 3"),
        "{e}"
    );
    let e = err(neorl(&root).args(["sweep", "run", "s"]));
    assert!(e.contains("no task index"), "{e}");
    // Collect before the runs: which tasks are missing.
    let e = err(neorl(&root).args(["sweep", "collect", "s"]));
    assert!(e.contains("tasks 0-3"), "{e}");

    // Task 0 runs; then the manifest is edited.
    ok_json(neorl(&root).args(["sweep", "run", "s", "--index", "0", "--json"]));
    let path = root.join("s/manifest.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replacen("\"steps\": 4000", "\"steps\": 5000", 1);
    assert_ne!(edited, text);
    std::fs::write(&path, &edited).unwrap();
    let e = err(neorl(&root).args(["sweep", "run", "s", "--index", "1"]));
    assert!(e.contains("was changed after it was planned"), "{e}");
    // Even with its hash made to fit, a task that ran under the old one refuses.
    let script = r#"
import hashlib, json, sys
p = sys.argv[1]
t = open(p).read()
h = json.loads(t)["hash"]
z = "0" * 64
n = hashlib.sha256(t.replace(h, z, 1).encode()).hexdigest()
open(p, "w").write(t.replace(h, n, 1))
"#;
    assert!(
        Command::new("python3")
            .args(["-c", script])
            .arg(&path)
            .status()
            .unwrap()
            .success()
    );
    let e = err(neorl(&root).args(["sweep", "run", "s", "--index", "0"]));
    assert!(
        e.contains("the manifest is now") && e.contains("changed after runs started"),
        "{e}"
    );
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn a_task_that_cannot_deliver_its_records_fails_then_sends_them() {
    let root = tmp("deliver");
    std::fs::create_dir_all(root.join("mlflow")).unwrap();
    let mut server = Server::start(root.join("mlflow"));
    let url = server.url();
    std::fs::write(
        root.join("spec.toml"),
        SPEC.replace("steps = 4000", "steps = 200"),
    )
    .unwrap();
    ok_json(
        neorl(&root)
            .args(["sweep", "plan", "spec.toml", "--out", "s", "--json"])
            .args(["--tracking-uri", &url, "--experiment", "deliver"]),
    );
    server.stop();
    let e = err(neorl(&root)
        .args(["sweep", "run", "s", "--index", "0"])
        .env("NEORL_TRACKING_TIMEOUT", "1"));
    assert!(
        e.contains("could not be delivered") && e.contains("not marked done"),
        "{e}"
    );
    assert!(!root.join("s/tasks/0/done.json").exists());
    let status = ok_json(neorl(&root).args(["sweep", "status", "s", "--json"]));
    assert_eq!(status["failed"], json!([0]), "{status}");
    // The server is back: the task runs again, and its records arrive.
    server.restart();
    let v = ok_json(neorl(&root).args(["sweep", "run", "s", "--index", "0", "--json"]));
    assert_eq!(v["outcome"], "done");
    let tracker = neorl::track::Tracker::with_target(
        neorl::track::Target::Server(url),
        "deliver",
        root.join("reader-spool"),
    )
    .unwrap();
    let runs = tracker.run_list(None).unwrap();
    assert!(
        runs.iter().any(|r| r.status == "FINISHED"
            && r.tags.get("neorl.task_index").map(String::as_str) == Some("0")
            && r.tags.get("neorl.complete").map(String::as_str) == Some("true")),
        "{runs:?}"
    );
    drop(server);
    std::fs::remove_dir_all(&root).ok();
}
