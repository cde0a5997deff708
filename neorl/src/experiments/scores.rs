//! Reproducible score tables: every algorithm on every environment's
//! registry dataset, several seeds, periodic evaluations, mean ± std of the
//! D4RL normalized score — last and best — beside the behaviour policy's.
//!
//! ```no_run
//! use neorl::experiments::scores::{ScoreConfig, score_table};
//! let table = score_table(&ScoreConfig {
//!     envs: vec!["ChemicalReactor-v0".into()],
//!     algos: vec!["td3bc".into(), "iql".into()],
//!     steps: 5_000,
//!     ..ScoreConfig::default()
//! })?;
//! table.write("neorl-out/scores")?;   // scores.md, scores.json, scores.html
//! println!("{table}");                 // Markdown; an HTML table when a notebook cell ends with `table`
//! # Ok::<(), neorl::Error>(())
//! ```
//!
//! The protocol (D4RL's, as in the TD3+BC, IQL and CQL papers): one fixed
//! dataset per environment (the registry's `<Env>-<quality>-v0`, at its
//! size or `dataset_size`), agents trained from seeds `0..seeds` with the
//! algorithm's default config, evaluated every `eval_every` steps on the
//! same `episodes` episodes (seeds `eval_seed`, `eval_seed + 1`, …; no
//! shield). "last" is the final evaluation. "best" is selected on separate
//! episodes, so that it is not biased upwards by selecting on the episodes
//! it reports: each evaluation also runs `selection_episodes` episodes from
//! seed `eval_seed +` [`SELECTION_SEED_OFFSET`], and "best" is the reported
//! score at the evaluation whose *selection* score is highest (the earliest
//! on a tie). With `selection_episodes = 0` no best is reported. The behaviour
//! score is the normalized mean return of the dataset's complete episodes.
//! The same config gives the same table on the CPU, whatever `jobs` and
//! `threads` are.

use crate::agents::{self, Agent, BatchSource, Device, Threads};
use crate::data::{Dataset, DatasetEntry, Quality, Store};
use crate::env::{Env, EnvSpec};
use crate::error::{Error, Result};
use crate::eval::rollout::check_episodes;
use crate::eval::{EvalOptions, evaluate};
use crate::progress::Progress;
use serde::{Deserialize, Serialize};

use std::path::PathBuf;
use std::sync::Mutex;

/// What to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreConfig {
    /// Environment ids.
    pub envs: Vec<String>,
    /// Algorithms (see [`agents::ALGOS`]).
    pub algos: Vec<String>,
    /// Agent seeds `0..seeds`.
    pub seeds: u64,
    /// Gradient steps per run.
    pub steps: u64,
    /// Evaluate every this many steps (and after the last).
    pub eval_every: u64,
    /// Episodes per evaluation.
    pub episodes: usize,
    /// Seed of the first evaluation episode.
    pub eval_seed: u64,
    /// Episodes per evaluation that select the best evaluation (from seed
    /// `eval_seed + SELECTION_SEED_OFFSET`); `None`: as many as `episodes`;
    /// 0: no best.
    #[serde(default)]
    pub selection_episodes: Option<usize>,
    /// Which registry dataset of each environment.
    pub quality: Quality,
    /// Transitions (default: the registry's size).
    pub dataset_size: Option<usize>,
    /// Hidden-layer widths for every network (default: each paper's).
    pub hidden: Option<Vec<usize>>,
    /// `cpu`, `cuda`, `cuda:N` or `auto`.
    pub device: String,
    /// Runs trained at the same time (each on its own thread).
    pub jobs: usize,
    /// Threads of each run on the CPU (default: the cores shared out over
    /// the jobs, at least 1). `jobs × threads` more than the cores is an
    /// error unless `oversubscribe`.
    pub threads: Option<Threads>,
    /// Allow `jobs × threads` to exceed the cores.
    pub oversubscribe: bool,
    /// Dataset cache (default: [`crate::data::data_dir`]).
    #[serde(serialize_with = "crate::paths::serialize_opt")]
    pub data_dir: Option<PathBuf>,
    /// Hyper-parameters over the defaults ([`agents::Settings`]:
    /// `"combo.model_steps"` → 1000).
    pub settings: agents::Settings,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        ScoreConfig {
            envs: vec!["ChemicalReactor-v0".into()],
            algos: agents::ALGOS.iter().map(|s| s.to_string()).collect(),
            seeds: 3,
            steps: 10_000,
            eval_every: 2_000,
            episodes: 10,
            eval_seed: 10_000,
            selection_episodes: None,
            quality: Quality::Medium,
            dataset_size: None,
            hidden: None,
            device: "cpu".into(),
            jobs: 1,
            threads: None,
            oversubscribe: false,
            data_dir: None,
            settings: agents::Settings::new(),
        }
    }
}

/// Selection episodes start this far above the reported ones' first seed,
/// so the two sets never share an episode (an evaluation has at most
/// [`crate::eval::rollout::MAX_EPISODES`] episodes, far fewer).
pub const SELECTION_SEED_OFFSET: u64 = 1_000_000;

/// The selection episodes of an evaluation reported on `episodes` from
/// `eval_seed`: `selection` of them (default: `episodes`) from
/// `eval_seed + SELECTION_SEED_OFFSET`; `None` when there are none.
pub fn selection_options(
    episodes: usize,
    eval_seed: u64,
    selection: Option<usize>,
) -> Option<EvalOptions> {
    let n = selection.unwrap_or(episodes);
    (n > 0).then(|| EvalOptions::new(n).with_seed(eval_seed.wrapping_add(SELECTION_SEED_OFFSET)))
}

impl ScoreConfig {
    /// The threads of each run: `threads`, or the cores shared out over the
    /// jobs; an error when `jobs × threads` would exceed the cores and
    /// `oversubscribe` is not set.
    pub fn threads_per_run(&self) -> Result<Threads> {
        let cores = agents::device::cores();
        let jobs = self.jobs.max(1);
        let Some(t) = self.threads else {
            return Threads::new((cores / jobs).max(1));
        };
        if jobs.saturating_mul(t.get()) > cores && !self.oversubscribe {
            return Err(Error::InvalidArgument(format!(
                "{jobs} jobs × {t} threads is more than this machine's {cores} cores; use fewer jobs or threads (jobs × threads ≤ {cores}), or allow it with --oversubscribe"
            )));
        }
        Ok(t)
    }
}

/// One periodic evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalPoint {
    /// Gradient steps done.
    pub step: u64,
    pub normalized_score: f64,
    pub mean_return: f64,
    pub mean_cost: f64,
    pub hard_violations: usize,
    /// Normalized score on the selection episodes (`None`: not evaluated,
    /// or a record from before selection episodes).
    #[serde(default)]
    pub selection_score: Option<f64>,
}

/// How a run's "best" was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BestRule {
    /// The reported score at the highest selection score (separate episodes).
    Selected,
    /// The highest reported score: records from before selection episodes
    /// (optimistic, it selects on the episodes it reports).
    SameEpisodes,
    /// No best (`selection_episodes = 0`).
    None,
}

/// One (environment, algorithm, seed) run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub env: String,
    pub algo: String,
    pub seed: u64,
    pub evals: Vec<EvalPoint>,
    /// Normalized score of the last evaluation.
    pub last: f64,
    /// The best evaluation's reported normalized score, chosen by
    /// `best_rule`; NaN with [`BestRule::None`].
    pub best: f64,
    pub best_rule: BestRule,
    pub seconds: f64,
    /// Why the run failed (divergence…); it is left out of the table.
    pub error: Option<String>,
}

impl Run {
    /// A run from its evaluations: "last" is the final one's score; "best"
    /// the reported score at the highest selection score (the earliest on a
    /// tie) when every evaluation has one, else — an old record — the
    /// highest reported score (NaN when there are none).
    pub fn of(
        env: &str,
        algo: &str,
        seed: u64,
        evals: Vec<EvalPoint>,
        seconds: f64,
        error: Option<String>,
    ) -> Self {
        let scores: Vec<f64> = evals.iter().map(|p| p.normalized_score).collect();
        let all_selected = !evals.is_empty() && evals.iter().all(|p| p.selection_score.is_some());
        let (best, best_rule) = if all_selected {
            (
                selected_index(&evals).map_or(f64::NAN, |i| scores[i]),
                BestRule::Selected,
            )
        } else {
            (
                scores.iter().copied().fold(f64::NAN, f64::max),
                BestRule::SameEpisodes,
            )
        };
        Run {
            env: env.to_string(),
            algo: algo.to_string(),
            seed,
            last: scores.last().copied().unwrap_or(f64::NAN),
            best,
            best_rule,
            evals,
            seconds,
            error,
        }
    }

    /// The run without a best (`selection_episodes = 0`).
    pub fn without_best(mut self) -> Self {
        self.best = f64::NAN;
        self.best_rule = BestRule::None;
        self
    }
}

/// The evaluation with the highest selection score, the earliest on a tie
/// (NaN never wins); `None` when no evaluation has one.
pub fn selected_index(evals: &[EvalPoint]) -> Option<usize> {
    let mut at: Option<usize> = None;
    for (i, p) in evals.iter().enumerate() {
        let Some(s) = p.selection_score.filter(|s| !s.is_nan()) else {
            continue;
        };
        if at.is_none_or(|j| evals[j].selection_score.is_some_and(|b| s > b)) {
            at = Some(i);
        }
    }
    at
}

/// The data an environment's runs trained on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetScore {
    pub env: String,
    pub dataset: String,
    pub sha256: String,
    pub transitions: usize,
    /// Complete episodes (the file's last, possibly cut, episode excluded).
    pub episodes: usize,
    /// Normalized mean return of those episodes: the behaviour policy's score.
    pub behaviour_score: f64,
}

impl DatasetScore {
    /// What a table records about dataset `data` (registry id `id`) of
    /// environment `spec`.
    pub fn of(data: &Dataset, spec: &EnvSpec, id: &str) -> Self {
        let sha256 = BatchSource::source(data).map_or_else(String::new, |s| s.sha256);
        DatasetScore {
            env: spec.id.clone(),
            dataset: id.to_string(),
            sha256,
            transitions: data.len(),
            episodes: BatchSource::episode_returns(data).len(),
            behaviour_score: behaviour_score(data, spec),
        }
    }
}

/// One line of the table: an algorithm on an environment, over seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreRow {
    pub env: String,
    pub algo: String,
    /// Seeds that finished (failed runs are listed in `failed`).
    pub seeds: usize,
    pub last_mean: f64,
    pub last_std: f64,
    pub best_mean: f64,
    pub best_std: f64,
    pub behaviour_score: f64,
    pub failed: Vec<u64>,
}

/// A finished score table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreTable {
    pub config: ScoreConfig,
    pub datasets: Vec<DatasetScore>,
    pub rows: Vec<ScoreRow>,
    pub runs: Vec<Run>,
    pub seconds: f64,
    pub neorl_version: String,
}

/// Train `agent` on `data` for `steps` more steps in pieces of `eval_every`,
/// evaluating it in `env` with `opts` (and on the `selection` episodes, if
/// any) after each piece (and at the end). `on_piece(steps)` is called
/// after each piece (for progress).
#[allow(clippy::too_many_arguments)]
pub fn train_with_evals(
    agent: &mut dyn Agent,
    data: &dyn BatchSource,
    env: &mut Env,
    steps: u64,
    eval_every: u64,
    opts: &EvalOptions,
    selection: Option<&EvalOptions>,
    on_piece: &mut dyn FnMut(u64),
) -> Result<Vec<EvalPoint>> {
    if eval_every == 0 {
        return Err(Error::InvalidArgument(
            "eval_every must be at least 1".into(),
        ));
    }
    let mut points = vec![];
    let mut done = 0;
    while done < steps {
        let k = eval_every.min(steps - done);
        agents::train_loop_with(agent, data, k, false)?;
        done += k;
        points.push(eval_point(agent, env, opts, selection)?);
        on_piece(k);
    }
    Ok(points)
}

/// Evaluate `agent` in `env` with `opts` now, and on the `selection`
/// episodes if any: one [`EvalPoint`] at its current step.
pub fn eval_point(
    agent: &mut dyn Agent,
    env: &mut Env,
    opts: &EvalOptions,
    selection: Option<&EvalOptions>,
) -> Result<EvalPoint> {
    let r = evaluate(&mut agent.policy(), env, opts.clone())?;
    let selection_score = match selection {
        Some(s) => Some(evaluate(&mut agent.policy(), env, s.clone())?.normalized_score),
        None => None,
    };
    Ok(EvalPoint {
        selection_score,
        step: agent.steps_done(),
        normalized_score: r.normalized_score,
        mean_return: r.mean_return,
        mean_cost: r.mean_cost,
        hard_violations: r.hard_violations,
    })
}

/// The checkpoint manager's default metric ([`crate::agents::CheckpointManager`]):
/// the normalized score of `episodes` evaluation episodes of the agent's
/// deterministic policy in `env`, starting at seed `seed` (the same
/// episodes every time, so evaluations differ only by the agent). Higher is
/// better.
pub fn normalized_score_metric(env: &str, episodes: usize, seed: u64) -> Result<agents::Metric> {
    let mut env = crate::make(env)?;
    let opts = EvalOptions::new(episodes).with_seed(seed);
    check_episodes(episodes)?;
    Ok(agents::Metric::new("normalized_score", move |agent| {
        Ok(evaluate(&mut agent.policy(), &mut env, opts.clone())?.normalized_score)
    }))
}

/// The behaviour policy's normalized score: the mean return of the
/// dataset's complete episodes (all but a cut last one).
pub fn behaviour_score(data: &Dataset, spec: &EnvSpec) -> f64 {
    let r = BatchSource::episode_returns(data);
    if r.is_empty() {
        return f64::NAN;
    }
    spec.normalized_score(r.iter().sum::<f64>() / r.len() as f64)
}

/// Mean and (population) standard deviation; NaN for no values.
fn mean_std(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (
        m,
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt(),
    )
}

/// The most training runs (environments × algorithms × seeds) one table
/// takes: the full default table is 7 × 5 × 3 = 105.
pub const MAX_RUNS: u64 = 10_000;

/// Run the whole table (see the module docs).
pub fn score_table(cfg: &ScoreConfig) -> Result<ScoreTable> {
    let started = std::time::Instant::now();
    if cfg.envs.is_empty() || cfg.algos.is_empty() || cfg.seeds == 0 {
        return Err(Error::InvalidArgument(
            "a score table needs at least one environment, one algorithm and one seed".into(),
        ));
    }
    if cfg.steps == 0 || cfg.eval_every == 0 || cfg.episodes == 0 {
        return Err(Error::InvalidArgument(
            "steps, eval_every and episodes must be at least 1".into(),
        ));
    }
    check_episodes(cfg.episodes)?;
    if let Some(n @ 1..) = cfg.selection_episodes {
        check_episodes(n)?;
    }
    let runs = (cfg.envs.len() as u64)
        .saturating_mul(cfg.algos.len() as u64)
        .saturating_mul(cfg.seeds);
    if runs > MAX_RUNS {
        return Err(Error::InvalidArgument(format!(
            "a score table of {} environments × {} algorithms × {} seeds is {runs} training runs, more than the limit of {MAX_RUNS}; use fewer seeds (3 to 10 is usual)",
            cfg.envs.len(),
            cfg.algos.len(),
            cfg.seeds
        )));
    }
    let device = Device::parse(&cfg.device)?;
    let threads = cfg.threads_per_run()?;
    // Check every name before hours of training.
    let mut specs = vec![];
    for e in &cfg.envs {
        specs.push(crate::make(e)?.spec().clone());
    }
    let algos = cfg
        .algos
        .iter()
        .map(|a| agents::algo_name(a))
        .collect::<Result<Vec<_>>>()?;
    for a in &algos {
        agents::build_configured(a, &specs[0], 0, cfg.hidden.clone(), &cfg.settings, &device)?;
    }
    let store = match &cfg.data_dir {
        Some(d) => Store::with_dir(d)?,
        None => Store::open()?,
    };
    let mut data = vec![];
    let mut datasets = vec![];
    for spec in &specs {
        let id = DatasetEntry::make_id(&spec.id, cfg.quality);
        let d = store.load_sized(&id, cfg.dataset_size)?;
        datasets.push(DatasetScore::of(&d, spec, &id));
        data.push(d);
    }
    let tasks: Vec<(usize, String, u64)> = (0..specs.len())
        .flat_map(|e| {
            algos
                .iter()
                .flat_map(move |a| (0..cfg.seeds).map(move |s| (e, a.clone(), s)))
        })
        .collect();
    let progress = Mutex::new(Progress::new(
        "score table (steps)",
        (tasks.len() as u64).saturating_mul(cfg.steps),
    ));
    let run_one = |(e, algo, seed): &(usize, String, u64)| -> Run {
        let t0 = std::time::Instant::now();
        let spec = &specs[*e];
        let mut evals = vec![];
        let result = (|| -> Result<()> {
            // Each run gets a pool of its own: runs side by side do not
            // share (and wait for) each other's threads.
            let device = device.with_threads(threads);
            // Learning-rate schedules end where training ends.
            let settings = agents::with_planned_steps(&cfg.settings, cfg.steps);
            let mut agent = agents::build_configured(
                algo,
                spec,
                *seed,
                cfg.hidden.clone(),
                &settings,
                &device,
            )?;
            let mut env = crate::make(&spec.id)?;
            let opts = EvalOptions::new(cfg.episodes).with_seed(cfg.eval_seed);
            let selection = selection_options(cfg.episodes, cfg.eval_seed, cfg.selection_episodes);
            let mut tick = |k: u64| {
                if let Ok(mut p) = progress.lock() {
                    p.inc(k);
                }
            };
            evals = train_with_evals(
                agent.as_mut(),
                &data[*e],
                &mut env,
                cfg.steps,
                cfg.eval_every,
                &opts,
                selection.as_ref(),
                &mut tick,
            )?;
            Ok(())
        })();
        let run = Run::of(
            &spec.id,
            algo,
            *seed,
            evals,
            t0.elapsed().as_secs_f64(),
            result.err().map(|e| e.to_string()),
        );
        let run = match cfg.selection_episodes {
            Some(0) => run.without_best(),
            _ => run,
        };
        match &run.error {
            None => eprintln!(
                "{} {} seed {}: last {:.1}, best {:.1} ({:.0} s)",
                run.env, run.algo, run.seed, run.last, run.best, run.seconds
            ),
            Some(err) => eprintln!("{} {} seed {}: FAILED: {err}", run.env, run.algo, run.seed),
        }
        run
    };
    // `jobs` plain threads take the next run from a shared counter. (Not a
    // rayon pool: a rayon worker that waits for the evaluation's VecEnv
    // would run other runs' work meanwhile, which muddles their timings.)
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Run>>> = tasks.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..cfg.jobs.clamp(1, tasks.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(task) = tasks.get(i) else { break };
                    let run = run_one(task);
                    if let Ok(mut slot) = slots[i].lock() {
                        *slot = Some(run);
                    }
                }
            });
        }
    });
    let runs: Vec<Run> = slots
        .into_iter()
        .filter_map(|m| m.into_inner().ok().flatten())
        .collect();
    if let Ok(p) = progress.into_inner() {
        p.finish();
    }
    Ok(aggregate(
        cfg,
        datasets,
        &algos,
        runs,
        started.elapsed().as_secs_f64(),
    ))
}

/// The table of finished `runs`: one row per environment (in the order of
/// `datasets`) and algorithm (in the order of `algos`), mean ± std over the
/// runs that did not fail. A sweep's `collect` builds its tables with this
/// too, so both give the same numbers from the same runs.
pub fn aggregate(
    cfg: &ScoreConfig,
    datasets: Vec<DatasetScore>,
    algos: &[String],
    runs: Vec<Run>,
    seconds: f64,
) -> ScoreTable {
    let mut rows = vec![];
    for ds in &datasets {
        for algo in algos {
            let mine: Vec<&Run> = runs
                .iter()
                .filter(|r| r.env == ds.env && &r.algo == algo)
                .collect();
            let ok: Vec<&&Run> = mine.iter().filter(|r| r.error.is_none()).collect();
            let (last_mean, last_std) = mean_std(&ok.iter().map(|r| r.last).collect::<Vec<_>>());
            let (best_mean, best_std) = mean_std(&ok.iter().map(|r| r.best).collect::<Vec<_>>());
            rows.push(ScoreRow {
                env: ds.env.clone(),
                algo: algo.clone(),
                seeds: ok.len(),
                last_mean,
                last_std,
                best_mean,
                best_std,
                behaviour_score: ds.behaviour_score,
                failed: mine
                    .iter()
                    .filter(|r| r.error.is_some())
                    .map(|r| r.seed)
                    .collect(),
            });
        }
    }
    ScoreTable {
        config: cfg.clone(),
        datasets,
        rows,
        runs,
        seconds,
        neorl_version: env!("CARGO_PKG_VERSION").into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs side by side share the cores out; more than the cores only
    /// when asked.
    #[test]
    fn jobs_times_threads_stays_within_the_cores() {
        let cores = agents::device::cores();
        let cfg = |jobs, threads: Option<usize>, oversubscribe| ScoreConfig {
            jobs,
            threads: threads.map(|t| Threads::new(t).unwrap()),
            oversubscribe,
            ..ScoreConfig::default()
        };
        assert_eq!(cfg(1, None, false).threads_per_run().unwrap().get(), cores);
        assert_eq!(
            cfg(cores + 1, None, false).threads_per_run().unwrap().get(),
            1
        );
        assert_eq!(cfg(1, Some(1), false).threads_per_run().unwrap().get(), 1);
        let e = cfg(2, Some(cores), false).threads_per_run().unwrap_err();
        assert!(e.to_string().contains("--oversubscribe"), "{e}");
        assert_eq!(
            cfg(2, Some(cores), true).threads_per_run().unwrap().get(),
            cores
        );
    }

    /// "best" is the reported score where the selection score is highest,
    /// the earliest on a tie; NaN selection scores never win.
    #[test]
    fn best_is_chosen_on_the_selection_episodes() {
        let p = |step, score: f64, sel: Option<f64>| EvalPoint {
            step,
            normalized_score: score,
            mean_return: 0.0,
            mean_cost: 0.0,
            hard_violations: 0,
            selection_score: sel,
        };
        let evals = vec![
            p(1, 90.0, Some(f64::NAN)),
            p(2, 10.0, Some(5.0)),
            p(3, 20.0, Some(5.0)),
            p(4, 80.0, Some(1.0)),
        ];
        let r = Run::of("E", "bc", 0, evals.clone(), 0.0, None);
        assert_eq!(
            (r.best, r.best_rule, r.last),
            (10.0, BestRule::Selected, 80.0)
        );
        assert_eq!(selected_index(&evals), Some(1));
        let r = r.without_best();
        assert!(r.best.is_nan() && r.best_rule == BestRule::None);
        let old: Vec<EvalPoint> = evals
            .into_iter()
            .map(|e| EvalPoint {
                selection_score: None,
                ..e
            })
            .collect();
        let r = Run::of("E", "bc", 0, old, 0.0, None);
        assert_eq!((r.best, r.best_rule), (90.0, BestRule::SameEpisodes));
    }

    #[test]
    fn mean_std_is_the_population_one() {
        assert_eq!(mean_std(&[1.0, 3.0]), (2.0, 1.0));
        assert!(mean_std(&[]).0.is_nan());
    }

    /// A tiny but complete table: two algorithms, two seeds, two
    /// evaluations each, on a small dataset in a temporary cache. The same
    /// config run with 2 jobs gives the same numbers.
    #[test]
    fn a_tiny_table_is_complete_and_reproducible() {
        let dir = std::env::temp_dir().join(format!("neorl-scores-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = ScoreConfig {
            data_dir: Some(dir.clone()),
            envs: vec!["ChemicalReactor-v0".into()],
            algos: vec!["bc".into(), "td3bc".into()],
            seeds: 2,
            steps: 6,
            eval_every: 3,
            episodes: 2,
            dataset_size: Some(3_000),
            hidden: Some(vec![8, 8]),
            settings: [("td3bc.batch_size".to_string(), serde_json::json!(32))].into(),
            ..ScoreConfig::default()
        };
        let t = score_table(&cfg).unwrap();
        assert_eq!(t.runs.len(), 4);
        assert_eq!(t.rows.len(), 2);
        for r in &t.runs {
            assert_eq!(r.error, None);
            assert_eq!(r.evals.iter().map(|p| p.step).collect::<Vec<_>>(), [3, 6]);
            assert_eq!(r.last, r.evals[1].normalized_score);
            assert!(r.best >= r.last);
        }
        for row in &t.rows {
            assert_eq!(row.seeds, 2);
            let runs: Vec<f64> = t
                .runs
                .iter()
                .filter(|r| r.algo == row.algo)
                .map(|r| r.last)
                .collect();
            assert_eq!((row.last_mean, row.last_std), mean_std(&runs));
            assert!(row.behaviour_score.is_finite());
        }
        let d = &t.datasets[0];
        assert_eq!(d.dataset, "ChemicalReactor-medium-v0");
        assert_eq!((d.transitions, d.sha256.len()), (3_000, 64));
        let t2 = score_table(&ScoreConfig { jobs: 2, ..cfg }).unwrap();
        assert_eq!(t.rows, t2.rows);
        let out = dir.join("out");
        let files = t.write(&out).unwrap();
        assert_eq!(files.len(), 3);
        let md = std::fs::read_to_string(&files[0]).unwrap();
        assert!(md.contains("| ChemicalReactor-v0 | td3bc |"), "{md}");
        assert!(md.contains(&d.sha256));
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&files[1]).unwrap()).unwrap();
        assert_eq!(json["rows"].as_array().unwrap().len(), 2);
        assert!(
            t.to_html()
                .contains("<td style=\"text-align:left;padding:0 0.6em\">bc</td>")
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn bad_configs_are_refused_before_training() {
        let e = score_table(&ScoreConfig {
            algos: vec!["ppo".into()],
            ..ScoreConfig::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("unknown algorithm 'ppo'") && e.contains("td3bc"),
            "{e}"
        );
        let e = score_table(&ScoreConfig {
            envs: vec!["Nope-v0".into()],
            ..ScoreConfig::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("Nope-v0"), "{e}");
        let e = score_table(&ScoreConfig {
            settings: [("td3bc.alpah".to_string(), serde_json::json!(1.0))].into(),
            ..ScoreConfig::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("td3bc has no setting 'alpah'") && e.contains("alpha"),
            "{e}"
        );
        assert!(
            score_table(&ScoreConfig {
                seeds: 0,
                ..ScoreConfig::default()
            })
            .is_err()
        );
    }
}
