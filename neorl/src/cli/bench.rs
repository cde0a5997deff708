//! `neorl bench …`: the benchmarks of `neorl::bench`, printed as a table or
//! one JSON object.

use super::print_json;
use super::sizes;
use anyhow::Result;
use clap::Subcommand;
use neorl::env::ids;
use neorl::safety::ShieldConfig;
use serde_json::json;

#[derive(Subcommand)]
pub enum BenchCmd {
    /// Agent gradient updates per second (256×256 networks; minibatches of 256 unless --batch).
    Train {
        #[arg(long)]
        algo: String,
        /// Minibatch size (the papers' 256; a GPU needs larger ones to fill it).
        #[arg(long, default_value_t = 256)]
        batch: usize,
        /// Environment whose observation and action sizes are used (default ChemicalReactor-v0, else the first registered).
        #[arg(long)]
        env: Option<String>,
        #[arg(long, default_value = "auto")]
        device: String,
        /// Threads of the multi-threaded measurement (a count or `all`; default NEORL_THREADS, else every core); 1 thread is always measured too.
        #[arg(long, value_name = "N")]
        threads: Option<String>,
        /// Seconds of timing (per thread count).
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
    /// The policy server: decisions per second and latency per process, in process and over HTTP on loopback, with the full safety layer.
    #[cfg(feature = "serve")]
    Serve {
        /// Only this environment.
        #[arg(long)]
        env: Option<String>,
        /// Decisions measured (in process, and again over HTTP).
        #[arg(long, default_value_t = 5000)]
        requests: usize,
        /// Concurrent HTTP clients (keep-alive).
        #[arg(long, default_value_t = 2)]
        clients: usize,
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

pub fn run(cmd: BenchCmd) -> Result<()> {
    match cmd {
        BenchCmd::Train {
            algo,
            batch,
            env,
            device,
            threads,
            seconds,
            json,
        } => {
            let device = neorl::agents::Device::parse(&device)?;
            let r = neorl::bench::agents::train(
                &algo,
                env.as_deref(),
                &device,
                sizes::threads("--threads", threads.as_deref())?,
                sizes::seconds("--seconds", seconds)?,
                sizes::batch("--batch", batch)?,
            )?;
            print_pretty(&serde_json::to_value(&r)?, json)
        }
        BenchCmd::Inference { env, seconds, json } => {
            let r = neorl::bench::agents::inference(
                env.as_deref(),
                sizes::seconds("--seconds", seconds)?,
            )?;
            print_pretty(&serde_json::to_value(&r)?, json)
        }
        BenchCmd::Envs {
            batch,
            seconds,
            env,
            json,
        } => envs(batch, seconds, env.as_deref(), json),
        BenchCmd::Datasets {
            env,
            transitions,
            io_transitions,
            json,
        } => datasets(env.as_deref(), transitions, io_transitions, json),
        #[cfg(feature = "serve")]
        BenchCmd::Serve {
            env,
            requests,
            clients,
            json,
        } => serve(env.as_deref(), requests, clients, json),
        BenchCmd::Safety {
            seconds,
            env,
            horizon,
            scenarios,
            json,
        } => safety(seconds, env.as_deref(), horizon, scenarios, json),
    }
}

#[cfg(feature = "serve")]
fn serve(only: Option<&str>, requests: usize, clients: usize, json: bool) -> Result<()> {
    if !(100..=10_000_000).contains(&requests) {
        anyhow::bail!("--requests must be between 100 and 10000000 (got {requests})");
    }
    if !(1..=256).contains(&clients) {
        anyhow::bail!("--clients must be between 1 and 256 (got {clients})");
    }
    let chosen = chosen_envs(only)?;
    let rows = neorl::bench::serve::run(&chosen, requests, clients)?;
    if json {
        return print_json(&json!({ "serve": rows }));
    }
    println!(
        "{:<20} {:>11} {:>9} {:>9} {:>11} {:>9} {:>9} {:>9} {:>8} {:>7}",
        "env",
        "inproc/s",
        "p50 µs",
        "p99 µs",
        "http/s",
        "p50 µs",
        "p99 µs",
        "p99.9 µs",
        "http/in",
        "shield%"
    );
    for r in rows {
        println!(
            "{:<20} {:>11.0} {:>9.1} {:>9.1} {:>11.0} {:>9.1} {:>9.1} {:>9.1} {:>8.2} {:>7.1}",
            r.id,
            r.in_process_per_s,
            r.in_process_p50_us,
            r.in_process_p99_us,
            r.http_per_s,
            r.http_p50_us,
            r.http_p99_us,
            r.http_p999_us,
            r.http_over_in_process,
            100.0 * r.intervention_rate
        );
    }
    Ok(())
}

fn envs(batch: usize, seconds: f64, only: Option<&str>, json: bool) -> Result<()> {
    let chosen = chosen_envs(only)?;
    let rows = neorl::bench::envs::run(&chosen, batch, sizes::seconds("--seconds", seconds)?)?;
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

fn datasets(env: Option<&str>, transitions: usize, io: usize, json: bool) -> Result<()> {
    let id = chosen_envs(env)?[0];
    sizes::dataset("--transitions", id, transitions)?;
    sizes::dataset("--io-transitions", id, io)?;
    let dir = std::env::temp_dir();
    let b = neorl::bench::datasets::run(env, transitions, io, &dir)?;
    if json {
        return print_json(&serde_json::to_value(&b)?);
    }
    println!(
        "{}: generate {:.3e} transitions/s; {} transitions: write {:.2} s, read {:.2} s ({:.2} s unverified), {:.1} MiB; sampling {:.3e} batches/s of {}",
        b.env,
        b.generate_transitions_per_s,
        b.io_transitions,
        b.write_1m_s,
        b.read_1m_s,
        b.read_1m_unverified_s,
        b.file_mib,
        b.sample_batches_per_s,
        b.batch
    );
    Ok(())
}

fn safety(
    seconds: f64,
    only: Option<&str>,
    horizon: usize,
    scenarios: usize,
    json: bool,
) -> Result<()> {
    let min_time = sizes::seconds("--seconds", seconds)?;
    let chosen = chosen_envs(only)?;
    let config = ShieldConfig {
        horizon,
        scenarios,
        ..ShieldConfig::default()
    };
    let rows = neorl::bench::safety::run(&chosen, min_time, &config)?;
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

/// The environments to measure: the registered id `--env` names (any
/// letter case, any protocol version), else the protocol-v0 suite.
fn chosen_envs(only: Option<&str>) -> Result<Vec<&'static str>> {
    let Some(id) = only else {
        return Ok(ids());
    };
    Ok(vec![neorl::env::registered_id(id)?])
}

/// One JSON object with `--json`, else the same indented.
fn print_pretty(v: &serde_json::Value, json: bool) -> Result<()> {
    if json {
        return print_json(v);
    }
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}
