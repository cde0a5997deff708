//! `neorl sweep run-local DIR --jobs J`: the manifest's tasks on this
//! machine, `J` at a time, each through the same worker as on a cluster
//! (so the same checkpoints, child runs and `done.json`).

use super::manifest::Manifest;
use super::worker::{self, Outcome};
use crate::error::{Error, Result};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What a local run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalReport {
    pub done: Vec<usize>,
    pub already_done: Vec<usize>,
    pub stopped: Vec<usize>,
    /// Failed tasks with their error.
    pub failed: Vec<(usize, String)>,
}

/// Run every task of the sweep in `dir` that is not done, `jobs` at a time
/// (until a stop is requested: see [`worker::stop_on_signals`]).
pub fn run_local(dir: &Path, jobs: usize) -> Result<LocalReport> {
    let m = Manifest::read(dir)?;
    // Each dataset once, before the tasks share it.
    let mut seen = BTreeSet::new();
    for t in &m.tasks {
        if seen.insert((t.env.clone(), format!("{:?}", t.quality), t.dataset_size)) {
            worker::load_data(&m, t)?;
        }
    }
    let next = AtomicUsize::new(0);
    let report = Mutex::new(LocalReport::default());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, m.tasks.len().max(1)) {
            scope.spawn(|| {
                // After a stop request (Ctrl-C) no new task starts; running
                // ones checkpoint and stop.
                while !worker::stop_requested() {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= m.tasks.len() {
                        break;
                    }
                    let r = worker::run_task(dir, &m, i);
                    let mut rep = report.lock().unwrap_or_else(|e| e.into_inner());
                    match r {
                        Ok(Outcome::Done(_)) => rep.done.push(i),
                        Ok(Outcome::AlreadyDone) => rep.already_done.push(i),
                        Ok(Outcome::Stopped(_)) => rep.stopped.push(i),
                        Err(e) => {
                            eprintln!("task {i}: {e}");
                            rep.failed.push((i, e.to_string()));
                        }
                    }
                }
            });
        }
    });
    let mut rep = report.into_inner().unwrap_or_else(|e| e.into_inner());
    rep.done.sort();
    rep.already_done.sort();
    rep.stopped.sort();
    rep.failed.sort();
    if let Some((i, e)) = rep.failed.first() {
        return Err(Error::InvalidArgument(format!(
            "{} of {} tasks failed (first: task {i}: {e}); `neorl sweep status {}` lists them, and `neorl sweep run-local` again runs what is not done",
            rep.failed.len(),
            m.tasks.len(),
            dir.display()
        )));
    }
    Ok(rep)
}
