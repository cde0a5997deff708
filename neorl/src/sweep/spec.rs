//! A sweep spec: the TOML file a user writes (`neorl sweep init` prints a
//! commented example). It is read strictly — an unknown field is an error
//! that names it — and checked whole by [`SweepSpec::check`] before anything
//! is planned, so a bad spec fails at `plan`, with the field named, and not
//! hours later on a cluster node.

use crate::agents::{self, Settings};
use crate::data::Quality;
use crate::error::{Error, Result};
use crate::eval::rollout::check_episodes;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The most tasks one sweep plans (a SLURM array's usual `MaxArraySize` is
/// 1001; larger sweeps are split or the site raises it).
pub const MAX_TASKS: usize = 100_000;

/// What to run: algorithms × environments × dataset qualities × sizes ×
/// seeds, each trained and evaluated by one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// A name for the sweep (the MLflow parent run's name, the SLURM job's).
    pub name: String,
    /// Algorithms (see [`agents::ALGOS`]).
    pub algorithms: Vec<String>,
    /// Environment ids.
    pub environments: Vec<String>,
    /// Registry dataset qualities: random, medium, expert, mixed (and low, protocol v1 only).
    #[serde(default = "default_qualities")]
    pub qualities: Vec<Quality>,
    /// Transitions per dataset; empty: the registry's size.
    #[serde(default)]
    pub sizes: Vec<usize>,
    /// Agent seeds `0..seeds`.
    pub seeds: u64,
    /// Gradient steps per task.
    pub steps: u64,
    /// Hidden-layer widths for every network (default: each paper's).
    #[serde(default)]
    pub hidden: Option<Vec<usize>>,
    /// `cpu`, `cuda`, `cuda:N` or `auto`.
    #[serde(default = "default_device")]
    pub device: String,
    /// CPU threads per task (SLURM's `--cpus-per-task`).
    #[serde(default = "one")]
    pub threads: usize,
    /// Write a checkpoint every this many steps (default: every evaluation).
    #[serde(default)]
    pub checkpoint_every: Option<u64>,
    /// Keep this many checkpoints of each task in `checkpoint/checkpoints/`
    /// besides the latest (default: the latest only, no history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_last: Option<usize>,
    /// Keep each task's checkpoint of the highest normalized score among its
    /// evaluations in `checkpoint/best/`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_best: bool,
    /// Dataset cache (default: `NEORL_DATA_DIR` or the user's cache, as
    /// resolved at `plan`; on a cluster it must be on a shared file system).
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    #[serde(default)]
    pub evaluation: Evaluation,
    /// Hyper-parameters over the papers' defaults: `[set]` `key = value`
    /// for every algorithm, `[set.ALGO]` for one.
    #[serde(default)]
    pub set: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub slurm: SlurmSpec,
    #[serde(default)]
    pub tracking: TrackingSpec,
}

/// When and how each task is evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evaluation {
    /// Evaluate every this many steps, and after the last (default: steps / 5).
    #[serde(default)]
    pub every: Option<u64>,
    /// Episodes per evaluation.
    #[serde(default = "ten")]
    pub episodes: usize,
    /// Seed of the first evaluation episode.
    #[serde(default = "eval_seed")]
    pub seed: u64,
    /// Episodes per evaluation on which the best evaluation is selected,
    /// from seed `seed + 1_000_000` (disjoint from the reported ones);
    /// default: `episodes`; 0: no best is reported.
    #[serde(default)]
    pub selection_episodes: Option<usize>,
}

impl Default for Evaluation {
    fn default() -> Self {
        Evaluation {
            every: None,
            episodes: 10,
            seed: 10_000,
            selection_episodes: None,
        }
    }
}

/// How the SLURM job array is shaped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurmSpec {
    /// Wall-clock limit per task, `[D-]HH:MM:SS` or minutes.
    #[serde(default = "default_time")]
    pub time: String,
    /// Tasks running at once (`--array=…%P`); 0: no limit.
    #[serde(default)]
    pub parallel: usize,
    /// Seconds before the time limit at which SLURM sends SIGTERM, so the
    /// task checkpoints and stops cleanly (`--signal=B:TERM@S`).
    #[serde(default = "signal_seconds")]
    pub signal_seconds: u64,
    /// More `#SBATCH` options, as given (`--account=…`, `--partition=…`, `--qos=…`).
    #[serde(default)]
    pub sbatch_args: Vec<String>,
}

impl Default for SlurmSpec {
    fn default() -> Self {
        SlurmSpec {
            time: default_time(),
            parallel: 0,
            signal_seconds: signal_seconds(),
            sbatch_args: vec![],
        }
    }
}

/// Where the runs go (default: `MLFLOW_TRACKING_URI`, else a local store
/// `DIR/mlruns` inside the sweep folder).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackingSpec {
    /// `http(s)://host:port` or a folder.
    #[serde(default)]
    pub uri: Option<String>,
    /// MLflow experiment (default: `MLFLOW_EXPERIMENT_NAME`, else neorl).
    #[serde(default)]
    pub experiment: Option<String>,
}

fn default_qualities() -> Vec<Quality> {
    vec![Quality::Medium]
}
fn default_device() -> String {
    "cpu".into()
}
fn default_time() -> String {
    "04:00:00".into()
}
fn one() -> usize {
    1
}
fn ten() -> usize {
    10
}
fn eval_seed() -> u64 {
    10_000
}
fn signal_seconds() -> u64 {
    120
}

fn bad(field: &str, why: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!("sweep spec: `{field}` {why}"))
}

impl SweepSpec {
    /// Selection episodes per evaluation: `evaluation.selection_episodes`,
    /// else as many as the reported ones.
    pub fn selection_episodes(&self) -> usize {
        self.evaluation
            .selection_episodes
            .unwrap_or(self.evaluation.episodes)
    }
    /// Read and check a spec file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = crate::limits::read_text_at_most(path, 1 << 20, "a sweep spec (TOML)")?;
        Self::parse(&text).map_err(|e| Error::InvalidArgument(format!("{}: {e}", path.display())))
    }

    /// Parse and check a spec's text.
    pub fn parse(text: &str) -> Result<Self> {
        let spec: SweepSpec = toml::from_str(text).map_err(|e| {
            Error::InvalidArgument(format!(
                "sweep spec: {}(`neorl sweep init` prints a commented example)",
                e.to_string().trim_end().to_string() + " "
            ))
        })?;
        spec.check()?;
        Ok(spec)
    }

    /// Evaluate every this many steps.
    pub fn eval_every(&self) -> u64 {
        self.evaluation.every.unwrap_or((self.steps / 5).max(1))
    }

    /// Checkpoint every this many steps.
    pub fn checkpoint_every(&self) -> u64 {
        self.checkpoint_every.unwrap_or_else(|| self.eval_every())
    }

    /// Dataset sizes, `None` standing for the registry's.
    pub fn dataset_sizes(&self) -> Vec<Option<usize>> {
        if self.sizes.is_empty() {
            vec![None]
        } else {
            self.sizes.iter().map(|&n| Some(n)).collect()
        }
    }

    /// The canonical algorithm names.
    pub fn algos(&self) -> Result<Vec<String>> {
        self.algorithms
            .iter()
            .map(|a| agents::algo_name(a).map_err(|e| bad("algorithms", e)))
            .collect()
    }

    /// `[set]` as agent [`Settings`]: `"key"` for all algorithms,
    /// `"algo.key"` for one.
    pub fn settings(&self) -> Result<Settings> {
        let mut out = Settings::new();
        let json = |field: &str, v: &toml::Value| {
            serde_json::to_value(v).map_err(|e| bad(field, format!("is not a plain value: {e}")))
        };
        for (k, v) in &self.set {
            match v {
                toml::Value::Table(t) => {
                    let algo = agents::algo_name(k).map_err(|e| {
                        bad(
                            &format!("set.{k}"),
                            format!("is a table, so it must name an algorithm: {e}"),
                        )
                    })?;
                    for (key, value) in t {
                        out.insert(
                            format!("{algo}.{key}"),
                            json(&format!("set.{k}.{key}"), value)?,
                        );
                    }
                }
                other => {
                    out.insert(k.clone(), json(&format!("set.{k}"), other)?);
                }
            }
        }
        Ok(out)
    }

    /// Every field's rule, each error naming its field.
    pub fn check(&self) -> Result<()> {
        if self.name.trim().is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(bad(
                "name",
                format!(
                    "'{}' must be non-empty letters, digits, '-', '_' or '.' (it names the SLURM job and the MLflow run)",
                    self.name
                ),
            ));
        }
        if self.algorithms.is_empty() {
            return Err(bad(
                "algorithms",
                format!("is empty; list one or more of {}", agents::ALGOS.join(", ")),
            ));
        }
        let algos = self.algos()?;
        if self.environments.is_empty() {
            return Err(bad("environments", "is empty; `neorl envs` lists the ids"));
        }
        let mut specs = vec![];
        for e in &self.environments {
            specs.push(
                crate::make(e)
                    .map_err(|err| bad("environments", err))?
                    .spec()
                    .clone(),
            );
        }
        if self.qualities.is_empty() {
            return Err(bad("qualities", "is empty; use e.g. [\"medium\"]"));
        }
        // (Not checked against this machine's memory: the tasks run on
        // other machines; each checks its own when it loads the data.)
        for (i, &n) in self.sizes.iter().enumerate() {
            if n == 0 {
                return Err(bad(
                    &format!("sizes[{i}]"),
                    "is 0; a dataset needs transitions",
                ));
            }
        }
        if self.seeds == 0 {
            return Err(bad("seeds", "is 0; use 1 or more (3 to 10 is usual)"));
        }
        if self.steps == 0 {
            return Err(bad("steps", "is 0; train at least 1 gradient step"));
        }
        if self.evaluation.every == Some(0) {
            return Err(bad(
                "evaluation.every",
                "is 0; evaluate every 1 or more steps",
            ));
        }
        check_episodes(self.evaluation.episodes).map_err(|e| bad("evaluation.episodes", e))?;
        if let Some(n @ 1..) = self.evaluation.selection_episodes {
            check_episodes(n).map_err(|e| bad("evaluation.selection_episodes", e))?;
        }
        if self.checkpoint_every == Some(0) {
            return Err(bad(
                "checkpoint_every",
                "is 0; checkpoint every 1 or more steps",
            ));
        }
        if self.keep_last == Some(0) {
            return Err(bad(
                "keep_last",
                "is 0; keep at least 1 checkpoint (or leave it out to keep only the latest)",
            ));
        }
        if self.threads == 0 || self.threads > 1024 {
            return Err(bad(
                "threads",
                format!("is {}; use 1 to 1024", self.threads),
            ));
        }
        if let Some(h) = &self.hidden
            && (h.is_empty() || h.contains(&0))
        {
            return Err(bad(
                "hidden",
                format!("{h:?} needs one or more widths, each at least 1"),
            ));
        }
        agents::Device::parse(&self.device).map_err(|e| bad("device", e))?;
        let settings = self.settings()?;
        // Also the algorithms that `[set.ALGO]` names but the sweep does not
        // run: a misspelt setting is caught either way.
        let mut checked = algos.clone();
        for (k, v) in &self.set {
            if v.is_table() {
                let a = agents::algo_name(k).map_err(|e| bad(&format!("set.{k}"), e))?;
                if !checked.contains(&a) {
                    checked.push(a);
                }
            }
        }
        // With the plan the tasks will have (a warm-up longer than it is refused).
        let planned = agents::with_planned_steps(&settings, self.steps);
        for a in &checked {
            agents::build_configured(
                a,
                &specs[0],
                0,
                self.hidden.clone(),
                &planned,
                &agents::Device::cpu(),
            )
            .map_err(|e| bad("set", e))?;
        }
        parse_time(&self.slurm.time).map_err(|e| bad("slurm.time", e))?;
        for (i, a) in self.slurm.sbatch_args.iter().enumerate() {
            if !a.starts_with('-') || a.contains('\n') {
                return Err(bad(
                    &format!("slurm.sbatch_args[{i}]"),
                    format!("'{a}' is not one sbatch option (e.g. \"--partition=cpu\")"),
                ));
            }
        }
        if let Some(u) = &self.tracking.uri {
            crate::track::Target::parse(u).map_err(|e| bad("tracking.uri", e))?;
        }
        let tasks = (self.environments.len() as u128)
            * (self.qualities.len() as u128)
            * (self.dataset_sizes().len() as u128)
            * (algos.len() as u128)
            * (self.seeds as u128);
        if tasks > MAX_TASKS as u128 {
            return Err(bad(
                "seeds",
                format!(
                    "gives {tasks} tasks in all (environments × qualities × sizes × algorithms × seeds), more than the limit of {MAX_TASKS}; split the sweep"
                ),
            ));
        }
        Ok(())
    }
}

/// Check a SLURM time limit: minutes, `MM:SS`, `HH:MM:SS`, `D-HH`,
/// `D-HH:MM` or `D-HH:MM:SS`; gives it in minutes.
pub fn parse_time(t: &str) -> Result<u64> {
    let bad = || {
        Error::InvalidArgument(format!(
            "'{t}' is not a SLURM time limit; use minutes (\"90\"), \"HH:MM:SS\" or \"D-HH:MM:SS\""
        ))
    };
    let num = |s: &str| s.parse::<u64>().map_err(|_| bad());
    let (days, rest) = match t.split_once('-') {
        Some((d, r)) => (num(d)?, Some(r)),
        None => (0, None),
    };
    let minutes = match rest {
        Some(r) => {
            let p: Vec<&str> = r.split(':').collect();
            match p.as_slice() {
                [h] => num(h)? * 60,
                [h, m] => num(h)? * 60 + num(m)?,
                [h, m, s] => num(h)? * 60 + num(m)? + num(s)?.div_ceil(60),
                _ => return Err(bad()),
            }
        }
        None => {
            let p: Vec<&str> = t.split(':').collect();
            match p.as_slice() {
                [m] => num(m)?,
                [m, s] => num(m)? + num(s)?.div_ceil(60),
                [h, m, s] => num(h)? * 60 + num(m)? + num(s)?.div_ceil(60),
                _ => return Err(bad()),
            }
        }
    };
    let total = days * 24 * 60 + minutes;
    if total == 0 {
        return Err(bad());
    }
    Ok(total)
}

/// The example `neorl sweep init` prints: every field, commented. `small`:
/// a sweep of a few minutes on a laptop.
pub fn example(small: bool) -> String {
    let (algos, seeds, steps, every, episodes, size, hidden, time) = if small {
        (
            "[\"bc\", \"td3bc\"]",
            2,
            300,
            100,
            2,
            "sizes = [5000]",
            "hidden = [32, 32]",
            "00:15:00",
        )
    } else {
        (
            "[\"bc\", \"td3bc\", \"iql\", \"cql\", \"combo\"]",
            5,
            1_000_000,
            5_000,
            10,
            "# sizes = [100000]",
            "# hidden = [256, 256]",
            "2-00:00:00",
        )
    };
    format!(
        r#"# A neorl sweep: every algorithm × environment × quality × size × seed is
# one task (trained, evaluated and logged as an MLflow child run).
#   neorl sweep plan spec.toml --out sweeps/NAME    # manifest, parent run, sweep.sbatch
#   neorl sweep submit sweeps/NAME                  # on a SLURM cluster (sbatch)
#   neorl sweep run-local sweeps/NAME --jobs 2      # or here
#   neorl sweep status sweeps/NAME
#   neorl sweep collect sweeps/NAME                 # scores.md, scores.json, scores.html

name = "{name}"
algorithms = {algos}           # bc, td3bc, iql, cql, combo
environments = ["ChemicalReactor-v0"]   # `neorl envs` lists them
qualities = ["medium"]          # registry datasets: random, medium, expert, mixed; low for -v1 envs
{size}                  # transitions per dataset (default: the registry's size)
seeds = {seeds}                       # agent seeds 0..seeds
steps = {steps}                   # gradient steps per task
{hidden}              # hidden-layer widths (default: each paper's)
device = "cpu"                  # cpu, cuda, cuda:N, auto
threads = 1                     # CPU threads per task (SLURM --cpus-per-task)
# checkpoint_every = {every}      # default: at every evaluation
# keep_last = 3                 # keep the newest 3 checkpoints of each task (default: the latest only)
# keep_best = true              # keep each task's checkpoint of the best evaluation
# data_dir = "/shared/neorl-data"   # dataset cache; on a cluster, a shared file system

[evaluation]
every = {every}                   # evaluate every this many steps, and after the last
episodes = {episodes}                  # episodes per evaluation
seed = 10000                    # seed of the first evaluation episode
# selection_episodes = {episodes}       # episodes (from seed + 1000000) that select the best evaluation; default: episodes; 0: no best

# Hyper-parameters over the papers' defaults: key = value for all algorithms,
# [set.ALGO] for one (`neorl train --help` lists where they come from).
[set]
# batch_size = 256
[set.td3bc]
# alpha = 2.5

[slurm]
time = "{time}"            # wall-clock limit per task
parallel = 0                    # tasks at once (--array=…%P); 0: no limit
signal_seconds = 120            # SIGTERM this long before the limit: checkpoint and stop
sbatch_args = []                # site policy, e.g. ["--account=lab", "--partition=cpu", "--qos=normal"]

[tracking]
# uri = "http://mlflow.example.org:5000"   # default: $MLFLOW_TRACKING_URI, else DIR/mlruns
# experiment = "neorl-sweeps"               # default: $MLFLOW_EXPERIMENT_NAME, else neorl
"#,
        name = if small { "small-sweep" } else { "sweep" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_limits() {
        assert_eq!(parse_time("90").unwrap(), 90);
        assert_eq!(parse_time("01:30:00").unwrap(), 90);
        assert_eq!(parse_time("2-00:00:00").unwrap(), 2880);
        assert_eq!(parse_time("1-2").unwrap(), 1560);
        assert_eq!(parse_time("10:30").unwrap(), 11);
        for bad in ["", "forever", "1:2:3:4", "0", "-5", "1h"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn both_examples_are_valid_specs() {
        for small in [false, true] {
            let s = SweepSpec::parse(&example(small)).unwrap();
            assert_eq!(s.environments, ["ChemicalReactor-v0"]);
            assert_eq!(s.eval_every(), s.evaluation.every.unwrap());
        }
        let s = SweepSpec::parse(&example(true)).unwrap();
        assert_eq!((s.seeds, s.steps, s.sizes.clone()), (2, 300, vec![5000]));
    }

    fn err(text: &str) -> String {
        SweepSpec::parse(text).unwrap_err().to_string()
    }

    const OK: &str = "name = \"t\"\nalgorithms = [\"bc\"]\nenvironments = [\"ChemicalReactor-v0\"]\nseeds = 1\nsteps = 10\n";

    #[test]
    fn bad_specs_name_the_field() {
        assert!(SweepSpec::parse(OK).is_ok());
        let e = err(&OK.replace("[\"bc\"]", "[\"ppo\"]"));
        assert!(
            e.contains("`algorithms`") && e.contains("unknown algorithm 'ppo'"),
            "{e}"
        );
        let e = err(&OK.replace("ChemicalReactor-v0", "Nope-v0"));
        assert!(e.contains("`environments`") && e.contains("Nope-v0"), "{e}");
        let e = err(&OK.replace("seeds = 1", "seeds = 0"));
        assert!(e.contains("`seeds` is 0"), "{e}");
        let e = err(&format!("{OK}stepz = 3\n"));
        assert!(e.contains("stepz") && e.contains("sweep init"), "{e}");
        let e = err(&format!("{OK}[set.td3bc]\nalpah = 1.0\n"));
        assert!(
            e.contains("`set`") && e.contains("no setting 'alpah'"),
            "{e}"
        );
        // A recipe's part by a quoted dotted key, checked against the
        // plan the tasks will have (steps = 10).
        let e = err(&format!("{OK}[set]\n\"optim.warmup_steps\" = 20\n"));
        assert!(
            e.contains("`set`") && e.contains("optim.warmup_steps = 20") && e.contains("0 to 10"),
            "{e}"
        );
        let e = err(&format!("{OK}[set.nope]\nx = 1\n"));
        assert!(e.contains("`set.nope`"), "{e}");
        let e = err(&format!("{OK}[slurm]\ntime = \"forever\"\n"));
        assert!(e.contains("`slurm.time`"), "{e}");
        let e = err(&format!("{OK}[evaluation]\nevery = 0\n"));
        assert!(e.contains("`evaluation.every`"), "{e}");
        let e = err(&OK.replace("name = \"t\"", "name = \"a b\""));
        assert!(e.contains("`name`"), "{e}");
    }

    #[test]
    fn settings_for_all_and_for_one_algorithm() {
        let s = SweepSpec::parse(&format!(
            "{OK}[set]\nbatch_size = 32\n[set.\"TD3+BC\"]\nalpha = 2.0\n"
        ))
        .unwrap();
        let set = s.settings().unwrap();
        assert_eq!(set["batch_size"], serde_json::json!(32));
        assert_eq!(set["td3bc.alpha"], serde_json::json!(2.0));
    }
}
