//! `neorl audit …`: the safety audit log.

use super::{Outcome, print_json};
use anyhow::{Context, Result};
use clap::Subcommand;
use neorl::safety::{Anchor, VerifyReport, verify_file};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Check an audit log's hash chain and seal, and that it ends at its anchor when one is given; exits non-zero when it is not intact.
    Verify {
        /// The log (JSON Lines).
        file: PathBuf,
        /// The head hash the log must end at, kept outside the log (as `rollout`/`eval --audit` print it, or the MLflow tag neorl.audit_head).
        #[arg(long, value_name = "HASH", conflicts_with = "anchor")]
        expect_head: Option<String>,
        /// An anchor file written by `--audit-anchor` (records and head hash at the seal).
        #[arg(long, value_name = "FILE")]
        anchor: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: AuditCmd) -> Result<Outcome> {
    match cmd {
        AuditCmd::Verify {
            file,
            expect_head,
            anchor,
            json,
        } => {
            let anchor = match (expect_head, anchor) {
                (Some(h), _) => Some(Anchor::head(&h).context("--expect-head")?),
                (None, Some(path)) => Some(Anchor::read(path)?),
                (None, None) => None,
            };
            verify(&file, anchor.as_ref(), json)
        }
    }
}

fn verify(file: &Path, anchor: Option<&Anchor>, json: bool) -> Result<Outcome> {
    // An unreadable file is an error; with --json, a report saying so.
    let r = match verify_file(file, anchor) {
        Ok(r) => r,
        Err(e) if json => VerifyReport::unreadable(&e),
        Err(e) => return Err(e.into()),
    };
    if json {
        print_json(&serde_json::to_value(&r)?)?;
    } else if r.ok {
        println!(
            "{}: ok, {} records, sealed, head {}{}",
            file.display(),
            r.records,
            r.head.as_deref().unwrap_or("-"),
            if anchor.is_some() {
                ", ends at the anchor"
            } else {
                ""
            }
        );
    } else {
        println!(
            "{}: NOT OK at record {}: {}",
            file.display(),
            r.first_bad.map_or("-".to_string(), |n| n.to_string()),
            r.reason.as_deref().unwrap_or("")
        );
    }
    Ok(Outcome::of_check(r.ok))
}
