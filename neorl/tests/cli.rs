//! End-to-end tests of the `neorl` binary: JSON contracts and error handling.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn neorl(args: &[&str]) -> (i32, String, String) {
    neorl_in(args, None)
}

/// Run the binary; `data_dir` is its dataset cache (tests that generate
/// datasets use their own, so they neither race nor touch the user's).
/// Tracked commands record into a scratch MLflow store, not ./mlruns.
fn neorl_in(args: &[&str], data_dir: Option<&Path>) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_neorl"));
    cmd.args(args)
        .env("NEORL_PROGRESS", "off")
        .env_remove("MLFLOW_TRACKING_URI")
        .env(
            "NEORL_TRACKING_DIR",
            std::env::temp_dir().join(format!("neorl-cli-mlruns-{}", std::process::id())),
        );
    if let Some(d) = data_dir {
        cmd.env("NEORL_DATA_DIR", d);
    }
    let out = cmd.output().expect("the neorl binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Run with `--json`, expect success and exactly one JSON object on stdout.
fn json(args: &[&str]) -> Value {
    json_in(args, None)
}

fn json_in(args: &[&str], data_dir: Option<&Path>) -> Value {
    let (code, stdout, stderr) = neorl_in(args, data_dir);
    assert_eq!(code, 0, "neorl {args:?} failed: {stderr}");
    let v: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("neorl {args:?}: stdout is not one JSON object ({e}): {stdout}")
    });
    assert!(v.is_object());
    v
}

/// Expect failure with one `{"error": …}` object naming every needle.
fn json_error(args: &[&str], data_dir: Option<&Path>, needles: &[&str]) {
    let (code, stdout, stderr) = neorl_in(args, data_dir);
    assert_ne!(code, 0, "neorl {args:?} should fail");
    let v: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("neorl {args:?}: not one JSON object ({e}): {stdout}"));
    let msg = v["error"].as_str().unwrap_or_default();
    for n in needles {
        assert!(msg.contains(n), "neorl {args:?}: expected '{n}' in: {msg}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("neorl-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
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
    assert_eq!(
        envs.len(),
        14,
        "seven processes are registered, each as -v0 and -v1"
    );
    let ids: Vec<&str> = envs.iter().map(|e| e["id"].as_str().unwrap()).collect();
    for id in ids.iter().filter(|i| i.ends_with("-v0")) {
        let v1 = id.replace("-v0", "-v1");
        assert!(ids.contains(&v1.as_str()), "{id} has no {v1}");
    }
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
    let dir = tmp("quickstart");
    let data = tmp("quickstart-data");
    let v = json_in(
        &[
            "quickstart",
            "--out",
            dir.to_str().unwrap(),
            "--episodes",
            "2",
            "--train-steps",
            "20",
            "--dataset-size",
            "2000",
            "--eval-points",
            "2",
            "--json",
        ],
        Some(&data),
    );
    let agent = &v["agent"];
    assert_eq!(agent["steps"], 20);
    assert_eq!(agent["dataset"], "ChemicalReactor-medium-v0");
    assert_eq!(agent["transitions"], 2000);
    assert_eq!(agent["dataset_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(
        agent["curve"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["step"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [10, 20]
    );
    assert_eq!(agent["eval"]["shielded"], false);
    assert_eq!(agent["shielded"]["shielded"], true);
    assert_eq!(agent["behaviour"]["seed"], agent["eval"]["seed"]);
    assert!(data.join("ChemicalReactor-medium-v0-n2000.h5").exists());
    for f in ["learning_curve.html", "evaluation.html", "td3bc/agent.ckpt"] {
        assert!(dir.join(f).exists(), "{f}");
    }
    // The quickstart covers the protocol-v0 suite (`neorl_plant::env::ids`).
    let ids: Vec<String> = env_ids()
        .into_iter()
        .filter(|id| id.ends_with("-v0"))
        .collect();
    assert_eq!(v["envs"].as_array().unwrap().len(), ids.len());
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(md.contains("| td3bc + shield |"), "{md}");
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
    std::fs::remove_dir_all(&data).ok();
}

/// `neorl train` on a registry id writes a checkpoint that records the
/// dataset, continues from it, and `neorl eval` reads it, with and without
/// the shield; every command prints exactly one JSON object.
#[test]
fn train_then_eval_a_checkpoint() {
    let dir = tmp("train");
    let data = tmp("train-data");
    let args = |steps: &str| {
        vec![
            "train".to_string(),
            "--algo".into(),
            "td3bc".into(),
            "--dataset".into(),
            "ChemicalReactor-medium-v0".into(),
            "--size".into(),
            "1500".into(),
            "--steps".into(),
            steps.into(),
            "--seed".into(),
            "1".into(),
            "--device".into(),
            "cpu".into(),
            "--hidden".into(),
            "32,32".into(),
            "--out".into(),
            dir.to_str().unwrap().into(),
            "--json".into(),
        ]
    };
    let run = |a: Vec<String>| {
        json_in(
            &a.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            Some(&data),
        )
    };
    let v = run(args("6"));
    for k in [
        "algo",
        "dataset",
        "dataset_sha256",
        "env",
        "steps",
        "seed",
        "checkpoint",
        "final_metrics",
    ] {
        assert!(v.get(k).is_some(), "{k} missing in {v}");
    }
    assert_eq!(v["algo"], "td3bc");
    assert_eq!(v["dataset"], "ChemicalReactor-medium-v0");
    assert_eq!(v["env"], "ChemicalReactor-v0");
    assert_eq!(v["transitions"], 1500);
    let sha = v["dataset_sha256"].as_str().unwrap().to_string();
    assert_eq!(sha.len(), 64);
    assert!(v["final_metrics"]["critic_loss"].is_number(), "{v}");
    assert!(data.join("ChemicalReactor-medium-v0-n1500.h5").exists());
    // --steps is a new agent's planned total (where schedules end) ...
    let planned = || {
        let agent = neorl::agents::load(&dir, &neorl::agents::Device::cpu()).unwrap();
        agent.config_json()["planned_steps"].clone()
    };
    assert_eq!(planned(), 6);
    let v = run(args("4"));
    assert_eq!(
        v["steps"], 10,
        "training continued from the checkpoint: {v}"
    );
    // ... and continuing keeps the checkpoint's plan.
    assert_eq!(planned(), 6);
    assert_eq!(v["dataset_sha256"], sha.as_str());
    let eval = |extra: &[&str]| {
        let mut a = vec![
            "eval",
            "--checkpoint",
            dir.to_str().unwrap(),
            "--episodes",
            "2",
            "--json",
        ];
        a.extend_from_slice(extra);
        json(&a)
    };
    let v = eval(&[]);
    for k in [
        "normalized_score",
        "mean_return",
        "mean_cost",
        "hard_violations",
        "episodes",
        "interventions",
        "emergency_stops",
    ] {
        assert!(v.get(k).is_some(), "{k} missing in {v}");
    }
    assert_eq!(v["episodes"], 2);
    assert_eq!(
        (&v["shielded"], &v["batched"]),
        (&Value::from(false), &Value::from(true))
    );
    assert_eq!(v["dataset_sha256"], sha.as_str());
    assert_eq!(v["steps"], 10);
    let s = eval(&["--shield", "--seed", "5"]);
    assert_eq!(
        (&s["shielded"], &s["seed"]),
        (&Value::from(true), &Value::from(5))
    );
    assert!(s["interventions_by_kind"].is_object(), "{s}");
    // Another dataset into the same folder is refused: the normalisation
    // in the checkpoint comes from the first.
    let mut other = args("2");
    other[6] = "1600".into();
    json_error(
        &other.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        Some(&data),
        &["was trained on ChemicalReactor-medium-v0", "another --out"],
    );
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_dir_all(&data).ok();
}

/// `--dataset FILE`: a neorl file names its environment; a file that does
/// not needs `--env`, and says so when it is missing.
#[test]
fn train_on_dataset_files() {
    use neorl::data::{GenerateConfig, Metadata, Quality, generate, write};
    let dir = tmp("files");
    std::fs::create_dir_all(&dir).unwrap();
    let d = generate(&GenerateConfig::new(
        "ChemicalReactor-v0",
        Quality::Medium,
        600,
        9,
    ))
    .unwrap();
    let named = dir.join("named.h5");
    write(&d, &named).unwrap();
    let (_, cols) = d.into_parts();
    let anonymous = dir.join("anonymous.h5");
    write(
        &neorl::data::Dataset::new(Metadata::default(), cols).unwrap(),
        &anonymous,
    )
    .unwrap();
    let train = |file: &Path, out: &str, extra: &[&str]| {
        let mut a = vec![
            "train".to_string(),
            "--algo".into(),
            "bc".into(),
            "--dataset".into(),
            file.to_str().unwrap().into(),
            "--steps".into(),
            "3".into(),
            "--hidden".into(),
            "8".into(),
            "--out".into(),
            dir.join(out).to_str().unwrap().into(),
            "--json".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let call = |a: Vec<String>| json(&a.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    let fails = |a: Vec<String>, needles: &[&str]| {
        json_error(
            &a.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            None,
            needles,
        )
    };
    let v = call(train(&named, "a", &[]));
    assert_eq!(v["env"], "ChemicalReactor-v0");
    assert_eq!(v["transitions"], 600);
    fails(
        train(&anonymous, "b", &[]),
        &["does not say which environment", "--env"],
    );
    let v = call(train(&anonymous, "b", &["--env", "ChemicalReactor-v0"]));
    assert_eq!(v["env"], "ChemicalReactor-v0");
    assert_eq!(v["dataset"], anonymous.to_str().unwrap());
    fails(
        train(&anonymous, "c", &["--env", "PowerGrid-v0"]),
        &["observation", "PowerGrid-v0"],
    );
    fails(
        train(&named, "d", &["--size", "100"]),
        &["registry datasets only"],
    );
    fails(
        train(&named, "e", &["--set", "learning_rate=0.1"]),
        &["bc has no setting 'learning_rate'", "batch_size"],
    );
    let v = call(train(&named, "f", &["--set", "batch_size=32"]));
    assert_eq!(v["steps"], 3);
    fails(
        train(&named, "f", &["--set", "batch_size=64"]),
        &["--set applies to new agents"],
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_agent_arguments_give_one_json_error() {
    fn train<'a>(dataset: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
        let mut a = vec![
            "train",
            "--algo",
            "bc",
            "--dataset",
            dataset,
            "--steps",
            "1",
            "--json",
        ];
        a.extend_from_slice(extra);
        a
    }
    let mut a = train("PowerGrid-medium-v0", &[]);
    a[2] = "ppo";
    json_error(&a, None, &["unknown algorithm"]);
    json_error(
        &train("PowerGrid-v0:medium:100", &[]),
        None,
        &["PowerGrid-medium-v0"],
    );
    json_error(
        &train("NoSuch-medium-v0", &[]),
        None,
        &["unknown dataset", "neorl datasets list"],
    );
    json_error(
        &train("/nonexistent/data.h5", &[]),
        None,
        &["/nonexistent/data.h5", "no such dataset file"],
    );
    #[cfg(not(feature = "cuda"))]
    json_error(
        &train("PowerGrid-medium-v0", &["--device", "cuda"]),
        None,
        &["built without CUDA", "--features cuda"],
    );
    json_error(
        &["eval", "--checkpoint", "/nonexistent/ckpt", "--json"],
        None,
        &["/nonexistent/ckpt"],
    );
}

/// `neorl scores` on a tiny config: the table, its files and one JSON object.
#[test]
fn scores_writes_a_table() {
    let out = tmp("scores");
    let data = tmp("scores-data");
    let v = json_in(
        &[
            "scores",
            "--envs",
            "ChemicalReactor-v0",
            "--algos",
            "bc,iql",
            "--seeds",
            "2",
            "--steps",
            "4",
            "--eval-every",
            "2",
            "--episodes",
            "1",
            "--size",
            "2500",
            "--hidden",
            "8",
            "--set",
            "iql.expectile=0.8",
            "--out",
            out.to_str().unwrap(),
            "--records",
            out.join("records.jsonl").to_str().unwrap(),
            "--json",
        ],
        Some(&data),
    );
    // The run records: a header and the 4 runs, best selected on their
    // own episodes.
    let records = std::fs::read_to_string(out.join("records.jsonl")).unwrap();
    assert_eq!(records.lines().count(), 5);
    assert_eq!(records.matches("\"best_rule\":\"selected\"").count(), 4);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for r in rows {
        assert_eq!(r["seeds"], 2);
        for k in [
            "last_mean",
            "last_std",
            "best_mean",
            "best_std",
            "behaviour_score",
        ] {
            assert!(r[k].is_number(), "{k} in {r}");
        }
    }
    assert_eq!(v["runs"].as_array().unwrap().len(), 4);
    assert_eq!(v["datasets"][0]["dataset"], "ChemicalReactor-medium-v0");
    assert_eq!(v["config"]["settings"]["iql.expectile"], 0.8);
    for f in ["scores.md", "scores.json", "scores.html"] {
        assert!(out.join(f).exists(), "{f}");
    }
    std::fs::remove_dir_all(&out).ok();
    std::fs::remove_dir_all(&data).ok();
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
    // The matmul reference and the fraction of it that BC's update
    // reaches, on 1 thread and on `threads`.
    assert!(v["threads"].as_u64().unwrap_or(0) >= 1, "threads in {v}");
    for k in [
        "matmul_gflops",
        "fraction_of_matmul_peak",
        "matmul_gflops_1t",
        "fraction_of_matmul_peak_1t",
        "updates_per_s_1t",
        "thread_scaling",
    ] {
        let x = v[k].as_f64().unwrap_or(f64::NAN);
        assert!(x.is_finite() && x > 0.0, "{k} in {v}");
    }
    // A larger minibatch (a GPU needs one to fill it) is what is timed and
    // what transitions per second count; sizes the agents refuse are refused
    // before anything is built.
    let big = json(&[
        "bench",
        "train",
        "--algo",
        "bc",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--seconds",
        "0.2",
        "--batch",
        "1024",
        "--json",
    ]);
    assert_eq!(big["batch"], 1024);
    let (u, t) = (
        big["updates_per_s"].as_f64(),
        big["transitions_per_s"].as_f64(),
    );
    assert_eq!(t, u.map(|u| u * 1024.0), "{big}");
    for bad in ["0", "1048577"] {
        json_error(
            &["bench", "train", "--algo", "bc", "--batch", bad, "--json"],
            None,
            &["--batch", bad, "1 to 1048576"],
        );
    }
    let v = json(&["bench", "inference", "--seconds", "0.2", "--json"]);
    for k in ["single_p50_us", "single_p99_us", "batch_obs_per_s"] {
        assert!(v[k].as_f64().unwrap() > 0.0, "{k} in {v}");
    }
}

/// Issue 15: `train` refuses data with NaN or Inf (a file without a
/// checksum attribute, as D4RL and Minari files are, reads fine) and
/// hyper-parameters out of range, naming the check or the setting, before
/// anything is trained or written.
#[test]
fn train_refuses_non_finite_data_and_settings_out_of_range() {
    use neorl::data::{GenerateConfig, Quality, generate, write};
    let dir = tmp("guards");
    std::fs::create_dir_all(&dir).unwrap();
    let d = generate(&GenerateConfig::new(
        "ChemicalReactor-v0",
        Quality::Medium,
        300,
        4,
    ))
    .unwrap();
    let good = dir.join("good.h5");
    write(&d, &good).unwrap();
    let train = |file: &Path, out: &str, extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "train",
            "--algo",
            "bc",
            "--dataset",
            file.to_str().unwrap(),
            "--steps",
            "2",
            "--hidden",
            "8",
            "--out",
            dir.join(out).to_str().unwrap(),
            "--json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let fails = |a: Vec<String>, needles: &[&str]| {
        json_error(
            &a.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            None,
            needles,
        );
    };
    // One value made NaN or infinite, and the checksum attribute removed.
    for (array, row, value) in [
        ("observations", 17, f32::NAN),
        ("actions", 3, f32::INFINITY),
        ("costs", 40, f32::NAN),
    ] {
        let bad = dir.join(format!("bad-{array}.h5"));
        std::fs::copy(&good, &bad).unwrap();
        {
            let f = hdf5::File::open_rw(&bad).unwrap();
            let ds = f.dataset(array).unwrap();
            let mut v: Vec<f32> = ds.read_raw().unwrap();
            let width = v.len() / 300;
            v[row * width] = value;
            ds.write_raw(&v).unwrap();
            f.delete_attr("sha256").unwrap();
        }
        let out = format!("out-{array}");
        fails(
            train(&bad, &out, &[]),
            &["`finite` check", &format!("{array}[{row}] = {value}")],
        );
        assert!(!dir.join(&out).exists(), "nothing written for {array}");
    }
    // Settings out of range, through --set and --hidden.
    fails(
        train(&good, "lr", &["--set", "lr=-1"]),
        &["bc: setting lr = -1", "out of range", "> 0"],
    );
    fails(
        train(&good, "batch", &["--set", "batch_size=0"]),
        &["setting batch_size = 0", "from 1 to"],
    );
    let mut zero = train(&good, "hidden", &[]);
    let at = zero.iter().position(|a| a == "--hidden").unwrap();
    zero[at + 1] = "0".into();
    fails(zero, &["setting hidden = [0]", "at least 1", "--hidden"]);
    let mut td3bc = train(&good, "tau", &["--set", "tau=0"]);
    td3bc[2] = "td3bc".into();
    fails(td3bc, &["td3bc: setting tau = 0", "(0, 1]"]);
    // The good file trains.
    let v = json(
        &train(&good, "ok", &[])
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
    );
    assert_eq!(v["steps"], 2);
    std::fs::remove_dir_all(&dir).ok();
}
