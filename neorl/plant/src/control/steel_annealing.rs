//! Controllers of `SteelAnnealing-v0`: the furnace's cascade PI control with
//! heat-balance and heat-cycle feed-forward (expert), and a detuned, noisy
//! copy of it (medium).
//!
//! ## Structure (what a CAL furnace's level-1/level-2 automation runs)
//!
//! For every fired zone `i` a **cascade**:
//!
//! * outer PI: strip temperature at the zone exit (pyrometer) → wall
//!   temperature set-point `T_w,i^sp`, clamped to safe limits;
//! * inner PI: wall temperature (thermocouple) → burner firing rate `P_i`,
//!   with the zone's **heat-balance feed-forward**
//!   `P_ff = [UA_i (T_w,i^sp − T_amb) + ρ c W d v (T_i − T_{i−1})] / η`
//!   (casing loss at the set-point plus the enthalpy the strip picks up,
//!   from the tracked thickness, the speed and the pyrometers) as the PI's
//!   bias, so the PI only corrects model error.
//!
//! Aims: zone-1 exit `T_target − 150 K`, zone-2 exit and soak exit `T_target`,
//! each with the target of the coil that will be at the zone exit
//! `aim_lead_time` seconds from now (from weld tracking and the schedule), so
//! the walls start moving before a grade change arrives.
//!
//! Set-point limits (the safety layer of the controller):
//! * zone 1: at most 1250 K (radiant-tube limit) and at most the wall
//!   temperature at which the entry heating rate of the thinnest strip now
//!   in zone 1 or arriving within 90 s would reach 85 % of the 40 K/s limit
//!   with the largest emissivity of the product range (0.32);
//! * zones 2 and 3: at most the peak-temperature limit − 20 K, so the strip
//!   (which never gets hotter than the walls it sees) cannot overheat even
//!   if the line slows down; the soak wall stays within −60…+50 K of its aim.
//!
//! **Line speed**: heat-cycle feed-forward `v = HC(T_target) / d`, where the
//! heat cycle `HC = v·d` is what the nominal furnace model (emissivity 0.27)
//! achieves with the walls at their limits (1250 K, 1133 K, target) — computed
//! once by bisection on the plant's steady-state strip model, as a level-2
//! set-up model would. The governing thickness and target are the largest of
//! the coils in zones 1–2 and, when the next weld enters within 60 s, of the
//! next coil: **the line slows down before a thicker or hotter coil arrives**
//! and speeds up only when it has left the heating zones. A PI **override**
//! slows the line (trim ≤ 0, at most −50 %) when the zone-2 exit temperature
//! falls more than 10 K below its aim (emissivity lower than nominal,
//! burners saturated, gas quality drift).
//!
//! ## Tuning (SIMC, Skogestad 2003)
//!
//! SIMC for a first-order-plus-delay model `k e^{−θs}/(τs + 1)`:
//! `K_c = τ / (k (τ_c + θ))`, `T_i = min(τ, 4(τ_c + θ))`.
//!
//! * Inner loops. Burner → wall: `k = η/(UA + G)`, `τ = C/(UA + G)` with the
//!   strip-load conductance `G = ∂Q/∂T_w` (≈ 20–35 kW/K, so τ ≈ 250–330 s);
//!   `θ = Δt/2 = 5 s` (sample and hold). `K_c = C/(η(τ_c + θ))` does not
//!   depend on `G`; `τ_c = 40 s` gives `K_c` = 0.31, 0.31, 0.21 MW/K and
//!   `T_i = 180 s`.
//! * Outer loops. Wall set-point → exit strip temperature: the closed inner
//!   loop (`τ_c` = 40 s) in series with the transport lag `L_i/v` (≈ 32 s for
//!   zones 1–2, 24 s for the soak at 5 m/s), reduced by the half rule to
//!   `τ = 40 + L/(2v)`, `θ = L/(2v) + 5 s`; gains from the nominal model at
//!   the design point `∂T_i/∂T_w,i` ≈ 1.2, 0.8, 0.55 (radiation makes zone 1
//!   steeper than 1:1); `τ_c = 45 s` (≈ 2θ, robust to the ±40 % gain spread
//!   over thickness and speed).
//! * Speed override. Relative speed → zone-2 exit temperature:
//!   `k ≈ −250 K` per unit `Δv/v` (nominal model, design point), two
//!   transport lags of ≈ 30 s → `τ = 45 s`, `θ = 15 + 5 + 10 s` (half rule,
//!   sample, drive ramp); `τ_c = 2θ = 60 s` gives `K_c = 0.002 /K`,
//!   `T_i = 45 s`.
//!
//! ## Medium
//!
//! The same structure with detuned settings, as a furnace left on cautious
//! commissioning values and run by the book: every `τ_c` three times longer
//! (sluggish loops), no anticipation of grade changes (aims switch when the
//! new coil reaches the zone exit), a heat cycle 15 % below the furnace's
//! capacity (conservative scheduling: less throughput) and a weaker speed
//! override (`K_c`/2), plus Gaussian actuator noise of 4 % of each range
//! (burner valve hunting, manual speed trims).
//!
//! Source: S. Skogestad, "Simple analytic rules for model reduction and PID
//! controller tuning", *J. Process Control* 13(4):291–309, 2003; override and
//! feed-forward structure after F. G. Shinskey, *Process Control Systems*,
//! 4th ed., McGraw-Hill, 1996, and Yoshitani & Hasegawa (IEEE TCST 1998).

use super::noise::WithActionNoise;
use super::pid::Pid;
use crate::env::EnvSpec;
use crate::env::steel_annealing::{
    A_BURNER, A_SPEED, GRADE_TARGETS, N_FIRED, N_ZONES, O_REMAINING, O_SPEED, O_STRIP,
    O_TARGET_ENTRY, O_TARGET_NEXT, O_TARGET_SOAK, O_THICKNESS_ENTRY, O_THICKNESS_NEXT,
    O_THICKNESS_SOAK, O_WALL, O_WELD, Params, strip_exit_temperatures,
};
use crate::error::Result;
use crate::policy::Policy;

/// Radiant-tube wall temperature limit, K (≈ 977 °C).
pub const WALL_MAX: f64 = 1250.0;
/// Largest emissivity of the product range (the heating-rate cap assumes it).
pub const EMISSIVITY_MAX: f64 = 0.32;
/// Zone-1 exit aim below the soak target, K.
pub const ZONE1_AIM_OFFSET: f64 = 150.0;
/// Fraction of the heating-rate limit the zone-1 wall cap allows for.
pub const RATE_CAP: f64 = 0.85;
/// Speed look-ahead before a weld, s.
pub const SPEED_LOOKAHEAD: f64 = 60.0;
/// Heating-rate look-ahead before a weld, s (time to cool the zone-1 wall).
pub const RATE_LOOKAHEAD: f64 = 90.0;

/// The settings that distinguish the expert from the medium controller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// Closed-loop time constant of the inner (wall) loops, s.
    pub inner_tau_c: f64,
    /// Closed-loop time constant of the outer (strip) loops, s.
    pub outer_tau_c: f64,
    /// Fraction of the furnace's heat cycle used for the speed feed-forward.
    pub heat_cycle_factor: f64,
    /// How far ahead the zone aims follow the coil schedule, s.
    pub aim_lead_time: f64,
    /// Speed override gain (relative speed per K) and integral time, s.
    pub override_kp: f64,
    pub override_ti: f64,
    /// The override acts when the zone-2 exit is this far below its aim, K.
    pub override_margin: f64,
}

impl Tuning {
    /// SIMC settings (see the module docs).
    pub fn expert() -> Self {
        Tuning {
            inner_tau_c: 40.0,
            outer_tau_c: 45.0,
            heat_cycle_factor: 1.0,
            aim_lead_time: 100.0,
            override_kp: 0.002,
            override_ti: 45.0,
            override_margin: 10.0,
        }
    }

    /// Detuned settings of the medium controller (see the module docs).
    pub fn medium() -> Self {
        let e = Self::expert();
        Tuning {
            inner_tau_c: 3.0 * e.inner_tau_c,
            outer_tau_c: 3.0 * e.outer_tau_c,
            heat_cycle_factor: 0.85,
            aim_lead_time: 0.0,
            override_kp: 0.5 * e.override_kp,
            override_ti: e.override_ti,
            override_margin: e.override_margin,
        }
    }
}

/// Cascade PI control of the three fired zones with heat-cycle speed
/// feed-forward and a temperature-deficit speed override.
#[derive(Debug, Clone)]
pub struct FurnaceCascade {
    name: String,
    tuning: Tuning,
    p: Params,
    zone_exit: [f64; N_ZONES],
    zone_mid: [f64; N_ZONES],
    furnace_length: f64,
    /// Heat cycle `v·d` (m²/s) of each grade with the walls at their limits.
    heat_cycle: [f64; 4],
    inner: [Pid; N_FIRED],
    outer: [Pid; N_FIRED],
    speed_override: Pid,
    started: bool,
}

/// SIMC PI gains `(K_c, K_i)` for `k e^{−θs}/(τs+1)` and closed-loop `τ_c`.
pub fn simc_pi(k: f64, tau: f64, theta: f64, tau_c: f64) -> (f64, f64) {
    let kc = tau / (k * (tau_c + theta));
    let ti = tau.min(4.0 * (tau_c + theta));
    (kc, kc / ti)
}

/// Heat cycle `v·d` (m²/s) at which the nominal furnace with walls
/// `t_wall` brings the strip to `target` at the zone-2 exit (bisection on the
/// plant's steady-state strip model; the result does not depend on `d`).
pub fn heat_cycle(p: &Params, t_wall: [f64; 3], target: f64) -> f64 {
    let d = 1.0e-3;
    let rad = p.rad_coeff(p.emissivity_nominal, d);
    let lane = |x: f64| [x; 4];
    let zone2_exit = |v: f64| {
        let mut t = p.t_entry;
        for (i, &tw) in t_wall.iter().enumerate().take(2) {
            let conv = p.conv_coeff(p.h_conv[i], d);
            let res = p.zone_length[i] / v;
            t = strip_exit_temperatures(lane(t), lane(tw), lane(rad), lane(conv), lane(res))[0];
        }
        t
    };
    let (mut lo, mut hi) = (0.05, 50.0);
    for _ in 0..60 {
        let v = 0.5 * (lo + hi);
        if zone2_exit(v) > target {
            lo = v;
        } else {
            hi = v;
        }
    }
    0.5 * (lo + hi) * d
}

/// Largest zone-1 wall temperature at which strip of thickness `d` (m) and
/// emissivity `EMISSIVITY_MAX` entering at `t_entry` heats at `rate` K/s
/// (Newton on the convex, increasing right side of the strip equation).
pub fn wall_for_heating_rate(p: &Params, d: f64, rate: f64) -> f64 {
    let a = p.rad_coeff(EMISSIVITY_MAX, d);
    let b = p.conv_coeff(p.h_conv[0], d);
    let t0 = p.t_entry;
    let t04 = t0 * t0 * t0 * t0;
    let mut w: f64 = 2000.0;
    for _ in 0..12 {
        let f = a * (w * w * w * w - t04) + b * (w - t0) - rate;
        let df = 4.0 * a * w * w * w + b;
        w -= f / df;
    }
    w
}

impl FurnaceCascade {
    /// The cascade for the plant with parameters `p` and settings `tuning`.
    pub fn new(name: &str, p: Params, tuning: Tuning) -> Self {
        let theta = 0.5 * p.dt;
        // Inner loops: K_c = C/(η(τ_c + θ)) in MW/K, T_i = min(τ_w, 4(τ_c + θ)).
        let inner = std::array::from_fn(|i| {
            // τ_w with the design strip load G ≈ 25 kW/K (zones 1–2), 18 kW/K (soak).
            let g = if i < 2 { 25.0e3 } else { 18.0e3 };
            let ua_g = p.wall_loss[i] + g;
            let (kc, ki) = simc_pi(
                p.burner_efficiency / ua_g * 1e6,
                p.wall_capacity[i] / ua_g,
                theta,
                tuning.inner_tau_c,
            );
            Pid::new(kc, ki, 0.0, p.dt).with_limits(0.0, p.burner_max[i])
        });
        // Outer loops: half rule on (inner closed loop) × (transport lag at 5 m/s).
        let gains = [1.2, 0.8, 0.55];
        let outer = std::array::from_fn(|i| {
            let lag = p.zone_length[i] / 5.0;
            let (t1, t2) = (tuning.inner_tau_c.max(lag), tuning.inner_tau_c.min(lag));
            let (kc, ki) = simc_pi(
                gains[i],
                t1 + 0.5 * t2,
                0.5 * t2 + theta,
                tuning.outer_tau_c,
            );
            Pid::new(kc, ki, 0.0, p.dt)
        });
        let speed_override = Pid::new(
            tuning.override_kp,
            tuning.override_kp / tuning.override_ti,
            0.0,
            p.dt,
        )
        .with_limits(-0.5, 0.0);
        let caps = |t: f64| [WALL_MAX, p.peak_temperature_max - 20.0, t];
        let heat_cycle = std::array::from_fn(|g| {
            let t = GRADE_TARGETS[g];
            tuning.heat_cycle_factor * heat_cycle(&p, caps(t), t)
        });
        FurnaceCascade {
            name: name.to_string(),
            tuning,
            zone_exit: p.zone_exit(),
            zone_mid: p.zone_mid(),
            furnace_length: p.furnace_length(),
            heat_cycle,
            inner,
            outer,
            speed_override,
            started: false,
            p,
        }
    }

    /// The heat cycle (m²/s) for a soak target (linear between grades).
    fn heat_cycle_for(&self, target: f64) -> f64 {
        let g = GRADE_TARGETS;
        let x = ((target - g[0]) / (g[1] - g[0])).clamp(0.0, 3.0);
        let i = (x as usize).min(2);
        let f = x - i as f64;
        self.heat_cycle[i] + f * (self.heat_cycle[i + 1] - self.heat_cycle[i])
    }
}

impl Policy for FurnaceCascade {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn reset(&mut self, _seed: u64) {
        for pid in self.inner.iter_mut().chain(self.outer.iter_mut()) {
            pid.reset();
        }
        self.speed_override.reset();
        self.started = false;
    }

    fn act(&mut self, obs: &[f32], action: &mut [f32]) -> Result<()> {
        let p = &self.p;
        let o = |i: usize| obs[i] as f64;
        let t_wall: [f64; N_FIRED] = std::array::from_fn(|i| o(O_WALL + i));
        let t_strip: [f64; N_ZONES] = std::array::from_fn(|i| o(O_STRIP + i));
        let v = o(O_SPEED).max(p.speed_min);
        let (d_entry, tgt_entry) = (o(O_THICKNESS_ENTRY) * 1e-3, o(O_TARGET_ENTRY));
        let (d_soak, tgt_soak) = (o(O_THICKNESS_SOAK) * 1e-3, o(O_TARGET_SOAK));
        let (d_next, tgt_next) = (o(O_THICKNESS_NEXT) * 1e-3, o(O_TARGET_NEXT));
        let remaining = o(O_REMAINING);
        let weld = o(O_WELD);
        let weld_inside = weld < self.furnace_length - 1e-6;

        // Strip thickness in each fired zone (tracking: midpoint rule).
        let d_zone: [f64; N_FIRED] = std::array::from_fn(|i| {
            if weld_inside && weld < self.zone_mid[i] {
                d_soak
            } else {
                d_entry
            }
        });
        // Target of the coil at each zone exit `aim_lead_time` from now.
        let (x_weld, tgt_new, tgt_old) = if weld_inside {
            (weld, tgt_entry, tgt_soak)
        } else {
            (-remaining, tgt_next, tgt_entry)
        };
        let lead = v * self.tuning.aim_lead_time;
        let tgt_zone: [f64; N_FIRED] = std::array::from_fn(|i| {
            if x_weld + lead >= self.zone_exit[i] {
                tgt_new
            } else {
                tgt_old
            }
        });
        let aims = [tgt_zone[0] - ZONE1_AIM_OFFSET, tgt_zone[1], tgt_zone[2]];

        // Set-point limits.
        let rate_soon = remaining < RATE_LOOKAHEAD * v + 100.0;
        let d_thin = if rate_soon {
            d_zone[0].min(d_next)
        } else {
            d_zone[0]
        };
        let peak_cap = p.peak_temperature_max - 20.0;
        let hi = [
            WALL_MAX.min(wall_for_heating_rate(
                p,
                d_thin,
                RATE_CAP * p.heating_rate_max,
            )),
            peak_cap,
            (aims[2] + 50.0).min(peak_cap),
        ];
        let lo = [aims[0], aims[1] - 50.0, aims[2] - 60.0];

        if !self.started {
            // Bumpless start: hold the walls where they are.
            for (pid, &tw) in self.outer.iter_mut().zip(&t_wall) {
                pid.bias = tw;
            }
            self.started = true;
        }

        let t_in = [p.t_entry, t_strip[0], t_strip[1]];
        let rho_c_w = p.density * p.specific_heat * p.width;
        for i in 0..N_FIRED {
            let outer = &mut self.outer[i];
            outer.out_min = lo[i];
            outer.out_max = hi[i].max(lo[i]);
            let sp = outer.update(aims[i], t_strip[i]);
            let q_strip = rho_c_w * d_zone[i] * v * (t_strip[i] - t_in[i]);
            let inner = &mut self.inner[i];
            inner.bias =
                (p.wall_loss[i] * (sp - p.t_ambient) + q_strip) / p.burner_efficiency / 1e6;
            action[A_BURNER + i] = inner.update(sp, t_wall[i]) as f32;
        }

        // Line speed: heat-cycle feed-forward on the governing coil + override.
        let speed_soon = remaining < SPEED_LOOKAHEAD * v + 100.0;
        let mut d_gov = d_zone[0].max(d_zone[1]);
        let mut t_gov = tgt_zone[0].max(tgt_zone[1]);
        if speed_soon {
            d_gov = d_gov.max(d_next);
            t_gov = t_gov.max(tgt_next);
        }
        let v_ff = self.heat_cycle_for(t_gov) / d_gov;
        let trim = self
            .speed_override
            .update(t_strip[1], aims[1] - self.tuning.override_margin);
        action[A_SPEED] = (v_ff * (1.0 + trim)).clamp(p.speed_min, p.speed_max) as f32;
        Ok(())
    }
}

/// The plant's controller: SIMC-tuned cascade PI with feed-forward.
pub fn expert(spec: &EnvSpec) -> Box<dyn Policy> {
    let _ = spec;
    Box::new(FurnaceCascade::new(
        "expert (cascade PI: strip exit → wall set-point → burner, heat-cycle speed feed-forward)",
        Params::default(),
        Tuning::expert(),
    ))
}

/// Actuator noise of the medium controller, fraction of each action range.
pub const MEDIUM_NOISE: f64 = 0.04;

/// The detuned cascade with actuator noise.
pub fn medium(spec: &EnvSpec) -> Box<dyn Policy> {
    let inner = Box::new(FurnaceCascade::new(
        "medium (detuned cascade PI)",
        Params::default(),
        Tuning::medium(),
    ));
    Box::new(WithActionNoise::new(inner, spec, MEDIUM_NOISE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{PolicyKind, make_policy};
    use crate::env::steel_annealing::{
        K_HEATING_RATE, K_PEAK, K_SOAK_HIGH, OBS_DIM, S_COIL_AHEAD, S_COIL_ENTRY, S_COIL_NEXT,
        S_SPEED, S_STRIP, S_WALL, S_WELD, STATE_DIM, SteelAnnealing,
    };
    use crate::env::{EnvOptions, make, make_with};

    #[test]
    fn simc_rule() {
        // K_c = τ/(k(τ_c + θ)), T_i = min(τ, 4(τ_c + θ)).
        let (kc, ki) = simc_pi(2.0, 10.0, 1.0, 1.0);
        assert!((kc - 2.5).abs() < 1e-12);
        assert!((ki - 2.5 / 8.0).abs() < 1e-12);
        let (kc, ki) = simc_pi(2.0, 10.0, 1.0, 4.0);
        assert!((kc - 1.0).abs() < 1e-12 && (ki - 0.1).abs() < 1e-12);
        // Inner loop: K_c = C/(η(τ_c + θ)) whatever the strip load.
        let p = Params::default();
        let (kc, _) = simc_pi(
            p.burner_efficiency / 26.0e3 * 1e6,
            9.0e6 / 26.0e3,
            5.0,
            40.0,
        );
        assert!((kc - 9.0e6 / (0.65 * 45.0) / 1e6).abs() < 1e-12);
    }

    #[test]
    fn heat_cycle_brings_any_thickness_to_target() {
        // The plant model, run at v = HC/d with the walls at their limits,
        // brings every thickness to the target at the zone-2 exit.
        let p = Params::default();
        let m = SteelAnnealing::new(EnvOptions::deterministic());
        for (g, &target) in GRADE_TARGETS.iter().enumerate() {
            let walls = [WALL_MAX, p.peak_temperature_max - 20.0, target];
            let hc = heat_cycle(&p, walls, target);
            for d in [0.6e-3, 1.0e-3, 1.4e-3] {
                let mut s = vec![0.0; STATE_DIM];
                for c in [S_COIL_AHEAD, S_COIL_ENTRY, S_COIL_NEXT] {
                    s[c..c + 3].copy_from_slice(&[d, p.emissivity_nominal, g as f64]);
                }
                s[S_WALL..S_WALL + 3].copy_from_slice(&walls);
                s[S_SPEED] = hc / d;
                s[S_WELD] = -1.0;
                for _ in 0..4 {
                    let phi = m.quasi_steady_exits(&s);
                    s[S_STRIP..S_STRIP + 4].copy_from_slice(&phi);
                }
                // Thickness-invariant up to the RK4 step rule (≈ 0.5 K).
                let t = s[S_STRIP + 1];
                assert!((t - target).abs() < 1.0, "{target} K, {d} m: {t}");
            }
        }
    }

    #[test]
    fn wall_cap_gives_the_requested_heating_rate() {
        let p = Params::default();
        for d in [0.5e-3, 0.8e-3, 1.5e-3] {
            let w = wall_for_heating_rate(&p, d, 34.0);
            let r = p.heating_rate(p.t_entry, w, p.h_conv[0], EMISSIVITY_MAX, d);
            assert!((r - 34.0).abs() < 1e-9, "{d}: {w} K gives {r} K/s");
        }
    }

    fn obs_steady(remaining: f64, d_next: f64) -> Vec<f32> {
        let mut o = vec![0f32; OBS_DIM];
        o[O_WALL..O_WALL + 3].copy_from_slice(&[1200.0, 1120.0, 1063.0]);
        o[O_STRIP..O_STRIP + 4].copy_from_slice(&[910.0, 1063.0, 1063.0, 700.0]);
        o[O_SPEED] = 5.0;
        o[O_THICKNESS_ENTRY] = 1.0;
        o[O_TARGET_ENTRY] = 1063.15;
        o[O_THICKNESS_SOAK] = 1.0;
        o[O_TARGET_SOAK] = 1063.15;
        o[O_THICKNESS_NEXT] = d_next as f32;
        o[O_TARGET_NEXT] = 1063.15;
        o[O_REMAINING] = remaining as f32;
        o[O_WELD] = 500.0;
        o
    }

    #[test]
    fn line_slows_down_before_a_thicker_coil_and_not_for_a_thinner_one() {
        let spec = make("SteelAnnealing-v0").unwrap().spec().clone();
        let speed = |remaining: f64, d_next: f64| {
            let mut c = expert(&spec);
            c.reset(0);
            let mut a = [0f32; 4];
            c.act(&obs_steady(remaining, d_next), &mut a).unwrap();
            a[A_SPEED]
        };
        let far = speed(2000.0, 1.25);
        let near_thick = speed(200.0, 1.25);
        let near_thin = speed(200.0, 0.8);
        assert!(near_thick < 0.85 * far, "{near_thick} vs {far}");
        assert_eq!(near_thin, far);
    }

    #[test]
    fn reset_clears_the_integrators() {
        let spec = make("SteelAnnealing-v0").unwrap().spec().clone();
        let mut c = expert(&spec);
        let o = obs_steady(2000.0, 1.0);
        let mut first = [0f32; 4];
        c.reset(1);
        c.act(&o, &mut first).unwrap();
        let mut hot = o.clone();
        hot[O_STRIP + 1] = 1000.0;
        let mut a = [0f32; 4];
        for _ in 0..50 {
            c.act(&hot, &mut a).unwrap();
        }
        c.reset(2);
        c.act(&o, &mut a).unwrap();
        assert_eq!(a, first);
    }

    #[test]
    fn expert_holds_the_soak_target_on_a_steady_line() {
        let mut env = make_with("SteelAnnealing-v0", EnvOptions::deterministic()).unwrap();
        let spec = env.spec().clone();
        for seed in 0..5 {
            let mut c = expert(&spec);
            let mut obs = env.reset(seed);
            c.reset(seed);
            let mut a = [0f32; 4];
            let mut last = vec![];
            for t in 0..spec.horizon {
                c.act(&obs, &mut a).unwrap();
                let s = env.step(&a).unwrap();
                assert!(!s.info.hard_violation, "seed {seed}");
                if t >= spec.horizon - 100 {
                    last.push(s.info.constraint_values[K_SOAK_HIGH]);
                }
                obs = s.obs;
            }
            let worst = last.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            assert!(worst < 3.0, "seed {seed}: soak deviation up to {worst} K");
        }
    }

    #[test]
    fn expert_keeps_a_margin_to_the_hard_limits_under_noise() {
        let mut env = make("SteelAnnealing-v0").unwrap();
        let spec = env.spec().clone();
        let mut c = make_policy(&spec, PolicyKind::Expert).unwrap();
        let (mut rate, mut peak) = (0.0f64, 0.0f64);
        let mut a = [0f32; 4];
        for seed in 100..130 {
            let mut obs = env.reset(seed);
            c.reset(seed);
            loop {
                c.act(&obs, &mut a).unwrap();
                let s = env.step(&a).unwrap();
                rate = rate.max(s.info.constraint_values[K_HEATING_RATE]);
                peak = peak.max(s.info.constraint_values[K_PEAK]);
                if s.done() {
                    assert!(s.truncated, "seed {seed}");
                    break;
                }
                obs = s.obs;
            }
        }
        assert!(
            rate < 0.95 * spec.constraints[0].limit,
            "heating rate {rate}"
        );
        assert!(peak < spec.constraints[1].limit - 10.0, "peak {peak}");
    }
}
