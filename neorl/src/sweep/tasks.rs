//! A task's folder, `DIR/tasks/<index>/`, and what it says about the task:
//!
//! ```text
//! lock          held (an exclusive file lock) while a worker runs the task
//! state.json    the last worker's word: running, stopped or failed (with why), and the manifest hash it ran
//! evals.json    the evaluations so far (written before each checkpoint)
//! checkpoint/   the agent's latest checkpoint
//! spool/        the task's own MLflow spool (server tracking)
//! done.json     the result; written last, atomically (temp file + rename)
//! ```
//!
//! From these, and from what the scheduler still holds, [`status`] tells
//! done / running / queued / failed / missing.

use super::files::write_json;
use super::manifest::Manifest;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// The files of task `index` of the sweep in `dir`.
#[derive(Debug, Clone)]
pub struct TaskDir {
    pub root: PathBuf,
}

impl TaskDir {
    pub fn new(dir: &Path, index: usize) -> Self {
        TaskDir {
            root: dir.join("tasks").join(index.to_string()),
        }
    }
    pub fn lock(&self) -> PathBuf {
        self.root.join("lock")
    }
    pub fn state(&self) -> PathBuf {
        self.root.join("state.json")
    }
    pub fn evals(&self) -> PathBuf {
        self.root.join("evals.json")
    }
    pub fn checkpoint(&self) -> PathBuf {
        self.root.join("checkpoint")
    }
    pub fn spool(&self) -> PathBuf {
        self.root.join("spool")
    }
    pub fn done(&self) -> PathBuf {
        self.root.join("done.json")
    }

    /// Take the task's lock, or say that another worker holds it.
    pub fn take_lock(&self, index: usize) -> Result<File> {
        std::fs::create_dir_all(&self.root).map_err(|e| Error::io(&self.root, e))?;
        let path = self.lock();
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        if f.try_lock().is_err() {
            return Err(Error::InvalidArgument(format!(
                "task {index} is running in another worker (it holds {}); wait for it, or stop it first (scancel)",
                path.display()
            )));
        }
        Ok(f)
    }

    /// Whether a worker holds the lock now.
    pub fn is_locked(&self) -> bool {
        let Ok(f) = OpenOptions::new().write(true).open(self.lock()) else {
            return false;
        };
        f.try_lock().is_err()
    }

    pub fn read_state(&self) -> Option<State> {
        let text = std::fs::read_to_string(self.state()).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn write_state(&self, state: &State) -> Result<()> {
        write_json(&self.state(), state)
    }
}

/// What the last worker of a task said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// `running`, `stopped` (by a signal, checkpoint written) or `failed`.
    pub state: String,
    /// The manifest hash it ran under.
    pub manifest_hash: String,
    /// Gradient steps done when it wrote this.
    pub step: u64,
    pub error: Option<String>,
    pub host: String,
    /// SLURM's `jobid_taskid`, or empty.
    pub job: String,
}

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Done,
    Running,
    /// Waiting in the scheduler's queue.
    Queued,
    Failed,
    Missing,
}

/// One task's status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskStatus {
    pub index: usize,
    pub run_name: String,
    pub phase: Phase,
    /// Steps done (last state written or checkpoint).
    pub step: u64,
    pub error: Option<String>,
}

/// Every task's status. `queue`: what the scheduler holds, by index
/// (`RUNNING`, `PENDING`, …; see [`super::slurm::in_queue`]); a task there
/// is running or queued even where file locks do not reach across nodes.
pub fn status(dir: &Path, m: &Manifest, queue: &BTreeMap<usize, String>) -> Vec<TaskStatus> {
    m.tasks
        .iter()
        .map(|t| {
            let td = TaskDir::new(dir, t.index);
            let state = td.read_state();
            let phase = if td.done().exists() {
                Phase::Done
            } else if td.is_locked() {
                Phase::Running
            } else if let Some(q) = queue.get(&t.index) {
                if q == "RUNNING" || q == "COMPLETING" {
                    Phase::Running
                } else {
                    Phase::Queued
                }
            } else if state.is_some() {
                // A worker started it and is gone: failed, stopped or killed.
                Phase::Failed
            } else {
                Phase::Missing
            };
            let error = match (&state, phase) {
                (Some(s), Phase::Failed) if s.state == "running" => Some(
                    "the worker ended without a word (killed: time limit, out of memory, preempted)"
                        .into(),
                ),
                (Some(s), Phase::Failed) => s.error.clone(),
                _ => None,
            };
            TaskStatus {
                index: t.index,
                run_name: t.run_name(),
                phase,
                step: if phase == Phase::Done {
                    t.steps
                } else {
                    state.map_or(0, |s| s.step)
                },
                error,
            }
        })
        .collect()
}

/// Indices as SLURM's `--array` takes them: `0-3,7,9-10`.
pub fn array_ranges(indices: &[usize]) -> String {
    let mut out: Vec<String> = vec![];
    let mut i = 0;
    while i < indices.len() {
        let mut j = i;
        while j + 1 < indices.len() && indices[j + 1] == indices[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            indices[i].to_string()
        } else {
            format!("{}-{}", indices[i], indices[j])
        });
        i = j + 1;
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_compact() {
        assert_eq!(array_ranges(&[0, 1, 2, 3, 7, 9, 10]), "0-3,7,9-10");
        assert_eq!(array_ranges(&[5]), "5");
        assert_eq!(array_ranges(&[]), "");
    }

    #[test]
    fn a_lock_is_held_until_dropped() {
        let dir = std::env::temp_dir().join(format!("neorl-sweep-lock-{}", std::process::id()));
        let td = TaskDir::new(&dir, 3);
        let held = td.take_lock(3).unwrap();
        assert!(td.is_locked());
        let e = td.take_lock(3).unwrap_err().to_string();
        assert!(e.contains("task 3 is running in another worker"), "{e}");
        drop(held);
        assert!(!td.is_locked());
        std::fs::remove_dir_all(&dir).ok();
    }
}
