//! `neorl paper`: every results table and figure from run records
//! (`neorl::report::paper`), written to a folder and spliced into a results
//! file; `--check` proves the files on disk are what the records give.

use super::{Outcome, print_json};
use anyhow::Result;
use clap::Args;
use neorl::experiments::records::RunRecords;
use neorl::report::paper::{first_difference, paper, splice};
use neorl::stats::Bootstrap;
use serde_json::json;
use std::path::PathBuf;

#[derive(Args)]
pub struct PaperArgs {
    /// A run-records file (`neorl sweep export`); repeat to join several sweeps of one protocol.
    #[arg(long = "records", value_name = "FILE.jsonl", required = true)]
    records: Vec<PathBuf>,
    /// Where tables.md and figures/ go.
    #[arg(long)]
    out: PathBuf,
    /// A results file (e.g. neorl/RESULTS.md) whose section between `<!-- neorl paper: begin -->` and `<!-- neorl paper: end -->` gets the tables.
    #[arg(long)]
    results: Option<PathBuf>,
    /// Write nothing: exit 1 if any file (or the results section) differs from what the records give.
    #[arg(long)]
    check: bool,
    /// Bootstrap resamples per interval.
    #[arg(long, default_value_t = 2000)]
    bootstrap_reps: usize,
    /// The bootstrap's seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// One JSON object on stdout: the files written, or the check's result.
    #[arg(long)]
    json: bool,
}

pub fn run(a: PaperArgs) -> Result<Outcome> {
    let records = RunRecords::read_all(&a.records)?;
    let b = Bootstrap {
        reps: a.bootstrap_reps,
        seed: a.seed,
        ..Bootstrap::default()
    };
    let p = paper(&records, &b, &mut |line| eprintln!("{line}"))?;
    let results = match &a.results {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            Some((
                path,
                text.clone(),
                splice(&text, &p.tables, &path.display().to_string())?,
            ))
        }
        None => None,
    };
    if a.check {
        let mut diff = p.check(&a.out)?;
        if diff.is_none()
            && let Some((path, old, new)) = &results
        {
            diff = first_difference(path, old.as_bytes(), new.as_bytes());
        }
        if a.json {
            print_json(
                &json!({"check": diff.is_none(), "difference": diff, "files": p.files.len()}),
            )?;
        } else {
            match &diff {
                None => println!(
                    "{} files{} are what the records give",
                    p.files.len(),
                    if results.is_some() {
                        " and the results section"
                    } else {
                        ""
                    }
                ),
                Some(d) => eprintln!(
                    "neorl paper --check: {d}\nrun `neorl paper` without --check to regenerate them"
                ),
            }
        }
        return Ok(if diff.is_none() {
            Outcome::Done
        } else {
            Outcome::CheckFailed
        });
    }
    let files = p.write(&a.out)?;
    if let Some((path, old, new)) = &results
        && old != new
    {
        std::fs::write(path, new).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    if a.json {
        print_json(&json!({
            "runs": records.runs.len(),
            "files": files.iter().map(|f| f.to_string_lossy()).collect::<Vec<_>>(),
            "results": a.results.as_ref().map(|p| p.to_string_lossy()),
        }))?;
    } else {
        println!(
            "{} runs: {} files written under {}{}",
            records.runs.len(),
            files.len(),
            a.out.display(),
            a.results.as_ref().map_or(String::new(), |r| format!(
                "; tables spliced into {}",
                r.display()
            ))
        );
    }
    Ok(Outcome::Done)
}
