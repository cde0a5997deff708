//! Reproducible dataset generation with the plants' controllers and
//! [`VecEnv`].
//!
//! ## Recipe (generator `neorl-datagen/1`)
//!
//! 1. `L = lanes_for(transitions, horizon)` environments run side by side in
//!    a `VecEnv` (lane `l`'s environment is seeded `seed + l`; its RNG stream
//!    continues across the lane's episodes), with default options (sensor
//!    noise and disturbances on). `L` depends only on the requested size and
//!    the horizon, never on the machine, so the data does not either.
//! 2. Each lane has its own policy instance. Lane `l`'s behaviour policy is
//!    the quality's controller; for `mixed` it is `[random, medium,
//!    expert][l % 3]` (`L` is always a multiple of 3), so each of the three
//!    contributes about a third of the transitions (all lanes step together).
//!    At the start of its `k`-th episode the policy is reset with
//!    [`episode_seed`]`(seed, l, k)`.
//! 3. Every step, each lane records `observations` (before the step), the
//!    applied `actions` (clipped to the actuator bounds, as the plant applies
//!    them), `rewards`, `costs`, `terminals = terminated` (hard breach or true
//!    terminal), `timeouts = truncated` (time limit), `next_observations`
//!    (the observation after the step: the final one for an episode's last
//!    step, never the autoreset one) and each constraint's value and
//!    violation flag after the step.
//! 4. Finished episodes are appended in order of (step they finished, lane).
//!    The first episode that does not fit in the remaining room is cut to
//!    fit and its last kept step gets `timeouts = 1`, as D4RL does; so a
//!    file has exactly the requested number of transitions, and only its
//!    last episode can end in a time-out shorter than the horizon. Episodes
//!    still running then are discarded.
//!
//! All arithmetic is IEEE with the pure-Rust `libm` (in the models), all
//! randomness seeded ChaCha8, and nothing depends on thread scheduling: the
//! same id, size and seed give bit-identical arrays on any machine.
//!
//! ## Recipe `neorl-datagen/2` (protocol v1)
//!
//! Steps 1, 3 and 4 as above; step 2 differs: the behaviour policy of every
//! lane is a member of [`super::behavior`]'s family, the expert with a
//! fraction ε of its steps replaced by uniform random actions, and the
//! recipe names the ε of each lane: `epsilons = [ε₀, …, ε_{k−1}]`, lane `l`
//! runs `ε_{l mod k}` (`k` is 1 or 3; `L` is a multiple of 3, so each ε
//! runs on the same number of lanes). A single-level dataset has one ε (1
//! for `random`, the calibrated one for `low`, `medium`, `expert`); `mixed`
//! has three (`[1, ε_low, ε_medium]`). The registry stores the ε with the
//! entry ([`super::registry`]), so the recipe is reproducible without
//! recalibrating.

use super::behavior::DegradedExpert;
use super::dataset::{Columns, Dataset, Metadata};
use crate::control::{PolicyKind, make_policy};
use crate::env::{EnvOptions, EnvSpec, VecEnv, model};
use crate::error::{Error, Result};
use crate::limits::{bytes_for, check_memory};
use crate::policy::Policy;
use crate::progress::Progress;
use serde::{Deserialize, Serialize};

/// Generator name and version written into every file. Bump the version
/// whenever a change to this recipe changes the bytes it produces.
pub const GENERATOR: &str = "neorl-datagen/1";

/// The protocol-v1 recipe (the ε-degraded expert family); the version of
/// registry entries that carry `epsilons`.
pub const GENERATOR_V1: &str = "neorl-datagen/2";

/// Dataset quality: which behaviour policy generated the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quality {
    /// Uniform random actions over the actuator bounds.
    Random,
    /// Protocol v1 only: the ε-degraded expert calibrated to a normalized
    /// score of about 25.
    Low,
    /// The expert's structure with detuned gains and actuator noise.
    Medium,
    /// The plant's own controller.
    Expert,
    /// A third of the lanes each of random, medium and expert.
    Mixed,
}

impl Quality {
    /// The `-v0` registry's qualities (generator `neorl-datagen/1`).
    pub const ALL: [Quality; 4] = [
        Quality::Random,
        Quality::Medium,
        Quality::Expert,
        Quality::Mixed,
    ];

    /// Protocol v1's qualities (generator `neorl-datagen/2`).
    pub const V1: [Quality; 5] = [
        Quality::Random,
        Quality::Low,
        Quality::Medium,
        Quality::Expert,
        Quality::Mixed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Random => "random",
            Quality::Low => "low",
            Quality::Medium => "medium",
            Quality::Expert => "expert",
            Quality::Mixed => "mixed",
        }
    }

    /// Behaviour policy of lane `lane` in the `neorl-datagen/1` recipe
    /// (`low` has none there: it is generated from the v1 family only, and
    /// [`generate`] refuses it without `epsilons`).
    pub fn lane_policy(self, lane: usize) -> PolicyKind {
        match self {
            Quality::Random => PolicyKind::Random,
            Quality::Low | Quality::Medium => PolicyKind::Medium,
            Quality::Expert => PolicyKind::Expert,
            Quality::Mixed => {
                [PolicyKind::Random, PolicyKind::Medium, PolicyKind::Expert][lane % 3]
            }
        }
    }
}

impl std::fmt::Display for Quality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for Quality {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Quality::V1
            .into_iter()
            .find(|q| q.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "unknown dataset quality '{s}'; choose one of: random, low (protocol v1 only), medium, expert, mixed"
                ))
            })
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateConfig {
    /// Environment id, e.g. `"SupplyChain-v0"`.
    pub env_id: String,
    pub quality: Quality,
    /// Exact number of transitions.
    pub transitions: usize,
    pub seed: u64,
    /// Threads for stepping (the result does not depend on it).
    pub threads: usize,
    /// Registry id written into the metadata (may be empty).
    pub dataset_id: String,
    /// `None`: the `neorl-datagen/1` recipe (the quality's controllers).
    /// `Some(ε per lane)`: the `neorl-datagen/2` recipe, lane `l` running
    /// the expert degraded by `epsilons[l % epsilons.len()]` (1 or 3 values).
    pub epsilons: Option<Vec<f64>>,
}

impl GenerateConfig {
    pub fn new(env_id: &str, quality: Quality, transitions: usize, seed: u64) -> Self {
        GenerateConfig {
            env_id: env_id.to_string(),
            quality,
            transitions,
            seed,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            dataset_id: String::new(),
            epsilons: None,
        }
    }

    /// The generator this configuration's recipe is.
    pub fn generator(&self) -> &'static str {
        match self.epsilons {
            None => GENERATOR,
            Some(_) => GENERATOR_V1,
        }
    }
}

/// Check a v1 recipe's per-lane ε list: 1 or 3 values, each in `[0, 1]`.
pub fn check_epsilons(epsilons: &[f64], what: &str) -> Result<()> {
    if !matches!(epsilons.len(), 1 | 3) {
        return Err(Error::InvalidArgument(format!(
            "{what}: epsilons must hold 1 value (one behaviour) or 3 (a mixed dataset's thirds of the lanes), got {}",
            epsilons.len()
        )));
    }
    for &e in epsilons {
        super::behavior::check_epsilon(e, what)?;
    }
    Ok(())
}

/// Number of parallel lanes: `3 × clamp(round(transitions / (24 × horizon)), 1, 16)`,
/// i.e. about 8 episodes per lane, always a multiple of 3, at most 48.
pub fn lanes_for(transitions: usize, horizon: usize) -> usize {
    let per = (transitions as f64 / (24.0 * horizon.max(1) as f64)).round() as usize;
    3 * per.clamp(1, 16)
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Seed of the policy for episode `k` of lane `lane`:
/// `splitmix64(splitmix64(seed) ^ (lane << 32 | k))`.
pub fn episode_seed(seed: u64, lane: usize, k: u64) -> u64 {
    splitmix64(splitmix64(seed) ^ (((lane as u64) << 32) | (k & 0xFFFF_FFFF)))
}

/// Generate a dataset.
pub fn generate(cfg: &GenerateConfig) -> Result<Dataset> {
    let n = cfg.transitions;
    if n == 0 {
        return Err(Error::InvalidArgument(
            "a dataset needs at least one transition (size must be ≥ 1)".into(),
        ));
    }
    let options = EnvOptions::default();
    let m = model(&cfg.env_id, options)?;
    let spec = m.spec().clone();
    check_fits(
        &spec,
        n,
        &format!("a dataset of {n} {} transitions", spec.id),
        "generate a smaller dataset (a smaller size)",
    )?;
    let (od, ad, nc) = (spec.obs_dim(), spec.act_dim(), spec.n_constraints());
    let lanes = lanes_for(n, spec.horizon);
    let mut venv = VecEnv::new(m, lanes, cfg.seed, cfg.threads)?;
    let mut policies: Vec<Box<dyn Policy>> = match &cfg.epsilons {
        None if cfg.quality == Quality::Low => {
            return Err(Error::InvalidArgument(format!(
                "quality 'low' exists only in the protocol-v1 recipe ({GENERATOR_V1}): give its epsilons (registry entries <Env>-low-v1 carry them)"
            )));
        }
        None => (0..lanes)
            .map(|l| make_policy(&spec, cfg.quality.lane_policy(l)))
            .collect::<Result<_>>()?,
        Some(eps) => {
            check_epsilons(eps, &spec.id)?;
            (0..lanes)
                .map(|l| {
                    let e = eps[l % eps.len()];
                    Ok(Box::new(DegradedExpert::new(&spec, e)?) as Box<dyn Policy>)
                })
                .collect::<Result<_>>()?
        }
    };
    let mut episode = vec![0u64; lanes];
    for (l, p) in policies.iter_mut().enumerate() {
        p.reset(episode_seed(cfg.seed, l, 0));
    }
    let names: Vec<String> = spec.constraints.iter().map(|c| c.name.clone()).collect();
    let mut bufs: Vec<Columns> = (0..lanes)
        .map(|_| Columns::with_capacity(od, ad, &names, spec.horizon))
        .collect();
    let mut out = Columns::with_capacity(od, ad, &names, n);
    let mut actions = vec![0f32; lanes * ad];
    let low: Vec<f64> = spec.action_low();
    let high: Vec<f64> = spec.action_high();
    let label = if cfg.dataset_id.is_empty() {
        format!("{}-{}", spec.id, cfg.quality)
    } else {
        cfg.dataset_id.clone()
    };
    let mut progress = Progress::new(format!("generating {label}"), n as u64);
    'outer: while out.len() < n {
        let obs = venv.observations();
        for l in 0..lanes {
            let o = &obs[l * od..(l + 1) * od];
            let a = &mut actions[l * ad..(l + 1) * ad];
            policies[l].act(o, a).map_err(|e| Error::Policy {
                policy: policies[l].name(),
                reason: e.to_string(),
            })?;
            let b = &mut bufs[l];
            b.observations.extend_from_slice(o);
            for (j, &x) in a.iter().enumerate() {
                // As the environment applies it (NaN is rejected by step()).
                let applied = if x.is_finite() {
                    (x as f64).clamp(low[j], high[j]) as f32
                } else {
                    x
                };
                b.actions.push(applied);
            }
        }
        venv.step(&actions)?;
        let (obs, fin, cv, outs) = (
            venv.observations(),
            venv.final_observations(),
            venv.constraint_values(),
            venv.outcomes(),
        );
        for l in 0..lanes {
            let r = &outs[l];
            let done = r.terminated || r.truncated;
            let b = &mut bufs[l];
            let next = if done { fin } else { obs };
            b.next_observations
                .extend_from_slice(&next[l * od..(l + 1) * od]);
            b.rewards.push(r.reward as f32);
            b.costs.push(r.cost as f32);
            b.terminals.push(r.terminated);
            b.timeouts.push(r.truncated);
            for (k, (col, c)) in b.constraints.iter_mut().zip(&spec.constraints).enumerate() {
                let v = cv[l * nc + k];
                col.values.push(v as f32);
                col.violations.push(c.violated(v));
            }
            if done {
                let room = n - out.len();
                let len = b.len();
                let before = out.len();
                out.extend_from(b, 0..len.min(room));
                if len > room {
                    // Cut to fit: the last kept step becomes a time-out.
                    *out.timeouts.last_mut().expect("room > 0") = true;
                    *out.terminals.last_mut().expect("room > 0") = false;
                }
                progress.inc((out.len() - before) as u64);
                b.truncate(0);
                episode[l] += 1;
                policies[l].reset(episode_seed(cfg.seed, l, episode[l]));
                if out.len() == n {
                    break 'outer;
                }
            }
        }
    }
    progress.finish();
    let behavior = describe_behavior(cfg.quality, &policies, cfg.epsilons.as_deref());
    let meta = Metadata {
        dataset_id: cfg.dataset_id.clone(),
        env_id: spec.id.clone(),
        quality: cfg.quality.as_str().into(),
        seed: Some(cfg.seed),
        generator: cfg.generator().into(),
        neorl_version: env!("CARGO_PKG_VERSION").into(),
        behavior_policy: behavior,
        ref_min_score: Some(spec.ref_random_return),
        ref_max_score: Some(spec.ref_expert_return),
        sensor_noise: Some(options.sensor_noise),
        disturbances: Some(options.disturbances),
        observation_names: spec.observations.iter().map(|d| d.name.clone()).collect(),
        action_names: spec.actions.iter().map(|d| d.name.clone()).collect(),
        layout: "neorl".into(),
        sha256: None,
        metadata_sha256: None,
    };
    let mut d = Dataset::new(meta, out)?;
    d.metadata_mut().sha256 = Some(super::checksum::content_sha256(&d));
    Ok(d)
}

/// Small datasets from one environment and one controller, for tests and
/// quick experiments with other controllers (the registry's datasets come
/// from [`generate`]).
impl Dataset {
    /// Roll out controller `kind` on `env_id` (default options) for whole
    /// episodes until there are at least `transitions` steps; episode `k`
    /// resets environment and controller with `seed + k`. Actions are
    /// stored as applied (clipped to the bounds); costs and constraint
    /// signals as the environment reports them.
    pub fn from_controller(
        env_id: &str,
        kind: PolicyKind,
        transitions: usize,
        seed: u64,
    ) -> Result<Dataset> {
        let mut env = crate::env::make(env_id)?;
        let spec = env.spec().clone();
        let mut policy = make_policy(&spec, kind)?;
        let (od, ad) = (spec.obs_dim(), spec.act_dim());
        let names: Vec<String> = spec.constraints.iter().map(|c| c.name.clone()).collect();
        let mut cols = Columns::with_capacity(od, ad, &names, transitions);
        let mut action = vec![0f32; ad];
        let mut ep = 0u64;
        while cols.len() < transitions.max(1) {
            let s = seed.wrapping_add(ep);
            let mut obs = env.reset(s);
            policy.reset(s);
            loop {
                policy.act(&obs, &mut action)?;
                for (a, d) in action.iter_mut().zip(&spec.actions) {
                    *a = (*a as f64).clamp(d.low, d.high) as f32;
                }
                let out = env.step_in_place(&action)?;
                cols.observations.extend_from_slice(&obs);
                cols.actions.extend_from_slice(&action);
                cols.rewards.push(out.reward as f32);
                cols.next_observations.extend_from_slice(env.observation());
                cols.terminals.push(out.terminated);
                cols.timeouts.push(out.truncated);
                cols.costs.push(out.cost as f32);
                for ((col, c), &v) in cols
                    .constraints
                    .iter_mut()
                    .zip(&spec.constraints)
                    .zip(env.constraint_values())
                {
                    col.values.push(v as f32);
                    col.violations.push(c.violated(v));
                }
                if out.terminated || out.truncated {
                    break;
                }
                obs.copy_from_slice(env.observation());
            }
            ep += 1;
        }
        let options = env.options();
        let meta = Metadata {
            env_id: spec.id.clone(),
            seed: Some(seed),
            neorl_version: env!("CARGO_PKG_VERSION").into(),
            behavior_policy: policy.name(),
            sensor_noise: Some(options.sensor_noise),
            disturbances: Some(options.disturbances),
            observation_names: spec.observations.iter().map(|d| d.name.clone()).collect(),
            action_names: spec.actions.iter().map(|d| d.name.clone()).collect(),
            layout: "neorl".into(),
            ..Metadata::default()
        };
        let mut d = Dataset::new(meta, cols)?;
        d.metadata_mut().sha256 = Some(super::checksum::content_sha256(&d));
        Ok(d)
    }

    /// The former `agents::Buffer::generate` (`agents::Buffer` is now
    /// [`Dataset`]).
    #[doc(hidden)]
    #[deprecated(note = "use Dataset::from_controller")]
    pub fn generate(
        env_id: &str,
        kind: PolicyKind,
        transitions: usize,
        seed: u64,
    ) -> Result<Dataset> {
        Dataset::from_controller(env_id, kind, transitions, seed)
    }
}

/// Refuse, before anything is allocated, a dataset of `transitions`
/// transitions of `spec` that would not fit in this machine's memory: its
/// columns (observations and next observations, actions, reward, cost and
/// every constraint's value in f32; the terminal, timeout and violation
/// flags in one byte each). `what` names the request in the error, `fix`
/// says what to do instead.
pub fn check_fits(spec: &EnvSpec, transitions: usize, what: &str, fix: &str) -> Result<()> {
    let (od, ad, nc) = (spec.obs_dim(), spec.act_dim(), spec.n_constraints());
    let per_transition = 4 * (2 * od + ad + 2 + nc) + 2 + nc;
    check_memory(
        what,
        bytes_for(transitions as u128, per_transition as u128),
        fix,
    )
}

/// The behaviour policy as the controllers name themselves.
fn describe_behavior(q: Quality, policies: &[Box<dyn Policy>], eps: Option<&[f64]>) -> String {
    match (q, eps) {
        (_, Some([a, b, c])) => format!(
            "{q}: equal thirds of the lanes run ε = {a}, {b} and {c} of the expert's steps replaced by uniform random actions [{}], [{}], [{}]",
            policies[0].name(),
            policies[1].name(),
            policies[2].name()
        ),
        (_, Some(_)) => policies[0].name(),
        (Quality::Mixed, None) => format!(
            "mixed: equal thirds of the lanes (and so about a third of the transitions each) run random [{}], medium [{}] and expert [{}]",
            policies[0].name(),
            policies[1].name(),
            policies[2].name()
        ),
        _ => policies[0].name(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A size no machine holds is refused by the library before anything is
    /// allocated (a notebook's `load_sized(id, 10^15)` used to abort).
    #[test]
    fn an_absurd_size_is_refused_before_allocating() {
        for n in [usize::MAX, 1 << 50] {
            let cfg = GenerateConfig::new("ChemicalReactor-v0", Quality::Medium, n, 0);
            match generate(&cfg) {
                Err(Error::TooLarge { what, fix, .. }) => {
                    assert!(what.contains(&n.to_string()), "{what}");
                    assert!(fix.contains("smaller"), "{fix}");
                }
                other => panic!("expected TooLarge, got {other:?}"),
            }
        }
    }

    #[test]
    fn lanes_and_seeds() {
        assert_eq!(lanes_for(100, 365), 3);
        assert_eq!(lanes_for(100_000, 365), 33);
        assert_eq!(lanes_for(10_000_000, 365), 48);
        assert_eq!(lanes_for(100_000, 1), 48);
        assert_ne!(episode_seed(0, 0, 0), episode_seed(0, 0, 1));
        assert_ne!(episode_seed(0, 1, 0), episode_seed(0, 0, 1));
        assert_ne!(episode_seed(1, 0, 0), episode_seed(0, 0, 0));
        // Pinned: the recipe must not change silently.
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn quality_parsing() {
        assert_eq!("Mixed".parse::<Quality>().unwrap(), Quality::Mixed);
        assert!("great".parse::<Quality>().is_err());
        assert_eq!(Quality::Mixed.lane_policy(4), PolicyKind::Medium);
    }
}
