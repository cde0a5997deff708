//! Hand-computed cases for every statistic, the bootstrap's determinism and
//! its edge cases, and bad inputs. The agreement with rliable itself is
//! `neorl/tests/stats.rs`.

use super::aggregate::{interquartile_mean, median};
use super::bootstrap::quantile;
use super::improvement::twice_mann_whitney_u;
use super::*;
use rand::{RngExt, SeedableRng};

fn names(n: usize) -> Vec<String> {
    (0..n).map(|t| format!("task{t}")).collect()
}

fn matrix(rows: Vec<Vec<f64>>) -> ScoreMatrix {
    ScoreMatrix::new(names(rows[0].len()), rows).unwrap()
}

/// A one-task matrix of these runs.
fn column(xs: &[f64]) -> ScoreMatrix {
    matrix(xs.iter().map(|&x| vec![x]).collect())
}

fn seeded(runs: usize, tasks: usize, seed: u64) -> ScoreMatrix {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    matrix(
        (0..runs)
            .map(|_| {
                (0..tasks)
                    .map(|t| 10.0 * t as f64 + rng.random_range(0.0..90.0))
                    .collect()
            })
            .collect(),
    )
}

fn err(r: crate::error::Result<impl std::fmt::Debug>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn mean_is_the_mean_of_task_means() {
    let m = matrix(vec![vec![1.0, 2.0, 30.0], vec![3.0, 4.0, 50.0]]);
    // Task means 2, 3, 40.
    assert_eq!(Aggregate::Mean.of(&m), 15.0);
}

#[test]
fn median_is_over_task_means_odd_and_even() {
    // Odd: task means 2, 3, 40 → 3 (the pooled median would be 3.5).
    let m = matrix(vec![vec![1.0, 2.0, 30.0], vec![3.0, 4.0, 50.0]]);
    assert_eq!(Aggregate::Median.of(&m), 3.0);
    // Even: task means 10, 2, 7, 4 → (4 + 7)/2.
    let m = matrix(vec![vec![10.0, 1.0, 7.0, 4.0], vec![10.0, 3.0, 7.0, 4.0]]);
    assert_eq!(Aggregate::Median.of(&m), 5.5);
    // Ties in the middle.
    assert_eq!(median(&mut [5.0, 1.0, 5.0, 9.0]), 5.0);
    assert_eq!(median(&mut [7.0]), 7.0);
}

#[test]
fn iqm_trims_a_quarter_from_each_end_rounding_down() {
    // N = 4: cut 1 and 1.
    assert_eq!(interquartile_mean(&mut [100.0, 3.0, 1.0, 2.0]), 2.5);
    // N = 5: 5/4 = 1.25 → cut 1 and 1, mean of 2, 3, 4.
    assert_eq!(interquartile_mean(&mut [4.0, 100.0, 2.0, 1.0, 3.0]), 3.0);
    // N = 3: nothing cut.
    assert_eq!(interquartile_mean(&mut [1.0, 2.0, 6.0]), 3.0);
    // N = 7: 1.75 → cut 1 and 1, mean of the middle five.
    assert_eq!(
        interquartile_mean(&mut [-50.0, 1.0, 2.0, 3.0, 4.0, 5.0, 99.0]),
        3.0
    );
    // N = 15: 3.75 → cut 3 and 3, mean of the middle nine (4..=12).
    let mut v: Vec<f64> = (1..=15).rev().map(f64::from).collect();
    assert_eq!(interquartile_mean(&mut v), 8.0);
    // Ties straddling the cuts: sorted 1 5 5 5 5 9 → middle 5 5 5 5.
    assert_eq!(interquartile_mean(&mut [5.0, 9.0, 5.0, 1.0, 5.0, 5.0]), 5.0);
    // Sorted 0 0 0 10 10 10 10 20 → cut 2 and 2: 0 10 10 10 → 7.5.
    assert_eq!(
        interquartile_mean(&mut [10.0, 0.0, 20.0, 10.0, 0.0, 10.0, 0.0, 10.0]),
        7.5
    );
    // Pooled over runs and tasks: 1..=8 → cut 2 and 2 → mean of 3..=6.
    let m = matrix(vec![
        vec![8.0, 1.0],
        vec![2.0, 7.0],
        vec![6.0, 3.0],
        vec![4.0, 5.0],
    ]);
    assert_eq!(Aggregate::Iqm.of(&m), 4.5);
}

#[test]
fn optimality_gap_is_the_mean_shortfall_below_100() {
    // Shortfalls 50, 0 (clipped), 0, 100.
    let m = matrix(vec![vec![50.0, 120.0], vec![100.0, 0.0]]);
    assert_eq!(Aggregate::OptimalityGap.of(&m), 37.5);
    assert!(!Aggregate::OptimalityGap.higher_is_better());
    assert!(Aggregate::Iqm.higher_is_better());
}

#[test]
fn names_are_the_papers() {
    let n: Vec<&str> = Aggregate::ALL.iter().map(|a| a.name()).collect();
    assert_eq!(n, ["Mean", "Median", "IQM", "Optimality gap"]);
}

#[test]
fn quantile_is_numpys_linear_method() {
    let v = [1.0, 2.0, 3.0, 4.0, 5.0];
    // h = 4 q.
    assert_eq!(quantile(&v, 0.0), 1.0);
    assert_eq!(quantile(&v, 1.0), 5.0);
    assert_eq!(quantile(&v, 0.5), 3.0);
    assert!((quantile(&v, 0.025) - 1.1).abs() < 1e-15);
    assert!((quantile(&v, 0.975) - 4.9).abs() < 1e-15);
    assert_eq!(quantile(&[2.0, 2.0, 2.0], 0.3), 2.0);
}

#[test]
fn bootstrap_is_deterministic_and_seeded() {
    let m = seeded(5, 14, 1);
    let b = Bootstrap::default();
    for agg in Aggregate::ALL {
        let a = interval(&m, agg, &b).unwrap();
        let again = interval(&m, agg, &b).unwrap();
        assert_eq!(
            (a.point.to_bits(), a.lo.to_bits(), a.hi.to_bits()),
            (
                again.point.to_bits(),
                again.lo.to_bits(),
                again.hi.to_bits()
            ),
            "{agg:?}"
        );
        let other = interval(&m, agg, &Bootstrap { seed: 1, ..b }).unwrap();
        assert_eq!(other.point, a.point);
        assert!((other.lo, other.hi) != (a.lo, a.hi), "{agg:?}");
    }
    // All four at once are the same bits as one by one.
    let all = intervals(&m, &Aggregate::ALL, &b).unwrap();
    for (agg, iv) in Aggregate::ALL.iter().zip(&all) {
        assert_eq!(*iv, interval(&m, *agg, &b).unwrap());
    }
}

#[test]
fn intervals_contain_the_point_and_collapse_for_constant_scores() {
    let m = seeded(5, 6, 2);
    for agg in Aggregate::ALL {
        let iv = interval(&m, agg, &Bootstrap::default()).unwrap();
        assert!(iv.lo < iv.point && iv.point < iv.hi, "{agg:?}: {iv:?}");
        // A wider coverage gives a wider interval on the same resamples.
        let wide = interval(
            &m,
            agg,
            &Bootstrap {
                confidence: 0.99,
                ..Bootstrap::default()
            },
        )
        .unwrap();
        assert!(wide.lo <= iv.lo && iv.hi <= wide.hi, "{agg:?}");
    }
    let constant = matrix(vec![vec![0.1, 0.1, 0.1]; 4]);
    for agg in Aggregate::ALL {
        let iv = interval(&constant, agg, &Bootstrap::default()).unwrap();
        assert_eq!((iv.lo, iv.hi), (iv.point, iv.point), "{agg:?}");
    }
}

#[test]
fn one_run_has_no_spread() {
    // With one run a resample is the matrix itself.
    let m = matrix(vec![vec![10.0, 60.0, 90.0]]);
    let iv = interval(&m, Aggregate::Mean, &Bootstrap::default()).unwrap();
    assert_eq!((iv.lo, iv.hi), (iv.point, iv.point));
}

#[test]
fn profile_counts_scores_strictly_above_tau() {
    let m = matrix(vec![vec![0.0, 50.0], vec![50.0, 100.0]]);
    let p =
        performance_profile(&m, &[-1.0, 0.0, 49.0, 50.0, 100.0], &Bootstrap::default()).unwrap();
    assert_eq!(p.fraction, [1.0, 0.75, 0.75, 0.25, 0.0]);
    for k in 0..p.taus.len() {
        assert!(p.lo[k] <= p.fraction[k] && p.fraction[k] <= p.hi[k]);
        assert!((0.0..=1.0).contains(&p.lo[k]) && p.hi[k] <= 1.0);
    }
    // Nothing below every score can move: the interval collapses there.
    assert_eq!((p.lo[0], p.hi[0]), (1.0, 1.0));
    assert_eq!((p.lo[4], p.hi[4]), (0.0, 0.0));
    // Deterministic.
    let again = performance_profile(&m, &p.taus, &Bootstrap::default()).unwrap();
    assert_eq!(again, p);
    let text = p.to_text();
    assert!(
        text.contains("fraction > τ") && text.contains("0.75"),
        "{text}"
    );
    assert!(p.to_html().contains("<table"));
}

#[test]
fn mann_whitney_counts_ties_as_half() {
    // x = 1, 2 against y = 2, 3: one tie (2 = 2), no win → U = 0.5.
    assert_eq!(twice_mann_whitney_u(&[1.0, 2.0], &[2.0, 3.0]), 1);
    // x = 2, 2, 5 against y = 1, 2, 2: wins 1+1+3 = 5, ties 2+2 = 4 → 2U = 14.
    assert_eq!(twice_mann_whitney_u(&[2.0, 2.0, 5.0], &[1.0, 2.0, 2.0]), 14);
    let x = column(&[1.0, 2.0]);
    let y = column(&[2.0, 3.0]);
    let p = probability_of_improvement(&x, &y, &Bootstrap::default()).unwrap();
    assert_eq!(p.point, 0.125);
    let shown = Interval {
        point: 0.125,
        lo: 0.0,
        hi: 0.5,
    };
    assert_eq!(format!("{shown:.2}"), "0.12 [0.00, 0.50]");
    assert_eq!(shown.to_string(), "0.125 [0, 0.5]");
    // The brute-force count on random data agrees with the sorted walk.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    for _ in 0..200 {
        let mut xs: Vec<f64> = (0..rng.random_range(1..9))
            .map(|_| f64::from(rng.random_range(0..5u8)))
            .collect();
        let mut ys: Vec<f64> = (0..rng.random_range(1..9))
            .map(|_| f64::from(rng.random_range(0..5u8)))
            .collect();
        let brute: u64 = xs
            .iter()
            .flat_map(|x| ys.iter().map(move |y| (x, y)))
            .map(|(x, y)| {
                if x > y {
                    2
                } else if x == y {
                    1
                } else {
                    0
                }
            })
            .sum();
        xs.sort_by(f64::total_cmp);
        ys.sort_by(f64::total_cmp);
        assert_eq!(twice_mann_whitney_u(&xs, &ys), brute);
    }
}

#[test]
fn improvement_over_itself_is_a_half_and_domination_is_one() {
    let b = Bootstrap::default();
    let x = seeded(5, 6, 4);
    let same = probability_of_improvement(&x, &x, &b).unwrap();
    assert_eq!(same.point, 0.5);
    assert!(same.lo < 0.5 && 0.5 < same.hi, "{same:?}");
    // Y: every score below every one of X's (X's lowest is ≥ 0).
    let y = matrix(vec![vec![-1.0; 6]; 3]);
    let dom = probability_of_improvement(&x, &y, &b).unwrap();
    assert_eq!((dom.point, dom.lo, dom.hi), (1.0, 1.0, 1.0));
    let back = probability_of_improvement(&y, &x, &b).unwrap();
    assert_eq!((back.point, back.lo, back.hi), (0.0, 0.0, 0.0));
    // P(X > Y) + P(Y > X) = 1 for the point estimates.
    let z = seeded(7, 6, 5);
    let xz = probability_of_improvement(&x, &z, &b).unwrap();
    let zx = probability_of_improvement(&z, &x, &b).unwrap();
    assert!((xz.point + zx.point - 1.0).abs() < 1e-15);
}

#[test]
fn improvement_matrix_and_summary() {
    let b = Bootstrap {
        reps: 300,
        ..Bootstrap::default()
    };
    let algos = vec![
        ("iql".to_string(), seeded(5, 4, 6)),
        ("bc".to_string(), seeded(3, 4, 7)),
        ("cql".to_string(), seeded(4, 4, 8)),
    ];
    let pm = improvement_matrix(&algos, &b).unwrap();
    assert_eq!(pm.len(), 3);
    for (i, row) in pm.iter().enumerate() {
        for (j, cell) in row.iter().enumerate() {
            assert_eq!(cell.is_none(), i == j);
            if let Some(iv) = cell {
                let direct = probability_of_improvement(&algos[i].1, &algos[j].1, &b).unwrap();
                assert_eq!(*iv, direct);
            }
        }
    }
    let t = summarize(&algos, &b).unwrap();
    assert_eq!(t.rows.len(), 3);
    for (algo, m) in &algos {
        for agg in Aggregate::ALL {
            assert_eq!(t.get(algo, agg), Some(interval(m, agg, &b).unwrap()));
        }
    }
    assert_eq!(t.get("td3", Aggregate::Mean), None);
    let md = t.to_markdown();
    assert!(
        md.contains("| algorithm | runs × tasks | Mean ↑ | Median ↑ | IQM ↑ | Optimality gap ↓ |")
    );
    assert!(md.contains("| iql | 5 × 4 |"));
    assert_eq!(
        md.matches("**").count(),
        2 * 4,
        "one bold best per column:\n{md}"
    );
    let html = t.to_html();
    assert!(html.contains("<table") && html.contains("95 % stratified-bootstrap"));
    assert!(t.to_text().contains("cql"));
    assert!(format!("{t:?}").contains("StatsTable"));
    let json = serde_json::to_value(&t).unwrap();
    assert_eq!(json["rows"][0]["intervals"].as_array().unwrap().len(), 4);
    assert_eq!(json["bootstrap"]["reps"], 300);
}

#[test]
fn bad_inputs_are_errors_that_say_what_to_do() {
    let e = err(ScoreMatrix::new(vec![], vec![vec![]]));
    assert!(e.contains("no tasks"), "{e}");
    let e = err(ScoreMatrix::new(names(2), vec![]));
    assert!(e.contains("no runs"), "{e}");
    let e = err(ScoreMatrix::new(names(2), vec![vec![1.0, 2.0], vec![1.0]]));
    assert!(
        e.contains("run 1 has 1 scores but there are 2 tasks"),
        "{e}"
    );
    let e = err(ScoreMatrix::new(names(2), vec![vec![1.0, f64::NAN]]));
    assert!(e.contains("task 'task1' is NaN"), "{e}");
    let e = err(ScoreMatrix::new(names(1), vec![vec![f64::INFINITY]]));
    assert!(e.contains("finite"), "{e}");
    let e = err(ScoreMatrix::new(
        vec!["a".into(), "a".into()],
        vec![vec![1.0, 2.0]],
    ));
    assert!(e.contains("named twice"), "{e}");
    // Too many scores is refused before the rows are looked at.
    let e = err(ScoreMatrix::new(names(1 << 13), vec![vec![]; 1 << 12]));
    assert!(e.contains("more than"), "{e}");

    let m = seeded(3, 2, 9);
    for (b, what) in [
        (
            Bootstrap {
                reps: 10,
                ..Bootstrap::default()
            },
            "replications",
        ),
        (
            Bootstrap {
                reps: 2_000_000,
                ..Bootstrap::default()
            },
            "replications",
        ),
        (
            Bootstrap {
                confidence: 1.0,
                ..Bootstrap::default()
            },
            "confidence",
        ),
        (
            Bootstrap {
                confidence: f64::NAN,
                ..Bootstrap::default()
            },
            "confidence",
        ),
    ] {
        let e = err(interval(&m, Aggregate::Mean, &b));
        assert!(e.contains(what), "{e}");
        assert!(err(performance_profile(&m, &[0.0], &b)).contains(what));
        assert!(err(probability_of_improvement(&m, &m, &b)).contains(what));
    }
    let b = Bootstrap::default();
    // 10⁶ replications of 2¹⁴ scores: 1.6·10¹⁰ draws, refused before any.
    let big = ScoreMatrix::new(names(1 << 7), vec![vec![1.0; 1 << 7]; 1 << 7]).unwrap();
    let long = Bootstrap {
        reps: 1_000_000,
        ..b
    };
    assert!(err(interval(&big, Aggregate::Mean, &long)).contains("fewer replications"));
    assert!(err(performance_profile(&big, &[0.0], &long)).contains("fewer replications"));
    assert!(err(probability_of_improvement(&big, &big, &long)).contains("fewer replications"));
    assert!(err(performance_profile(&m, &[], &b)).contains("no thresholds"));
    assert!(err(performance_profile(&m, &[0.0, f64::NAN], &b)).contains("threshold 1 is NaN"));
    let other = ScoreMatrix::new(vec!["task0".into(), "x".into()], vec![vec![1.0, 2.0]]).unwrap();
    let e = err(probability_of_improvement(&m, &other, &b));
    assert!(e.contains("column 1 is 'task1' in X but 'x' in Y"), "{e}");
    let e = err(probability_of_improvement(&m, &seeded(3, 3, 9), &b));
    assert!(e.contains("X has 2 tasks and Y has 3"), "{e}");
    assert!(err(summarize(&[], &b)).contains("no algorithms"));
    let twice = vec![("a".to_string(), m.clone()), ("a".to_string(), m.clone())];
    assert!(err(summarize(&twice, &b)).contains("given twice"));
    let mixed = vec![("a".to_string(), m.clone()), ("b".to_string(), other)];
    assert!(err(improvement_matrix(&mixed, &b)).contains("same tasks"));
}

#[test]
fn a_paper_sized_bootstrap_takes_milliseconds() {
    // 2000 replications of 5 runs × 14 tasks, all four aggregates: ~140 000
    // draws and 8000 selections. Generous bound for a debug build on a
    // loaded machine; the release figure is in the report.
    let m = seeded(5, 14, 10);
    let b = Bootstrap::default();
    let t0 = std::time::Instant::now();
    intervals(&m, &Aggregate::ALL, &b).unwrap();
    let all = t0.elapsed();
    let t0 = std::time::Instant::now();
    interval(&m, Aggregate::Iqm, &b).unwrap();
    let iqm = t0.elapsed();
    let t0 = std::time::Instant::now();
    probability_of_improvement(&m, &seeded(5, 14, 11), &b).unwrap();
    let poi = t0.elapsed();
    let t0 = std::time::Instant::now();
    let taus: Vec<f64> = (0..=30).map(|k| 5.0 * k as f64).collect();
    performance_profile(&m, &taus, &b).unwrap();
    let profile = t0.elapsed();
    eprintln!(
        "5 × 14, 2000 replications: all four aggregates {all:?}, IQM {iqm:?}, probability of improvement {poi:?}, profile at 31 τ {profile:?}"
    );
    for took in [all, iqm, poi, profile] {
        assert!(took.as_secs_f64() < 2.0, "{took:?}");
    }
}
