//! `neorl::stats` against rliable, the reference implementation of Agarwal
//! et al., "Deep RL at the Edge of the Statistical Precipice" (NeurIPS
//! 2021).
//!
//! Seeded score matrices (three algorithms of 5 or 7 runs × 6 tasks, and an
//! edge case of 5 runs × 3 tasks whose scores take three values, so ties
//! everywhere and an IQM trim count of 15/4 = 3.75, rounded down) are
//! written as JSON; `tests/support/rliable_reference.py` computes the same
//! statistics with rliable and prints them. The test asserts:
//!
//! - **point estimates** (mean, median, IQM, optimality gap, probability of
//!   improvement) equal to 1e-12 relative: the same definitions, only the
//!   summation order differs;
//! - **performance-profile points** exactly equal (`count / N` both sides);
//! - **interval endpoints** within a Monte-Carlo tolerance. The two
//!   bootstraps draw from different generators (ChaCha8 here, numpy's
//!   Mersenne Twister there), so their endpoints are two independent
//!   estimates of the same bootstrap quantiles and can only agree up to the
//!   resampling error. For a smooth bootstrap distribution the standard
//!   error of a 2.5 % quantile estimated from B replications is about
//!   0.68/√B of the 95 % interval's width, so the difference of two such
//!   estimates has a standard error of about 0.96/√B of the width: 0.68 %
//!   at B = 20 000, 0.96 % at B = 10 000. The tolerances are 4 % of the
//!   width (aggregates and profiles, both sides at 20 000 replications) and
//!   6 % (probability of improvement, both sides at 10 000: rliable's
//!   Mann–Whitney through SciPy takes ~3 ms a replication here), each
//!   about six standard errors, plus, for statistics on a grid (profile
//!   fractions: steps of 1/N; the probability of improvement: 1/(2 R_x R_y
//!   T); the ties case's aggregates), one grid step: a quantile whose true
//!   value sits on a jump of a discrete distribution may land on either
//!   side of it in either estimate.
//!
//! Measured (rliable 1.2.0, arch 7.2.0, numpy 2.4.6, SciPy 1.17.1): against
//! rliable, the largest |Δ| / width of the aggregates' endpoints was 0.99 %,
//! the probability of improvement's endpoints were equal (both on its
//! grid), and so were all 2 × 17 × 4 profile endpoints. As a check of the
//! error model, neorl against itself with seeds 1–40 instead of 0 (20 000
//! replications, the three smooth matrices, four aggregates): the largest
//! |Δ| / width was 1.75 %, the mean 0.6 %; the probability of improvement
//! (10 000 replications): 1.79 %. The ties case's median moved by one grid
//! step (10, 20 % of its width) for one of those seeds.
//!
//! Needs `python3` with rliable (scripts/bootstrap.sh installs it); without
//! it the test is skipped with a message, except in CI (`CI=true`), where
//! it fails.

mod support;

use neorl::stats::{
    Aggregate, Bootstrap, Interval, ScoreMatrix, interval, performance_profile,
    probability_of_improvement,
};
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;

/// Replications of the aggregates' and profiles' bootstraps, both sides.
const REPS: usize = 20_000;
/// Replications of the probability of improvement's bootstrap, both sides.
const POI_REPS: usize = 10_000;
/// Tolerances as fractions of the interval's width (see the file's doc).
const TOL: f64 = 0.04;
const POI_TOL: f64 = 0.06;
const GAMMA: f64 = 100.0;

fn tasks(n: usize) -> Vec<String> {
    (0..n).map(|t| format!("Env{t}-medium-v0")).collect()
}

/// Scores around `level` with a task effect and run noise, some above 100
/// (the optimality gap clips them) and some below 0.
fn algo(runs: usize, level: f64, seed: u64) -> ScoreMatrix {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let effect: Vec<f64> = (0..6).map(|_| rng.random_range(-25.0..25.0)).collect();
    let rows = (0..runs)
        .map(|_| {
            effect
                .iter()
                .map(|e| level + e + rng.random_range(-30.0..30.0))
                .collect()
        })
        .collect();
    ScoreMatrix::new(tasks(6), rows).unwrap()
}

/// 5 runs × 3 tasks of three values only.
fn ties() -> ScoreMatrix {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(40);
    let values = [0.0, 50.0, 100.0];
    let rows = (0..5)
        .map(|_| (0..3).map(|_| values[rng.random_range(0..3)]).collect())
        .collect();
    ScoreMatrix::new(tasks(3), rows).unwrap()
}

fn rows(m: &ScoreMatrix) -> Vec<Vec<f64>> {
    (0..m.runs()).map(|r| m.row(r).to_vec()).collect()
}

fn float(v: &Value) -> f64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a float string: {v}"))
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(float).collect()
}

fn key(agg: Aggregate) -> &'static str {
    match agg {
        Aggregate::Mean => "mean",
        Aggregate::Median => "median",
        Aggregate::Iqm => "iqm",
        Aggregate::OptimalityGap => "optimality_gap",
    }
}

/// Equal to 1e-12 relative (absolute near zero).
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
}

/// Collects the comparisons: failures, and the largest relative gap seen.
#[derive(Default)]
struct Check {
    failures: Vec<String>,
    worst_ci: f64,
    worst_poi: f64,
    profile_steps: usize,
}

impl Check {
    /// Our interval's endpoints against rliable's, within `tol` of the
    /// wider width plus `step` (a grid step for discrete statistics).
    fn endpoints(
        &mut self,
        what: &str,
        ours: (f64, f64),
        theirs: (f64, f64),
        tol: f64,
        step: f64,
    ) -> f64 {
        let width = (ours.1 - ours.0).max(theirs.1 - theirs.0);
        let mut worst: f64 = 0.0;
        for (end, a, b) in [("lo", ours.0, theirs.0), ("hi", ours.1, theirs.1)] {
            let d = (a - b).abs();
            if width > 0.0 {
                worst = worst.max(d / width);
            }
            if d > tol * width + step + 1e-9 {
                self.failures.push(format!(
                    "{what} {end}: ours {a}, rliable {b}, |Δ| = {d:.4} > {:.4} ({}% of width {width:.4} + step {step})",
                    tol * width + step,
                    tol * 100.0
                ));
            }
        }
        worst
    }
}

#[test]
fn agrees_with_rliable() {
    if !support::python::has_module(
        "rliable.library",
        "python3 -m pip install rliable 'pandas<3'",
    ) {
        return;
    }
    let algos = vec![
        ("iql".to_string(), algo(5, 70.0, 1)),
        ("bc".to_string(), algo(5, 55.0, 2)),
        ("cql".to_string(), algo(7, 75.0, 3)),
        ("ties".to_string(), ties()),
    ];
    let pairs = [("iql", "cql")];
    let taus: Vec<f64> = (0..=16).map(|k| -10.0 + 10.0 * k as f64).collect();
    let b = Bootstrap {
        reps: REPS,
        ..Bootstrap::default()
    };
    let b_poi = Bootstrap {
        reps: POI_REPS,
        ..b
    };

    let dir = std::env::temp_dir().join(format!("neorl-stats-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input: PathBuf = dir.join("scores.json");
    let spec = json!({
        "reps": REPS,
        "poi_reps": POI_REPS,
        "confidence": b.confidence,
        "seed": 0,
        "gamma": GAMMA,
        "taus": taus,
        "algos": algos.iter().map(|(n, m)| json!([n, rows(m)])).collect::<Vec<_>>(),
        "pairs": pairs,
    });
    std::fs::write(&input, serde_json::to_vec(&spec).unwrap()).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/rliable_reference.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .arg(&input)
        .env("PYTHONWARNINGS", "ignore")
        .output()
        .expect("python3 runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "rliable_reference.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference: Value = serde_json::from_slice(&out.stdout).expect("the script prints JSON");
    eprintln!("rliable reference: {}", reference["versions"]);

    let mut check = Check::default();
    for (name, m) in &algos {
        let r = &reference["algos"][name];
        for agg in Aggregate::ALL {
            // The ties case's statistics live on grids: task means of 5
            // runs of 0/50/100 are multiples of 10 (their median too, their
            // mean of 10/3); the IQM of 9 such scores of 50/9, the gap of 15
            // of 50/15.
            let grid = match (name.as_str(), agg) {
                ("ties", Aggregate::Mean) => 10.0 / 3.0,
                ("ties", Aggregate::Median) => 10.0,
                ("ties", Aggregate::Iqm) => 50.0 / 9.0,
                ("ties", Aggregate::OptimalityGap) => 50.0 / 15.0,
                _ => 0.0,
            };
            let ours: Interval = interval(m, agg, &b).unwrap();
            let point = float(&r["point"][key(agg)]);
            if !close(ours.point, point) {
                check.failures.push(format!(
                    "{name} {agg:?}: ours {}, rliable {point}",
                    ours.point
                ));
            }
            let ci = floats(&r["ci"][key(agg)]);
            let w = check.endpoints(
                &format!("{name} {agg:?}"),
                (ours.lo, ours.hi),
                (ci[0], ci[1]),
                TOL,
                grid,
            );
            check.worst_ci = check.worst_ci.max(w);
        }
        let profile = performance_profile(m, &taus, &b).unwrap();
        let fraction = floats(&r["profile"]["fraction"]);
        if profile.fraction != fraction {
            check.failures.push(format!(
                "{name} profile: ours {:?}, rliable {fraction:?}",
                profile.fraction
            ));
        }
        let (lo, hi) = (floats(&r["profile"]["lo"]), floats(&r["profile"]["hi"]));
        let step = 1.0 / (m.runs() * m.tasks().len()) as f64;
        for k in 0..taus.len() {
            for (a, bb) in [(profile.lo[k], lo[k]), (profile.hi[k], hi[k])] {
                if a != bb {
                    check.profile_steps += 1;
                }
            }
            check.endpoints(
                &format!("{name} profile at τ = {}", taus[k]),
                (profile.lo[k], profile.hi[k]),
                (lo[k], hi[k]),
                TOL,
                step,
            );
        }
    }
    for p in reference["pairs"].as_array().unwrap() {
        let find = |k: &str| {
            &algos
                .iter()
                .find(|(n, _)| n == p[k].as_str().unwrap())
                .unwrap()
                .1
        };
        let ours = probability_of_improvement(find("x"), find("y"), &b_poi).unwrap();
        let what = format!("P({} > {})", p["x"], p["y"]);
        if !close(ours.point, float(&p["point"])) {
            check.failures.push(format!(
                "{what}: ours {}, rliable {}",
                ours.point, p["point"]
            ));
        }
        // P takes values on a grid of 1/(2 R_x R_y T).
        let (x, y) = (find("x"), find("y"));
        let step = 1.0 / (2 * x.runs() * y.runs() * x.tasks().len()) as f64;
        let w = check.endpoints(
            &what,
            (ours.lo, ours.hi),
            (float(&p["lo"]), float(&p["hi"])),
            POI_TOL,
            step,
        );
        check.worst_poi = check.worst_poi.max(w);
    }
    eprintln!(
        "largest |Δ|/width: aggregates {:.2} %, probability of improvement {:.2} %; profile endpoints that differ (by at most a step): {}",
        100.0 * check.worst_ci,
        100.0 * check.worst_poi,
        check.profile_steps
    );
    assert!(
        check.failures.is_empty(),
        "{} disagreement(s) with rliable:\n{}",
        check.failures.len(),
        check.failures.join("\n")
    );
}
