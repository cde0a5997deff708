//! The checkpoint manager: cadence, pruning to N, the best by a metric,
//! resume from the latest (bit-exact after a simulated kill), a corrupt
//! latest, a crash between a write and the index update, bad plans.

use super::*;
use crate::agents::manager::{BEST_DIR, INDEX_FILE, KEPT_DIR};
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("neorl-manager-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn small_bc() -> Bc {
    let cfg = BcConfig {
        batch_size: 16,
        hidden: vec![8],
        ..Default::default()
    };
    Bc::new(&toy_spec(), cfg, &cpu()).unwrap()
}

fn kept(dir: &Path, step: u64) -> PathBuf {
    dir.join(KEPT_DIR)
        .join(format!("step-{step:09}"))
        .join(checkpoint::FILE_NAME)
}

fn step_of(file: &Path) -> u64 {
    Checkpoint::read(file).unwrap().step()
}

fn steps(m: &CheckpointManager) -> Vec<u64> {
    m.entries().iter().map(|e| e.step).collect()
}

/// A metric that depends only on the step, so the best is known in advance.
fn by_step(values: &'static [(u64, f64)]) -> Metric {
    Metric::new("toy_score", move |agent| {
        let s = agent.steps_done();
        Ok(values.iter().find(|v| v.0 == s).map_or(0.0, |v| v.1))
    })
}

#[test]
fn saves_every_k_keeps_the_last_n_and_deletes_only_its_own_files() {
    let dir = tmp("cadence");
    let data = toy_data(300, 1);
    // A file of the user's inside a folder the manager will prune.
    let mine = dir.join(KEPT_DIR).join("step-000000005").join("notes.txt");
    std::fs::create_dir_all(mine.parent().unwrap()).unwrap();
    std::fs::write(&mine, "mine").unwrap();
    let mut m = CheckpointManager::open(&dir, CheckpointPlan::every(5).keep_last(2)).unwrap();
    let mut agent = small_bc();
    m.train(&mut agent, &data, 23).unwrap();
    // Saved at 5, 10, 15, 20 and at the end (23); the last two kept.
    assert_eq!(steps(&m), [20, 23]);
    assert_eq!(step_of(&dir.join(checkpoint::FILE_NAME)), 23);
    for s in [5, 10, 15] {
        assert!(!kept(&dir, s).exists(), "step {s} was pruned");
    }
    assert_eq!(step_of(&kept(&dir, 20)), 20);
    assert!(mine.exists(), "a file the manager did not write is kept");
    assert!(!dir.join(KEPT_DIR).join("step-000000010").exists());
    // The index says the same, with each file's SHA-256.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(INDEX_FILE)).unwrap()).unwrap();
    let entries = index["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["step"], 23);
    let sha = format!(
        "{:x}",
        <sha2::Sha256 as sha2::Digest>::digest(std::fs::read(kept(&dir, 23)).unwrap())
    );
    assert_eq!(entries[1]["sha256"], sha.as_str());
    // A notebook shows the kept checkpoints as a table.
    let text = m.to_text();
    assert!(
        text.contains("step-000000023") && text.contains("latest"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_best_is_kept_by_the_metric_higher_is_better() {
    let dir = tmp("best");
    let data = toy_data(300, 1);
    // 3.0 at step 8 is best: 2.0 is lower, NaN is never best, and an equal
    // 3.0 later does not replace it.
    static VALUES: [(u64, f64); 5] = [(4, 1.0), (8, 3.0), (12, 2.0), (16, f64::NAN), (20, 3.0)];
    let plan = CheckpointPlan::every(10).keep_last(1).keep_best(4);
    let mut m = CheckpointManager::open(&dir, plan)
        .unwrap()
        .with_metric(by_step(&VALUES));
    let mut agent = small_bc();
    m.train(&mut agent, &data, 20).unwrap();
    assert_eq!(m.best().map(|b| (b.step, b.metric)), Some((8, Some(3.0))));
    assert_eq!(steps(&m), [8, 20], "the best and the last one");
    let best = dir.join(BEST_DIR).join(checkpoint::FILE_NAME);
    assert_eq!(
        std::fs::read(&best).unwrap(),
        std::fs::read(kept(&dir, 8)).unwrap()
    );
    assert_eq!(step_of(&best), 8);
    assert!(!kept(&dir, 10).exists() && !kept(&dir, 4).exists());
    let evals: Vec<(u64, Option<f64>)> = m.evaluations().to_vec();
    assert_eq!(
        evals,
        [
            (4, Some(1.0)),
            (8, Some(3.0)),
            (12, Some(2.0)),
            (16, None),
            (20, Some(3.0))
        ]
    );
    // Opening the folder again keeps what the index says.
    let again = CheckpointManager::open(&dir, CheckpointPlan::every(10).keep_best(4)).unwrap();
    assert_eq!(again.best().map(|b| b.step), Some(8));
    assert!(again.to_text().contains("best"));
    // An index edited to name a file outside the kept folders: the entry is
    // ignored, so pruning can never delete that file.
    let outside = dir.join("outside.txt");
    std::fs::write(&outside, "not a checkpoint").unwrap();
    let path = dir.join(INDEX_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replacen("checkpoints/step-000000008/agent.ckpt", "outside.txt", 1);
    std::fs::write(&path, text).unwrap();
    let mut m = CheckpointManager::open(&dir, CheckpointPlan::every(10).keep_last(1)).unwrap();
    assert!(
        m.entries()
            .iter()
            .all(|e| e.path != Path::new("outside.txt"))
    );
    m.train(&mut agent, &data, 20).unwrap();
    assert!(outside.exists());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_killed_run_loses_at_most_k_steps_and_resumes_bit_exactly() {
    let (whole_dir, dir) = (tmp("whole"), tmp("killed"));
    let data = toy_data(300, 2);
    let mut whole = small_bc();
    whole.train(&data, 23).unwrap();
    whole.save(&whole_dir).unwrap();
    // Training in the manager's pieces is the same as one call.
    let mut pieces = small_bc();
    let mut m = CheckpointManager::open(&dir, CheckpointPlan::every(5)).unwrap();
    m.train(&mut pieces, &data, 23).unwrap();
    assert_eq!(pieces.parameters(), whole.parameters());
    std::fs::remove_dir_all(&dir).unwrap();

    // Killed during update 19: the latest on disk is step 15, at most K = 5 behind.
    let mut killed = small_bc();
    let mut m = CheckpointManager::open(&dir, CheckpointPlan::every(5)).unwrap();
    let e = m
        .train_observed(&mut killed, &data, 23, false, &mut |step, _| match step {
            19 => Err(Error::Training("killed".into())),
            _ => Ok(()),
        })
        .unwrap_err();
    assert!(e.to_string().contains("killed"));
    let latest = step_of(&dir.join(checkpoint::FILE_NAME));
    assert!(19 - latest <= 5 && latest == 15, "latest {latest}");
    // Resume picks the latest and ends with the same bits.
    let mut resumed = load_latest(&dir, &cpu()).unwrap();
    assert_eq!(resumed.steps_done(), 15);
    let mut m = CheckpointManager::open(&dir, CheckpointPlan::every(5)).unwrap();
    m.train(&mut resumed, &data, 8).unwrap();
    assert_eq!(
        std::fs::read(dir.join(checkpoint::FILE_NAME)).unwrap(),
        std::fs::read(whole_dir.join(checkpoint::FILE_NAME)).unwrap(),
        "the resumed run's checkpoint equals the uninterrupted run's, byte for byte"
    );
    std::fs::remove_dir_all(&dir).ok();
    std::fs::remove_dir_all(&whole_dir).ok();
}

#[test]
fn a_corrupt_latest_falls_back_to_the_newest_kept_checkpoint() {
    let dir = tmp("corrupt");
    let data = toy_data(300, 1);
    let mut m = CheckpointManager::open(&dir, CheckpointPlan::every(5).keep_last(2)).unwrap();
    m.train(&mut small_bc(), &data, 10).unwrap();
    let flip = |path: &Path| {
        let mut b = std::fs::read(path).unwrap();
        let n = b.len() / 2;
        b[n] ^= 1;
        std::fs::write(path, b).unwrap();
    };
    flip(&dir.join(checkpoint::FILE_NAME));
    assert!(load(&dir, &cpu()).is_err(), "the latest is corrupt");
    assert_eq!(load_latest(&dir, &cpu()).unwrap().steps_done(), 10);
    flip(&kept(&dir, 10));
    assert_eq!(load_latest(&dir, &cpu()).unwrap().steps_done(), 5);
    // Without a kept checkpoint that loads, the latest's error.
    flip(&kept(&dir, 5));
    let e = load_latest(&dir, &cpu()).err().unwrap().to_string();
    assert!(e.contains("agent.ckpt") && e.contains("corrupt"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_crash_between_a_write_and_the_index_update_is_repaired_on_open() {
    let dir = tmp("crash");
    let data = toy_data(300, 1);
    static VALUES: [(u64, f64); 2] = [(5, 1.0), (10, 2.0)];
    let plan = CheckpointPlan::every(5).keep_last(3).keep_best(5);
    let mut m = CheckpointManager::open(&dir, plan.clone())
        .unwrap()
        .with_metric(by_step(&VALUES));
    let mut agent = small_bc();
    m.train(&mut agent, &data, 10).unwrap();
    let index = std::fs::read(dir.join(INDEX_FILE)).unwrap();
    // Step 1 of the next boundary done (its kept file), then the crash:
    // the index still says steps 5 and 10.
    agent.train(&data, 5).unwrap();
    agent.save(kept(&dir, 15).parent().unwrap()).unwrap();
    assert_eq!(std::fs::read(dir.join(INDEX_FILE)).unwrap(), index);
    // And a best copy that is not the one the index names (a crash between
    // the index and the copy).
    std::fs::copy(
        kept(&dir, 5),
        dir.join(BEST_DIR).join(checkpoint::FILE_NAME),
    )
    .unwrap();
    let m = CheckpointManager::open(&dir, plan).unwrap();
    assert_eq!(steps(&m), [5, 10, 15], "the step-15 file is adopted");
    assert_eq!(m.entries()[2].metric, None, "its metric was never recorded");
    assert_eq!(m.best().unwrap().step, 10);
    assert_eq!(step_of(&dir.join(BEST_DIR).join(checkpoint::FILE_NAME)), 10);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_plans_are_refused_with_the_setting_named() {
    let dir = tmp("bad");
    let refused = |plan: CheckpointPlan, what: &str| {
        let e = CheckpointManager::open(&dir, plan)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains(what), "{e}");
    };
    refused(CheckpointPlan::every(0), "--save-every) is 0");
    refused(CheckpointPlan::every(5).keep_last(0), "--keep-last) is 0");
    refused(CheckpointPlan::every(5).keep_best(0), "--eval-every) is 0");
    let no_eval = CheckpointPlan {
        keep_best: true,
        ..Default::default()
    };
    refused(no_eval, "needs eval_every");
    // Evaluating needs a metric.
    let mut m = CheckpointManager::open(&dir, CheckpointPlan::every(5).keep_best(5)).unwrap();
    let e = m
        .train(&mut small_bc(), &toy_data(100, 1), 5)
        .unwrap_err()
        .to_string();
    assert!(e.contains("with_metric"), "{e}");
    assert!(!dir.exists(), "nothing written");
}
