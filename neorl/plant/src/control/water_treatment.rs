//! Controllers of WaterTreatment-v0: the clearwell's three loops as a
//! water-treatment plant's PLC runs them. They read only the observation.
//!
//! ## Structure (expert)
//!
//! * **Level** — PI on the level with feed-forward of the measured
//!   high-service outflow: `q_in = q_out + PI(h_sp − h)`. With the
//!   feed-forward the remaining process is a pure integrator
//!   k′ = 1/A = 1/300 m/m³ with about one sample of delay (θ = 60 s). SIMC
//!   for an integrating process (Skogestad, 2003) with τ_c = 600 s:
//!   K_c = 1/(k′(τ_c + θ)) = 0.455 (m³/s)/m, T_i = 4(τ_c + θ) = 2640 s.
//! * **Chlorine residual** — the compound loop of chlorination practice
//!   (White's Handbook, 2010): the hypochlorite feed is paced by the inlet
//!   flow, `feed = r · q_in / strength`, and a PI on the analyser residual
//!   sets the dose ratio r (mg/L), biased by the set-point plus 1 mg/L of
//!   typical demand. From r to the residual the process is the two mixed
//!   compartments, each τ = A h/(2q) = 2152 s at the nominal 3.3 m and
//!   0.23 m³/s, shortened by the bulk decay to τ/(1 + k_b τ) = 2031 s,
//!   gain k ≈ 0.85 ((1 + k_b τ)⁻² = 0.89 less the extra demand that any
//!   extra dose consumes), the 90 s analyser lag and half a sample of
//!   hold. Skogestad's half rule gives τ₁ = 3046 s, θ = 1135 s; with
//!   τ_c = θ (SIMC "tight"): K_c = τ₁/(k(τ_c + θ)) = 1.58,
//!   T_i = min(τ₁, 4(τ_c + θ)) = 3046 s.
//! * **pH** — split-range caustic/acid with titration-curve
//!   characterisation (McMillan, 1994): the inlet carbonate C_T,in is
//!   computed from the raw-water pH and alkalinity analysers, and the
//!   measured pH and the set-point are mapped through the titration curve
//!   x(pH) = C_T,in(α₁ + 2α₂) + K_w/H − H (mmol/L of strong base), which
//!   makes the loop linear in reagent. The dose ratio (mmol/L, positive:
//!   caustic, negative: acid) is the ratio feed-forward `x(pH_sp) − Alk_in`
//!   plus a PI on `x(pH_sp) − x(pH)`; both feeds are paced by q_in. In x
//!   the process is the two compartments with gain 1: half rule
//!   τ₁ = 3228 s, θ = 1106 s. Here τ_c = 2θ (SIMC's robust choice): near
//!   the set-points (7.2–7.8) the titration curve is steep, a small
//!   overshoot in reagent is a large pH overshoot, and the feed-forward
//!   already does most of the work: K_c = 0.97, T_i = 3228 s.
//!
//! ## Medium
//!
//! The same structure, detuned as an untuned plant would run: every PI
//! gain × 0.3 and every integral time × 3, the pH feed-forward at half
//! weight and no demand allowance in the chlorine bias; then 5 % Gaussian
//! actuator noise on every command ([`crate::control::WithActionNoise`]).

use crate::control::{Pid, WithActionNoise};
use crate::env::EnvSpec;
use crate::env::water_treatment::{
    ACID_MAX, ACID_STRENGTH, AREA, CAUSTIC_MAX, CAUSTIC_STRENGTH, DT, Equilibria, HYPO_MAX,
    HYPO_STRENGTH, K_BULK, Q_IN_MAX, TAU_ANALYSER, ax, ox,
};
use crate::error::Result;
use crate::policy::Policy;

/// Nominal operating point the loops are tuned at: level, m, and flow, m³/s.
pub const H_NOMINAL: f64 = 3.3;
pub const Q_NOMINAL: f64 = 0.23;
/// Gain of the residual per unit of dose ratio at the nominal point.
pub const CHLORINE_GAIN: f64 = 0.85;
/// Closed-loop time constant of the level loop, s.
pub const LEVEL_TAU_C: f64 = 600.0;

/// SIMC PI for a first-order-plus-delay process k e^{−θs}/(τ₁s + 1) and
/// closed-loop time constant τ_c (Skogestad, 2003): returns
/// (K_c, T_i) = (τ₁/(k(τ_c + θ)), min(τ₁, 4(τ_c + θ))).
pub fn simc_fopdt(k: f64, tau1: f64, theta: f64, tau_c: f64) -> (f64, f64) {
    (
        tau1 / (k * (tau_c + theta)),
        tau1.min(4.0 * (tau_c + theta)),
    )
}

/// SIMC PI for an integrating process k′e^{−θs}/s (Skogestad, 2003):
/// (K_c, T_i) = (1/(k′(τ_c + θ)), 4(τ_c + θ)).
pub fn simc_integrating(k: f64, theta: f64, tau_c: f64) -> (f64, f64) {
    (1.0 / (k * (tau_c + theta)), 4.0 * (tau_c + theta))
}

/// Skogestad's half rule: lags τ_a ≥ τ_b and delay θ₀ → a first-order
/// model with τ₁ = τ_a + τ_b/2, θ = θ₀ + τ_b/2.
pub fn half_rule(tau_a: f64, tau_b: f64, theta0: f64) -> (f64, f64) {
    (tau_a + 0.5 * tau_b, theta0 + 0.5 * tau_b)
}

/// Tuning of the three loops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// Level PI: K_c ((m³/s)/m), T_i (s).
    pub level: (f64, f64),
    /// Residual PI: K_c ((mg/L)/(mg/L)), T_i (s).
    pub chlorine: (f64, f64),
    /// pH PI in titration-curve coordinates: K_c (-), T_i (s).
    pub ph: (f64, f64),
    /// Weight of the pH ratio feed-forward (1 = full).
    pub ph_feedforward: f64,
    /// Chlorine demand allowed for in the dose bias, mg/L.
    pub demand_bias: f64,
}

impl Tuning {
    /// SIMC tuning at the nominal operating point (module documentation).
    pub fn expert() -> Tuning {
        let tau = 0.5 * AREA * H_NOMINAL / Q_NOMINAL;
        let tau_cl = tau / (1.0 + K_BULK * tau);
        let (t1_cl, th_cl) = half_rule(tau_cl, tau_cl, TAU_ANALYSER + 0.5 * DT);
        let (t1_ph, th_ph) = half_rule(tau, tau, 0.5 * DT);
        Tuning {
            level: simc_integrating(1.0 / AREA, DT, LEVEL_TAU_C),
            chlorine: simc_fopdt(CHLORINE_GAIN, t1_cl, th_cl, th_cl),
            ph: simc_fopdt(1.0, t1_ph, th_ph, 2.0 * th_ph),
            ph_feedforward: 1.0,
            demand_bias: 1.0,
        }
    }

    /// Detuned: gains × 0.3, integral times × 3, half the pH feed-forward,
    /// no demand allowance in the chlorine bias.
    pub fn medium() -> Tuning {
        let e = Self::expert();
        let detune = |(kc, ti): (f64, f64)| (0.3 * kc, 3.0 * ti);
        Tuning {
            level: detune(e.level),
            chlorine: detune(e.chlorine),
            ph: detune(e.ph),
            ph_feedforward: 0.5,
            demand_bias: 0.0,
        }
    }
}

/// The plant's clearwell controller: level, residual and pH loops.
#[derive(Debug, Clone)]
pub struct ClearwellController {
    name: String,
    tuning: Tuning,
    level: Pid,
    chlorine: Pid,
    ph: Pid,
    eq: Equilibria,
}

impl ClearwellController {
    pub fn new(name: &str, tuning: Tuning) -> Self {
        let pi = |(kc, ti): (f64, f64)| Pid::new(kc, kc / ti, 0.0, DT);
        ClearwellController {
            name: name.to_string(),
            tuning,
            // Trim of ±0.3 m³/s around the outflow feed-forward.
            level: pi(tuning.level).with_limits(-0.3, 0.3),
            // Dose ratio, mg/L as Cl₂.
            chlorine: pi(tuning.chlorine).with_limits(0.0, 10.0),
            // Reagent ratio, mmol/L (negative: acid).
            ph: pi(tuning.ph).with_limits(-1.5, 3.0),
            eq: Equilibria::at_25c(),
        }
    }

    pub fn tuning(&self) -> &Tuning {
        &self.tuning
    }
}

impl Policy for ClearwellController {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn reset(&mut self, _seed: u64) {
        self.level.reset();
        self.chlorine.reset();
        self.ph.reset();
    }

    fn act(&mut self, obs: &[f32], action: &mut [f32]) -> Result<()> {
        let o = |i: usize| obs[i] as f64;
        // Level: outflow feed-forward + PI.
        let q_in =
            (o(ox::Q_OUT) + self.level.update(o(ox::H_SP), o(ox::LEVEL))).clamp(0.0, Q_IN_MAX);
        let q_m3h = q_in * 3600.0;

        // Residual: flow-paced hypochlorite, the PI sets the dose ratio.
        self.chlorine.bias = o(ox::C_SP) + self.tuning.demand_bias;
        let dose = self.chlorine.update(o(ox::C_SP), o(ox::RESIDUAL));
        let hypo = (dose * q_m3h / HYPO_STRENGTH).clamp(0.0, HYPO_MAX);

        // pH: titration-curve characterisation, ratio feed-forward + PI,
        // split range caustic / acid.
        let ct_in = self.eq.total_carbonate(o(ox::RAW_PH), o(ox::RAW_ALK));
        let x_sp = self.eq.strong_ion_excess(o(ox::PH_SP), ct_in, 0.0);
        let x_pv = self
            .eq
            .strong_ion_excess(o(ox::PH).clamp(2.0, 12.0), ct_in, 0.0);
        self.ph.bias = self.tuning.ph_feedforward * (x_sp - o(ox::RAW_ALK));
        let ratio = self.ph.update(x_sp, x_pv);
        let caustic = (ratio.max(0.0) * q_m3h / CAUSTIC_STRENGTH).clamp(0.0, CAUSTIC_MAX);
        let acid = ((-ratio).max(0.0) * q_m3h / ACID_STRENGTH).clamp(0.0, ACID_MAX);

        action[ax::HYPO] = hypo as f32;
        action[ax::CAUSTIC] = caustic as f32;
        action[ax::ACID] = acid as f32;
        action[ax::Q_IN] = q_in as f32;
        Ok(())
    }
}

/// The plant's controller, SIMC-tuned.
pub fn expert(_spec: &EnvSpec) -> Box<dyn Policy> {
    Box::new(ClearwellController::new(
        "expert (flow-paced residual PI, characterised split-range pH PI, level PI + feed-forward)",
        Tuning::expert(),
    ))
}

/// Detuned controller with 5 % actuator noise.
pub fn medium(spec: &EnvSpec) -> Box<dyn Policy> {
    let inner = Box::new(ClearwellController::new(
        "medium (detuned clearwell PIs)",
        Tuning::medium(),
    ));
    Box::new(WithActionNoise::new(inner, spec, 0.05))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::water_treatment::{WaterTreatment, sx};
    use crate::env::{EnvOptions, EnvRng, Model};
    use rand::SeedableRng;

    /// The tuning in code is the one derived in the documentation.
    #[test]
    fn expert_tuning_is_the_documented_simc_tuning() {
        let t = Tuning::expert();
        let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * b.abs();
        // Level: 1/((1/300)(600 + 60)), 4 (600 + 60).
        assert!(close(t.level.0, 300.0 / 660.0, 1e-12) && close(t.level.1, 2640.0, 1e-12));
        // Chlorine and pH: hand-computed from the nominal point.
        let tau = 0.5 * 300.0 * 3.3 / 0.23;
        let tr = tau / (1.0 + tau / 36_000.0);
        let (t1, th) = (1.5 * tr, 0.5 * tr + 120.0);
        assert!(
            close(t.chlorine.0, t1 / (0.85 * 2.0 * th), 1e-12),
            "{:?}",
            t.chlorine
        );
        assert!(close(t.chlorine.1, t1, 1e-12));
        assert!(close(t.chlorine.0, 1.58, 0.01) && close(t.chlorine.1, 3046.0, 0.001));
        let (t1, th) = (1.5 * tau, 0.5 * tau + 30.0);
        assert!(close(t.ph.0, t1 / (3.0 * th), 1e-12) && close(t.ph.1, t1, 1e-12));
        assert!(close(t.ph.0, 0.97, 0.01));
        let m = Tuning::medium();
        assert!(close(m.chlorine.0, 0.3 * t.chlorine.0, 1e-12));
        assert!(close(m.ph.1, 3.0 * t.ph.1, 1e-12));
    }

    /// The ratio feed-forward alone brings raw water exactly to the pH
    /// set-point: adding x(pH_sp) − Alk of strong base to water of that
    /// alkalinity and carbonate gives pH_sp (solved by the model's solver).
    #[test]
    fn ph_feedforward_hits_the_setpoint() {
        let eq = Equilibria::at_25c();
        for ph_raw in [6.5, 7.0, 7.6, 8.0] {
            for alk in [0.5, 1.0, 1.5] {
                for sp in [7.2, 7.5, 7.8] {
                    let ct = eq.total_carbonate(ph_raw, alk);
                    let ff = eq.strong_ion_excess(sp, ct, 0.0) - alk;
                    let ph = eq.ph(alk + ff, ct, 0.0);
                    assert!((ph - sp).abs() < 1e-9, "{ph_raw} {alk} {sp}: {ph}");
                    // Caustic when the raw water is below the set-point.
                    assert_eq!(ff > 0.0, ph_raw < sp);
                }
            }
        }
    }

    /// Without disturbances and noise the expert settles on all three
    /// set-points and keeps every constraint after the start-up transient.
    #[test]
    fn expert_settles_on_the_setpoints() {
        let model = WaterTreatment::new(EnvOptions::deterministic());
        let spec = model.spec().clone();
        for seed in 0..8 {
            let mut rng = EnvRng::seed_from_u64(seed);
            let mut s = vec![0.0; model.state_dim()];
            model.reset(&mut s, &mut rng);
            let mut ctl = ClearwellController::new("expert", Tuning::expert());
            ctl.reset(seed);
            let mut obs = vec![0f32; spec.obs_dim()];
            let mut act32 = vec![0f32; spec.act_dim()];
            let mut cons = vec![0.0; spec.n_constraints()];
            model.observe(&s, &mut obs, &mut rng);
            for t in 0..spec.horizon {
                ctl.act(&obs, &mut act32).unwrap();
                let a: Vec<f64> = act32.iter().map(|&x| x as f64).collect();
                model.step(&mut s, &a, &mut rng);
                model.observe(&s, &mut obs, &mut rng);
                model.constraints(&s, &mut cons);
                if t >= 120 {
                    for (c, v) in spec.constraints.iter().zip(&cons) {
                        assert!(!c.violated(*v), "seed {seed} t {t}: {} = {v}", c.name);
                    }
                }
            }
            assert!(
                (s[sx::C2] - s[sx::C_SP]).abs() < 0.05,
                "seed {seed}: C2 {}",
                s[sx::C2]
            );
            assert!(
                (s[sx::PH2] - s[sx::PH_SP]).abs() < 0.05,
                "seed {seed}: pH {}",
                s[sx::PH2]
            );
            assert!(
                (s[sx::LEVEL] - s[sx::H_SP]).abs() < 0.02,
                "seed {seed}: h {}",
                s[sx::LEVEL]
            );
        }
    }
}
