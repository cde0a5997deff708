//! Unit tests of the tracking client that need no MLflow installation (the
//! tests against MLflow itself are in `neorl/tests/track.rs`).

use super::*;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("neorl-track-{name}-{}", random_hex(6)));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn local(dir: &Path, exp: &str) -> Tracker {
    Tracker::with_target(Target::Local(dir.join("mlruns")), exp, dir.join("spool")).unwrap()
}

#[test]
fn targets_parse() {
    assert_eq!(
        Target::parse("http://127.0.0.1:5000/").unwrap(),
        Target::Server("http://127.0.0.1:5000".into())
    );
    assert_eq!(
        Target::parse("file:///tmp/my%20runs").unwrap(),
        Target::Local("/tmp/my runs".into())
    );
    assert_eq!(
        Target::parse("./mlruns").unwrap(),
        Target::Local("./mlruns".into())
    );
    let e = Target::parse("sqlite:///mlflow.db")
        .unwrap_err()
        .to_string();
    assert!(e.contains("mlflow server --backend-store-uri"), "{e}");
    assert!(Target::parse("").is_err());
}

#[test]
fn local_store_round_trip() {
    let dir = tmp("local");
    let t = local(&dir, "unit");
    let mut run = t.start_run("first").unwrap();
    run.log_param("agent.lr", "0.0003").unwrap();
    run.log_params_json("cfg", &serde_json::json!({"hidden": [64, 64]}))
        .unwrap();
    run.set_tag("kind", "unit").unwrap();
    for s in 0..2500u64 {
        run.log_metrics(s, &[("loss", 1.0 / (s + 1) as f32), ("q", f32::NAN)])
            .unwrap();
    }
    run.log_metric("eval/score", 42.5, 7).unwrap();
    let art = dir.join("report.json");
    std::fs::write(&art, "{\"ok\": true}").unwrap();
    run.log_artifact(&art, "reports").unwrap();
    run.log_text("hello", "notes/hello.txt").unwrap();
    // Same param, same value: fine; another value: an error naming the fix.
    run.log_param("agent.lr", "0.0003").unwrap();
    let e = run.log_param("agent.lr", "1").unwrap_err().to_string();
    assert!(e.contains("immutable"), "{e}");
    let info = run.finish().unwrap();
    assert!(run.log_metric("late", 1.0, 0).is_err());

    let runs = t.run_list(None).unwrap();
    assert_eq!(runs.len(), 1);
    let r = &runs[0];
    assert_eq!(Some(r.run_id.clone()), info.run_id);
    assert_eq!(r.status, "FINISHED");
    assert_eq!(r.run_name, "first");
    assert_eq!(r.params["agent.lr"], "0.0003");
    assert_eq!(r.params["cfg.hidden"], "[64,64]");
    assert_eq!(r.params["neorl_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(r.tags["kind"], "unit");
    assert_eq!(r.tags["mlflow.runName"], "first");
    assert_eq!(r.metrics["loss"], (1.0f32 / 2500.0) as f64);
    assert_eq!(r.metrics["eval/score"], 42.5);
    let h = t.metric_history(r, "loss").unwrap();
    assert_eq!(h.len(), 2500);
    assert!(h.iter().enumerate().all(|(i, m)| m.step == i as i64));
    assert!(
        t.metric_history(r, "q")
            .unwrap()
            .iter()
            .all(|m| m.value.is_nan())
    );
    let root = dir.join("mlruns").canonicalize().unwrap();
    let arts = root
        .join(&r.experiment_id)
        .join(&r.run_id)
        .join("artifacts");
    assert_eq!(
        std::fs::read_to_string(arts.join("reports/report.json")).unwrap(),
        "{\"ok\": true}"
    );
    assert_eq!(
        std::fs::read_to_string(arts.join("notes/hello.txt")).unwrap(),
        "hello"
    );
    let fig = t.plot_metric(None, "loss").unwrap();
    assert_eq!(fig.json["data"].as_array().unwrap().len(), 1);
    assert!(t.plot_metric(None, "nope").is_err());
    #[cfg(feature = "frames")]
    {
        let df = t.runs(Some("unit")).unwrap();
        assert_eq!(df.height(), 1);
        assert!(df.column("metrics.loss").is_ok());
        assert!(df.column("params.agent.lr").is_ok());
        assert!(
            df.to_html().contains("metrics.loss"),
            "a table in notebooks"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dropped_run_fails_and_dead_runs_are_killed() {
    let dir = tmp("life");
    let t = local(&dir, "life");
    {
        let mut run = t.start_run("dropped").unwrap();
        run.log_metric("x", 1.0, 0).unwrap();
    }
    let runs = t.run_list(None).unwrap();
    assert_eq!(runs[0].status, "FAILED");

    // A run whose process died: RUNNING in meta.yaml, its lock file not held.
    let run = t.start_run("killed").unwrap();
    let id = run.info().unwrap().run_id.unwrap();
    std::mem::forget(run); // as if the process vanished without Drop…
    // …but the lock of this (live) process is still held: not reaped.
    let t2 = local(&dir, "life");
    let r = t2.run_list(None).unwrap();
    assert_eq!(r.iter().find(|r| r.run_id == id).unwrap().status, "RUNNING");
    // Release it the way the OS does for a dead process.
    let lock = dir
        .join("mlruns")
        .canonicalize()
        .unwrap()
        .join(format!(".neorl-run-{id}.lock"));
    let exp = std::fs::read_to_string(&lock).unwrap();
    std::fs::remove_file(&lock).unwrap();
    std::fs::write(&lock, exp).unwrap();
    let t3 = local(&dir, "life");
    let r = t3.run_list(None).unwrap();
    let killed = r.iter().find(|r| r.run_id == id).unwrap();
    assert_eq!(killed.status, "KILLED");
    assert!(killed.end_time.is_some());
    assert!(!lock.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tracking_off_records_nothing() {
    let t = Tracker::off();
    let mut run = t.start_run("x").unwrap();
    run.log_metric("a", 1.0, 0).unwrap();
    assert!(run.info().is_none());
    assert_eq!(run.info_json(), serde_json::Value::Null);
    run.finish().unwrap();
}

#[test]
fn unreachable_server_keeps_everything_in_the_spool() {
    // A port nothing listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tmp("spool");
    let t = Tracker::with_target(
        Target::Server(format!("http://127.0.0.1:{port}")),
        "spooled",
        dir.clone(),
    )
    .unwrap()
    .with_end_timeout(Duration::from_millis(300));
    let mut run = t.start_run("offline").unwrap();
    assert!(run.info().unwrap().run_id.is_none());
    for s in 0..10 {
        run.log_metric("m", s as f64, s).unwrap();
    }
    run.log_text("kept", "a.txt").unwrap();
    let id = run.info().unwrap().client_run_id;
    // End with a short wait: the server is not there.
    let info = run.end(Status::Finished).unwrap();
    assert!(info.pending_records > 0);
    let files = spool::SpoolFiles::new(&dir, &id);
    let text = std::fs::read_to_string(&files.journal).unwrap();
    let recs: Vec<Record> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(matches!(recs[0], Record::Create { .. }));
    assert!(matches!(
        recs.last().unwrap(),
        Record::End {
            status: Status::Finished,
            ..
        }
    ));
    let points: usize = recs
        .iter()
        .map(|r| match r {
            Record::Batch { metrics, .. } => metrics.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(points, 10);
    // The artifact's copy waits with the journal.
    let Some(Record::Artifact { file, .. }) =
        recs.iter().find(|r| matches!(r, Record::Artifact { .. }))
    else {
        panic!("no artifact record")
    };
    assert_eq!(std::fs::read_to_string(file).unwrap(), "kept");
    drop(run);
    let _ = std::fs::remove_dir_all(&dir);
}
