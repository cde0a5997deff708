//! Performance profiles (Agarwal et al. 2021, Sec. 4.2, "score
//! distributions"; E. D. Dolan and J. J. Moré, "Benchmarking optimization
//! software with performance profiles", Math. Program. 2002; rliable's
//! `create_performance_profile` with `use_score_distribution=True`).
//!
//! The profile of a [`ScoreMatrix`] at a threshold τ is the fraction of all
//! `R·T` run × task scores that are strictly greater than τ: the empirical
//! tail distribution of the scores, read off at each τ. Its pointwise
//! interval at each τ is the percentile interval of that fraction over the
//! same stratified resamples as [`super::interval`] (one resample serves
//! every τ; same draw order and seed).
//!
//! Each resample is sorted once; the count above τ is then a binary search
//! (`partition_point`), so a profile costs `reps · N log N` whatever the
//! number of thresholds.

use super::bootstrap::{Bootstrap, Resampler, percentile_interval};
use super::matrix::ScoreMatrix;
use crate::error::{Error, Result};
use crate::limits::{bytes_for, check_memory};
use crate::viz::{Html, Table, num};
use neorl_plant::display::{HEAD_ROWS, TAIL_ROWS};
use neorl_plant::rich_display;
use serde::Serialize;

/// A performance profile with pointwise confidence intervals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    /// The thresholds τ, as given.
    pub taus: Vec<f64>,
    /// Fraction of run × task scores > τ, for each τ.
    pub fraction: Vec<f64>,
    /// Lower end of the interval at each τ.
    pub lo: Vec<f64>,
    /// Upper end of the interval at each τ.
    pub hi: Vec<f64>,
}

/// Performance profile: fraction of runs (over all runs × tasks) with score
/// > τ, for each τ, with pointwise stratified-bootstrap CIs.
pub fn performance_profile(m: &ScoreMatrix, taus: &[f64], b: &Bootstrap) -> Result<Profile> {
    b.validate()?;
    b.check_work(m.values().len())?;
    if taus.is_empty() {
        return Err(Error::InvalidArgument(
            "performance profile: no thresholds; give the scores τ to evaluate it at, e.g. 0, 5, …, 150"
                .into(),
        ));
    }
    if let Some((i, t)) = taus.iter().enumerate().find(|(_, t)| !t.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "performance profile: threshold {i} is {t}; thresholds must be finite scores"
        )));
    }
    check_memory(
        &format!(
            "a performance profile at {} thresholds × {} replications",
            taus.len(),
            b.reps
        ),
        bytes_for(taus.len() as u128 * b.reps as u128, 8),
        "give fewer thresholds or fewer replications",
    )?;
    let mut resampler = Resampler::new(m);
    let mut sorted = resampler.columns.clone();
    let mut fraction = vec![0.0; taus.len()];
    fractions_above(&mut sorted, taus, &mut fraction);
    // values[k * reps + rep]: the bootstrap distribution at taus[k].
    let mut values = vec![0.0; taus.len() * b.reps];
    let mut at = vec![0.0; taus.len()];
    let mut rng = b.rng();
    for rep in 0..b.reps {
        sorted.copy_from_slice(resampler.draw(&mut rng));
        fractions_above(&mut sorted, taus, &mut at);
        for (k, &f) in at.iter().enumerate() {
            values[k * b.reps + rep] = f;
        }
    }
    let (lo, hi) = values
        .chunks_exact_mut(b.reps)
        .map(|dist| percentile_interval(dist, b.alpha()))
        .unzip();
    Ok(Profile {
        taus: taus.to_vec(),
        fraction,
        lo,
        hi,
    })
}

/// Into `out[k]`, the fraction of `scores` (sorted in place) strictly above
/// `taus[k]`: `count / N`, as rliable's `np.mean(scores > tau)` gives it
/// exactly.
fn fractions_above(scores: &mut [f64], taus: &[f64], out: &mut [f64]) {
    scores.sort_unstable_by(f64::total_cmp);
    let n = scores.len();
    for (o, &tau) in out.iter_mut().zip(taus) {
        *o = (n - scores.partition_point(|&x| x <= tau)) as f64 / n as f64;
    }
}

impl Profile {
    /// τ, the fraction above it and its interval, one row per τ (long
    /// profiles show their first and last rows).
    pub fn table(&self) -> Table {
        let mut t = Table::new(&["τ", "fraction > τ", "lo", "hi"]).caption("Performance profile");
        t.fill_head_tail(self.taus.len(), HEAD_ROWS, TAIL_ROWS, |k| {
            vec![
                num(self.taus[k]).into(),
                num(self.fraction[k]).into(),
                num(self.lo[k]).into(),
                num(self.hi[k]).into(),
            ]
        });
        t
    }

    pub(crate) fn rich(&self) -> Html {
        let mut h = Html::default();
        h.table(&self.table());
        h.finish()
    }
}

rich_display!(Profile);
