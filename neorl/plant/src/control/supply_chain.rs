//! Controllers of `SupplyChain-v0`: echelon base-stock (order-up-to)
//! replenishment, as an ERP/APS system runs it.
//!
//! ## Expert: echelon base-stock with newsvendor levels
//!
//! Every day each stage `j ∈ {R, W, F}` orders (or starts production) up to
//! its echelon base-stock level `S_j`:
//!
//! `q_j = clamp(S_j − IP_j^e, 0, min(q_j,max, room_j))`
//!
//! with the echelon inventory positions read from the observations
//! (Clark & Scarf, 1960; Zipkin, 2000, §8.3):
//!
//! * `IP_R^e = I_R + T_R + B_W − B_R` (retailer: stock, in transit, owed by
//!   the warehouse, minus customer backorders),
//! * `IP_W^e = I_W + T_W + B_F + I_R + T_R − B_R`,
//! * `IP_F^e = I_F + WIP_F + I_W + T_W + I_R + T_R − B_R`.
//!
//! The levels are newsvendor quantiles of the demand over the echelon's
//! protection interval `n_j = L̃_j + 1` (echelon lead time plus the review
//! day: 3, 8 and 11 days), assumed normal:
//! `S_j = Σ_{k<n_j} μ̂ w(dow+k) + z_j σ_j`, where `μ̂` is the observed 7-day
//! moving average of demand (which carries the yearly season and the
//! market level), `w` the plant's known weekly profile, and
//! `σ_j = μ̂ √(n_j c_d² + n_j² c_f² + v_p(n_j))` the standard deviation of
//! the lead-time demand: daily coefficient of variation `c_d = 0.254` of the
//! log-normal demand factor, the error of a 7-day-mean forecast
//! `c_f = c_d/√7` (Silver, Pyke & Thomas, 2017, §6.9), and `v_p(n)` the
//! compound-Poisson variance of the promotional extra demand in an
//! `n`-day window, computed from the promotion statistics of the sales
//! history (see [`promo_variance`]). The safety factors follow the newsvendor
//! bounds heuristic of Shang & Song (2003) with installation holding costs
//! `H_1 = h_R`, `H_2 = h_W`, `H_3 = h_F` and backorder cost `b`: the
//! quantile is the average of the lower- and upper-bound quantiles with
//! critical fractiles `(b + H_{j+1}) / (b + H_1)` and `(b + H_{j+1}) / (b + H_j)`
//! (`H_4 = 0`), which gives `z_R = 2.33`, `z_W ≈ 2.47`, `z_F ≈ 2.27`.
//!
//! **Capacity cap.** Everything a stage has on hand, in transit to it and
//! owed to it will be on hand at once in the worst case (no demand), so the
//! expert never lets `I_j + T_j + B_{j+1} + q_j` exceed the store's capacity
//! less a margin of 5 % (ten standard deviations of the count error): the
//! storage limits can then never be breached, whatever the demand.
//!
//! ## Medium: the same structure with a stale plan
//!
//! The levels come from last year's sales plan instead of the forecast: a
//! fixed rate of 180 case/d (10 % below this year's mean; no season, no
//! market level, no weekly profile, no promotion allowance), the review day
//! forgotten (protection intervals 2, 7 and 10 days instead of 3, 8 and
//! 11), no safety stock at the retailer (`z_R = 0`, a 50 % fractile instead
//! of 99 %) and heavy buffers upstream where they protect the customer
//! least (`z_W = z_F = 3`). The ERP's orders are moreover overridden by
//! hand: Gaussian actuator noise of 5 % of each range (30, 40 and 25
//! case/d). The capacity caps are kept.
//!
//! ## Sources
//!
//! Clark & Scarf (1960), *Management Science* 6(4):475–490; Zipkin (2000),
//! *Foundations of Inventory Management*, ch. 8; Shang & Song (2003),
//! *Management Science* 49(5):618–638; Silver, Pyke & Thomas (2017),
//! *Inventory and Production Management in Supply Chains*, ch. 6.

use crate::control::WithActionNoise;
use crate::env::EnvSpec;
use crate::env::supply_chain::{
    A_WEEK, BACKORDER, CAP_F, CAP_R, CAP_W, H_F, H_R, H_W, L_F, L_R, L_W, MEAN_DEMAND, P_MAX,
    PROMO_DAYS, PROMO_LIFT, PROMO_PROB, Q_R_MAX, Q_W_MAX, SIGMA_LN, obs, weekly_factor,
};
use crate::error::Result;
use crate::policy::Policy;

/// Storage margin the orders keep below each capacity, as a fraction.
pub const CAP_MARGIN: f64 = 0.05;

/// Actuator-noise standard deviation of the medium controller, fraction of range.
pub const MEDIUM_NOISE: f64 = 0.05;

/// The stale plan rate of the medium controller, case/d.
pub const MEDIUM_PLAN_RATE: f64 = 0.9 * MEAN_DEMAND;

/// Safety factors of the medium controller (R, W, F).
pub const MEDIUM_Z: [f64; 3] = [0.0, 3.0, 3.0];

/// Protection intervals of the medium controller (review day forgotten), d.
pub const MEDIUM_COVER: [usize; 3] = [L_R, L_R + L_W, L_R + L_W + L_F];

/// Standard normal CDF.
fn phi(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// Standard normal quantile (bisection on `erfc`; construction time only).
pub fn normal_quantile(p: f64) -> f64 {
    assert!(p > 0.0 && p < 1.0, "quantile of {p}");
    let (mut lo, mut hi) = (-10.0, 10.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if phi(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Safety factors of the Shang–Song (2003) heuristic for the three stages
/// (retailer, warehouse, factory): the average of the lower- and
/// upper-bound newsvendor quantiles.
pub fn shang_song_safety_factors() -> [f64; 3] {
    // Installation holding costs H_1..H_3 (downstream to upstream), H_4 = 0.
    let h = [H_R, H_W, H_F, 0.0];
    let b = BACKORDER;
    let mut z = [0.0; 3];
    for j in 0..3 {
        let lower = (b + h[j + 1]) / (b + h[0]);
        let upper = (b + h[j + 1]) / (b + h[j]);
        z[j] = 0.5 * (normal_quantile(lower) + normal_quantile(upper));
    }
    z
}

/// Variance of the promotional extra demand over a window of `n` days, in
/// units of the squared mean daily demand: promotions start as a (nearly)
/// Poisson process of rate `ρ = p / (1 − p + p·E[dur])` per day (they start
/// with probability `p` on each day none runs), each adds `(λ − 1)` times the mean demand on each of its
/// days, so the compound-Poisson variance of the extra demand in the
/// window is `ρ · E[(λ − 1)²] · E_dur[Σ_s overlap(s)²]`, summed over all
/// start offsets `s` of a promotion relative to the window.
pub fn promo_variance(n: usize) -> f64 {
    let (d_lo, d_hi) = (PROMO_DAYS.0 as i64, PROMO_DAYS.1 as i64);
    let n_dur = (d_hi - d_lo + 1) as f64;
    let mean_dur = 0.5 * (PROMO_DAYS.0 + PROMO_DAYS.1);
    let rho = PROMO_PROB / (1.0 - PROMO_PROB + PROMO_PROB * mean_dur);
    let (a, b) = (PROMO_LIFT.0 - 1.0, PROMO_LIFT.1 - 1.0);
    let e_excess_sq = (a * a + a * b + b * b) / 3.0;
    let n = n as i64;
    let mut overlap_sq = 0.0;
    for dur in d_lo..=d_hi {
        for start in (1 - dur)..n {
            let ov = ((start + dur).min(n) - start.max(0)) as f64;
            overlap_sq += ov * ov / n_dur;
        }
    }
    rho * e_excess_sq * overlap_sq
}

/// Where the base-stock levels' mean demand comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DemandPlan {
    /// The observed 7-day moving average times the weekly profile.
    Forecast,
    /// A fixed rate, case/d, with no weekly profile.
    Fixed(f64),
}

/// Echelon base-stock policy with capacity caps (reads only observations).
#[derive(Debug, Clone)]
pub struct EchelonBaseStock {
    label: String,
    plan: DemandPlan,
    /// Safety factors (R, W, F).
    pub z: [f64; 3],
    /// Protection intervals (R, W, F), d.
    pub cover: [usize; 3],
    /// Daily coefficient of variation of demand assumed for safety stock.
    cv_day: f64,
    /// Coefficient of variation of the mean-demand forecast.
    cv_forecast: f64,
    /// Promotional variance per stage (in units of the squared mean demand).
    promo_var: [f64; 3],
    week: [f64; 7],
}

impl EchelonBaseStock {
    /// A policy with the given levels.
    pub fn new(label: impl Into<String>, plan: DemandPlan, z: [f64; 3], cover: [usize; 3]) -> Self {
        let mut week = [1.0; 7];
        if plan == DemandPlan::Forecast {
            for (d, w) in week.iter_mut().enumerate() {
                *w = weekly_factor(A_WEEK, d);
            }
        }
        let cv_day = libm::sqrt(libm::exp(SIGMA_LN * SIGMA_LN) - 1.0);
        EchelonBaseStock {
            label: label.into(),
            plan,
            z,
            cover,
            cv_day,
            cv_forecast: cv_day / libm::sqrt(7.0),
            promo_var: if plan == DemandPlan::Forecast {
                [
                    promo_variance(cover[0]),
                    promo_variance(cover[1]),
                    promo_variance(cover[2]),
                ]
            } else {
                [0.0; 3]
            },
            week,
        }
    }

    /// The base-stock levels (R, W, F) for an observation.
    pub fn levels(&self, o: &[f32]) -> [f64; 3] {
        let (mu, dow) = match self.plan {
            DemandPlan::Forecast => {
                let a = libm::atan2(o[obs::DOW_SIN] as f64, o[obs::DOW_COS] as f64);
                let k = libm::round(a * 7.0 / std::f64::consts::TAU) as i64;
                (o[obs::DEMAND_MA7] as f64, k.rem_euclid(7) as usize)
            }
            DemandPlan::Fixed(rate) => (rate, 0),
        };
        let mut s = [0.0; 3];
        for (j, level) in s.iter_mut().enumerate() {
            let n = self.cover[j];
            let mut mean = 0.0;
            for k in 0..n {
                mean += mu * self.week[(dow + k) % 7];
            }
            let nf = n as f64;
            let sd = mu
                * libm::sqrt(
                    nf * self.cv_day * self.cv_day
                        + nf * nf * self.cv_forecast * self.cv_forecast
                        + self.promo_var[j],
                );
            *level = mean + self.z[j] * sd;
        }
        s
    }

    /// The orders (R, W, F) for an observation.
    pub fn orders(&self, o: &[f32]) -> [f64; 3] {
        let g = |i: usize| o[i] as f64;
        let (inv_r, inv_w, inv_f) = (g(obs::INV_R), g(obs::INV_W), g(obs::INV_F));
        let (bo_r, bo_w, bo_f) = (g(obs::BO_R), g(obs::BO_W), g(obs::BO_F));
        let (tr_r, tr_w, wip) = (g(obs::TRANSIT_R), g(obs::TRANSIT_W), g(obs::WIP_F));
        let ip_r = inv_r + tr_r + bo_w - bo_r;
        let ip_w = inv_w + tr_w + bo_f + inv_r + tr_r - bo_r;
        let ip_f = inv_f + wip + inv_w + tr_w + inv_r + tr_r - bo_r;
        // Room left in each store if everything under way arrived at once.
        let room_r = (1.0 - CAP_MARGIN) * CAP_R - (inv_r + tr_r + bo_w);
        let room_w = (1.0 - CAP_MARGIN) * CAP_W - (inv_w + tr_w + bo_f);
        let room_f = (1.0 - CAP_MARGIN) * CAP_F - (inv_f + wip);
        let s = self.levels(o);
        let order =
            |target: f64, ip: f64, room: f64, max: f64| (target - ip).min(room).min(max).max(0.0);
        [
            order(s[0], ip_r, room_r, Q_R_MAX),
            order(s[1], ip_w, room_w, Q_W_MAX),
            order(s[2], ip_f, room_f, P_MAX),
        ]
    }
}

impl Policy for EchelonBaseStock {
    fn name(&self) -> String {
        self.label.clone()
    }
    fn act(&mut self, o: &[f32], action: &mut [f32]) -> Result<()> {
        let q = self.orders(o);
        for (a, q) in action.iter_mut().zip(q) {
            *a = q as f32;
        }
        Ok(())
    }
}

/// Protection intervals of the echelons: echelon lead time plus the review day.
pub const EXPERT_COVER: [usize; 3] = [L_R + 1, L_R + L_W + 1, L_R + L_W + L_F + 1];

/// The expert: echelon base-stock with Shang–Song newsvendor levels on the
/// forecast lead-time demand, capped by the storage capacities.
pub fn expert(_spec: &EnvSpec) -> Box<dyn Policy> {
    Box::new(EchelonBaseStock::new(
        "expert (echelon base-stock, Shang-Song newsvendor levels, capacity caps)",
        DemandPlan::Forecast,
        shang_song_safety_factors(),
        EXPERT_COVER,
    ))
}

/// The medium controller: echelon base-stock on a stale plan (fixed rate
/// 10 % low, no review day, no retailer safety stock, heavy upstream
/// buffers) with 5 % actuator noise.
pub fn medium(spec: &EnvSpec) -> Box<dyn Policy> {
    let inner = EchelonBaseStock::new(
        "medium (echelon base-stock on a stale plan)",
        DemandPlan::Fixed(MEDIUM_PLAN_RATE),
        MEDIUM_Z,
        MEDIUM_COVER,
    );
    Box::new(WithActionNoise::new(Box::new(inner), spec, MEDIUM_NOISE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::math::uniform_in;
    use crate::env::supply_chain::{SupplyChain, state};
    use crate::env::{EnvOptions, EnvRng, Model};
    use rand::SeedableRng;

    #[test]
    fn normal_quantile_matches_tables() {
        for (p, z) in [
            (0.5, 0.0),
            (0.841_344_746_068_542_9, 1.0),
            (0.975, 1.959_963_984_540_054),
            (0.99, 2.326_347_874_040_841),
            (0.05, -1.644_853_626_951_472_2),
        ] {
            assert!((normal_quantile(p) - z).abs() < 1e-9, "{p}");
        }
    }

    #[test]
    fn shang_song_factors_lie_between_the_newsvendor_bounds() {
        let z = shang_song_safety_factors();
        // Retailer: both bounds coincide with the Clark-Scarf fractile.
        let f1 = (BACKORDER + H_W) / (BACKORDER + H_R);
        assert!((z[0] - normal_quantile(f1)).abs() < 1e-12);
        // Warehouse and factory: strictly between the two bound quantiles.
        let lo = [
            (BACKORDER + H_F) / (BACKORDER + H_R),
            BACKORDER / (BACKORDER + H_R),
        ];
        let hi = [
            (BACKORDER + H_F) / (BACKORDER + H_W),
            BACKORDER / (BACKORDER + H_F),
        ];
        for j in 0..2 {
            let (a, b) = (normal_quantile(lo[j]), normal_quantile(hi[j]));
            assert!(a < z[j + 1] && z[j + 1] < b, "stage {}", j + 1);
            assert!((z[j + 1] - 0.5 * (a + b)).abs() < 1e-12);
        }
    }

    #[test]
    fn promo_variance_matches_the_hand_computation() {
        // n = 3 ≤ every duration: Σ_s overlap² = 2(1² + 2²) + (dur − 2)·3²,
        // i.e. 19, 28, 37, 46, 55 for dur = 3..7, mean 37.
        // ρ = 0.025 / (0.975 + 0.025·5) = 1/44, E[(λ−1)²] = (0.09+0.24+0.64)/3.
        let expect = (1.0 / 44.0) * (0.97 / 3.0) * 37.0;
        assert!((promo_variance(3) - expect).abs() < 1e-12);
        // A one-day window: Σ_s overlap² = dur, mean 5.
        assert!((promo_variance(1) - (1.0 / 44.0) * (0.97 / 3.0) * 5.0).abs() < 1e-12);
    }

    #[test]
    fn orders_respect_actuator_bounds_and_storage_room() {
        let p = EchelonBaseStock::new(
            "t",
            DemandPlan::Forecast,
            shang_song_safety_factors(),
            EXPERT_COVER,
        );
        let mut r = EnvRng::seed_from_u64(4);
        let mut o = [0f32; obs::DIM];
        for _ in 0..20_000 {
            o[obs::INV_R] = uniform_in(&mut r, 0.0, CAP_R) as f32;
            o[obs::INV_W] = uniform_in(&mut r, 0.0, CAP_W) as f32;
            o[obs::INV_F] = uniform_in(&mut r, 0.0, CAP_F) as f32;
            o[obs::BO_R] = uniform_in(&mut r, 0.0, 3000.0) as f32;
            o[obs::BO_W] = uniform_in(&mut r, 0.0, 1000.0) as f32;
            o[obs::BO_F] = uniform_in(&mut r, 0.0, 1000.0) as f32;
            o[obs::TRANSIT_R] = uniform_in(&mut r, 0.0, 1200.0) as f32;
            o[obs::TRANSIT_W] = uniform_in(&mut r, 0.0, 4000.0) as f32;
            o[obs::WIP_F] = uniform_in(&mut r, 0.0, 1500.0) as f32;
            o[obs::DEMAND_MA7] = uniform_in(&mut r, 0.0, 1000.0) as f32;
            let a = uniform_in(&mut r, 0.0, std::f64::consts::TAU);
            o[obs::DOW_SIN] = libm::sin(a) as f32;
            o[obs::DOW_COS] = libm::cos(a) as f32;
            let q = p.orders(&o);
            let g = |i: usize| o[i] as f64;
            assert!(q.iter().all(|x| *x >= 0.0));
            assert!(q[0] <= Q_R_MAX && q[1] <= Q_W_MAX && q[2] <= P_MAX);
            let room = 1e-9 + (1.0 - CAP_MARGIN);
            assert!(
                g(obs::INV_R) + g(obs::TRANSIT_R) + g(obs::BO_W) + q[0]
                    <= (room * CAP_R).max(g(obs::INV_R) + g(obs::TRANSIT_R) + g(obs::BO_W))
            );
            assert!(
                g(obs::INV_W) + g(obs::TRANSIT_W) + g(obs::BO_F) + q[1]
                    <= (room * CAP_W).max(g(obs::INV_W) + g(obs::TRANSIT_W) + g(obs::BO_F))
            );
            assert!(
                g(obs::INV_F) + g(obs::WIP_F) + q[2]
                    <= (room * CAP_F).max(g(obs::INV_F) + g(obs::WIP_F))
            );
        }
    }

    #[test]
    fn expert_serves_the_seasonal_profile_without_stockouts() {
        // Deterministic seasonal demand: after the first lead times the
        // expert never leaves a customer waiting and never fills a store.
        let m = SupplyChain::new(EnvOptions::deterministic());
        let spec = m.spec().clone();
        let mut policy = expert(&spec);
        for seed in 0..10 {
            let mut r = EnvRng::seed_from_u64(seed);
            let mut s = vec![0.0; m.state_dim()];
            m.reset(&mut s, &mut r);
            policy.reset(seed);
            let mut o = vec![0f32; spec.obs_dim()];
            let mut a = vec![0f32; spec.act_dim()];
            let mut c = vec![0.0; spec.n_constraints()];
            for t in 0..spec.horizon {
                m.observe(&s, &mut o, &mut r);
                policy.act(&o, &mut a).unwrap();
                let a64: Vec<f64> = a.iter().map(|x| *x as f64).collect();
                m.step(&mut s, &a64, &mut r);
                m.constraints(&s, &mut c);
                for (cs, v) in spec.constraints.iter().zip(&c).take(3) {
                    assert!(!cs.violated(*v), "seed {seed} day {t}: {}", cs.name);
                }
                if t >= 15 {
                    assert_eq!(s[state::BO_R], 0.0, "seed {seed} day {t}");
                }
            }
        }
    }
}
