//! `neorl audit …`: the safety audit log.

use super::{Outcome, print_json};
use anyhow::Result;
use clap::Subcommand;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Check an audit log's hash chain and seal; exits non-zero when it is not intact.
    Verify {
        /// The log (JSON Lines).
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: AuditCmd) -> Result<Outcome> {
    match cmd {
        AuditCmd::Verify { file, json } => verify(&file, json),
    }
}

fn verify(file: &Path, json: bool) -> Result<Outcome> {
    let r = neorl::safety::verify(file);
    if json {
        print_json(&serde_json::to_value(&r)?)?;
    } else if r.ok {
        println!(
            "{}: ok, {} records, sealed, head {}",
            file.display(),
            r.records,
            r.head.as_deref().unwrap_or("-")
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
