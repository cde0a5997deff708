//! SLURM: the job array script a plan writes (`DIR/sweep.sbatch`), and
//! `neorl sweep submit`, which hands it to `sbatch --parsable` and records
//! the job id. The scheduler is SLURM's own; neorl only writes its input.
//!
//! The script runs `neorl sweep run DIR` once per array index (the worker
//! reads `SLURM_ARRAY_TASK_ID`), with `--cpus-per-task` = the spec's
//! threads, `--time` the limit per task, `--signal=B:TERM@S` so that a task
//! near its limit checkpoints and stops, `--output` under `DIR/logs/`, and
//! the site's own options (account, partition, QoS) passed through as given.

use super::manifest::Manifest;
use crate::error::{Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The script's file name inside a sweep folder.
pub const SCRIPT: &str = "sweep.sbatch";
/// Submissions, one JSON line each.
pub const SUBMISSIONS: &str = "submissions.jsonl";

/// The job array's name: the sweep's name and id, so that `squeue -n`
/// finds this sweep's jobs however they were submitted.
pub fn job_name(m: &Manifest) -> String {
    format!(
        "neorl-{}-{}",
        m.name,
        &m.sweep_id[..m.sweep_id.len().min(8)]
    )
}

/// The sweep's array tasks SLURM still holds, by index: `RUNNING`,
/// `PENDING`, … (`squeue -n JOB_NAME -r`); `None` where there is no
/// `squeue` or it does not answer.
pub fn in_queue(m: &Manifest) -> Option<BTreeMap<usize, String>> {
    let squeue = find_on_path("squeue")?;
    let out = Command::new(squeue)
        .args(["-h", "-r", "-o", "%i %T", "-n"])
        .arg(job_name(m))
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let (id, state) = l.trim().split_once(' ')?;
                let index = id.rsplit_once('_')?.1.parse().ok()?;
                Some((index, state.trim().to_string()))
            })
            .collect(),
    )
}

/// Quote a word for a POSIX shell.
fn sh(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The job array script for the sweep in `dir` (absolute), run by the
/// `neorl` binary at `neorl`, with `extra` sbatch options after the spec's.
pub fn script(dir: &Path, m: &Manifest, neorl: &Path, extra: &[String]) -> String {
    let n = m.tasks.len();
    let threads = m.tasks.iter().map(|t| t.threads).max().unwrap_or(1);
    let throttle = if m.slurm.parallel > 0 {
        format!("%{}", m.slurm.parallel)
    } else {
        String::new()
    };
    let d = dir.display().to_string();
    let mut s = format!(
        "#!/bin/bash\n\
         # neorl sweep '{name}' ({n} tasks), planned by neorl {version}; manifest {hash}.\n\
         # Submit: neorl sweep submit {dq}   (or: sbatch {script})\n\
         # Resubmit some tasks: sbatch --array=3,7-9 {script}\n\
         #SBATCH --job-name={job_name}\n\
         #SBATCH --array=0-{last}{throttle}\n\
         #SBATCH --ntasks=1\n\
         #SBATCH --cpus-per-task={threads}\n\
         #SBATCH --time={time}\n\
         #SBATCH --output={logs}/%A_%a.out\n\
         #SBATCH --signal=B:TERM@{signal}\n",
        name = m.name,
        job_name = job_name(m),
        version = m.neorl_version,
        hash = m.hash,
        dq = sh(&d),
        script = sh(&format!("{d}/{SCRIPT}")),
        last = n - 1,
        time = m.slurm.time,
        logs = dir.join("logs").display(),
        signal = m.slurm.signal_seconds,
    );
    for a in m.slurm.sbatch_args.iter().chain(extra) {
        s.push_str(&format!("#SBATCH {a}\n"));
    }
    s.push_str(&format!(
        "\n# The worker takes its index from SLURM_ARRAY_TASK_ID; exec, so that\n\
         # SLURM's SIGTERM reaches it (it checkpoints and stops).\n\
         export NEORL_PROGRESS=off\n\
         exec {} sweep run {}\n",
        sh(&neorl.display().to_string()),
        sh(&d)
    ));
    s
}

/// A submission, as recorded in `DIR/submissions.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Submission {
    pub job_id: String,
    /// The `--array` given on the command line (a resubmission), if any.
    pub array: Option<String>,
    pub submitted_at_ms: i64,
}

/// `sbatch --parsable [ARGS…] DIR/sweep.sbatch`; records and returns the job id.
pub fn submit(dir: &Path, args: &[String]) -> Result<Submission> {
    let script = dir.join(SCRIPT);
    if !script.exists() {
        return Err(Error::InvalidArgument(format!(
            "{} has no {SCRIPT}; plan the sweep first: `neorl sweep plan SPEC --out {}`",
            dir.display(),
            dir.display()
        )));
    }
    let sbatch = find_on_path("sbatch").ok_or_else(|| {
        Error::InvalidArgument(format!(
            "`sbatch` is not on PATH: this machine is not a SLURM submit host. Submit from the cluster's login node, or run the sweep here with `neorl sweep run-local {} --jobs N`",
            dir.display()
        ))
    })?;
    std::fs::create_dir_all(dir.join("logs")).map_err(|e| Error::io(dir, e))?;
    let out = Command::new(&sbatch)
        .arg("--parsable")
        .args(args)
        .arg(&script)
        .output()
        .map_err(|e| Error::io(&sbatch, e))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // `--parsable`: "jobid" or "jobid;cluster", on the first line.
    let job_id = stdout
        .lines()
        .next()
        .and_then(|l| l.split(';').next())
        .map(str::trim)
        .filter(|j| !j.is_empty() && j.chars().all(|c| c.is_ascii_digit()));
    let Some(job_id) = job_id.map(str::to_string) else {
        return Err(Error::InvalidArgument(format!(
            "sbatch did not take the job ({}): {} {}",
            out.status,
            stderr.trim(),
            stdout.trim()
        )));
    };
    let array = args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--array=").map(str::to_string).or_else(|| {
            (a == "--array" || a == "-a")
                .then(|| args.get(i + 1).cloned())
                .flatten()
        })
    });
    let sub = Submission {
        job_id,
        array,
        submitted_at_ms: crate::track::record::now_ms(),
    };
    let line = serde_json::to_string(&sub).map_err(|source| Error::Json {
        context: "a submission".into(),
        source,
    })? + "\n";
    let path = dir.join(SUBMISSIONS);
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .map_err(|e| Error::io(&path, e))?;
    // With --wait, sbatch returns when the job ends, failing if a task did.
    if !out.status.success() {
        return Err(Error::InvalidArgument(format!(
            "job {} ended with failed or cancelled tasks (sbatch: {}{}); `neorl sweep status {}` lists them with the line that resubmits them",
            sub.job_id,
            out.status,
            if stderr.trim().is_empty() {
                String::new()
            } else {
                format!(", {}", stderr.trim())
            },
            dir.display()
        )));
    }
    Ok(sub)
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted() {
        assert_eq!(sh("/a/b-c"), "/a/b-c");
        assert_eq!(sh("a b"), "'a b'");
        assert_eq!(sh("it's"), r"'it'\''s'");
    }
}
