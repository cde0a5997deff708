//! `neorl datasets validate FILE`: every check a dataset must pass, each
//! reported with pass/fail and a detail line.
//!
//! Checks (in order): `readable` (opens, layout, required keys, dtypes,
//! lengths), `metadata` (neorl attributes present, environment known),
//! `shapes` (widths agree with each other and with the environment),
//! `finite` (no NaN/Inf anywhere), `action_bounds` (every action within the
//! actuator bounds), `next_observations_continuity` (within an episode,
//! `next_observations[t] == observations[t + 1]`, bit for bit),
//! `terminal_timeout_consistency` (never both; episodes end on one; a
//! time-out before the horizon only on the file's last, cut episode; no
//! episode longer than the horizon), `constraint_flags` (violation flags
//! recomputed from `infos/<c>` and the environment's limits, costs equal to
//! the number of violated constraints, every hard violation terminal) and
//! `checksum` (content SHA-256 and metadata SHA-256 equal the recorded
//! ones; the detail says which part failed). Checks that need
//! the environment's spec are skipped (and pass, saying so) when the file
//! names no registered environment.

use super::batch::BatchSource;
use super::checksum::{content_sha256, metadata_sha256};
use super::dataset::Dataset;
use super::formats;
use crate::env::{ConstraintKind, EnvOptions, EnvSpec, model};
use crate::error::{Error, Result};
use serde::Serialize;
use std::path::Path;

/// One check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

impl Check {
    fn new(name: &str, ok: bool, detail: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            ok,
            detail: detail.into(),
        }
    }
}

/// Every check on one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidationReport {
    pub file: String,
    /// All checks passed.
    pub ok: bool,
    pub checks: Vec<Check>,
}

/// Validate a dataset file. Never fails: an unreadable file gives a report
/// whose `readable` check fails with the reason.
pub fn validate_file(path: impl AsRef<Path>) -> ValidationReport {
    let path = path.as_ref();
    // No checksum verification while reading: that is a check of its own.
    let loaded = formats::read_with(path, false);
    let mut checks = vec![];
    match loaded {
        Err(e) => checks.push(Check::new("readable", false, e.to_string())),
        Ok(d) => {
            checks.push(Check::new(
                "readable",
                true,
                format!(
                    "{} layout: {} transitions, {} episodes, obs_dim {}, act_dim {}, {} constraint columns",
                    d.metadata().layout,
                    d.len(),
                    d.num_episodes(),
                    d.obs_dim(),
                    d.act_dim(),
                    d.constraints().len()
                ),
            ));
            checks.extend(validate(&d));
        }
    }
    ValidationReport {
        file: path.display().to_string(),
        ok: checks.iter().all(|c| c.ok),
        checks,
    }
}

/// The checks after `readable`, on a dataset in memory.
pub fn validate(d: &Dataset) -> Vec<Check> {
    let m = d.metadata();
    let spec = (!m.env_id.is_empty())
        .then(|| model(&m.env_id, EnvOptions::default()).ok())
        .flatten()
        .map(|m| m.spec().clone());
    let no_spec = if m.env_id.is_empty() {
        "skipped: the file names no environment".to_string()
    } else {
        format!(
            "skipped: environment '{}' is not registered in this build",
            m.env_id
        )
    };
    vec![
        metadata(d, spec.as_ref()),
        shapes(d, spec.as_ref()),
        finite(d),
        action_bounds(d, spec.as_ref(), &no_spec),
        continuity(d),
        terminal_timeout(d, spec.as_ref()),
        constraint_flags(d, spec.as_ref(), &no_spec),
        checksum(d),
    ]
}

/// The fast path of the checks, run by the training loop (and `neorl
/// train`) before any update: `shapes` (every array holds one row per
/// transition, of the source's widths) and `finite` (no NaN or Inf in
/// observations, actions, rewards, next observations or costs). Files whose
/// checksum attribute is verified on reading cannot hold such values by
/// accident, but D4RL and Minari files carry none. An error names the
/// failing check, its detail and the fix.
pub fn check_trainable(src: &dyn BatchSource) -> Result<()> {
    let (n, od, ad) = (src.len(), src.obs_dim(), src.act_dim());
    let arrays: Vec<(String, &[f32], usize)> = vec![
        ("observations".into(), src.observations(), od),
        ("actions".into(), src.actions(), ad),
        ("rewards".into(), src.rewards(), 1),
        ("next_observations".into(), src.next_observations(), od),
        ("costs".into(), src.costs(), 1),
    ];
    let mut problems = vec![];
    for (name, a, w) in &arrays {
        // `costs` may be absent (empty): sampling reads 0 then.
        let ok = a.len() == n.saturating_mul(*w) || (name == "costs" && a.is_empty());
        if !ok {
            problems.push(format!(
                "{name} holds {} values, not {n} rows of {w}",
                a.len()
            ));
        }
    }
    let failed = match problems.is_empty() {
        false => Check::new("shapes", false, problems.join("; ")),
        true => finite_arrays(&arrays),
    };
    if failed.ok {
        return Ok(());
    }
    let what = match src.source() {
        Some(s) if !s.id.is_empty() => format!("dataset {}", s.id),
        _ => format!("the {} data", src.env_id()),
    };
    Err(Error::Training(format!(
        "the {what} fails the `{}` check of `neorl datasets validate`: {}. Training on it would make the losses NaN and write a checkpoint that cannot be loaded; fix or drop those rows (or regenerate the data), then train again",
        failed.name, failed.detail
    )))
}

fn metadata(d: &Dataset, spec: Option<&EnvSpec>) -> Check {
    let m = d.metadata();
    if m.layout != "neorl" {
        return Check::new(
            "metadata",
            true,
            format!(
                "skipped: a {} file (neorl's attributes are not expected)",
                m.layout
            ),
        );
    }
    let mut missing = vec![];
    for (name, present) in [
        ("env_id", !m.env_id.is_empty()),
        ("quality", !m.quality.is_empty()),
        ("seed", m.seed.is_some()),
        ("generator", !m.generator.is_empty()),
        ("neorl_version", !m.neorl_version.is_empty()),
        ("behavior_policy", !m.behavior_policy.is_empty()),
        ("ref_min_score", m.ref_min_score.is_some()),
        ("ref_max_score", m.ref_max_score.is_some()),
        ("sha256", m.sha256.is_some()),
    ] {
        if !present {
            missing.push(name);
        }
    }
    if !missing.is_empty() {
        return Check::new(
            "metadata",
            false,
            format!("missing root attributes: {}", missing.join(", ")),
        );
    }
    match spec {
        None => Check::new(
            "metadata",
            false,
            format!("environment '{}' is not registered in this build", m.env_id),
        ),
        Some(s) => Check::new(
            "metadata",
            true,
            format!(
                "{} / {} / seed {} / {} (neorl {})",
                s.id,
                m.quality,
                m.seed.unwrap_or_default(),
                m.generator,
                m.neorl_version
            ),
        ),
    }
}

fn shapes(d: &Dataset, spec: Option<&EnvSpec>) -> Check {
    let m = d.metadata();
    let mut problems = vec![];
    if !m.observation_names.is_empty() && m.observation_names.len() != d.obs_dim() {
        problems.push(format!(
            "{} observation_names for obs_dim {}",
            m.observation_names.len(),
            d.obs_dim()
        ));
    }
    if !m.action_names.is_empty() && m.action_names.len() != d.act_dim() {
        problems.push(format!(
            "{} action_names for act_dim {}",
            m.action_names.len(),
            d.act_dim()
        ));
    }
    if let Some(s) = spec {
        if d.obs_dim() != s.obs_dim() {
            problems.push(format!(
                "obs_dim {} but {} has {}",
                d.obs_dim(),
                s.id,
                s.obs_dim()
            ));
        }
        if d.act_dim() != s.act_dim() {
            problems.push(format!(
                "act_dim {} but {} has {}",
                d.act_dim(),
                s.id,
                s.act_dim()
            ));
        }
        if m.layout == "neorl" {
            let names: Vec<&str> = d.constraints().iter().map(|c| c.name.as_str()).collect();
            let want: Vec<&str> = s.constraints.iter().map(|c| c.name.as_str()).collect();
            if names != want {
                problems.push(format!(
                    "constraint columns [{}] but {} has [{}]",
                    names.join(", "),
                    s.id,
                    want.join(", ")
                ));
            }
        }
    }
    if problems.is_empty() {
        Check::new(
            "shapes",
            true,
            format!(
                "observations and next_observations ({n}, {}), actions ({n}, {}), {} 1-D columns of {n}",
                d.obs_dim(),
                d.act_dim(),
                5 + 2 * d.constraints().len(),
                n = d.len()
            ),
        )
    } else {
        Check::new("shapes", false, problems.join("; "))
    }
}

fn finite(d: &Dataset) -> Check {
    let mut arrays: Vec<(String, &[f32], usize)> = vec![
        ("observations".into(), d.observations(), d.obs_dim()),
        ("actions".into(), d.actions(), d.act_dim()),
        ("rewards".into(), d.rewards(), 1),
        (
            "next_observations".into(),
            d.next_observations(),
            d.obs_dim(),
        ),
        ("costs".into(), d.costs(), 1),
    ];
    for c in d.constraints() {
        arrays.push((format!("infos/{}", c.name), &c.values, 1));
    }
    finite_arrays(&arrays)
}

/// The `finite` check over named arrays of rows `width` wide.
fn finite_arrays(arrays: &[(String, &[f32], usize)]) -> Check {
    let mut bad = 0usize;
    let mut first = None;
    for (name, a, w) in arrays {
        for (i, x) in a.iter().enumerate() {
            if !x.is_finite() {
                bad += 1;
                first.get_or_insert_with(|| format!("{name}[{}] = {x}", i / w.max(&1)));
            }
        }
    }
    match first {
        None => Check::new(
            "finite",
            true,
            format!("{} arrays, no NaN or Inf", arrays.len()),
        ),
        Some(f) => Check::new(
            "finite",
            false,
            format!("{bad} non-finite values; first: {f}"),
        ),
    }
}

fn action_bounds(d: &Dataset, spec: Option<&EnvSpec>, no_spec: &str) -> Check {
    let Some(s) = spec else {
        return Check::new("action_bounds", true, no_spec);
    };
    if s.act_dim() != d.act_dim() {
        return Check::new(
            "action_bounds",
            false,
            "act_dim differs from the environment's",
        );
    }
    let ad = d.act_dim();
    let mut bad = 0usize;
    let mut first = None;
    for (k, &a) in d.actions().iter().enumerate() {
        let dim = &s.actions[k % ad];
        // Bounds rounded to f32 as the recorded actions are.
        if !(a >= dim.low as f32 && a <= dim.high as f32) {
            bad += 1;
            first.get_or_insert_with(|| {
                format!(
                    "row {} {} = {a} outside [{}, {}]",
                    k / ad,
                    dim.name,
                    dim.low,
                    dim.high
                )
            });
        }
    }
    match first {
        None => Check::new(
            "action_bounds",
            true,
            format!("all {} actions within the actuator bounds", d.len()),
        ),
        Some(f) => Check::new(
            "action_bounds",
            false,
            format!("{bad} action values out of bounds; first: {f}"),
        ),
    }
}

fn continuity(d: &Dataset) -> Check {
    let od = d.obs_dim();
    let (o, no) = (d.observations(), d.next_observations());
    let mut bad = 0usize;
    let mut first = None;
    for w in d.episode_starts().windows(2) {
        for i in w[0]..w[1].saturating_sub(1) {
            let a = &no[i * od..(i + 1) * od];
            let b = &o[(i + 1) * od..(i + 2) * od];
            if a.iter().zip(b).any(|(x, y)| x.to_bits() != y.to_bits()) {
                bad += 1;
                first.get_or_insert(i);
            }
        }
    }
    match first {
        None => Check::new(
            "next_observations_continuity",
            true,
            format!(
                "next_observations[t] == observations[t+1] within all {} episodes",
                d.num_episodes()
            ),
        ),
        Some(i) => Check::new(
            "next_observations_continuity",
            false,
            format!(
                "{bad} steps where next_observations[t] != observations[t+1] inside an episode; first at row {i} (episode {})",
                d.episode_of(i)
            ),
        ),
    }
}

fn terminal_timeout(d: &Dataset, spec: Option<&EnvSpec>) -> Check {
    let (te, to) = (d.terminals(), d.timeouts());
    let mut problems = vec![];
    if let Some(i) = (0..d.len()).find(|&i| te[i] && to[i]) {
        let n = (0..d.len()).filter(|&i| te[i] && to[i]).count();
        problems.push(format!(
            "{n} rows have both terminal and timeout set (first: row {i})"
        ));
    }
    if let Some(&last) = d.episode_starts().last()
        && last > 0
        && !te[last - 1]
        && !to[last - 1]
    {
        problems.push(format!(
            "the last row ({}) ends its episode with neither terminal nor timeout",
            last - 1
        ));
    }
    if let Some(s) = spec {
        let ne = d.num_episodes();
        let h = s.horizon;
        let mut long = 0;
        let mut early = 0;
        let mut first = None;
        for e in 0..ne {
            let r = d.episode_range(e);
            let len = r.len();
            if len > h {
                long += 1;
                first.get_or_insert(e);
            }
            if to[r.end - 1] && len != h && e + 1 < ne {
                early += 1;
                first.get_or_insert(e);
            }
        }
        if long > 0 {
            problems.push(format!("{long} episodes are longer than the horizon {h}"));
        }
        if early > 0 {
            problems.push(format!(
                "{early} episodes other than the last end in a timeout before the horizon {h}"
            ));
        }
        if let Some(e) = first {
            problems.push(format!("first offending episode: {e}"));
        }
    }
    if problems.is_empty() {
        Check::new(
            "terminal_timeout_consistency",
            true,
            format!(
                "{} episodes: {} end on a terminal, {} on a timeout{}",
                d.num_episodes(),
                te.iter().filter(|&&x| x).count(),
                to.iter().filter(|&&x| x).count(),
                if spec.is_some() {
                    ", none longer than the horizon"
                } else {
                    ""
                }
            ),
        )
    } else {
        Check::new("terminal_timeout_consistency", false, problems.join("; "))
    }
}

fn constraint_flags(d: &Dataset, spec: Option<&EnvSpec>, no_spec: &str) -> Check {
    if d.constraints().is_empty() {
        return Check::new(
            "constraint_flags",
            true,
            "skipped: the file has no infos/<constraint> columns",
        );
    }
    let Some(s) = spec else {
        return Check::new("constraint_flags", true, no_spec);
    };
    let mut problems = vec![];
    let mut per_row = vec![0u32; d.len()];
    let mut hard = vec![false; d.len()];
    for col in d.constraints() {
        let Some(c) = s.constraints.iter().find(|c| c.name == col.name) else {
            problems.push(format!("'{}' is not a constraint of {}", col.name, s.id));
            continue;
        };
        let tol = 1e-6 * c.limit.abs().max(1.0);
        let mut bad = 0;
        let mut first = None;
        for (i, (&v, &flag)) in col.values.iter().zip(&col.violations).enumerate() {
            let v = v as f64;
            // Values are stored as f32: within rounding of the limit either
            // flag is consistent.
            if c.violated(v) != flag && (v - c.limit).abs() > tol {
                bad += 1;
                first.get_or_insert(i);
            }
            if flag {
                per_row[i] += 1;
                hard[i] |= c.kind == ConstraintKind::Hard;
            }
        }
        if let Some(i) = first {
            problems.push(format!(
                "'{}': {bad} flags disagree with the value and the limit ({} {}); first at row {i}",
                col.name,
                match c.sense {
                    crate::env::Sense::Upper => "<=",
                    crate::env::Sense::Lower => ">=",
                },
                c.limit
            ));
        }
    }
    if d.metadata().layout == "neorl" {
        if let Some(i) = (0..d.len()).find(|&i| d.costs()[i] != per_row[i] as f32) {
            let n = (0..d.len())
                .filter(|&i| d.costs()[i] != per_row[i] as f32)
                .count();
            problems.push(format!(
                "{n} costs differ from the number of violated constraints (first: row {i}, cost {} vs {} flags)",
                d.costs()[i],
                per_row[i]
            ));
        }
        if let Some(i) = (0..d.len()).find(|&i| hard[i] && !d.terminals()[i]) {
            problems.push(format!(
                "row {i} violates a hard constraint but is not terminal"
            ));
        }
    }
    if problems.is_empty() {
        Check::new(
            "constraint_flags",
            true,
            format!(
                "{} constraint columns agree with {}'s limits; {} steps with violations",
                d.constraints().len(),
                s.id,
                per_row.iter().filter(|&&k| k > 0).count()
            ),
        )
    } else {
        Check::new("constraint_flags", false, problems.join("; "))
    }
}

/// Both digests: the content (arrays) and the metadata (root attributes);
/// the detail says which part failed.
fn checksum(d: &Dataset) -> Check {
    let actual = content_sha256(d);
    let (content_ok, content) = match &d.metadata().sha256 {
        None => (
            true,
            format!("no sha256 attribute to compare; content SHA-256 is {actual}"),
        ),
        Some(s) if *s == actual => (
            true,
            format!("content SHA-256 {actual} matches the sha256 attribute"),
        ),
        Some(s) => (
            false,
            format!(
                "content SHA-256 is {actual} but the sha256 attribute says {s}: the arrays were modified or are corrupt"
            ),
        ),
    };
    let names: Vec<String> = d.constraints().iter().map(|c| c.name.clone()).collect();
    let actual = metadata_sha256(d.metadata(), &names);
    let (metadata_ok, metadata) = match &d.metadata().metadata_sha256 {
        None => (true, "no metadata_sha256 attribute to compare".to_string()),
        Some(s) if *s == actual => (
            true,
            "metadata SHA-256 matches the metadata_sha256 attribute".to_string(),
        ),
        Some(s) => (
            false,
            format!(
                "metadata SHA-256 is {actual} but the metadata_sha256 attribute says {s}: the root attributes (dataset_id, env_id, observation_names, …) were modified or are corrupt"
            ),
        ),
    };
    Check::new(
        "checksum",
        content_ok && metadata_ok,
        format!("{content}; {metadata}"),
    )
}
