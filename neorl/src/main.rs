//! The `neorl` command line: a thin shell over the library. Every `--json`
//! output is a single JSON object on stdout; progress goes to stderr.
//!
//! Each subcommand lives in its own file under `cli/` (its arguments and
//! handler); this file parses, dispatches, and decides the exit code.

mod cli;

use clap::{Parser, Subcommand};
use cli::Outcome;
use serde_json::json;
use std::process::ExitCode;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc keeps the memory the process frees instead of purging it back
/// to the OS after 10 ms: training frees and retakes megabytes of
/// activations every update, and each purge cost page faults when taken
/// back (`bench train --algo cql`: 13.9k page faults in 3 s, 1.3k without
/// purging).
#[cfg(feature = "mimalloc")]
fn keep_freed_memory() {
    /// `mi_option_purge_delay` in mimalloc v3's `mimalloc.h` (the C library
    /// libmimalloc-sys 0.1.49 builds); -1 = never purge.
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: mi_option_set only stores an option value; purging is read
    // on later frees.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

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
    Envs(cli::envs::EnvsArgs),
    /// Roll out a built-in policy (expert, medium or random) and summarise the episodes.
    Rollout(cli::rollout::RolloutArgs),
    /// Offline datasets: list, generate, inspect, validate, export.
    Datasets {
        #[command(subcommand)]
        what: cli::datasets::DatasetsCmd,
    },
    /// Train an offline RL agent and write a checkpoint.
    Train(cli::train::TrainArgs),
    /// Evaluate a checkpoint in its environment (D4RL normalized score, cost, hard violations).
    Eval(cli::eval::EvalArgs),
    /// Score table: algorithms × environments × seeds on registry datasets (mean ± std, last and best).
    Scores(cli::scores::ScoresArgs),
    /// Every results table and figure from run records (bit-identical; --check verifies the committed ones).
    Paper(cli::paper::PaperArgs),
    /// Sweeps on a SLURM cluster or here: spec, plan, submit, run, status, collect, export.
    Sweep {
        #[command(subcommand)]
        what: cli::sweep::SweepCmd,
    },
    /// The safety audit log.
    Audit {
        #[command(subcommand)]
        what: cli::audit::AuditCmd,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: cli::bench::BenchCmd,
    },
    /// Experiment tracking (MLflow): list runs, send spooled runs to a server.
    Track {
        #[command(subcommand)]
        what: cli::track::TrackCmd,
    },
    /// Serve a trained policy behind the plant's safety layer: HTTP/JSON, Modbus TCP, Prometheus metrics, bearer tokens (`serve token add`).
    #[cfg(feature = "serve")]
    Serve(neorl_serve::cli::ServeArgs),
    /// A simulated plant that uses a policy server over Modbus TCP as a PLC would (hardware-in-the-loop check).
    #[cfg(feature = "serve")]
    PlantSim(neorl_serve::cli::PlantSimArgs),
    /// The main job, end to end: baselines on every environment, then a registry medium dataset → TD3+BC training → evaluation with and without the shield → figures and summary.
    Quickstart(cli::quickstart::QuickstartArgs),
}

/// The one place exit codes are decided: 0 when the command did its job,
/// 1 when a check it ran failed (its report is already printed) or it
/// failed. Errors are printed as one line (with their causes), and with
/// `--json` also as `{"error": …}` on stdout so scripts always get one JSON
/// object.
///
/// Arguments are OS strings (paths need not be UTF-8); clap reports an
/// argument it cannot use with its own message and exit code 2.
fn main() -> ExitCode {
    #[cfg(feature = "mimalloc")]
    keep_freed_memory();
    restore_sigpipe();
    let json = std::env::args_os().any(|a| a == "--json");
    match run(Cli::parse_from(std::env::args_os()).command) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::CheckFailed) => ExitCode::FAILURE,
        Err(e) => {
            let msg = one_line(&e);
            if json {
                println!("{}", json!({ "error": msg }));
            }
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line (`context: error: cause`), each
/// said once: a library error that shows its cause in its own message
/// (`/data.h5: No such file or directory (os error 2)`) is not followed by
/// that cause again.
fn one_line(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if msg.contains(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg
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

fn run(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Envs(a) => cli::envs::run(a)?,
        Command::Rollout(a) => cli::rollout::run(a)?,
        Command::Datasets { what } => return cli::datasets::run(what),
        Command::Train(a) => cli::train::run(a)?,
        Command::Eval(a) => cli::eval::run(a)?,
        Command::Scores(a) => cli::scores::run(a)?,
        Command::Sweep { what } => cli::sweep::run(what)?,
        Command::Paper(a) => return cli::paper::run(a),
        Command::Audit { what } => return cli::audit::run(what),
        Command::Bench { what } => cli::bench::run(what)?,
        Command::Track { what } => cli::track::run(what)?,
        Command::Quickstart(a) => cli::quickstart::run(a)?,
        #[cfg(feature = "serve")]
        Command::Serve(a) => neorl_serve::cli::main(a)?,
        #[cfg(feature = "serve")]
        Command::PlantSim(a) => neorl_serve::cli::plant_sim(a)?,
    }
    Ok(Outcome::Done)
}
