//! Controllers of ChemicalReactor-v0: a three-level PI cascade
//! `C_A → T → T_j → F_c`, as jacketed exothermic reactors are run
//! (Luyben 2007, ch. 4; Seborg et al. 2011, ch. 16 on cascade control).
//!
//! ## Structure (reads only the observation)
//!
//! 1. **Reference pre-filter and feed-forward.** The product-concentration
//!    set-point is passed through a first-order filter (`τ_f = 90 s`), and
//!    the steady-state reactor temperature for the filtered set-point under
//!    nominal feed, `T_ff = (E/R) / ln(k_0 V C_sp / (q (C_Af − C_sp)))`,
//!    is fed forward. A grade change therefore raises the reaction
//!    temperature gradually: a step would heat the reactor while A is still
//!    accumulated and the reaction heat would outrun the jacket's limited
//!    cooling authority (the classic accumulation-runaway mechanism,
//!    Stoessel 2008).
//! 2. **Composition loop (outer, reverse acting).** PI on the analyser
//!    signal (filtered, `τ = 6 s`): `T_sp = T_ff + PI(C_A − C_sp)`, limited
//!    to ±10 K around the feed-forward. It removes the offset left by the
//!    unmeasured feed-concentration and feed-temperature drifts.
//! 3. **Reactor-temperature loop (middle, direct acting).** PI from `T` to
//!    the jacket-temperature set-point `T_j,sp ∈ [255, 360] K`. This is the
//!    loop that stabilises the open-loop-unstable operating point.
//! 4. **Jacket-temperature loop (inner, reverse acting).** PI from `T_j` to
//!    the brine flow `F_c ∈ [0, 40] L/min`. It makes the nonlinear,
//!    saturating valve-to-heat-removal path look like a fast, linear lag to
//!    the temperature loop.
//!
//! Every loop is a [`Pid`] (derivative off) with its conditional-integration
//! anti-windup. The reverse-acting loops are fed `(measurement, set-point)`
//! in that order so that their gains stay positive.
//!
//! ## Tuning (expert), at the nominal point `C_A = 0.5 mol/L`, `T = 350 K`,
//! `T_j = 300 K`, `F_c = 16.07 L/min`, sample time `Δt = 3 s`
//!
//! * **Inner, SIMC** (Skogestad 2003). The jacket is first order from `F_c`
//!   to `T_j`: time constant `τ_j = 1/(F_c/V_j + UA/(ρ_c c_pc V_j)) = 5.9 s`,
//!   gain `k_j = (T_j − T_ci) τ_j / V_j = 1.47 K/(L/min)`; the only delay is
//!   the sample-and-hold, `θ = Δt/2`. SIMC "tight" tuning `τ_c = θ` gives
//!   `K_c = τ_j / (k_j (τ_c + θ)) = 1.33 (L/min)/K`, `τ_I = min(τ_j, 4(τ_c+θ))
//!   = τ_j`.
//! * **Middle, De Paor & O'Malley** (1989). For an unstable plant a
//!   proportional gain stabilises only inside an interval; with the inner
//!   loop closed, the linearised sampled loop at the nominal point is
//!   stable for `1.4 < K_c < 20 K/K` (checked in this file's tests). Their
//!   rule takes the geometric mean, `K_c = √(1.4 · 20) = 5.3 K/K`, which
//!   gives the same gain margin (×3.8) against both the loss of
//!   stabilisation (low gain) and sampled-loop oscillation (high gain). The
//!   integral action only trims the offset and is kept weak,
//!   `τ_I = 120 s` ≈ 6 × the time constant of the unstable pole the loop
//!   sees from the jacket temperature (2.84 1/min, 21 s), so that it does
//!   not eat the phase the stabilising action needs.
//! * **Outer, SIMC.** With `T` held, `C_A` responds to `T` in first order:
//!   `τ = 1/(q/V + k) = 0.5 min`, gain `k' C_A τ = 0.0179 mol/(L K)` with
//!   `k' = k E/(R T²)`; effective delay `θ ≈ 0.2 min` (closed temperature
//!   loop plus the analyser filter). A robust `τ_c = 0.75 min` gives
//!   `K_c = τ/(gain (τ_c + θ)) = 29.5 K/(mol/L)`, `τ_I = min(τ, 4(τ_c+θ)) =
//!   30 s`.
//!
//! ## Medium
//!
//! The same cascade with the composition loop detuned to 30 % of the expert
//! gain and an integral time 1/0.3 longer (`K_c = 8.8 K/(mol/L)`,
//! `τ_I = 100 s`) and a set-point pre-filter twice as slow (`τ_f = 180 s`),
//! as loops left at conservative commissioning settings would be, plus
//! Gaussian actuator noise of 5 % of the valve range (2 L/min) via
//! [`WithActionNoise`]. The stabilising temperature and jacket loops keep
//! their expert tuning: detuning the temperature loop towards the low end of
//! its stabilising interval would lose the reactor, not merely degrade it.
//!
//! ## Sources
//!
//! * S. Skogestad, "Simple analytic rules for model reduction and PID
//!   controller tuning", *J. Process Control* 13, 291–309, 2003 (SIMC).
//! * C. De Paor, M. O'Malley, "Controllers of Ziegler–Nichols type for
//!   unstable process with time delay", *Int. J. Control* 49(4), 1273–1284,
//!   1989 (geometric-mean gain for unstable plants).
//! * W. L. Luyben, *Chemical Reactor Design and Control*, Wiley/AIChE, 2007.
//! * D. E. Seborg, T. F. Edgar, D. A. Mellichamp, F. J. Doyle III, *Process
//!   Dynamics and Control*, 3rd ed., Wiley, 2011.

use super::{Pid, WithActionNoise};
use crate::env::EnvSpec;
use crate::env::chemical_reactor::{OBS_CA, OBS_CA_SP, OBS_T, OBS_TJ, Params, SP_HIGH, SP_LOW};
use crate::error::Result;
use crate::policy::Policy;

/// Nominal product concentration of the design point, mol/L.
const DESIGN_CA: f64 = 0.5;
/// P-only stabilising interval of the temperature loop (inner loop closed),
/// K/K, from the linearised sampled loop at the design point.
pub const MIDDLE_KC_STABLE_MIN: f64 = 1.4;
pub const MIDDLE_KC_STABLE_MAX: f64 = 20.0;
/// Integral time of the temperature loop, s.
const MIDDLE_TI_S: f64 = 120.0;
/// SIMC closed-loop time constant of the composition loop, min.
const OUTER_TAU_C_MIN: f64 = 0.75;
/// Effective delay seen by the composition loop, min.
const OUTER_THETA_MIN: f64 = 0.2;
/// Limit of the composition loop's temperature correction, K.
const OUTER_RANGE_K: f64 = 10.0;
/// Upper limit of the jacket-temperature set-point, K.
const TJ_SP_MAX: f64 = 360.0;
/// Medium: fraction of the expert composition gain.
pub const MEDIUM_OUTER_FACTOR: f64 = 0.3;
/// Medium: factor on the set-point pre-filter time constant.
pub const MEDIUM_FILTER_FACTOR: f64 = 2.0;
/// Medium: actuator noise, fraction of the valve range.
pub const MEDIUM_NOISE: f64 = 0.05;

/// Gains and filters of the cascade (times in s).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CascadeTuning {
    /// Composition loop gain, K per mol/L.
    pub outer_kc: f64,
    pub outer_ti_s: f64,
    /// Temperature loop gain, K of jacket set-point per K.
    pub middle_kc: f64,
    pub middle_ti_s: f64,
    /// Jacket loop gain, L/min per K.
    pub inner_kc: f64,
    pub inner_ti_s: f64,
    /// Set-point pre-filter time constant.
    pub sp_filter_s: f64,
    /// Analyser-signal filter time constant.
    pub ca_filter_s: f64,
}

impl CascadeTuning {
    /// The expert tuning, derived from the plant's design data (see the
    /// module documentation) for sample time `dt_s`.
    pub fn expert(p: &Params, dt_s: f64) -> Self {
        let dt_min = dt_s / 60.0;
        let (t0, tj0, fc0) = p.steady_state_for(DESIGN_CA, p.caf, p.tf);
        // Inner: SIMC on the first-order jacket, tau_c = theta = dt/2.
        let tau_j = 1.0 / (fc0 / p.jacket_volume + p.ua / (p.coolant_rho_cp * p.jacket_volume));
        let k_j = (tj0 - p.coolant_inlet_t) / p.jacket_volume * tau_j;
        let theta_i = 0.5 * dt_min;
        let inner_kc = tau_j / (k_j * (theta_i + theta_i));
        let inner_ti = tau_j.min(4.0 * (theta_i + theta_i));
        // Middle: De Paor & O'Malley geometric mean of the stabilising interval.
        let middle_kc = (MIDDLE_KC_STABLE_MIN * MIDDLE_KC_STABLE_MAX).sqrt();
        // Outer: SIMC on the first-order C_A response to T.
        let k = p.rate_constant(t0);
        let dk_dt = k * p.e_over_r / (t0 * t0);
        let tau = 1.0 / (p.feed_flow / p.volume + k);
        let gain = dk_dt * DESIGN_CA * tau;
        let outer_kc = tau / (gain * (OUTER_TAU_C_MIN + OUTER_THETA_MIN));
        let outer_ti = tau.min(4.0 * (OUTER_TAU_C_MIN + OUTER_THETA_MIN));
        CascadeTuning {
            outer_kc,
            outer_ti_s: outer_ti * 60.0,
            middle_kc,
            middle_ti_s: MIDDLE_TI_S,
            inner_kc,
            inner_ti_s: inner_ti * 60.0,
            sp_filter_s: 90.0,
            ca_filter_s: 6.0,
        }
    }

    /// The medium tuning: composition loop detuned (see module docs).
    pub fn medium(p: &Params, dt_s: f64) -> Self {
        let e = Self::expert(p, dt_s);
        CascadeTuning {
            outer_kc: e.outer_kc * MEDIUM_OUTER_FACTOR,
            outer_ti_s: e.outer_ti_s / MEDIUM_OUTER_FACTOR,
            sp_filter_s: e.sp_filter_s * MEDIUM_FILTER_FACTOR,
            ..e
        }
    }
}

/// The three-level cascade `C_A → T → T_j → F_c`.
#[derive(Debug, Clone)]
pub struct ReactorCascade {
    name: String,
    p: Params,
    dt_s: f64,
    tuning: CascadeTuning,
    outer: Pid,
    middle: Pid,
    inner: Pid,
    /// Filtered set-point and analyser signal (`None` before the first call).
    sp_f: Option<f64>,
    ca_f: f64,
}

impl ReactorCascade {
    pub fn new(name: &str, p: Params, dt_s: f64, tuning: CascadeTuning) -> Self {
        let (_, tj0, fc0) = p.steady_state_for(DESIGN_CA, p.caf, p.tf);
        let pi = |kc: f64, ti: f64| Pid::new(kc, kc / ti, 0.0, dt_s);
        ReactorCascade {
            name: name.to_string(),
            p,
            dt_s,
            tuning,
            outer: pi(tuning.outer_kc, tuning.outer_ti_s)
                .with_limits(-OUTER_RANGE_K, OUTER_RANGE_K),
            middle: pi(tuning.middle_kc, tuning.middle_ti_s)
                .with_limits(p.coolant_inlet_t, TJ_SP_MAX)
                .with_bias(tj0),
            inner: pi(tuning.inner_kc, tuning.inner_ti_s)
                .with_limits(0.0, p.coolant_flow_max)
                .with_bias(fc0),
            sp_f: None,
            ca_f: 0.0,
        }
    }

    pub fn tuning(&self) -> &CascadeTuning {
        &self.tuning
    }
}

impl Policy for ReactorCascade {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn reset(&mut self, _seed: u64) {
        self.outer.reset();
        self.middle.reset();
        self.inner.reset();
        self.sp_f = None;
        self.ca_f = 0.0;
    }

    fn act(&mut self, obs: &[f32], action: &mut [f32]) -> Result<()> {
        let ca = obs[OBS_CA] as f64;
        let t = obs[OBS_T] as f64;
        let tj = obs[OBS_TJ] as f64;
        let sp = (obs[OBS_CA_SP] as f64).clamp(SP_LOW, SP_HIGH);
        let sp_f = match self.sp_f {
            None => {
                self.ca_f = ca;
                sp
            }
            Some(prev) => {
                let a_sp = self.dt_s / (self.tuning.sp_filter_s + self.dt_s);
                let a_ca = self.dt_s / (self.tuning.ca_filter_s + self.dt_s);
                self.ca_f += a_ca * (ca - self.ca_f);
                prev + a_sp * (sp - prev)
            }
        };
        self.sp_f = Some(sp_f);
        let t_ff = self.p.temperature_for(sp_f, self.p.caf);
        // Reverse acting: too much A left → raise the temperature.
        let t_sp = t_ff + self.outer.update(self.ca_f, sp_f);
        let tj_sp = self.middle.update(t_sp, t);
        // Reverse acting: jacket too warm → more brine.
        let fc = self.inner.update(tj, tj_sp);
        action[0] = fc as f32;
        Ok(())
    }
}

fn params_of(spec: &EnvSpec) -> Params {
    Params {
        coolant_flow_max: spec.actions[0].high,
        ..Params::default()
    }
}

/// The plant's controller: the SIMC / De Paor–O'Malley tuned PI cascade.
pub fn expert(spec: &EnvSpec) -> Box<dyn Policy> {
    let p = params_of(spec);
    Box::new(ReactorCascade::new(
        "expert (PI cascade C_A -> T -> T_j -> F_c, SIMC / De Paor-O'Malley)",
        p,
        spec.dt,
        CascadeTuning::expert(&p, spec.dt),
    ))
}

/// The expert cascade with a detuned composition loop and 5 % actuator noise.
pub fn medium(spec: &EnvSpec) -> Box<dyn Policy> {
    let p = params_of(spec);
    let inner = ReactorCascade::new(
        "medium (PI cascade, composition loop detuned to 30 %, 2x slower set-point filter)",
        p,
        spec.dt,
        CascadeTuning::medium(&p, spec.dt),
    );
    Box::new(WithActionNoise::new(Box::new(inner), spec, MEDIUM_NOISE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::chemical_reactor::{
        ChemicalReactor, DT_S, N_SEGMENTS, S_CA, S_FC, S_SP0, S_T, S_TJ, SEGMENT_STEPS, STATE_DIM,
    };
    use crate::env::{EnvOptions, EnvRng, Model, make_with};
    use rand::SeedableRng;

    /// Whether the temperature loop with proportional gain `kc` (inner loop
    /// closed with the expert tuning) stabilises the nominal unstable point.
    fn middle_p_loop_is_stable(kc: f64) -> bool {
        let p = Params::default();
        let m = ChemicalReactor::with_params(EnvOptions::deterministic(), p, 2);
        let tuning = CascadeTuning::expert(&p, DT_S);
        let (t0, tj0, f0) = p.steady_state_for(DESIGN_CA, p.caf, p.tf);
        let mut middle = Pid::new(kc, 0.0, 0.0, DT_S).with_bias(tj0);
        let mut inner = Pid::new(
            tuning.inner_kc,
            tuning.inner_kc / tuning.inner_ti_s,
            0.0,
            DT_S,
        )
        .with_bias(f0);
        let mut s = [DESIGN_CA; STATE_DIM];
        s[S_CA] = DESIGN_CA;
        s[S_T] = t0 + 0.01;
        s[S_TJ] = tj0;
        s[3] = p.tf;
        s[4] = p.caf;
        s[S_FC] = f0;
        s[7] = 0.0;
        let mut r = EnvRng::seed_from_u64(0);
        for _ in 0..1200 {
            let tj_sp = middle.update(t0, s[S_T]);
            let f = inner.update(s[S_TJ], tj_sp);
            m.step(&mut s, &[f], &mut r);
            if (s[S_T] - t0).abs() > 5.0 {
                return false;
            }
        }
        (s[S_T] - t0).abs() < 1e-3
    }

    #[test]
    fn temperature_loop_stabilising_interval_is_as_documented() {
        assert!(!middle_p_loop_is_stable(0.85 * MIDDLE_KC_STABLE_MIN));
        assert!(middle_p_loop_is_stable(1.15 * MIDDLE_KC_STABLE_MIN));
        assert!(middle_p_loop_is_stable(0.9 * MIDDLE_KC_STABLE_MAX));
        assert!(!middle_p_loop_is_stable(1.1 * MIDDLE_KC_STABLE_MAX));
        let t = CascadeTuning::expert(&Params::default(), DT_S);
        assert!((t.middle_kc - 5.29).abs() < 0.01);
        assert!(middle_p_loop_is_stable(t.middle_kc));
    }

    #[test]
    fn tuning_matches_the_documented_simc_values() {
        let e = CascadeTuning::expert(&Params::default(), DT_S);
        assert!((e.inner_kc - 1.33).abs() < 0.01, "{e:?}");
        assert!((e.inner_ti_s - 5.9).abs() < 0.05, "{e:?}");
        assert!((e.outer_kc - 29.5).abs() < 0.1, "{e:?}");
        assert!((e.outer_ti_s - 30.0).abs() < 0.1, "{e:?}");
        let m = CascadeTuning::medium(&Params::default(), DT_S);
        assert!((m.outer_kc - 0.3 * e.outer_kc).abs() < 1e-12);
        assert_eq!((m.middle_kc, m.inner_kc), (e.middle_kc, e.inner_kc));
    }

    #[test]
    fn expert_tracks_every_setpoint_of_a_deterministic_episode() {
        let mut env = make_with("ChemicalReactor-v0", EnvOptions::deterministic()).unwrap();
        let spec = env.spec().clone();
        for seed in 0..5 {
            let mut policy = expert(&spec);
            let mut obs = env.reset(seed);
            policy.reset(seed);
            let sps: Vec<f64> = (0..N_SEGMENTS).map(|i| env.state()[S_SP0 + i]).collect();
            let mut a = [0f32];
            for n in 0..spec.horizon {
                policy.act(&obs, &mut a).unwrap();
                let st = env.step(&a).unwrap();
                assert!(!st.info.hard_violation, "seed {seed} step {n}");
                // Within a tenth of the spec band by the end of each 5-min
                // segment (the 90-s set-point filter leaves ~4 % of a step).
                if n % SEGMENT_STEPS >= SEGMENT_STEPS - 10 {
                    let e = env.state()[S_CA] - sps[n / SEGMENT_STEPS];
                    assert!(e.abs() < 5e-3, "seed {seed} step {n}: error {e}");
                }
                obs = st.obs;
            }
        }
    }

    /// Returns and hard-violation counts of the three policies over 100
    /// episodes (`-- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn report() {
        use crate::control::{PolicyKind, make_policy};
        use crate::rollout::rollout;
        let mut env = crate::env::make("ChemicalReactor-v0").unwrap();
        let spec = env.spec().clone();
        for seed in [7, crate::rollout::reference::REFERENCE_SEED] {
            for kind in PolicyKind::ALL {
                let mut p = make_policy(&spec, kind).unwrap();
                let r = rollout(&mut env, p.as_mut(), 100, seed).unwrap();
                println!(
                    "seed {seed} {kind}: return {:.1} ± {:.1}, cost {:.1}, hard violations {}, score {:.1}",
                    r.mean_return, r.std_return, r.mean_cost, r.hard_violations, r.normalized_score
                );
            }
        }
        let mut p = expert(&spec);
        let r = rollout(&mut env, p.as_mut(), 2000, 5_000_000).unwrap();
        println!(
            "expert, 2000 more episodes: return {:.1}, hard violations {}",
            r.mean_return, r.hard_violations
        );
    }
}
