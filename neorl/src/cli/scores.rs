//! `neorl scores`: the score table (algorithms × environments × seeds), as
//! a sweep run on this machine (`neorl sweep plan` + `run-local` + `collect`).

use super::track::TrackArgs;
use super::{parse_settings, print_json, sizes};
use anyhow::{Context, Result, bail};
use clap::Args;
use neorl::env::ids;
use neorl::experiments::scores::ScoreConfig;
use neorl::sweep::spec::Evaluation;
use neorl::sweep::{self, PlanOptions, SweepSpec};
use serde_json::json;
use std::path::PathBuf;

#[derive(Args)]
pub struct ScoresArgs {
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
    /// Episodes per evaluation that select the best evaluation, from seed 1010000 (default: --episodes; 0: no best).
    #[arg(long)]
    selection_episodes: Option<usize>,
    /// Also write the run records (JSON Lines, for `neorl paper`) here.
    #[arg(long, value_name = "FILE.jsonl")]
    records: Option<PathBuf>,
    /// Dataset quality: random, medium, expert or mixed (and low on -v1 environments, protocol v1).
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
    /// CPU threads of each run: a count or `all` (default: NEORL_THREADS, else the cores shared out over the jobs).
    #[arg(long, value_name = "N")]
    threads: Option<String>,
    /// Allow jobs × threads to exceed the machine's cores.
    #[arg(long)]
    oversubscribe: bool,
    /// A hyper-parameter over the papers' defaults, e.g. --set combo.model_steps=1000 (ALGO.KEY for one algorithm, KEY for all; value in JSON; repeatable).
    #[arg(long = "set", value_name = "[ALGO.]KEY=VALUE")]
    settings: Vec<String>,
    /// Where scores.md, scores.json and scores.html go (the sweep behind them: OUT/sweep).
    #[arg(long, default_value = "neorl-out/scores")]
    out: PathBuf,
    #[command(flatten)]
    track: TrackArgs,
    #[arg(long)]
    json: bool,
}

/// `neorl scores` is a sweep planned into `OUT/sweep`, run here and
/// collected: the same path as on a cluster. Run again with the same
/// arguments, it continues where it stopped (finished runs are kept).
pub fn run(a: ScoresArgs) -> Result<()> {
    let quality: neorl::data::Quality = a.quality.parse()?;
    sizes::steps("--steps", a.steps)?;
    let envs = a
        .envs
        .unwrap_or_else(|| ids().iter().map(|s| s.to_string()).collect());
    if let Some(n) = a.size {
        for env in &envs {
            sizes::dataset("--size", env, n)?;
        }
    }
    if a.jobs == 0 {
        bail!("--jobs 0: train at least 1 run at a time");
    }
    // Each run's CPU threads: --threads (or NEORL_THREADS), else the cores
    // shared out over the jobs; jobs × threads ≤ cores unless --oversubscribe.
    let threads = ScoreConfig {
        jobs: a.jobs,
        threads: match (&a.threads, std::env::var_os(neorl::agents::Threads::ENV)) {
            (None, None) => None,
            (t, _) => Some(sizes::threads("--threads", t.as_deref())?),
        },
        oversubscribe: a.oversubscribe,
        ..ScoreConfig::default()
    }
    .threads_per_run()?;
    let mut spec = SweepSpec {
        name: "scores".into(),
        algorithms: a.algos.unwrap_or_else(|| ScoreConfig::default().algos),
        environments: envs,
        qualities: vec![quality],
        sizes: a.size.into_iter().collect(),
        seeds: a.seeds,
        steps: a.steps,
        hidden: a.hidden,
        device: a.device,
        threads: threads.get(),
        checkpoint_every: None,
        keep_last: None,
        keep_best: false,
        data_dir: None,
        evaluation: Evaluation {
            every: a.eval_every,
            episodes: a.episodes,
            selection_episodes: a.selection_episodes,
            ..Evaluation::default()
        },
        set: toml_settings(&parse_settings(&a.settings)?)?,
        slurm: Default::default(),
        tracking: Default::default(),
    };
    let opts = PlanOptions {
        tracking_uri: a.track.tracking_uri.clone(),
        experiment: a.track.experiment.clone(),
        no_track: a.track.no_track,
        ..PlanOptions::default()
    };
    let dir = a.out.join("sweep");
    // Threads do not change a run's results (bit-identical at any count),
    // so a folder planned with another count is continued with its own.
    if let Ok(m) = sweep::Manifest::read(&dir) {
        let same_but_threads = SweepSpec {
            threads: m.spec.threads,
            ..spec.clone()
        } == m.spec;
        if same_but_threads {
            spec.threads = m.spec.threads;
        }
    }
    let planned = sweep::plan(&spec, &dir, &opts)?;
    sweep::worker::stop_on_signals();
    sweep::run_local(&planned.dir, a.jobs)?;
    if sweep::worker::stop_requested() {
        bail!(
            "stopped by a signal; the finished runs and the others' checkpoints are kept in {}: the same command again continues",
            planned.dir.display()
        );
    }
    let tables = sweep::collect(&planned.dir, &planned.manifest)?;
    let mut files = sweep::collect::write(&a.out, &tables)?;
    if let Some(path) = &a.records {
        sweep::collect::records(&planned.dir, &planned.manifest)?.write(path)?;
        files.push(path.clone());
    }
    let table = &tables.first().context("the sweep gave no table")?.1;
    if a.json {
        let mut v = serde_json::to_value(table)?;
        v["files"] = json!(
            files
                .iter()
                .map(|f| f.to_string_lossy())
                .collect::<Vec<_>>()
        );
        v["sweep"] = json!(planned.dir.to_string_lossy());
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

/// `--set` pairs as a spec's `[set]`: `ALGO.KEY` under `[set.ALGO]`.
fn toml_settings(
    settings: &neorl::agents::Settings,
) -> Result<std::collections::BTreeMap<String, toml::Value>> {
    let mut out = std::collections::BTreeMap::new();
    for (k, v) in settings {
        let value = toml::Value::try_from(v)
            .with_context(|| format!("--set {k}={v}: not a value a spec can hold"))?;
        match k.split_once('.') {
            Some((algo, key)) => {
                let t = out
                    .entry(algo.to_string())
                    .or_insert_with(|| toml::Value::Table(Default::default()));
                if let toml::Value::Table(t) = t {
                    t.insert(key.to_string(), value);
                } else {
                    bail!("--set {k}: {algo} is set both for all algorithms and as an algorithm");
                }
            }
            None => {
                out.insert(k.clone(), value);
            }
        }
    }
    Ok(out)
}
