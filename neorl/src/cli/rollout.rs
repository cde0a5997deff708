//! `neorl rollout`: a built-in policy's episodes, optionally through the
//! safety layer (shield and/or audit log).

use super::print_json;
use anyhow::{Context, Result};
use clap::Args;
use neorl::control::{PolicyKind, make_policy};
use neorl::env::{EnvOptions, make_with};
use neorl::eval::shielded::AuditSummary;
use neorl::eval::shielded::interventions_by_kind_text;
use neorl::eval::{rollout_observed, shielded_rollout_with_observed};
use neorl::progress::Progress;
use neorl::safety::{SafetyConfig, ShieldConfig};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct RolloutArgs {
    /// Environment id (see `neorl envs`).
    #[arg(long)]
    env: String,
    /// expert, medium or random.
    #[arg(long, default_value = "expert")]
    policy: String,
    #[arg(long, default_value_t = 10)]
    episodes: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Turn off sensor noise.
    #[arg(long)]
    no_noise: bool,
    /// Turn off stochastic disturbances.
    #[arg(long)]
    no_disturbances: bool,
    /// Run every action through the safety shield (look-ahead with the nominal model, projection, emergency stop).
    #[arg(long)]
    shield: bool,
    /// Look-ahead horizon of the shield, in steps.
    #[arg(long, default_value_t = 20)]
    shield_horizon: usize,
    /// Back-off of every hard limit, as a fraction of its nominal clearance.
    #[arg(long, default_value_t = 0.2)]
    shield_backoff: f64,
    /// Disturbance scenarios each action must also survive (0 = nominal model only).
    #[arg(long, default_value_t = 8)]
    shield_scenarios: usize,
    /// Write every safety event to this hash-chained audit log (JSON Lines; appended to if it exists).
    #[arg(long, value_name = "FILE")]
    audit: Option<PathBuf>,
    /// After sealing the audit log, write its anchor (records and head hash) to this file; keep it where the log's writer cannot edit it and check with `neorl audit verify LOG --anchor FILE`.
    #[arg(long, value_name = "FILE", requires = "audit")]
    audit_anchor: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub fn run(a: RolloutArgs) -> Result<()> {
    let kind: PolicyKind = a.policy.parse()?;
    let options = EnvOptions {
        sensor_noise: !a.no_noise,
        disturbances: !a.no_disturbances,
    };
    let mut env = make_with(&a.env, options)?;
    let spec = env.spec().clone();
    let mut policy = make_policy(&spec, kind)?;
    if a.shield || a.audit.is_some() {
        return shielded(&a, kind, &mut env, policy.as_mut());
    }
    let mut progress = Progress::new(format!("rollout {}", a.env), a.episodes as u64);
    let report = rollout_observed(&mut env, policy.as_mut(), a.episodes, a.seed, &mut |_| {
        progress.inc(1)
    })
    .with_context(|| format!("rolling out {kind} on {}", a.env))?;
    progress.finish();
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        v["policy"] = json!(kind.as_str());
        v["policy_description"] = json!(report.policy);
        return print_json(&v);
    }
    println!(
        "{} / {} over {} episodes (seed {}): return {:.3} ± {:.3}, normalized score {:.1}, cost {:.2}, hard violations {}, length {:.1}",
        report.env,
        report.policy,
        report.episodes,
        a.seed,
        report.mean_return,
        report.std_return,
        report.normalized_score,
        report.mean_cost,
        report.hard_violations,
        report.mean_length
    );
    Ok(())
}

/// The rollout through the safety layer: the shield with `--shield`, else
/// the monitor alone (for `--audit`).
fn shielded(
    a: &RolloutArgs,
    kind: PolicyKind,
    env: &mut neorl::env::Env,
    policy: &mut dyn neorl::policy::Policy,
) -> Result<()> {
    let config = if a.shield {
        SafetyConfig {
            shield: Some(ShieldConfig {
                horizon: a.shield_horizon,
                backoff: a.shield_backoff,
                scenarios: a.shield_scenarios,
                ..ShieldConfig::default()
            }),
            ..SafetyConfig::default()
        }
    } else {
        SafetyConfig::monitor_only()
    };
    let mut progress = Progress::new(format!("rollout {}", a.env), a.episodes as u64);
    let report = shielded_rollout_with_observed(
        env,
        policy,
        a.episodes,
        a.seed,
        config,
        a.audit.as_deref(),
        &mut |_| progress.inc(1),
    )
    .with_context(|| format!("rolling out {kind} on {} through the safety layer", a.env))?;
    progress.finish();
    write_anchor(report.audit.as_ref(), a.audit_anchor.as_deref())?;
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        if let Some(p) = &a.audit_anchor {
            v["audit"]["anchor"] = json!(p.to_string_lossy());
        }
        v["policy"] = json!(kind.as_str());
        v["policy_description"] = json!(report.rollout.policy);
        return print_json(&v);
    }
    let r = &report.rollout;
    println!(
        "{} / {} over {} episodes (seed {}), {}: return {:.3} ± {:.3}, normalized score {:.1}, cost {:.2}, hard violations {}, length {:.1}",
        r.env,
        r.policy,
        r.episodes,
        a.seed,
        if report.shielded {
            "shielded"
        } else {
            "monitored (no shield)"
        },
        r.mean_return,
        r.std_return,
        r.normalized_score,
        r.mean_cost,
        r.hard_violations,
        r.mean_length
    );
    let kinds = interventions_by_kind_text(&report.interventions_by_kind);
    println!(
        "interventions {} ({:.2}% of steps{}{}), emergency stops {}, shutdowns {}",
        report.interventions,
        100.0 * report.intervention_rate,
        if kinds.is_empty() { "" } else { ": " },
        kinds,
        report.emergency_stops,
        report.shutdowns
    );
    if let Some(au) = &report.audit {
        println!(
            "audit log {} ({} records), head {}",
            au.path.display(),
            au.records,
            au.head
        );
    }
    if let Some(p) = &a.audit_anchor {
        println!("anchor written to {}", p.display());
    }
    Ok(())
}

/// `--audit-anchor FILE`: the sealed log's anchor, written to `FILE`.
pub fn write_anchor(audit: Option<&AuditSummary>, to: Option<&Path>) -> Result<()> {
    if let (Some(audit), Some(path)) = (audit, to) {
        audit
            .anchor()
            .write(path)
            .context("--audit-anchor: writing the anchor")?;
    }
    Ok(())
}
