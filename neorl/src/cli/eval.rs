//! `neorl eval`: a checkpoint in its environment.

use super::print_json;
use super::rollout::write_anchor;
use super::track::{TrackArgs, eval_run};
use anyhow::Result;
use clap::Args;
use neorl::agents::{self, Device};
use neorl::eval::{EvalOptions, evaluate};
use neorl::safety::ShieldConfig;
use serde_json::json;
use std::path::PathBuf;

#[derive(Args)]
pub struct EvalArgs {
    /// Checkpoint folder written by `neorl train`.
    #[arg(long)]
    checkpoint: PathBuf,
    #[arg(long, default_value_t = 10)]
    episodes: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Run every action through the safety shield (default settings).
    #[arg(long)]
    shield: bool,
    /// Write every safety event to this hash-chained audit log.
    #[arg(long, value_name = "FILE")]
    audit: Option<PathBuf>,
    /// After sealing the audit log, write its anchor (records and head hash) to this file (see `neorl audit verify --anchor`).
    #[arg(long, value_name = "FILE", requires = "audit")]
    audit_anchor: Option<PathBuf>,
    #[command(flatten)]
    track: TrackArgs,
    #[arg(long)]
    json: bool,
}

pub fn run(a: EvalArgs) -> Result<()> {
    let agent = agents::load(&a.checkpoint, &Device::cpu())?;
    let mut env = neorl::make(&agent.state().env_id)?;
    let opts = EvalOptions {
        episodes: a.episodes,
        seed: a.seed,
        shield: a.shield.then(ShieldConfig::default),
        audit: a.audit.clone(),
        ..EvalOptions::default()
    };
    let report = evaluate(&mut agent.policy(), &mut env, opts)?;
    write_anchor(report.audit.as_ref(), a.audit_anchor.as_deref())?;
    let dataset = agent.state().dataset.as_ref();
    let mut v = serde_json::to_value(&report)?;
    v["algo"] = json!(agent.algo());
    v["steps"] = json!(agent.steps_done());
    v["checkpoint"] = json!(a.checkpoint.to_string_lossy());
    v["dataset"] = json!(dataset.map(|d| &d.id));
    v["dataset_sha256"] = json!(dataset.map(|d| &d.sha256));
    if let Some(p) = &a.audit_anchor {
        v["audit"]["anchor"] = json!(p.to_string_lossy());
    }
    v["mlflow"] = eval_run(&a.track, &a.checkpoint, agent.as_ref(), a.seed, &report, &v)?;
    if a.json {
        return print_json(&v);
    }
    println!(
        "{} after {} steps{}",
        agent.algo(),
        agent.steps_done(),
        dataset.map_or(String::new(), |d| format!(" on {}", d.id))
    );
    print!("{report}");
    if let Some(p) = &a.audit_anchor {
        println!("anchor written to {}", p.display());
    }
    Ok(())
}
