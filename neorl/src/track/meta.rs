//! What every run records about where it came from: MLflow's standard
//! `mlflow.*` tags (user, source, git commit) and neorl's version.

use super::record::Pair;
use std::process::Command;

/// The user running this process (`USER`, `USERNAME`, else `unknown`).
pub fn user() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

/// Host name (`HOSTNAME`, else `/etc/hostname`).
pub fn host() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// neorl's version.
pub fn neorl_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// `(commit, dirty)` of the git work tree around the current directory,
/// when there is one and git is installed.
pub fn git_commit() -> Option<(String, bool)> {
    let out = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let commit = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if commit.len() < 7 {
        return None;
    }
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .stderr(std::process::Stdio::null())
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    Some((commit, dirty))
}

/// The command line that started this process (`neorl train --algo iql …`;
/// an argument that is not UTF-8 shows its bytes lossily).
pub fn source_name() -> String {
    let mut args = std::env::args_os();
    let prog = args
        .next()
        .map(|p| {
            let path = std::path::Path::new(&p);
            path.file_name()
                .unwrap_or(path.as_os_str())
                .to_string_lossy()
                .into_owned()
        })
        .unwrap_or_else(|| "neorl".into());
    std::iter::once(prog)
        .chain(args.map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Tags set on every run at its start.
pub fn run_tags() -> Vec<Pair> {
    let mut t = vec![
        ("mlflow.user".to_string(), user()),
        (
            "mlflow.source.name".into(),
            super::record::tag_value(&source_name()),
        ),
        ("mlflow.source.type".into(), "LOCAL".into()),
        ("neorl.version".into(), neorl_version().into()),
        ("neorl.host".into(), host()),
    ];
    if let Some((commit, dirty)) = git_commit() {
        t.push(("mlflow.source.git.commit".into(), commit));
        t.push(("neorl.git_dirty".into(), dirty.to_string()));
    }
    t
}

/// Params every neorl run logs: version and git commit (`none` outside a
/// git work tree).
pub fn run_params() -> Vec<Pair> {
    vec![
        ("neorl_version".to_string(), neorl_version().to_string()),
        (
            "git_commit".into(),
            git_commit().map_or_else(
                || "none".into(),
                |(c, d)| if d { format!("{c}-dirty") } else { c },
            ),
        ),
    ]
}
