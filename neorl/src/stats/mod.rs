//! Aggregate statistics over runs × tasks, with stratified bootstrap
//! confidence intervals (interim implementation; branch `stats` replaces it
//! with the same API).
//!
//! Method (Agarwal et al., "Deep Reinforcement Learning at the Edge of the
//! Statistical Precipice", NeurIPS 2021): a score matrix holds one row per
//! run (seed) and one column per task. An aggregate (mean, median,
//! interquartile mean, optimality gap) is taken over all its cells. Its
//! confidence interval is the percentile interval of the aggregate over
//! `reps` *stratified* bootstrap resamples: each task's column is resampled
//! with replacement on its own, so every task keeps its weight. The
//! resampling is seeded (ChaCha8), so an interval is the same on every run.

use crate::error::{Error, Result};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The optimality gap's target: a normalized score of 100 is the expert's.
pub const OPTIMALITY_TARGET: f64 = 100.0;

/// Scores of runs (rows, one per seed) on tasks (columns).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreMatrix {
    tasks: Vec<String>,
    rows: Vec<Vec<f64>>,
}

impl ScoreMatrix {
    /// A matrix of `rows` (one per run, each with one score per task); an
    /// error for no tasks, no runs, ragged rows or a non-finite score.
    pub fn new(tasks: Vec<String>, rows: Vec<Vec<f64>>) -> Result<Self> {
        if tasks.is_empty() || rows.is_empty() {
            return Err(Error::InvalidArgument(
                "a score matrix needs at least one task and one run".into(),
            ));
        }
        for (i, r) in rows.iter().enumerate() {
            if r.len() != tasks.len() {
                return Err(Error::InvalidArgument(format!(
                    "score matrix run {i} has {} scores for {} tasks; give one score per task",
                    r.len(),
                    tasks.len()
                )));
            }
            if let Some(j) = r.iter().position(|x| !x.is_finite()) {
                return Err(Error::InvalidArgument(format!(
                    "score matrix run {i}, task {}: the score {} is not finite; leave failed runs out",
                    tasks[j], r[j]
                )));
            }
        }
        Ok(ScoreMatrix { tasks, rows })
    }
    pub fn tasks(&self) -> &[String] {
        &self.tasks
    }
    pub fn runs(&self) -> usize {
        self.rows.len()
    }
    pub fn get(&self, run: usize, task: usize) -> f64 {
        self.rows[run][task]
    }
    /// A stratified resample: each task's column drawn with replacement.
    fn resample(&self, rng: &mut ChaCha8Rng) -> ScoreMatrix {
        let n = self.rows.len();
        let mut rows = vec![vec![0.0; self.tasks.len()]; n];
        for t in 0..self.tasks.len() {
            for row in rows.iter_mut() {
                row[t] = self.rows[rng.random_range(0..n)][t];
            }
        }
        ScoreMatrix {
            tasks: self.tasks.clone(),
            rows,
        }
    }
    fn cells(&self) -> Vec<f64> {
        self.rows.iter().flatten().copied().collect()
    }
}

/// An aggregate of a score matrix's cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Aggregate {
    Mean,
    Median,
    /// Interquartile mean: the mean of the middle 50 % of the scores.
    Iqm,
    /// Mean shortfall below [`OPTIMALITY_TARGET`] (lower is better).
    OptimalityGap,
}

impl Aggregate {
    pub const ALL: [Aggregate; 4] = [
        Aggregate::Mean,
        Aggregate::Median,
        Aggregate::Iqm,
        Aggregate::OptimalityGap,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Mean => "mean",
            Aggregate::Median => "median",
            Aggregate::Iqm => "IQM",
            Aggregate::OptimalityGap => "optimality gap",
        }
    }
    pub fn higher_is_better(self) -> bool {
        self != Aggregate::OptimalityGap
    }
    pub fn of(self, m: &ScoreMatrix) -> f64 {
        let mut v = m.cells();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        match self {
            Aggregate::Mean => v.iter().sum::<f64>() / n as f64,
            Aggregate::Median => quantile(&v, 0.5),
            Aggregate::Iqm => {
                // The trimmed mean with a quarter cut from each end, whole
                // scores only (as scipy's `trim_mean(…, 0.25)`).
                let cut = n / 4;
                let mid = &v[cut..n - cut];
                mid.iter().sum::<f64>() / mid.len() as f64
            }
            Aggregate::OptimalityGap => {
                v.iter()
                    .map(|x| (OPTIMALITY_TARGET - x).max(0.0))
                    .sum::<f64>()
                    / n as f64
            }
        }
    }
}

/// A point estimate with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub point: f64,
    pub lo: f64,
    pub hi: f64,
}

/// Bootstrap settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bootstrap {
    pub reps: usize,
    pub confidence: f64,
    pub seed: u64,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Bootstrap {
            reps: 2000,
            confidence: 0.95,
            seed: 0,
        }
    }
}

impl Bootstrap {
    fn check(&self) -> Result<()> {
        if self.reps == 0 || self.reps > 1_000_000 {
            return Err(Error::InvalidArgument(format!(
                "bootstrap reps = {}: use 1 to 1000000 (2000 is usual)",
                self.reps
            )));
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(Error::InvalidArgument(format!(
                "bootstrap confidence = {}: use a level strictly between 0 and 1 (0.95 is usual)",
                self.confidence
            )));
        }
        Ok(())
    }
    fn rng(&self) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.seed)
    }
    /// The percentile interval of `reps` values around `point`.
    fn percentile(&self, point: f64, mut reps: Vec<f64>) -> Interval {
        reps.sort_by(f64::total_cmp);
        let a = (1.0 - self.confidence) / 2.0;
        Interval {
            point,
            lo: quantile(&reps, a),
            hi: quantile(&reps, 1.0 - a),
        }
    }
}

/// The `q`-quantile of sorted values, linearly interpolated.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let (i, f) = (h.floor() as usize, h - h.floor());
    if i + 1 < sorted.len() {
        sorted[i] + f * (sorted[i + 1] - sorted[i])
    } else {
        sorted[i]
    }
}

/// Aggregate `agg` of `m` with its stratified bootstrap percentile interval.
pub fn interval(m: &ScoreMatrix, agg: Aggregate, b: &Bootstrap) -> Result<Interval> {
    b.check()?;
    let mut rng = b.rng();
    let reps = (0..b.reps).map(|_| agg.of(&m.resample(&mut rng))).collect();
    Ok(b.percentile(agg.of(m), reps))
}

/// A performance profile: at each threshold τ, the fraction of runs (over
/// all tasks) scoring above τ, with bootstrap bands.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub taus: Vec<f64>,
    pub fraction: Vec<f64>,
    pub lo: Vec<f64>,
    pub hi: Vec<f64>,
}

fn fraction_above(m: &ScoreMatrix, tau: f64) -> f64 {
    let c = m.cells();
    c.iter().filter(|&&x| x > tau).count() as f64 / c.len() as f64
}

/// The performance profile of `m` at `taus`.
pub fn performance_profile(m: &ScoreMatrix, taus: &[f64], b: &Bootstrap) -> Result<Profile> {
    b.check()?;
    if taus.is_empty() || taus.iter().any(|t| !t.is_finite()) {
        return Err(Error::InvalidArgument(
            "a performance profile needs at least one finite threshold".into(),
        ));
    }
    let mut rng = b.rng();
    let samples: Vec<ScoreMatrix> = (0..b.reps).map(|_| m.resample(&mut rng)).collect();
    let mut p = Profile {
        taus: taus.to_vec(),
        fraction: vec![],
        lo: vec![],
        hi: vec![],
    };
    for &t in taus {
        let reps = samples.iter().map(|s| fraction_above(s, t)).collect();
        let i = b.percentile(fraction_above(m, t), reps);
        p.fraction.push(i.point);
        p.lo.push(i.lo);
        p.hi.push(i.hi);
    }
    Ok(p)
}

/// P(X > Y): averaged over tasks, the probability that a run of `x` scores
/// above a run of `y` on it (ties count half; Mann–Whitney U / (n m)).
fn poi(x: &ScoreMatrix, y: &ScoreMatrix) -> f64 {
    let tasks = x.tasks.len();
    let mut sum = 0.0;
    for t in 0..tasks {
        let mut s = 0.0;
        for a in &x.rows {
            for b in &y.rows {
                s += match a[t].total_cmp(&b[t]) {
                    std::cmp::Ordering::Greater => 1.0,
                    std::cmp::Ordering::Equal => 0.5,
                    std::cmp::Ordering::Less => 0.0,
                };
            }
        }
        sum += s / (x.rows.len() * y.rows.len()) as f64;
    }
    sum / tasks as f64
}

/// The probability of improvement of `x` over `y` on the same tasks, with
/// its interval (each resampled on its own, task by task).
pub fn probability_of_improvement(
    x: &ScoreMatrix,
    y: &ScoreMatrix,
    b: &Bootstrap,
) -> Result<Interval> {
    b.check()?;
    if x.tasks != y.tasks {
        return Err(Error::InvalidArgument(format!(
            "probability of improvement needs the same tasks in both: {:?} vs {:?}",
            x.tasks, y.tasks
        )));
    }
    let mut rng = b.rng();
    let reps = (0..b.reps)
        .map(|_| poi(&x.resample(&mut rng), &y.resample(&mut rng)))
        .collect();
    Ok(b.percentile(poi(x, y), reps))
}

/// Every aggregate of every algorithm with its interval.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsTable {
    pub algos: Vec<String>,
    /// `rows[a][k]`: algorithm `a`, aggregate [`Aggregate::ALL`]`[k]`.
    pub rows: Vec<Vec<Interval>>,
    pub runs: Vec<usize>,
    pub bootstrap: Bootstrap,
}

impl StatsTable {
    /// A Markdown table: one row per algorithm, `point [lo, hi]` per aggregate.
    pub fn to_markdown(&self) -> String {
        let mut s = String::from("| algorithm | runs |");
        for a in Aggregate::ALL {
            s += &format!(" {} |", a.name());
        }
        s += "\n|---|---:|";
        s += &"---:|".repeat(Aggregate::ALL.len());
        s += "\n";
        for ((algo, row), n) in self.algos.iter().zip(&self.rows).zip(&self.runs) {
            s += &format!("| {algo} | {n} |");
            for i in row {
                s += &format!(" {:.1} [{:.1}, {:.1}] |", i.point, i.lo, i.hi);
            }
            s += "\n";
        }
        s
    }
}

/// [`StatsTable`] of `algos`.
pub fn summarize(algos: &[(String, ScoreMatrix)], b: &Bootstrap) -> Result<StatsTable> {
    let mut rows = vec![];
    for (_, m) in algos {
        rows.push(
            Aggregate::ALL
                .iter()
                .map(|&a| interval(m, a, b))
                .collect::<Result<Vec<_>>>()?,
        );
    }
    Ok(StatsTable {
        algos: algos.iter().map(|(a, _)| a.clone()).collect(),
        runs: algos.iter().map(|(_, m)| m.runs()).collect(),
        rows,
        bootstrap: *b,
    })
}

/// `out[i][j]`: P(algorithm i > algorithm j), `None` on the diagonal.
pub fn improvement_matrix(
    algos: &[(String, ScoreMatrix)],
    b: &Bootstrap,
) -> Result<Vec<Vec<Option<Interval>>>> {
    let mut out = vec![];
    for (i, (_, x)) in algos.iter().enumerate() {
        let mut row = vec![];
        for (j, (_, y)) in algos.iter().enumerate() {
            row.push(if i == j {
                None
            } else {
                Some(probability_of_improvement(x, y, b)?)
            });
        }
        out.push(row);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(rows: Vec<Vec<f64>>) -> ScoreMatrix {
        let tasks = (0..rows[0].len()).map(|i| format!("t{i}")).collect();
        ScoreMatrix::new(tasks, rows).unwrap()
    }

    #[test]
    fn aggregates_of_a_known_matrix() {
        let x = m(vec![
            vec![1.0, 2.0],
            vec![3.0, 4.0],
            vec![5.0, 6.0],
            vec![7.0, 200.0],
        ]);
        assert_eq!(Aggregate::Mean.of(&x), 228.0 / 8.0);
        assert_eq!(Aggregate::Median.of(&x), 4.5);
        assert_eq!(Aggregate::Iqm.of(&x), (3.0 + 4.0 + 5.0 + 6.0) / 4.0);
        assert_eq!(
            Aggregate::OptimalityGap.of(&x),
            (99.0 + 98.0 + 97.0 + 96.0 + 95.0 + 94.0 + 93.0) / 8.0
        );
    }

    #[test]
    fn intervals_hold_the_point_and_are_reproducible() {
        let x = m((0..10).map(|i| vec![i as f64, 2.0 * i as f64]).collect());
        let b = Bootstrap {
            reps: 500,
            ..Bootstrap::default()
        };
        let i = interval(&x, Aggregate::Iqm, &b).unwrap();
        assert!(i.lo <= i.point && i.point <= i.hi && i.lo < i.hi, "{i:?}");
        assert_eq!(i, interval(&x, Aggregate::Iqm, &b).unwrap());
        let y = m((0..10).map(|i| vec![i as f64 + 100.0, 0.0]).collect());
        let p = probability_of_improvement(&y, &x, &b).unwrap();
        assert!(p.point > 0.5 && p.point < 1.0, "{p:?}");
        let prof = performance_profile(&x, &[-1.0, 100.0], &b).unwrap();
        assert_eq!(prof.fraction, [1.0, 0.0]);
    }

    #[test]
    fn bad_inputs_are_refused() {
        assert!(ScoreMatrix::new(vec!["a".into()], vec![vec![f64::NAN]]).is_err());
        assert!(ScoreMatrix::new(vec!["a".into()], vec![vec![1.0, 2.0]]).is_err());
        assert!(ScoreMatrix::new(vec![], vec![]).is_err());
        let x = m(vec![vec![1.0]]);
        let b = Bootstrap {
            reps: 0,
            ..Bootstrap::default()
        };
        assert!(interval(&x, Aggregate::Mean, &b).is_err());
    }
}
