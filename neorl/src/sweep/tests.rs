//! The sweep path gives the score table of `experiments::scores` itself.

use super::*;
use crate::experiments::scores::{ScoreConfig, score_table};

/// The same protocol through `score_table` (in-process) and through a
/// sweep (plan, run-local with checkpoints between evaluations, collect
/// from the task folders): the same rows and evaluations, bit for bit.
#[test]
fn a_sweep_gives_the_score_tables_numbers() {
    let dir = std::env::temp_dir().join(format!("neorl-sweep-parity-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let spec = SweepSpec::parse(&format!(
        r#"
name = "parity"
algorithms = ["bc", "iql"]
environments = ["ChemicalReactor-v0"]
sizes = [2500]
seeds = 2
steps = 12
hidden = [8, 8]
checkpoint_every = 5
data_dir = "{}"
[evaluation]
every = 6
episodes = 1
[set.iql]
expectile = 0.8
"#,
        dir.join("data").display()
    ))
    .unwrap();
    let opts = PlanOptions {
        no_track: true,
        ..PlanOptions::default()
    };
    let planned = plan(&spec, &dir.join("sweep"), &opts).unwrap();
    assert_eq!(planned.manifest.tasks.len(), 4);
    let rep = run_local(&planned.dir, 2).unwrap();
    assert_eq!(rep.done, [0, 1, 2, 3]);
    // Planning the same spec again keeps the sweep and its results.
    let again = plan(&spec, &dir.join("sweep"), &opts).unwrap();
    assert!(again.existing);
    assert_eq!(
        run_local(&planned.dir, 1).unwrap().already_done,
        [0, 1, 2, 3]
    );
    let tables = collect(&planned.dir, &planned.manifest).unwrap();
    assert_eq!(tables.len(), 1);
    let swept = &tables[0].1;
    let direct = score_table(&ScoreConfig {
        envs: vec!["ChemicalReactor-v0".into()],
        algos: vec!["bc".into(), "iql".into()],
        seeds: 2,
        steps: 12,
        eval_every: 6,
        episodes: 1,
        dataset_size: Some(2500),
        hidden: Some(vec![8, 8]),
        data_dir: Some(dir.join("data")),
        settings: [("iql.expectile".to_string(), serde_json::json!(0.8))].into(),
        ..ScoreConfig::default()
    })
    .unwrap();
    assert_eq!(swept.rows, direct.rows);
    assert_eq!(swept.datasets, direct.datasets);
    for (a, b) in swept.runs.iter().zip(&direct.runs) {
        assert_eq!((&a.env, &a.algo, a.seed), (&b.env, &b.algo, b.seed));
        assert_eq!(a.evals, b.evals);
        assert_eq!(a.evals.len(), 2);
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `keep_last` and `keep_best` in a spec: each task's checkpoint folder
/// keeps its last N checkpoints and its best evaluation's; `keep_last = 0`
/// is refused at parse; a spec without them plans the manifest it planned
/// before (no new field in it, so the same hash).
#[test]
fn a_sweep_keeps_the_last_n_and_the_best_evaluation() {
    use crate::agents::{Checkpoint, CheckpointManager, CheckpointPlan};
    let dir = std::env::temp_dir().join(format!("neorl-sweep-keep-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let spec_text = |keep: &str| {
        format!(
            r#"
name = "keep"
algorithms = ["bc"]
environments = ["ChemicalReactor-v0"]
sizes = [2500]
seeds = 1
steps = 12
hidden = [8]
checkpoint_every = 4
{keep}
data_dir = "{}"
[evaluation]
every = 6
episodes = 1
"#,
            dir.join("data").display()
        )
    };
    let e = SweepSpec::parse(&spec_text("keep_last = 0"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("keep_last") && e.contains("is 0"), "{e}");
    let opts = PlanOptions {
        no_track: true,
        ..PlanOptions::default()
    };
    let plain = plan(
        &SweepSpec::parse(&spec_text("")).unwrap(),
        &dir.join("plain"),
        &opts,
    )
    .unwrap();
    let text = std::fs::read_to_string(plain.dir.join(manifest::FILE_NAME)).unwrap();
    assert!(!text.contains("keep_last") && !text.contains("keep_best"));

    let spec = SweepSpec::parse(&spec_text("keep_last = 2\nkeep_best = true")).unwrap();
    let planned = plan(&spec, &dir.join("sweep"), &opts).unwrap();
    assert_eq!(run_local(&planned.dir, 1).unwrap().done, [0]);
    let ck = tasks::TaskDir::new(&planned.dir, 0).checkpoint();
    let m =
        CheckpointManager::open(&ck, CheckpointPlan::every(4).keep_last(2).keep_best(6)).unwrap();
    // Evaluated at 6 and 12; saved at 4, 6, 8 and 12.
    let evals = m.evaluations().to_vec();
    assert_eq!(evals.iter().map(|e| e.0).collect::<Vec<_>>(), [6, 12]);
    let best = if evals[1].1 > evals[0].1 { 12 } else { 6 };
    assert_eq!(m.best().unwrap().step, best);
    let kept: Vec<u64> = m.entries().iter().map(|e| e.step).collect();
    let expected: Vec<u64> = if best == 6 {
        vec![6, 8, 12]
    } else {
        vec![8, 12]
    };
    assert_eq!(kept, expected);
    let step = |f: &std::path::Path| Checkpoint::read(f).unwrap().step();
    assert_eq!(step(&ck.join("best/agent.ckpt")), best);
    assert_eq!(step(&ck.join("agent.ckpt")), 12);
    std::fs::remove_dir_all(&dir).ok();
}
