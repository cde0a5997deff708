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
