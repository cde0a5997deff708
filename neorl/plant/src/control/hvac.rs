//! Controllers of `HVACControl-v0`: the building-management system's
//! per-zone PI thermostats with occupancy-scheduled set-points.
//!
//! ## Structure (expert)
//!
//! Every zone has a **split-range pair of PI loops** on its air temperature,
//! as fan-coil controllers in a BMS are configured: a heating PI acting on
//! the heating set-point `SP_h` with output `[0, Q_heat,max]` and a cooling
//! PI acting on the cooling set-point `SP_c` with output `[0, Q_cool,max]`;
//! the command is `Q = Q_heat − Q_cool`. Between the two set-points
//! (the dead band) both loops idle, so the unit never heats and cools at
//! once. Both use conditional-integration anti-windup ([`Pid`]).
//!
//! **Set-point schedule.** While the zone is occupied (its occupancy flag),
//! the set-points sit a quarter of the comfort band inside the band
//! observed in `T_comfort_low/high`: 21/23 °C in the heating season
//! (band 20–24 °C), 23.75/25.25 °C in the cooling season (band 23–26 °C).
//! Unoccupied, the zone is set back to 17 °C / set up to 28 °C, 5 K and 4 K
//! inside the frost (12 °C) and overheat (32 °C) trips.
//!
//! **Optimum start** (pre-conditioning): the comfort set-points are switched
//! on `L` hours before the zone's scheduled arrival (a fixed property of the
//! BMS's time programme, [`Zone::occ_start`]) with
//! `L = 0.5 h + ΔT / r`, where `ΔT` is how far the zone is from the comfort
//! set-point and `r` the warm-up (cool-down) rate of the whole zone at full
//! capacity, `r = (Q_heat,max − H_env (SP_h − T_out)) / (C_a + C_m)`
//! (resp. `Q_cool,max / (C_a + C_m)`), capped at 8 h — the classic
//! self-adapting optimum-start rule of BMS practice (Seem, Armstrong &
//! Hancock 1989, "Comparison of seven methods for forecasting the time to
//! return from night setback", ASHRAE Trans. 95(2)). Pre-heating then
//! mostly falls in the off-peak tariff hours before 07:00.
//!
//! ## Tuning (model-based, from the nominal RC parameters)
//!
//! Sampled every `Δt` = 15 min, the zone responds in two time scales. Seen
//! from the air node, the fast mode (`λ_f = H_f / C_a` with
//! `H_f = H_am + H_ao + Σ H_ij`, ≈ 9 min) settles within one sample to the
//! quasi-static gain `1/H_f`; over hours the zone integrates heat into the
//! mass, `G(s) ≈ (τ_z s + 1) / (C s)` with `C = C_a + C_m` and the lead time
//! constant `τ_z = C_m / H_am` (≈ 2 h).
//!
//! * **Proportional gain** from a gain margin on the sampled fast mode:
//!   the discrete closed loop of the fast mode with P gain `K` has the pole
//!   `a − (1 − a) K / H_f`, `a = e^{−λ_f Δt}`, which leaves the unit circle at
//!   the ultimate gain `K_u = H_f (1 + a)/(1 − a)`; `K_c = K_u / 2.5`
//!   (gain margin 2.5; Åström & Hägglund 2006, *Advanced PID Control*, ISA,
//!   on gain-margin design and sampled-data PID).
//! * **Integral time** by pole placement of the slow loop: with
//!   `PI(s) = K_c (1 + 1/(τ_I s))` the closed loop of `G(s)` has the
//!   characteristic polynomial
//!   `τ_I (C + K_c τ_z) s² + K_c (τ_I + τ_z) s + K_c`;
//!   `τ_I` is the smaller root giving the damping ratio `ζ = 0.7`
//!   (pole placement, Åström & Hägglund 2006).
//!
//! For the north zone this gives `K_c` ≈ 1.3 kW/K, `τ_I` ≈ 42 min.
//!
//! ## Medium policy
//!
//! The same loops, set-points and schedule with a poorly commissioned BMS:
//! gains detuned to `0.2 K_c` and `5 τ_I` (a sluggish, never re-tuned
//! loop), no optimum start (comfort set-points switched on at the scheduled
//! arrival, so the zone arrives cold or warm every morning), plus Gaussian
//! actuator noise σ = 10 % of each unit's range ([`WithActionNoise`]:
//! hunting valves and fan-speed steps). In hot weeks its sluggish cooling
//! loop cannot follow the afternoon solar peak, and it trips the overheat
//! limit in a few per cent of episodes (7 of the 100 reference episodes).

use super::{Pid, WithActionNoise};
use crate::env::EnvSpec;
use crate::env::hvac::{DT, N_ZONES, Params, Zone, obs};
use crate::error::Result;
use crate::policy::Policy;

/// Heating set-back while unoccupied, °C.
pub const SETBACK_HEAT: f64 = 17.0;
/// Cooling set-up while unoccupied, °C.
pub const SETBACK_COOL: f64 = 28.0;
/// Maximum optimum-start lead, h.
const LEAD_MAX_H: f64 = 8.0;
/// Gain margin for the proportional gain.
const GAIN_MARGIN: f64 = 2.5;
/// Damping ratio of the slow closed loop.
const ZETA: f64 = 0.7;

/// PI gains `(K_c [W/K], τ_I [s])` of zone `z` by the rules in the module documentation.
pub fn pi_tuning(p: &Params, i: usize) -> (f64, f64) {
    let z = &p.zones[i];
    let h_fast = z.h_am + z.h_ao + p.h_zz[i].iter().sum::<f64>();
    let a = libm::exp(-h_fast / z.c_air * DT);
    let k_u = h_fast * (1.0 + a) / (1.0 - a);
    let kc = k_u / GAIN_MARGIN;
    let c = z.c_air + z.c_mass;
    let tau_z = z.c_mass / z.h_am;
    // ζ² = K (τ_I + τ_z)² / (4 τ_I (C + K τ_z))  ⇒  τ_I² + (2τ_z − D) τ_I + τ_z² = 0.
    let d = 4.0 * ZETA * ZETA * (c + kc * tau_z) / kc;
    let b = d - 2.0 * tau_z;
    let disc = b * b - 4.0 * tau_z * tau_z;
    let tau_i = if b > 0.0 && disc >= 0.0 {
        0.5 * (b - disc.sqrt())
    } else {
        tau_z
    };
    (kc, tau_i.max(DT))
}

/// One zone's split-range PI pair and schedule.
#[derive(Debug, Clone)]
struct ZoneLoop {
    heat: Pid,
    cool: Pid,
    zone: Zone,
    /// Envelope conductance to outdoor, W/K.
    h_env: f64,
    /// Total heat capacity, J/K.
    c_tot: f64,
}

/// The BMS thermostat bank (expert or medium).
#[derive(Debug, Clone)]
pub struct ZoneThermostats {
    loops: Vec<ZoneLoop>,
    optimum_start: bool,
    label: &'static str,
}

impl ZoneThermostats {
    /// `gain_scale` multiplies `K_c`, `ti_scale` multiplies `τ_I`.
    pub fn new(gain_scale: f64, ti_scale: f64, optimum_start: bool, label: &'static str) -> Self {
        let p = Params::nominal();
        let loops = (0..N_ZONES)
            .map(|i| {
                let z = p.zones[i].clone();
                let (kc, ti) = pi_tuning(&p, i);
                let (kc, ti) = (kc * gain_scale, ti * ti_scale);
                ZoneLoop {
                    heat: Pid::new(kc, kc / ti, 0.0, DT).with_limits(0.0, z.q_heat_max),
                    cool: Pid::new(kc, kc / ti, 0.0, DT).with_limits(0.0, z.q_cool_max),
                    h_env: z.h_ao + z.h_mo,
                    c_tot: z.c_air + z.c_mass,
                    zone: z,
                }
            })
            .collect();
        ZoneThermostats {
            loops,
            optimum_start,
            label,
        }
    }
}

impl Policy for ZoneThermostats {
    fn name(&self) -> String {
        self.label.to_string()
    }

    fn reset(&mut self, _seed: u64) {
        for l in &mut self.loops {
            l.heat.reset();
            l.cool.reset();
        }
    }

    fn act(&mut self, o: &[f32], action: &mut [f32]) -> Result<()> {
        let sin_t = o[obs::SIN_TOD] as f64;
        let cos_t = o[obs::COS_TOD] as f64;
        let mut h = libm::atan2(sin_t, cos_t) * 24.0 / std::f64::consts::TAU;
        if h < 0.0 {
            h += 24.0;
        }
        let t_out = o[obs::T_OUT] as f64;
        let (lo, hi) = (o[obs::BAND_LO] as f64, o[obs::BAND_HI] as f64);
        let margin = 0.25 * (hi - lo);
        let (sp_h_occ, sp_c_occ) = (lo + margin, hi - margin);
        for (i, l) in self.loops.iter_mut().enumerate() {
            let t = o[obs::T_ZONE + i] as f64;
            let occupied = o[obs::OCC + i] > 0.5;
            let comfort = occupied || {
                let mut until = l.zone.occ_start - h;
                if until < 0.0 {
                    until += 24.0;
                }
                let lead = if self.optimum_start {
                    let heat_rate = (l.zone.q_heat_max - l.h_env * (sp_h_occ - t_out)) / l.c_tot;
                    let cool_rate = l.zone.q_cool_max / l.c_tot;
                    let lead_s = if t < sp_h_occ {
                        (sp_h_occ - t) / heat_rate.max(1e-6)
                    } else if t > sp_c_occ {
                        (t - sp_c_occ) / cool_rate
                    } else {
                        0.0
                    };
                    (0.5 + lead_s / 3600.0).min(LEAD_MAX_H)
                } else {
                    0.0
                };
                until <= lead
            };
            let (sp_h, sp_c) = if comfort {
                (sp_h_occ, sp_c_occ)
            } else {
                (SETBACK_HEAT, SETBACK_COOL)
            };
            let q_heat = l.heat.update(sp_h, t);
            let q_cool = l.cool.update(-sp_c, -t);
            action[i] = (q_heat - q_cool) as f32;
        }
        Ok(())
    }
}

/// The plant's BMS: tuned split-range PI thermostats with optimum start.
pub fn expert(_spec: &EnvSpec) -> Box<dyn Policy> {
    Box::new(ZoneThermostats::new(
        1.0,
        1.0,
        true,
        "expert (split-range PI thermostats, occupancy schedule, optimum start)",
    ))
}

/// Detuned PI (0.2 K_c, 5 τ_I), no optimum start, 10 % actuator noise.
pub fn medium(spec: &EnvSpec) -> Box<dyn Policy> {
    Box::new(WithActionNoise::new(
        Box::new(ZoneThermostats::new(
            0.2,
            5.0,
            false,
            "medium (detuned split-range PI thermostats, no optimum start)",
        )),
        spec,
        0.10,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::hvac::{T_FREEZE, T_OVERHEAT};
    use crate::env::{EnvOptions, make_with};

    #[test]
    fn tuning_meets_gain_margin_and_damping() {
        let p = Params::nominal();
        for i in 0..N_ZONES {
            let z = &p.zones[i];
            let (kc, ti) = pi_tuning(&p, i);
            // Sampled fast mode: closed-loop pole inside the unit circle, and
            // the gain is the ultimate gain over the margin.
            let h_fast = z.h_am + z.h_ao + p.h_zz[i].iter().sum::<f64>();
            let a = libm::exp(-h_fast / z.c_air * DT);
            let pole = a - (1.0 - a) * kc / h_fast;
            assert!(pole.abs() < 1.0, "zone {i}: fast pole {pole}");
            let pole_u = a - (1.0 - a) * kc * GAIN_MARGIN / h_fast;
            assert!(
                (pole_u + 1.0).abs() < 1e-9,
                "zone {i}: ultimate pole {pole_u}"
            );
            // Slow loop: τ_I (C + K τ_z) s² + K (τ_I + τ_z) s + K has ζ = 0.7.
            let c = z.c_air + z.c_mass;
            let tau_z = z.c_mass / z.h_am;
            let (a2, a1, a0) = (ti * (c + kc * tau_z), kc * (ti + tau_z), kc);
            let zeta = a1 / (2.0 * (a0 * a2).sqrt());
            assert!((zeta - ZETA).abs() < 1e-9, "zone {i}: ζ = {zeta}");
            assert!(ti > DT && ti < tau_z, "zone {i}: τ_I = {ti}");
        }
    }

    /// Run one deterministic episode and return (discomfort steps after the
    /// first day, min and max zone temperature).
    fn nominal_episode(policy: &mut dyn Policy, seed: u64) -> (usize, f64, f64) {
        let mut env = make_with("HVACControl-v0", EnvOptions::deterministic()).unwrap();
        let mut o = env.reset(seed);
        policy.reset(seed);
        let mut a = vec![0f32; N_ZONES];
        let (mut bad, mut tmin, mut tmax) = (0, f64::MAX, f64::MIN);
        for k in 0.. {
            policy.act(&o, &mut a).unwrap();
            let s = env.step(&a).unwrap();
            let v = &s.info.constraint_values;
            for i in 0..N_ZONES {
                tmin = tmin.min(v[i]);
                tmax = tmax.max(v[i]);
                if k >= 96 && v[2 * N_ZONES + i] > 0.0 {
                    bad += 1;
                }
            }
            assert!(!s.info.hard_violation);
            if s.done() {
                break;
            }
            o = s.obs;
        }
        (bad, tmin, tmax)
    }

    #[test]
    fn expert_keeps_occupied_zones_in_the_comfort_band() {
        let spec = make_with("HVACControl-v0", EnvOptions::deterministic())
            .unwrap()
            .spec()
            .clone();
        let mut e = expert(&spec);
        let mut m = medium(&spec);
        for seed in 0..5 {
            let (bad, tmin, tmax) = nominal_episode(e.as_mut(), seed);
            assert_eq!(bad, 0, "seed {seed}: expert left the band");
            assert!(
                tmin > T_FREEZE + 3.0 && tmax < T_OVERHEAT - 3.0,
                "{tmin} {tmax}"
            );
            let (bad_m, _, _) = nominal_episode(m.as_mut(), seed);
            assert!(
                bad_m > 10,
                "seed {seed}: medium should be visibly worse ({bad_m})"
            );
        }
    }
}
