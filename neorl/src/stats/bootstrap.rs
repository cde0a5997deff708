//! Interval estimates by the stratified bootstrap (Agarwal et al. 2021,
//! Sec. 4.1; B. Efron, "Bootstrap methods: another look at the jackknife",
//! Ann. Statist. 1979; rliable's `StratifiedBootstrap` and
//! `get_interval_estimates`).
//!
//! The runs are the random part of an experiment; the tasks are fixed. So a
//! bootstrap resample keeps every task and redraws its runs: for each task
//! (stratum), `R` runs are drawn with replacement from its `R` runs,
//! independently of the other tasks. The aggregate of each resample is one
//! draw from the aggregate's bootstrap distribution; `reps` of them give
//! the interval.
//!
//! **Percentile interval.** With α = (1 − confidence)/2, the interval is the
//! α and 1 − α quantiles of the `reps` bootstrap values — arch's
//! `conf_int(method="percentile")`, which rliable uses. The quantile is
//! arch's too: `numpy.percentile`'s default "linear" method, Hyndman and
//! Fan's definition 7 (R's default): with the values sorted, `v[0..n]`,
//! the q-quantile sits at position `h = (n − 1)·q` and is
//! `v[⌊h⌋] + (h − ⌊h⌋)·(v[⌊h⌋+1] − v[⌊h⌋])` (interpolated as numpy does,
//! from the nearer end). The point estimate is the aggregate of the
//! original matrix, not a bootstrap mean.
//!
//! **Draw order** (so that anyone can reproduce the bits): one
//! `rand_chacha::ChaCha8Rng::seed_from_u64(seed)` per call; for each
//! replication in turn, for each task in column order, for each of the `R`
//! slots in turn, one index drawn from `rand::distr::Uniform<usize>` over
//! `0..R` (rand 0.10, which draws 32-bit words for ranges below 2³², the
//! same on every platform). Functions that resample two matrices (the
//! probability of improvement) draw X's whole resample, then Y's, per
//! replication. The bootstrap values are then sorted with `f64::total_cmp`.

use super::aggregate::Aggregate;
use super::matrix::ScoreMatrix;
use crate::error::{Error, Result};
use rand::SeedableRng;
use rand::distr::{Distribution, Uniform};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// A point estimate and its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// The statistic of the data themselves.
    pub point: f64,
    /// Lower end of the percentile interval.
    pub lo: f64,
    /// Upper end of the percentile interval.
    pub hi: f64,
}

impl Interval {
    /// Whether `x` lies in `[lo, hi]`.
    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }

    /// `hi − lo`.
    pub fn width(&self) -> f64 {
        self.hi - self.lo
    }
}

/// `point [lo, hi]`, with the precision asked for (`{:.1}`), else as
/// `f64` prints.
impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match f.precision() {
            Some(p) => write!(f, "{:.p$} [{:.p$}, {:.p$}]", self.point, self.lo, self.hi),
            None => write!(f, "{} [{}, {}]", self.point, self.lo, self.hi),
        }
    }
}

/// How to bootstrap: replications, coverage and the seed of the resampling.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bootstrap {
    /// Bootstrap replications (100 ..= 1 000 000).
    pub reps: usize,
    /// Coverage of the interval, in (0, 1): 0.95 gives a 95 % interval.
    pub confidence: f64,
    /// Seed of the resampling RNG.
    pub seed: u64,
}

impl Default for Bootstrap {
    /// 2000 replications (rliable's default for performance profiles), a
    /// 95 % interval, seed 0.
    fn default() -> Self {
        Bootstrap {
            reps: 2000,
            confidence: 0.95,
            seed: 0,
        }
    }
}

impl Bootstrap {
    /// The fewest replications accepted: below 100 the 2.5 % quantile is
    /// interpolated between the two smallest values.
    pub const MIN_REPS: usize = 100;
    /// The most replications accepted.
    pub const MAX_REPS: usize = 1_000_000;

    /// Check `reps` and `confidence`.
    pub fn validate(&self) -> Result<()> {
        if !(Self::MIN_REPS..=Self::MAX_REPS).contains(&self.reps) {
            return Err(Error::InvalidArgument(format!(
                "bootstrap: {} replications; use {} to {} (2000 for a quick look, 20 000 or more for a paper)",
                self.reps,
                Self::MIN_REPS,
                Self::MAX_REPS
            )));
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(Error::InvalidArgument(format!(
                "bootstrap: confidence {} is not in (0, 1); give the coverage as a fraction, e.g. 0.95 for a 95 % interval",
                self.confidence
            )));
        }
        Ok(())
    }

    /// α = (1 − confidence)/2: the lower quantile (the upper one is 1 − α).
    pub fn alpha(&self) -> f64 {
        (1.0 - self.confidence) / 2.0
    }

    /// The most score draws one bootstrap may make (replications × scores
    /// resampled per replication): 10¹⁰, about a minute. More is a mistake
    /// in the inputs, not a wish for precision.
    pub const MAX_DRAWS: u128 = 10_000_000_000;

    /// Refuse a bootstrap of `scores` values per replication that would run
    /// for many minutes.
    pub(crate) fn check_work(&self, scores: usize) -> Result<()> {
        let draws = self.reps as u128 * scores as u128;
        if draws > Self::MAX_DRAWS {
            return Err(Error::InvalidArgument(format!(
                "bootstrap: {} replications of {scores} scores is {draws} draws, more than {} (about a minute); use fewer replications",
                self.reps,
                Self::MAX_DRAWS
            )));
        }
        Ok(())
    }

    pub(crate) fn rng(&self) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.seed)
    }
}

/// Point estimate + stratified-bootstrap percentile CI (runs resampled with
/// replacement independently within each task).
pub fn interval(m: &ScoreMatrix, agg: Aggregate, b: &Bootstrap) -> Result<Interval> {
    let mut out = intervals(m, &[agg], b)?;
    Ok(out.remove(0))
}

/// [`interval`] for several aggregates at once, from the same resamples:
/// each result is bit-identical to `interval(m, agg, b)` and the
/// resampling is done once.
pub fn intervals(m: &ScoreMatrix, aggs: &[Aggregate], b: &Bootstrap) -> Result<Vec<Interval>> {
    b.validate()?;
    b.check_work(m.values().len())?;
    let mut resampler = Resampler::new(m);
    let mut scratch = Vec::with_capacity(m.values().len());
    let points: Vec<f64> = aggs
        .iter()
        .map(|a| a.of_columns(&resampler.columns, m.runs(), &mut scratch))
        .collect();
    // values[i * reps + rep]: the bootstrap distribution of aggs[i].
    let mut values = vec![0.0; aggs.len() * b.reps];
    let mut rng = b.rng();
    for rep in 0..b.reps {
        let sample = resampler.draw(&mut rng);
        for (i, a) in aggs.iter().enumerate() {
            values[i * b.reps + rep] = a.of_columns(sample, m.runs(), &mut scratch);
        }
    }
    Ok(points
        .into_iter()
        .zip(values.chunks_exact_mut(b.reps))
        .map(|(point, dist)| {
            let (lo, hi) = percentile_interval(dist, b.alpha());
            Interval { point, lo, hi }
        })
        .collect())
}

/// Draws stratified resamples of one matrix into a buffer it reuses.
pub(crate) struct Resampler {
    /// The original scores, task by task (`task * runs + run`).
    pub(crate) columns: Vec<f64>,
    runs: usize,
    pick: Uniform<usize>,
    sample: Vec<f64>,
}

impl Resampler {
    pub(crate) fn new(m: &ScoreMatrix) -> Self {
        let columns = m.columns();
        Resampler {
            sample: vec![0.0; columns.len()],
            columns,
            runs: m.runs(),
            // ScoreMatrix guarantees at least one run.
            pick: Uniform::new(0, m.runs()).expect("a score matrix has at least one run"),
        }
    }

    /// The next resample, task by task: each task's runs redrawn with
    /// replacement from its own runs.
    pub(crate) fn draw(&mut self, rng: &mut ChaCha8Rng) -> &[f64] {
        let r = self.runs;
        for (original, resampled) in self
            .columns
            .chunks_exact(r)
            .zip(self.sample.chunks_exact_mut(r))
        {
            for slot in resampled.iter_mut() {
                *slot = original[self.pick.sample(rng)];
            }
        }
        &self.sample
    }
}

/// The (α, 1 − α) percentile interval of bootstrap values (sorted in place).
pub(crate) fn percentile_interval(values: &mut [f64], alpha: f64) -> (f64, f64) {
    values.sort_unstable_by(f64::total_cmp);
    (quantile(values, alpha), quantile(values, 1.0 - alpha))
}

/// The q-quantile of sorted values, Hyndman and Fan's definition 7
/// (numpy's "linear"), interpolated as numpy interpolates.
pub(crate) fn quantile(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    let h = (n - 1) as f64 * q;
    let below = (h.floor() as usize).min(n - 1);
    let above = (below + 1).min(n - 1);
    let t = h - below as f64;
    let (a, b) = (sorted[below], sorted[above]);
    let d = b - a;
    // numpy's _lerp: from the nearer end, so that t = 1 gives b exactly.
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}
