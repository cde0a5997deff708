//! The `neorl` command line: a thin shell over the library. Every `--json`
//! output is a single JSON object on stdout; progress goes to stderr.

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use neorl::control::{PolicyKind, make_policy};
use neorl::env::{EnvOptions, ids, make_with};
use neorl::eval::{reference, rollout, shielded_rollout_with};
use neorl::safety::{SafetyConfig, ShieldConfig};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

#[path = "cli/datasets.rs"]
mod datasets;
#[path = "cli/track.rs"]
mod tracking;

#[derive(Parser)]
#[command(
    name = "neorl",
    version,
    about = "Industrial offline reinforcement learning: environments, safety, datasets, agents"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the environments with their spaces, constraints and reference returns.
    Envs {
        #[arg(long)]
        json: bool,
        /// Re-measure the reference returns (random and expert, 100 episodes each) and compare with the stored ones.
        #[arg(long)]
        calibrate: bool,
    },
    /// Roll out a built-in policy (expert, medium or random) and summarise the episodes.
    Rollout(RolloutArgs),
    /// Offline datasets: list, generate, inspect, validate, export.
    Datasets {
        #[command(subcommand)]
        what: Datasets,
    },
    /// Train an offline RL agent and write a checkpoint.
    Train(TrainArgs),
    /// Evaluate a checkpoint in its environment (D4RL normalized score, cost, hard violations).
    Eval(EvalArgs),
    /// Score table: algorithms × environments × seeds on registry datasets (mean ± std, last and best).
    Scores(ScoresArgs),
    /// The safety audit log.
    Audit {
        #[command(subcommand)]
        what: AuditCmd,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: Bench,
    },
    /// Experiment tracking (MLflow): list runs, send spooled runs to a server.
    Track {
        #[command(subcommand)]
        what: tracking::TrackCmd,
    },
    /// The main job, end to end: baselines on every environment, then a registry medium dataset → TD3+BC training → evaluation with and without the shield → figures and summary.
    Quickstart {
        /// Output folder.
        #[arg(long, default_value = "neorl-out/quickstart")]
        out: PathBuf,
        /// Episodes per policy and environment, and per evaluation of the agent.
        #[arg(long, default_value_t = 10)]
        episodes: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// TD3+BC gradient steps on ChemicalReactor-medium-v0 (0 skips the dataset, training and evaluation).
        #[arg(long, default_value_t = 2_000)]
        train_steps: u64,
        /// Transitions in that dataset (a size variant of the registry's).
        #[arg(long, default_value_t = 20_000)]
        dataset_size: usize,
        /// Evaluations during training (points of the learning curve).
        #[arg(long, default_value_t = 4)]
        eval_points: u64,
        #[command(flatten)]
        track: tracking::TrackArgs,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct RolloutArgs {
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
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct TrainArgs {
    /// bc, td3bc, iql, cql or combo.
    #[arg(long)]
    algo: String,
    /// A registry dataset id (e.g. ChemicalReactor-medium-v0; generated on
    /// first use, checked against its SHA-256 and cached) or an HDF5 file
    /// (neorl, D4RL or Minari layout).
    #[arg(long, value_name = "ID|FILE")]
    dataset: String,
    /// Transitions of a registry dataset (default: the registry's size).
    #[arg(long)]
    size: Option<usize>,
    /// Environment of the data, for files that do not name it (overrides the file's).
    #[arg(long)]
    env: Option<String>,
    /// Gradient steps.
    #[arg(long, default_value_t = 10_000)]
    steps: u64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Hidden-layer widths, e.g. 64,64 (default: the paper's).
    #[arg(long, value_delimiter = ',')]
    hidden: Option<Vec<usize>>,
    /// A hyper-parameter over the paper's default, e.g. --set batch_size=512 (value in JSON; repeatable; new agents only).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    settings: Vec<String>,
    /// Checkpoint folder (default neorl-out/runs/ALGO-ENV-sSEED). If it holds a
    /// checkpoint of the same algorithm, training continues from it.
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    track: tracking::TrackArgs,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct EvalArgs {
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
    #[command(flatten)]
    track: tracking::TrackArgs,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ScoresArgs {
    /// Environment ids, comma-separated (default: all seven).
    #[arg(long, value_delimiter = ',')]
    envs: Option<Vec<String>>,
    /// Algorithms, comma-separated (default: bc,td3bc,iql,cql,combo).
    #[arg(long, value_delimiter = ',')]
    algos: Option<Vec<String>>,
    /// Agent seeds 0..N.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Gradient steps per run.
    #[arg(long, default_value_t = 10_000)]
    steps: u64,
    /// Evaluate every this many steps (default: steps / 5).
    #[arg(long)]
    eval_every: Option<u64>,
    /// Episodes per evaluation.
    #[arg(long, default_value_t = 10)]
    episodes: usize,
    /// Dataset quality: random, medium, expert or mixed.
    #[arg(long, default_value = "medium")]
    quality: String,
    /// Transitions per dataset (default: the registry's size).
    #[arg(long)]
    size: Option<usize>,
    /// Hidden-layer widths for every network, e.g. 64,64 (default: each paper's).
    #[arg(long, value_delimiter = ',')]
    hidden: Option<Vec<usize>>,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Runs trained at the same time.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// A hyper-parameter over the papers' defaults, e.g. --set combo.model_steps=1000 (ALGO.KEY for one algorithm, KEY for all; value in JSON; repeatable).
    #[arg(long = "set", value_name = "[ALGO.]KEY=VALUE")]
    settings: Vec<String>,
    /// Where scores.md, scores.json and scores.html go.
    #[arg(long, default_value = "neorl-out/scores")]
    out: PathBuf,
    #[command(flatten)]
    track: tracking::TrackArgs,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum Datasets {
    /// List the registry: 7 environments × random, medium, expert, mixed.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Generate a dataset (into the cache unless --out is given) and check it against the registry.
    Generate {
        /// Dataset id, e.g. SupplyChain-medium-v0 (see `neorl datasets list`).
        #[arg(required_unless_present = "all")]
        id: Option<String>,
        /// Every registry dataset of the registered environments, into the cache.
        #[arg(long, conflicts_with_all = ["id", "out"])]
        all: bool,
        /// Number of transitions (default: the registry's size, whose checksum is pinned).
        #[arg(long)]
        size: Option<usize>,
        /// Output HDF5 file (default: the cache, see NEORL_DATA_DIR).
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Counts, return statistics, attributes and the content SHA-256 of a dataset file.
    Info {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Check a dataset file (shapes, finiteness, bounds, continuity, flags, checksum); exits non-zero on any failure.
    Validate {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    #[cfg(feature = "frames")]
    /// Write a dataset file as Parquet: one row per transition (or per episode with --episodes).
    Export {
        file: PathBuf,
        /// Output .parquet file.
        out: PathBuf,
        #[arg(long)]
        episodes: bool,
        #[arg(long)]
        json: bool,
    },
    /// Regenerate every dataset of the registered environments and rewrite the registry's checksums (for developers, after a deliberate model change).
    Pin {
        /// Registry file to rewrite.
        #[arg(long)]
        registry: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Check an audit log's hash chain and seal; exits non-zero when it is not intact.
    Verify {
        /// The log (JSON Lines).
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum Bench {
    /// Agent gradient updates per second (batch 256, 256×256 networks).
    Train {
        #[arg(long)]
        algo: String,
        /// Environment whose observation and action sizes are used (default ChemicalReactor-v0, else the first registered).
        #[arg(long)]
        env: Option<String>,
        #[arg(long, default_value = "auto")]
        device: String,
        /// Seconds of timing.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        #[arg(long)]
        json: bool,
    },
    /// Deployment-policy latency (one observation) and batched throughput on the CPU.
    Inference {
        #[arg(long)]
        env: Option<String>,
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
        #[arg(long)]
        json: bool,
    },
    /// Environment steps per second: single, and batched on 1 and 2 threads.
    Envs {
        /// Environments per batch.
        #[arg(long, default_value_t = 1024)]
        batch: usize,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 1.0)]
        seconds: f64,
        /// Only this environment.
        #[arg(long)]
        env: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Dataset generation rate, HDF5 write/read of 1M transitions, minibatch sampling.
    Datasets {
        /// Environment to generate from (default: the first registered one).
        #[arg(long)]
        env: Option<String>,
        /// Transitions to generate (then tiled to 1M for the I/O measurements).
        #[arg(long, default_value_t = 100_000)]
        transitions: usize,
        /// Transitions written and read (the `_1m_` timings; for quick checks only).
        #[arg(long, default_value_t = neorl::bench::datasets::ONE_MILLION)]
        io_transitions: usize,
        #[arg(long)]
        json: bool,
    },
    /// Nanoseconds per constraint check and per shield decision, next to a plain env step.
    Safety {
        /// Seconds per measurement.
        #[arg(long, default_value_t = 0.5)]
        seconds: f64,
        /// Only this environment.
        #[arg(long)]
        env: Option<String>,
        /// Look-ahead horizon of the shield, in steps.
        #[arg(long, default_value_t = 20)]
        horizon: usize,
        /// Disturbance scenarios per look-ahead (0 = nominal model only).
        #[arg(long, default_value_t = 8)]
        scenarios: usize,
        #[arg(long)]
        json: bool,
    },
}

fn print_json(v: &serde_json::Value) -> Result<()> {
    println!("{}", serde_json::to_string(v)?);
    Ok(())
}

/// Errors are printed as one line (with their causes), and with `--json`
/// also as `{"error": …}` on stdout so scripts always get one JSON object.
fn main() -> std::process::ExitCode {
    restore_sigpipe();
    let json = std::env::args().any(|a| a == "--json");
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let msg = format!("{e:#}");
            if json {
                println!("{}", json!({ "error": msg }));
            }
            eprintln!("error: {msg}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Rust ignores SIGPIPE, so `neorl … | head` would panic with "failed printing
/// to stdout". Like other Unix command-line tools, end quietly instead.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any thread exists;
    // SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Envs { json, calibrate } => envs(json, calibrate),
        Command::Rollout(a) => rollout_cmd(a),
        Command::Datasets { what } => datasets::run(what),
        Command::Bench { what } => match what {
            Bench::Envs {
                batch,
                seconds,
                env,
                json,
            } => bench_envs(batch, seconds, env, json),
            Bench::Train {
                algo,
                env,
                device,
                seconds,
                json,
            } => {
                let device = neorl::agents::Device::parse(&device)?;
                let r = neorl::bench::agents::train(
                    &algo,
                    env.as_deref(),
                    &device,
                    Duration::from_secs_f64(positive(seconds)?),
                )?;
                if json {
                    return print_json(&serde_json::to_value(&r)?);
                }
                println!("{}", serde_json::to_string_pretty(&r)?);
                Ok(())
            }
            Bench::Inference { env, seconds, json } => {
                let r = neorl::bench::agents::inference(
                    env.as_deref(),
                    Duration::from_secs_f64(positive(seconds)?),
                )?;
                if json {
                    return print_json(&serde_json::to_value(&r)?);
                }
                println!("{}", serde_json::to_string_pretty(&r)?);
                Ok(())
            }
            Bench::Safety {
                seconds,
                env,
                horizon,
                scenarios,
                json,
            } => bench_safety(seconds, env, horizon, scenarios, json),
            Bench::Datasets {
                env,
                transitions,
                io_transitions,
                json,
            } => datasets::bench(env, transitions, io_transitions, json),
        },
        Command::Train(a) => train_cmd(a),
        Command::Eval(a) => eval_cmd(a),
        Command::Scores(a) => scores_cmd(a),
        Command::Track { what } => tracking::run(what),
        Command::Audit {
            what: AuditCmd::Verify { file, json },
        } => audit_verify(&file, json),
        Command::Quickstart {
            out,
            episodes,
            seed,
            train_steps,
            dataset_size,
            eval_points,
            track,
            json,
        } => {
            let cfg = neorl::quickstart::QuickstartConfig {
                out,
                episodes,
                seed,
                train_steps,
                dataset_size,
                eval_points,
            };
            let run = tracking::start_quickstart(&track, &cfg)?;
            let report = neorl::quickstart::run(&cfg)?;
            let mlflow = tracking::finish_quickstart(run, &report)?;
            if json {
                let mut v = serde_json::to_value(&report)?;
                v["mlflow"] = mlflow;
                print_json(&v)
            } else {
                println!("{}", neorl::quickstart::markdown_table(&report));
                println!("figures and summary written to {}", report.out.display());
                Ok(())
            }
        }
    }
}

fn envs(json: bool, calibrate: bool) -> Result<()> {
    let cat = neorl::env::registry::catalog();
    if calibrate {
        let mut rows = vec![];
        for e in &cat {
            let (r, x) = reference::measure(&e.id)?;
            rows.push(
                json!({"id": e.id, "stored_random": e.ref_random_return, "measured_random": r,
                             "stored_expert": e.ref_expert_return, "measured_expert": x,
                             "up_to_date": r == e.ref_random_return && x == e.ref_expert_return}),
            );
        }
        if json {
            return print_json(&json!({ "envs": rows }));
        }
        for r in rows {
            println!("{r}");
        }
        return Ok(());
    }
    if json {
        return print_json(&json!({ "envs": cat }));
    }
    for e in &cat {
        println!(
            "{:<20} obs {:>2}  act {:>2}  horizon {:>4} × {} s   reference returns: random {:.2}, expert {:.2}",
            e.id, e.obs_dim, e.act_dim, e.horizon, e.dt, e.ref_random_return, e.ref_expert_return
        );
        for c in &e.constraints {
            let op = match c.sense {
                neorl::env::Sense::Upper => "<=",
                neorl::env::Sense::Lower => ">=",
            };
            println!(
                "    {:<4} {} {op} {} {}",
                format!("{:?}", c.kind).to_lowercase(),
                c.name,
                c.limit,
                c.unit
            );
        }
    }
    Ok(())
}

fn rollout_cmd(a: RolloutArgs) -> Result<()> {
    let kind: PolicyKind = a.policy.parse()?;
    let options = EnvOptions {
        sensor_noise: !a.no_noise,
        disturbances: !a.no_disturbances,
    };
    let mut env = make_with(&a.env, options)?;
    let spec = env.spec().clone();
    let mut policy = make_policy(&spec, kind)?;
    if a.shield || a.audit.is_some() {
        return shielded_rollout_cmd(&a, kind, &mut env, policy.as_mut());
    }
    let report = rollout(&mut env, policy.as_mut(), a.episodes, a.seed)
        .with_context(|| format!("rolling out {kind} on {}", a.env))?;
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

fn shielded_rollout_cmd(
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
    let report = shielded_rollout_with(env, policy, a.episodes, a.seed, config, a.audit.as_deref())
        .with_context(|| format!("rolling out {kind} on {} through the safety layer", a.env))?;
    if a.json {
        let mut v = serde_json::to_value(&report)?;
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
    let kinds: Vec<String> = report
        .interventions_by_kind
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    println!(
        "interventions {} ({:.2}% of steps{}{}), emergency stops {}",
        report.interventions,
        100.0 * report.intervention_rate,
        if kinds.is_empty() { "" } else { ": " },
        kinds.join(", "),
        report.emergency_stops
    );
    if let Some(au) = &report.audit {
        println!(
            "audit log {} ({} records), head {}",
            au.path.display(),
            au.records,
            au.head
        );
    }
    Ok(())
}

fn audit_verify(file: &std::path::Path, json: bool) -> Result<()> {
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
    if !r.ok {
        use std::io::Write;
        std::io::stdout().flush()?;
        std::process::exit(1);
    }
    Ok(())
}

fn bench_safety(
    seconds: f64,
    only: Option<String>,
    horizon: usize,
    scenarios: usize,
    json: bool,
) -> Result<()> {
    if !(seconds > 0.0 && seconds.is_finite()) {
        anyhow::bail!("--seconds must be a positive number, got {seconds}");
    }
    let all = ids();
    let chosen: Vec<&str> = match &only {
        Some(id) => {
            let m = neorl::env::model(id, EnvOptions::default())?;
            vec![
                all.into_iter()
                    .find(|i| *i == m.spec().id)
                    .context("registered id")?,
            ]
        }
        None => all,
    };
    let config = ShieldConfig {
        horizon,
        scenarios,
        ..ShieldConfig::default()
    };
    let rows = neorl::bench::safety::run(&chosen, Duration::from_secs_f64(seconds), &config)?;
    if json {
        return print_json(&json!({ "envs": rows }));
    }
    println!(
        "{:<20} {:>10} {:>10} {:>11} {:>12} {:>12} {:>13} {:>9}",
        "env",
        "step ns",
        "check ns",
        "monitor ns",
        "shield ns",
        "check/step",
        "shield/step",
        "interv."
    );
    for r in rows {
        println!(
            "{:<20} {:>10.1} {:>10.1} {:>11.1} {:>12.1} {:>12.3} {:>13.1} {:>8.1}%",
            r.id,
            r.step_ns,
            r.check_ns,
            r.monitor_ns,
            r.shield_ns,
            r.check_over_step,
            r.shield_over_step,
            100.0 * r.shield_intervention_rate
        );
    }
    Ok(())
}

fn bench_envs(batch: usize, seconds: f64, only: Option<String>, json: bool) -> Result<()> {
    let all = ids();
    let chosen: Vec<&str> = match &only {
        Some(id) => {
            let m = neorl::env::model(id, EnvOptions::default())?;
            vec![
                all.into_iter()
                    .find(|i| *i == m.spec().id)
                    .context("registered id")?,
            ]
        }
        None => all,
    };
    if !(seconds > 0.0 && seconds.is_finite()) {
        anyhow::bail!("--seconds must be a positive number, got {seconds}");
    }
    let rows = neorl::bench::envs::run(&chosen, batch, Duration::from_secs_f64(seconds))?;
    if json {
        return print_json(&json!({ "envs": rows }));
    }
    println!(
        "{:<20} {:>14} {:>16} {:>16} {:>8}",
        "env", "single/s", "batched 1t/s", "batched 2t/s", "2t/1t"
    );
    for r in rows {
        println!(
            "{:<20} {:>14.3e} {:>16.3e} {:>16.3e} {:>8.2}",
            r.id,
            r.single_steps_per_s,
            r.batched_1t_steps_per_s,
            r.batched_2t_steps_per_s,
            r.thread_scaling
        );
    }
    Ok(())
}

fn positive(seconds: f64) -> Result<f64> {
    if !(seconds > 0.0 && seconds.is_finite()) {
        anyhow::bail!("--seconds must be a positive number, got {seconds}");
    }
    Ok(seconds)
}

fn train_cmd(a: TrainArgs) -> Result<()> {
    use neorl::agents::{self, BatchSource, Device, checkpoint};
    let device = Device::parse(&a.device)?;
    let algo = agents::algo_name(&a.algo)?;
    let mut data = neorl::data::open(&a.dataset, a.size)
        .with_context(|| format!("--dataset {}", a.dataset))?;
    let recorded_env = data.metadata().env_id.clone();
    let spec = neorl::data::resolve_env(&mut data, a.env.as_deref())?;
    if !recorded_env.is_empty() && !recorded_env.eq_ignore_ascii_case(&spec.id) {
        eprintln!(
            "note: the dataset says {recorded_env}; training for {} as --env asks",
            spec.id
        );
    }
    let source = data.source().context("the dataset names itself")?;
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("neorl-out/runs/{algo}-{}-s{}", spec.id, a.seed)));
    let settings = parse_settings(&a.settings)?;
    let mut agent = if out.join(checkpoint::FILE_NAME).exists() {
        if !settings.is_empty() {
            anyhow::bail!(
                "{} holds a checkpoint, which keeps its own config; --set applies to new agents (pass another --out)",
                out.display()
            );
        }
        let agent = agents::load(&out, &device)?;
        let st = agent.state();
        if agent.algo() != algo || st.env_id != spec.id {
            anyhow::bail!(
                "{} holds a {} agent for {}; pass another --out to train {algo} on {}",
                out.display(),
                agent.algo(),
                st.env_id,
                spec.id
            );
        }
        if let Some(d) = st.dataset.as_ref().filter(|d| d.sha256 != source.sha256) {
            anyhow::bail!(
                "{} was trained on {} (SHA-256 {}), not on {} ({}); its normalisation comes from that data, so pass another --out to train on this one",
                out.display(),
                d.id,
                d.sha256,
                source.id,
                source.sha256
            );
        }
        eprintln!(
            "continuing from step {} in {}",
            agent.steps_done(),
            out.display()
        );
        agent
    } else {
        agents::build_configured(&algo, &spec, a.seed, a.hidden.clone(), &settings, &device)?
    };
    let mut run = tracking::start_train(
        &a.track,
        &algo,
        &a.dataset,
        a.seed,
        &device.name(),
        a.steps,
        agent.as_ref(),
        &data,
    )?;
    let summary =
        agents::train_loop_observed(agent.as_mut(), &data, a.steps, true, &mut |s, m| {
            run.log_metrics(s, m)
        })?;
    agent.save(&out)?;
    let mlflow = tracking::finish_train(run, agent.as_ref(), &out, &summary)?;
    let v = json!({
        "algo": agent.algo(),
        "dataset": source.id,
        "dataset_sha256": source.sha256,
        "transitions": source.transitions,
        "env": spec.id,
        "steps": agent.steps_done(),
        "seed": a.seed,
        "device": device.name(),
        "checkpoint": out,
        "seconds": summary.seconds,
        "final_metrics": summary.final_metrics,
        "mlflow": mlflow,
    });
    if a.json {
        return print_json(&v);
    }
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

fn eval_cmd(a: EvalArgs) -> Result<()> {
    use neorl::agents::{self, Device};
    use neorl::eval::{EvalOptions, evaluate};
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
    let dataset = agent.state().dataset.as_ref();
    let mut v = serde_json::to_value(&report)?;
    v["algo"] = json!(agent.algo());
    v["steps"] = json!(agent.steps_done());
    v["checkpoint"] = json!(a.checkpoint);
    v["dataset"] = json!(dataset.map(|d| &d.id));
    v["dataset_sha256"] = json!(dataset.map(|d| &d.sha256));
    v["mlflow"] = tracking::eval_run(&a.track, &a.checkpoint, agent.as_ref(), a.seed, &report, &v)?;
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
    Ok(())
}

fn scores_cmd(a: ScoresArgs) -> Result<()> {
    use neorl::eval::scores::{ScoreConfig, score_table};
    let quality: neorl::data::Quality = a.quality.parse()?;
    let defaults = ScoreConfig::default();
    let cfg = ScoreConfig {
        envs: a
            .envs
            .unwrap_or_else(|| ids().iter().map(|s| s.to_string()).collect()),
        algos: a.algos.unwrap_or(defaults.algos),
        seeds: a.seeds,
        steps: a.steps,
        eval_every: a.eval_every.unwrap_or((a.steps / 5).max(1)),
        episodes: a.episodes,
        quality,
        dataset_size: a.size,
        hidden: a.hidden,
        device: a.device,
        jobs: a.jobs.max(1),
        settings: parse_settings(&a.settings)?,
        ..defaults
    };
    let table = score_table(&cfg)?;
    let files = table.write(&a.out)?;
    if a.json {
        let mut v = serde_json::to_value(&table)?;
        v["files"] = json!(files);
        return print_json(&v);
    }
    print!("{table}");
    println!(
        "\nwritten: {}",
        files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// `KEY=VALUE` pairs; a value that is not JSON is taken as a string.
fn parse_settings(pairs: &[String]) -> Result<neorl::agents::Settings> {
    pairs
        .iter()
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .with_context(|| format!("--set {kv}: expected KEY=VALUE, e.g. batch_size=512"))?;
            let v = serde_json::from_str(v.trim()).unwrap_or_else(|_| json!(v.trim()));
            Ok((k.trim().to_string(), v))
        })
        .collect()
}
