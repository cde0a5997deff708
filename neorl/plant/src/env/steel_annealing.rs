//! # SteelAnnealing-v0 — the radiant-tube furnace of a continuous annealing line
//!
//! ## Process
//!
//! In a continuous annealing line (CAL) cold-rolled steel strip, welded coil
//! to coil into an endless band, runs through a vertical radiant-tube furnace
//! in a protective N₂–H₂ atmosphere. Gas burners fire inside radiant tubes,
//! which (with the refractory walls and hearth rolls) radiate to the strip.
//! The strip is heated to its recrystallisation (annealing) temperature,
//! held there and slowly cooled. The line modelled here has four zones along
//! a strip path of 500 m:
//!
//! | zone | role            | strip path `L_i` | actuator                |
//! |------|-----------------|------------------|-------------------------|
//! | 1    | heating 1       | 160 m            | burners, 0–36 MW (fuel) |
//! | 2    | heating 2       | 160 m            | burners, 0–16 MW        |
//! | 3    | soaking         | 120 m            | burners, 0–8 MW         |
//! | 4    | slow cooling    | 60 m             | none (gas jets at 573 K)|
//!
//! The line speed (1–6.5 m/s, 60–390 m/min) is the fourth manipulated
//! variable. Coils of different thickness and steel grade follow each other:
//! each grade has its own soak (annealing) temperature target, and the heat a
//! coil needs per metre grows with its thickness, so thick coils must run
//! slower ("heat cycle" `v·d` ≈ constant). The task is the plant's: run as
//! fast as the furnace allows (throughput), burn little gas, and keep the
//! strip at the soak exit inside ±15 K of the grade's target, without ever
//! heating the strip too fast or too hot.
//!
//! ## Model
//!
//! **Strip (Lagrangian lumped element).** Strip is thin (Biot number
//! `h_eff d / 2k` ≈ 10⁻³), so an element of thickness `d` is isothermal
//! through its thickness. Heated from both faces by radiation from the zone
//! wall/tubes at `T_w,i` and by convection from the atmosphere, an element
//! moving through zone `i` obeys (Incropera & DeWitt, §5.3 and §13)
//!
//! ```text
//!   ρ c d/2 · dT/dt = ε σ (T_w,i⁴ − T⁴) + h_i (T_w,i − T)          (1)
//! ```
//!
//! for a residence time `τ_i = L_i / v`. Its solution `Φ_i(T_in, T_w,i, d, ε,
//! v)` is the **quasi-steady exit temperature** of zone `i` for an element
//! that entered at `T_in`; it is integrated with fixed-step classical RK4 in
//! the normalised residence time `s = t/τ_i ∈ [0, 1]`, all four zones at once,
//! with `n = ⌈max_i λ_i τ_i / 0.6⌉` steps (1 ≤ n ≤ 256), where
//! `λ_i = 2(4εσT_max³ + h_i)/(ρ c d)` bounds the Jacobian of (1). So every
//! RK4 step has `hλ ≤ 0.6` (the cap is reached only with walls far above
//! any safe temperature): stable, non-oscillating, and within 0.07 % of the
//! temperature rise (≈ 0.5 K; the tests compare with the closed forms).
//!
//! **Transport.** The strip temperature measured at the exit of zone `i`
//! (state `T_i`) follows `Φ_i` with a first-order transport lag whose time
//! constant is the residence time (a one-cell, well-mixed approximation of
//! the plug flow through the zone):
//!
//! ```text
//!   dT_i/dt = (v / L_i) (Φ_i(T_{i−1}) − T_i),     T_0 = T_entry       (2)
//! ```
//!
//! integrated exactly over the control interval with `Φ_i` held (evaluated
//! at the end-of-interval speed) and the mean speed `v̄` of the interval
//! (`T_i ← Φ_i + (T_i − Φ_i) e^{−v̄ Δt / L_i}`). At steady state `T_i = Φ_i`,
//! i.e. exactly the plug-flow heating curve of (1) along the line.
//!
//! **Zone walls (radiant tubes + refractory).** Each fired zone is one lumped
//! heat capacity `C_i` fed by the burners with thermal efficiency `η`, losing
//! heat through the casing (`UA_i`) and to the strip:
//!
//! ```text
//!   C_i dT_w,i/dt = η P_i − UA_i (T_w,i − T_amb) − Q_i,
//!   Q_i = ρ c d W v (Φ_i − T_{i−1})                                   (3)
//! ```
//!
//! `Q_i` is the enthalpy flow the strip picks up in the zone (both faces, width
//! `W`). Over one control interval `Q_i` and `P_i` are held (zero-order hold)
//! and (3) is integrated exactly: `T_w ← T_∞ + (T_w − T_∞) e^{−UA Δt / C}`
//! with `T_∞ = T_amb + (ηP − Q)/UA`. The strip load makes the effective wall
//! time constant `C/(UA + ∂Q/∂T_w)` ≈ 4–6 min, far longer than Δt, so holding
//! `Q_i` over 10 s is accurate to ≪ 1 K.
//!
//! **Line drive.** The speed follows its set-point with the drive's
//! acceleration limit `a_max`: `v ← v + clip(v_ref − v, ±a_max Δt)`.
//!
//! **Coil tracking.** The plant's tracking system knows the thickness and
//! grade of the coil being welded on, the next coil in the schedule, the strip
//! length left before that weld and the position of the last weld in the
//! furnace. A zone's strip belongs to the new coil once the weld has passed
//! the zone's midpoint (`80, 240, 380, 470 m`). At most one weld is in the
//! furnace (coils are ≥ 1500 m long, the furnace is 500 m).
//!
//! ## State (20 numbers)
//!
//! `T_w,1..3` [K], `T_1..4` strip temperature at the zone exits [K], `v`
//! [m/s], weld position [m, < 0: no weld in the furnace], strip left on the
//! entering coil [m], three coil records (ahead of the weld, entering, next
//! in schedule) of thickness [m], emissivity [-] and grade index, and the
//! relative burner-efficiency drift `δ_η` [-].
//!
//! ## Observations (16)
//!
//! | # | name | unit | sensor |
//! |---|------|------|--------|
//! | 0–2 | `T_wall_1..3` | K | zone thermocouples, σ = 1.5 K |
//! | 3–6 | `T_strip_heat1_exit`, `T_strip_heat2_exit`, `T_strip_soak_exit`, `T_strip_cool_exit` | K | strip pyrometers, σ = 3 K |
//! | 7 | `line_speed` | m/s | tachometer, σ = 0.01 m/s |
//! | 8, 9 | `thickness_entry`, `target_entry` | mm, K | tracking: coil entering the furnace |
//! | 10, 11 | `thickness_soak`, `target_soak` | mm, K | tracking: coil in the soaking zone (its target is the quality reference) |
//! | 12, 13 | `thickness_next`, `target_next` | mm, K | production schedule: next coil |
//! | 14 | `coil_remaining` | m | strip left before the next weld enters |
//! | 15 | `weld_position` | m | last weld in the furnace; 500 (furnace length) when none |
//!
//! Tracking data are exact. The strip's emissivity is **not** observed.
//!
//! ## Actions (4)
//!
//! `P_1, P_2, P_3` — burner firing rate of each fired zone [MW, fuel LHV], in
//! `[0, 36]`, `[0, 16]`, `[0, 8]`; `v_ref` — line-speed set-point [m/s] in
//! `[1, 6.5]`.
//!
//! ## Parameters (see [`Params::default`])
//!
//! | symbol | value | unit | source / reasoning |
//! |---|---|---|---|
//! | ρ | 7850 | kg/m³ | low-carbon steel (Incropera Table A.1) |
//! | c | 660 | J/(kg K) | enthalpy-averaged c_p of low-carbon steel over 20–850 °C (Table A.1 rises from 434 to > 1000 near the Curie point) |
//! | W | 1.25 | m | strip width |
//! | d | 0.5–1.5 | mm | cold-rolled CAL product range |
//! | ε | 0.22–0.32 (nominal 0.27) | – | effective tube/wall-to-strip exchange factor; clean cold-rolled strip has ε ≈ 0.2–0.35, the most uncertain parameter of such models, identified from plant data in Zareba et al. 2016 |
//! | h_1..3 | 30 | W/(m² K) | recirculated N₂–H₂ atmosphere in a radiant-tube furnace |
//! | h_4, T_cool | 60, 573 | W/(m² K), K | slow-cooling gas jets |
//! | L | 160, 160, 120, 60 | m | strip path of 8, 8, 6 and 3 vertical passes of 20 m |
//! | C | 9, 9, 6 | MJ/K | tubes, rolls and hot face of the refractory |
//! | UA | 1.0, 1.0, 0.8 | kW/K | casing losses ≈ 0.8–0.9 MW per zone at 900 °C |
//! | η | 0.65 | – | radiant tube with recuperator (flue-gas loss ≈ 35 %) |
//! | P_max | 36, 16, 8 | MW | firing capacity sized for ≈ 150–200 t/h |
//! | v | 1–6.5 | m/s | line speed range, drive acceleration 0.05 m/s² |
//! | T_entry, T_amb | 313, 303 | K | strip after the cleaning-section dryer; hall |
//!
//! With these numbers a 1 mm strip at 4 m/s (141 t/h) takes ≈ 16 MW in
//! zone 1 (≈ 26 MW of gas) with the tubes at ≈ 900 °C, as in industrial
//! radiant-tube furnaces (tubes run at 900–1150 °C).
//!
//! ## Constraints
//!
//! * **hard** `heating_rate` ≤ 40 K/s: the largest local heating rate of the
//!   strip, `2[εσ(T_w,i⁴ − T_in,i⁴) + h_i(T_w,i − T_in,i)]/(ρ c d)` at the
//!   entry of each fired zone (where it is largest, since the right side of
//!   (1) falls with `T`). Faster heating buckles thin strip (thermal stresses
//!   across the width, "heat buckling") and spoils the recrystallisation
//!   texture; thin strip under hot tubes reaches it, so tubes must be
//!   turned down before thin coils arrive.
//! * **hard** `peak_strip_temperature` ≤ 1153.15 K (880 °C): above it the
//!   low-carbon strip enters the ferrite–austenite range (coarse grain) and
//!   loses so much strength that it stretches or breaks in the furnace — the
//!   interlock trips the line. It is reached when a line slow-down leaves the
//!   strip in hot zones (`T → T_w`), which is how a furnace over-fired for its
//!   speed fails.
//! * **soft** `soak_deviation` within ±15 K (two one-sided constraints on
//!   `T_3 − T_target`): the mechanical properties of the annealed coil are
//!   guaranteed inside this band.
//!
//! ## Reward (economics, € per 10-s step)
//!
//! ```text
//!   r = Δt/3600 · [ M · ṁ · (1 − min((e/15 K)², 2)) − p_gas · Σ P_i ]
//! ```
//!
//! `ṁ = ρ W d v · 3.6` t/h leaving the soaking zone, `M` = 60 €/t annealing
//! value added, `e = T_3 − T_target` (a quadratic Taguchi loss: at the band
//! edge the coil's value added is gone; far outside it is downgraded at
//! −60 €/t), `p_gas` = 35 €/MWh. The reward is clamped to `reward_range`,
//! whose lower end is the worst possible step (largest throughput, worst
//! quality, all burners full on), so a breach is never a shortcut.
//!
//! ## Disturbances (when `options.disturbances`)
//!
//! * **Coil changes**: coils of 1500–3500 m; the next thickness is the
//!   current one times `e^{U(−0.25, 0.25)}` clipped to 0.5–1.5 mm (schedules
//!   avoid larger jumps), the grade moves by at most one step (730, 760, 790,
//!   820 °C targets), emissivity `U(0.22, 0.32)` per coil, unmeasured.
//! * **Burner efficiency** drift (gas calorific value, air ratio): an
//!   Ornstein–Uhlenbeck process, stationary σ = 2 %, correlation time 20 min.
//!
//! Without disturbances the schedule repeats the initial coil (same
//! thickness, grade and nominal emissivity 0.27) and `η` is constant.
//!
//! ## Sensor noise (when `options.sensor_noise`)
//!
//! Gaussian: thermocouples 1.5 K, pyrometers 3 K, tachometer 0.01 m/s.
//!
//! ## Episode
//!
//! Δt = 10 s, horizon 540 steps (1.5 h, ≈ 6–10 coils). Reset draws the
//! first coil (thickness, grade, emissivity), the next coil, the strip left
//! on the first, a speed of 70–90 % of the nominal heat cycle and wall
//! temperatures around the target, with the strip temperatures at their
//! steady profile; the rate and peak limits hold at reset.
//!
//! ## Sources
//!
//! * F. P. Incropera, D. P. DeWitt, T. L. Bergman, A. S. Lavine,
//!   *Fundamentals of Heat and Mass Transfer*, 6th ed., Wiley, 2007 — lumped
//!   capacitance with radiation (§5.3, Eq. 5.18), radiation exchange (ch. 13),
//!   properties of steel (Table A.1).
//! * N. Yoshitani, A. Hasegawa, "Model-based control of strip temperature
//!   for the heating furnace in continuous annealing", *IEEE Trans. Control
//!   Systems Technology* 6(2):146–156, 1998 — zone structure, strip heat
//!   balance, speed/thickness changes at welds.
//! * S. Zareba, A. Wolff, M. Jelali, "Mathematical modelling and parameter
//!   identification of a stainless steel annealing furnace", *Simulation
//!   Modelling Practice and Theory* 60:15–39, 2016 — radiative/convective
//!   zone model and identified emissivities.
//! * "Calculation model, influencing factors, and dynamic characteristics of
//!   strip temperature in a radiant tube furnace during continuous annealing
//!   process", *Metals* 12(8):1256, 2022 (doi:10.3390/met12081256) — heat
//!   balance strip model; thickness, speed and tube temperature dominate.
//! * M. McGuinness, S. Taylor, "Strip temperature in a metal coating line
//!   annealing furnace", Proc. MISG 2004 — speed reduced for thick strip,
//!   weld tracking.

use super::math::{gaussian, normal, normal_pair, rk4_substeps, uniform, uniform_in};
use super::model::{EnvOptions, EnvRng, Model, Transition};
use super::spec::{ConstraintSpec, Dim, EnvSpec};
use std::sync::Arc;

/// Stefan–Boltzmann constant, W/(m² K⁴) (CODATA 2018).
pub const STEFAN_BOLTZMANN: f64 = 5.670374419e-8;
/// Zones along the strip path (3 fired + slow cooling).
pub const N_ZONES: usize = 4;
/// Fired zones (burner actuators).
pub const N_FIRED: usize = 3;
/// Soak-exit temperature targets of the four grades (CQ, DQ, DDQ, IF), K.
pub const GRADE_TARGETS: [f64; 4] = [1003.15, 1033.15, 1063.15, 1093.15];
/// Largest `hλ` of one RK4 step of the strip equation.
const RK4_H_LAMBDA: f64 = 0.6;
/// Most RK4 steps for one zone transit.
const RK4_MAX_STEPS: f64 = 256.0;

// ---- state layout -------------------------------------------------------
/// Wall temperatures of the fired zones, K (3 slots).
pub const S_WALL: usize = 0;
/// Strip temperature at the exit of each zone, K (4 slots).
pub const S_STRIP: usize = 3;
/// Line speed, m/s.
pub const S_SPEED: usize = 7;
/// Position of the weld in the furnace, m; negative when none is inside.
pub const S_WELD: usize = 8;
/// Strip left on the entering coil before the next weld, m.
pub const S_REMAINING: usize = 9;
/// Coil ahead of the weld: `[thickness m, emissivity, grade index]`.
pub const S_COIL_AHEAD: usize = 10;
/// Coil entering the furnace (behind the weld).
pub const S_COIL_ENTRY: usize = 13;
/// Next coil in the schedule.
pub const S_COIL_NEXT: usize = 16;
/// Relative drift of the burner efficiency.
pub const S_ETA_DRIFT: usize = 19;
/// Length of the state vector.
pub const STATE_DIM: usize = 20;
/// Offsets inside a coil record.
pub const C_THICKNESS: usize = 0;
pub const C_EMISSIVITY: usize = 1;
pub const C_GRADE: usize = 2;

// ---- observation layout -------------------------------------------------
pub const O_WALL: usize = 0;
pub const O_STRIP: usize = 3;
pub const O_SPEED: usize = 7;
pub const O_THICKNESS_ENTRY: usize = 8;
pub const O_TARGET_ENTRY: usize = 9;
pub const O_THICKNESS_SOAK: usize = 10;
pub const O_TARGET_SOAK: usize = 11;
pub const O_THICKNESS_NEXT: usize = 12;
pub const O_TARGET_NEXT: usize = 13;
pub const O_REMAINING: usize = 14;
pub const O_WELD: usize = 15;
pub const OBS_DIM: usize = 16;

// ---- action layout ------------------------------------------------------
/// Burner firing rates of zones 1–3, MW (3 slots).
pub const A_BURNER: usize = 0;
/// Line-speed set-point, m/s.
pub const A_SPEED: usize = 3;

// ---- constraint layout --------------------------------------------------
pub const K_HEATING_RATE: usize = 0;
pub const K_PEAK: usize = 1;
pub const K_SOAK_HIGH: usize = 2;
pub const K_SOAK_LOW: usize = 3;

/// Physical and economic parameters (values and sources in the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Strip density, kg/m³.
    pub density: f64,
    /// Mean specific heat of the strip, J/(kg K).
    pub specific_heat: f64,
    /// Strip width, m.
    pub width: f64,
    /// Strip temperature entering zone 1, K.
    pub t_entry: f64,
    /// Ambient temperature around the casing, K.
    pub t_ambient: f64,
    /// Strip path length of each zone, m.
    pub zone_length: [f64; N_ZONES],
    /// Convective heat-transfer coefficient per face, W/(m² K).
    pub h_conv: [f64; N_ZONES],
    /// Wall and jet-gas temperature of the slow-cooling zone, K.
    pub t_cooling: f64,
    /// Lumped heat capacity of each fired zone, J/K.
    pub wall_capacity: [f64; N_FIRED],
    /// Casing loss conductance of each fired zone, W/K.
    pub wall_loss: [f64; N_FIRED],
    /// Thermal efficiency of the radiant-tube burners.
    pub burner_efficiency: f64,
    /// Firing capacity per fired zone, MW.
    pub burner_max: [f64; N_FIRED],
    /// Line speed range, m/s.
    pub speed_min: f64,
    pub speed_max: f64,
    /// Drive acceleration limit, m/s².
    pub accel_max: f64,
    /// Control interval, s.
    pub dt: f64,
    /// Steps per episode.
    pub horizon: usize,
    /// Emissivity of the nominal coil and the per-coil range.
    pub emissivity_nominal: f64,
    pub emissivity_min: f64,
    pub emissivity_max: f64,
    /// Thickness range, m.
    pub thickness_min: f64,
    pub thickness_max: f64,
    /// Largest |ln(d_next / d)| between consecutive coils.
    pub thickness_log_step: f64,
    /// Coil length range, m (the mean is used without disturbances).
    pub coil_length_min: f64,
    pub coil_length_max: f64,
    /// Burner-efficiency drift: stationary σ (relative) and correlation time, s.
    pub eta_drift_sigma: f64,
    pub eta_drift_tau: f64,
    /// Nominal heat cycle `v·d` used to draw the initial speed, m²/s.
    pub heat_cycle_nominal: f64,
    /// Hard limit on the local strip heating rate, K/s.
    pub heating_rate_max: f64,
    /// Hard limit on the strip temperature, K.
    pub peak_temperature_max: f64,
    /// Quality band half-width around the soak target, K.
    pub soak_band: f64,
    /// Value added by annealing in-spec strip, €/t.
    pub margin: f64,
    /// Natural-gas price, €/MWh.
    pub fuel_price: f64,
    /// Sensor noise standard deviations: thermocouple K, pyrometer K, tachometer m/s.
    pub noise_wall: f64,
    pub noise_strip: f64,
    pub noise_speed: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            density: 7850.0,
            specific_heat: 660.0,
            width: 1.25,
            t_entry: 313.15,
            t_ambient: 303.15,
            zone_length: [160.0, 160.0, 120.0, 60.0],
            h_conv: [30.0, 30.0, 30.0, 60.0],
            t_cooling: 573.15,
            wall_capacity: [9.0e6, 9.0e6, 6.0e6],
            wall_loss: [1.0e3, 1.0e3, 0.8e3],
            burner_efficiency: 0.65,
            burner_max: [36.0, 16.0, 8.0],
            speed_min: 1.0,
            speed_max: 6.5,
            accel_max: 0.05,
            dt: 10.0,
            horizon: 540,
            emissivity_nominal: 0.27,
            emissivity_min: 0.22,
            emissivity_max: 0.32,
            thickness_min: 0.5e-3,
            thickness_max: 1.5e-3,
            thickness_log_step: 0.25,
            coil_length_min: 1500.0,
            coil_length_max: 3500.0,
            eta_drift_sigma: 0.02,
            eta_drift_tau: 1200.0,
            heat_cycle_nominal: 4.6e-3,
            heating_rate_max: 40.0,
            peak_temperature_max: 1153.15,
            soak_band: 15.0,
            margin: 60.0,
            fuel_price: 35.0,
            noise_wall: 1.5,
            noise_strip: 3.0,
            noise_speed: 0.01,
        }
    }
}

impl Params {
    /// Position of the end of each zone along the strip path, m.
    pub fn zone_exit(&self) -> [f64; N_ZONES] {
        let mut x = [0.0; N_ZONES];
        let mut acc = 0.0;
        for (xi, l) in x.iter_mut().zip(self.zone_length) {
            acc += l;
            *xi = acc;
        }
        x
    }
    /// Midpoint of each zone, m (where a zone's strip changes coil).
    pub fn zone_mid(&self) -> [f64; N_ZONES] {
        let mut m = self.zone_exit();
        for (mi, l) in m.iter_mut().zip(self.zone_length) {
            *mi -= 0.5 * l;
        }
        m
    }
    /// Total strip path in the furnace, m.
    pub fn furnace_length(&self) -> f64 {
        self.zone_length.iter().sum()
    }
    /// Radiative coefficient `2εσ/(ρ c d)` of equation (1), 1/(K³ s).
    #[inline]
    pub fn rad_coeff(&self, emissivity: f64, thickness: f64) -> f64 {
        2.0 * emissivity * STEFAN_BOLTZMANN / (self.density * self.specific_heat * thickness)
    }
    /// Convective coefficient `2h/(ρ c d)` of equation (1), 1/s.
    #[inline]
    pub fn conv_coeff(&self, h: f64, thickness: f64) -> f64 {
        2.0 * h / (self.density * self.specific_heat * thickness)
    }
    /// Right side of equation (1): the strip heating rate, K/s.
    #[inline]
    pub fn heating_rate(&self, t_strip: f64, t_wall: f64, h: f64, emissivity: f64, d: f64) -> f64 {
        let (t2, w2) = (t_strip * t_strip, t_wall * t_wall);
        self.rad_coeff(emissivity, d) * (w2 * w2 - t2 * t2)
            + self.conv_coeff(h, d) * (t_wall - t_strip)
    }
}

/// Quasi-steady exit temperatures of strip elements crossing four zones at
/// once: the solution of `dT/dt = rad (T_w⁴ − T⁴) + conv (T_w − T)` after
/// `residence` seconds from `t_in`, per lane, by fixed-step RK4 in the
/// normalised time `s = t/residence` (see the module docs for the step rule).
pub fn strip_exit_temperatures(
    t_in: [f64; 4],
    t_wall: [f64; 4],
    rad: [f64; 4],
    conv: [f64; 4],
    residence: [f64; 4],
) -> [f64; 4] {
    let mut n = 1.0f64;
    let mut w4 = [0.0; 4];
    for i in 0..4 {
        let tmax = t_wall[i].max(t_in[i]);
        let lambda = 4.0 * rad[i] * tmax * tmax * tmax + conv[i];
        n = n.max(libm::ceil(lambda * residence[i] / RK4_H_LAMBDA));
        let w2 = t_wall[i] * t_wall[i];
        w4[i] = w2 * w2;
    }
    let n = n.min(RK4_MAX_STEPS) as usize;
    // In s = t/τ: dT/ds = A (T_w⁴ − T⁴) + B (T_w − T), A = τ rad, B = τ conv.
    let mut a = [0.0; 4];
    let mut b = [0.0; 4];
    for i in 0..4 {
        a[i] = residence[i] * rad[i];
        b[i] = residence[i] * conv[i];
    }
    let mut x = t_in;
    rk4_substeps(&mut x, 1.0, n, |x, dx| {
        for i in 0..4 {
            let t2 = x[i] * x[i];
            dx[i] = a[i] * (w4[i] - t2 * t2) + b[i] * (t_wall[i] - x[i]);
        }
    });
    x
}

/// The continuous annealing furnace (see the module docs).
#[derive(Debug, Clone)]
pub struct SteelAnnealing {
    spec: EnvSpec,
    options: EnvOptions,
    p: Params,
    zone_mid: [f64; N_ZONES],
    furnace_length: f64,
    /// `e^{−UA Δt / C}` per fired zone.
    wall_decay: [f64; N_FIRED],
    /// OU update coefficients of the efficiency drift.
    ou_a: f64,
    ou_b: f64,
}

/// The registry constructor.
pub fn build(options: EnvOptions) -> Arc<dyn Model> {
    Arc::new(SteelAnnealing::new(options))
}

impl SteelAnnealing {
    /// The line with the documented default parameters.
    pub fn new(options: EnvOptions) -> Self {
        Self::with_params(options, Params::default())
    }

    /// The line with other parameters (for studies and physics tests).
    pub fn with_params(options: EnvOptions, p: Params) -> Self {
        let mut wall_decay = [0.0; N_FIRED];
        for (i, w) in wall_decay.iter_mut().enumerate() {
            *w = libm::exp(-p.wall_loss[i] * p.dt / p.wall_capacity[i]);
        }
        let ou_a = libm::exp(-p.dt / p.eta_drift_tau);
        let ou_b = p.eta_drift_sigma * (1.0 - ou_a * ou_a).sqrt();
        let spec = Self::make_spec(&p);
        SteelAnnealing {
            spec,
            options,
            zone_mid: p.zone_mid(),
            furnace_length: p.furnace_length(),
            wall_decay,
            ou_a,
            ou_b,
            p,
        }
    }

    /// The parameters in use.
    pub fn params(&self) -> &Params {
        &self.p
    }

    fn make_spec(p: &Params) -> EnvSpec {
        let tph_max = p.density * p.width * p.thickness_max * p.speed_max * 3.6;
        let fuel_max: f64 = p.burner_max.iter().sum();
        let per_h = p.dt / 3600.0;
        let r_max = per_h * p.margin * tph_max;
        let r_min = -per_h * (p.margin * tph_max + p.fuel_price * fuel_max);
        let mm = |x: f64| x * 1e3;
        EnvSpec {
            id: "SteelAnnealing-v0".into(),
            description: format!(
                "Radiant-tube furnace of a continuous annealing line: three fired zones \
                 (heating 1, heating 2, soaking) and a slow-cooling zone heat a moving steel \
                 strip by radiation and convection. Burner firing rates and line speed must \
                 bring every coil (changing thickness, grade and unmeasured emissivity) to its \
                 soak target within ±{} K at maximum throughput and minimum gas, without \
                 exceeding the strip heating-rate ({} K/s) and peak-temperature ({} K) limits.",
                p.soak_band, p.heating_rate_max, p.peak_temperature_max
            ),
            sources: vec![
                "F. P. Incropera, D. P. DeWitt, T. L. Bergman, A. S. Lavine, Fundamentals of Heat and Mass Transfer, 6th ed., Wiley, 2007 (Sec. 5.3, Eq. 5.18; ch. 13; Table A.1)".into(),
                "N. Yoshitani, A. Hasegawa, Model-based control of strip temperature for the heating furnace in continuous annealing, IEEE Trans. Control Systems Technology 6(2):146-156, 1998".into(),
                "S. Zareba, A. Wolff, M. Jelali, Mathematical modelling and parameter identification of a stainless steel annealing furnace, Simulation Modelling Practice and Theory 60:15-39, 2016".into(),
                "Calculation model, influencing factors, and dynamic characteristics of strip temperature in a radiant tube furnace during continuous annealing process, Metals 12(8):1256, 2022, doi:10.3390/met12081256".into(),
                "M. McGuinness, S. Taylor, Strip temperature in a metal coating line annealing furnace, Proc. Mathematics-in-Industry Study Group (MISG) 2004".into(),
            ],
            observations: vec![
                Dim::new("T_wall_1", "K", 300.0, 1600.0),
                Dim::new("T_wall_2", "K", 300.0, 1600.0),
                Dim::new("T_wall_3", "K", 300.0, 1600.0),
                Dim::new("T_strip_heat1_exit", "K", 250.0, 1600.0),
                Dim::new("T_strip_heat2_exit", "K", 250.0, 1600.0),
                Dim::new("T_strip_soak_exit", "K", 250.0, 1600.0),
                Dim::new("T_strip_cool_exit", "K", 250.0, 1600.0),
                Dim::new("line_speed", "m/s", 0.0, p.speed_max + 0.5),
                Dim::new("thickness_entry", "mm", mm(p.thickness_min), mm(p.thickness_max)),
                Dim::new("target_entry", "K", GRADE_TARGETS[0], GRADE_TARGETS[3]),
                Dim::new("thickness_soak", "mm", mm(p.thickness_min), mm(p.thickness_max)),
                Dim::new("target_soak", "K", GRADE_TARGETS[0], GRADE_TARGETS[3]),
                Dim::new("thickness_next", "mm", mm(p.thickness_min), mm(p.thickness_max)),
                Dim::new("target_next", "K", GRADE_TARGETS[0], GRADE_TARGETS[3]),
                Dim::new("coil_remaining", "m", 0.0, p.coil_length_max),
                Dim::new("weld_position", "m", 0.0, p.furnace_length()),
            ],
            actions: vec![
                Dim::new("P_burner_1", "MW", 0.0, p.burner_max[0]),
                Dim::new("P_burner_2", "MW", 0.0, p.burner_max[1]),
                Dim::new("P_burner_3", "MW", 0.0, p.burner_max[2]),
                Dim::new("line_speed_ref", "m/s", p.speed_min, p.speed_max),
            ],
            dt: p.dt,
            horizon: p.horizon,
            constraints: vec![
                ConstraintSpec::hard_max(
                    "heating_rate",
                    p.heating_rate_max,
                    "K/s",
                    "Largest local strip heating rate (at the entry of each fired zone). \
                     Faster heating buckles thin strip and spoils the recrystallisation texture.",
                ),
                ConstraintSpec::hard_max(
                    "peak_strip_temperature",
                    p.peak_temperature_max,
                    "K",
                    "Highest strip temperature in the furnace (zone exits). Above 880 °C \
                     low-carbon strip turns partly austenitic and loses strength: it stretches \
                     or breaks, and the interlock trips the line.",
                ),
                ConstraintSpec::soft_max(
                    "soak_deviation_high",
                    p.soak_band,
                    "K",
                    "Soak-exit strip temperature minus the grade's target: above +15 K the coil's \
                     properties are out of specification (over-annealed).",
                ),
                ConstraintSpec::soft_min(
                    "soak_deviation_low",
                    -p.soak_band,
                    "K",
                    "Soak-exit strip temperature minus the grade's target: below −15 K the coil \
                     is under-annealed (incomplete recrystallisation).",
                ),
            ],
            reward_range: (r_min, r_max),
            ref_random_return: -23740.98397415442,
            ref_expert_return: 11175.794977612952,
            breach: super::spec::BreachPenalty::RemainingHorizon,
        }
    }

    /// Offset of the coil record of the strip in zone `zone`.
    #[inline]
    fn zone_coil(&self, state: &[f64], zone: usize) -> usize {
        let w = state[S_WELD];
        if w >= 0.0 && w < self.zone_mid[zone] {
            S_COIL_AHEAD
        } else {
            S_COIL_ENTRY
        }
    }

    /// Soak target of the strip in zone `zone`, K.
    #[inline]
    fn zone_target(&self, state: &[f64], zone: usize) -> f64 {
        grade_target(state[self.zone_coil(state, zone) + C_GRADE])
    }

    /// Strip temperature entering each zone (zone 1: `t_entry`).
    #[inline]
    fn zone_inlets(&self, state: &[f64]) -> [f64; 4] {
        [
            self.p.t_entry,
            state[S_STRIP],
            state[S_STRIP + 1],
            state[S_STRIP + 2],
        ]
    }

    /// Wall (or cooling-gas) temperature of each zone.
    #[inline]
    fn zone_walls(&self, state: &[f64]) -> [f64; 4] {
        [
            state[S_WALL],
            state[S_WALL + 1],
            state[S_WALL + 2],
            self.p.t_cooling,
        ]
    }

    /// Coefficients of equation (1) for the strip now in each zone.
    #[inline]
    fn zone_coeffs(&self, state: &[f64]) -> ([f64; 4], [f64; 4], [f64; 4]) {
        let mut rad = [0.0; 4];
        let mut conv = [0.0; 4];
        let mut d = [0.0; 4];
        for i in 0..N_ZONES {
            let c = self.zone_coil(state, i);
            d[i] = state[c + C_THICKNESS];
            rad[i] = self.p.rad_coeff(state[c + C_EMISSIVITY], d[i]);
            conv[i] = self.p.conv_coeff(self.p.h_conv[i], d[i]);
        }
        (rad, conv, d)
    }

    /// Quasi-steady zone exit temperatures `Φ_i` of the current state.
    pub fn quasi_steady_exits(&self, state: &[f64]) -> [f64; 4] {
        let (rad, conv, _) = self.zone_coeffs(state);
        let v = state[S_SPEED];
        let mut res = [0.0; 4];
        for (r, l) in res.iter_mut().zip(self.p.zone_length) {
            *r = l / v;
        }
        strip_exit_temperatures(
            self.zone_inlets(state),
            self.zone_walls(state),
            rad,
            conv,
            res,
        )
    }

    /// The next coil of the schedule after `prev` (a coil record).
    fn draw_coil(&self, prev: [f64; 3], rng: &mut EnvRng) -> [f64; 3] {
        if !self.options.disturbances {
            return prev;
        }
        let p = &self.p;
        let step = uniform_in(rng, -p.thickness_log_step, p.thickness_log_step);
        let d = (prev[C_THICKNESS] * libm::exp(step)).clamp(p.thickness_min, p.thickness_max);
        let dg = (uniform(rng) * 3.0).min(2.0) as i32 - 1;
        let grade = (prev[C_GRADE] as i32 + dg).clamp(0, 3) as f64;
        let eps = uniform_in(rng, p.emissivity_min, p.emissivity_max);
        [d, eps, grade]
    }

    fn coil_length(&self, rng: &mut EnvRng) -> f64 {
        if self.options.disturbances {
            uniform_in(rng, self.p.coil_length_min, self.p.coil_length_max)
        } else {
            0.5 * (self.p.coil_length_min + self.p.coil_length_max)
        }
    }

    /// The strip profile at steady state for the current walls and speed
    /// (written into the strip-temperature slots).
    fn settle_strip(&self, state: &mut [f64]) {
        // A chain: after sweep k the first k zones are exact.
        for _ in 0..N_ZONES {
            let phi = self.quasi_steady_exits(state);
            state[S_STRIP..S_STRIP + N_ZONES].copy_from_slice(&phi);
        }
    }

    /// The heating-rate, peak-temperature and soak-deviation signals.
    fn signals(&self, state: &[f64]) -> (f64, f64, f64) {
        let (rad, conv, _) = self.zone_coeffs(state);
        let t_in = self.zone_inlets(state);
        let mut rate = f64::NEG_INFINITY;
        for i in 0..N_FIRED {
            let (t, w) = (t_in[i], state[S_WALL + i]);
            let (t2, w2) = (t * t, w * w);
            rate = rate.max(rad[i] * (w2 * w2 - t2 * t2) + conv[i] * (w - t));
        }
        let peak = state[S_STRIP]
            .max(state[S_STRIP + 1])
            .max(state[S_STRIP + 2]);
        let dev = state[S_STRIP + 2] - self.zone_target(state, 2);
        (rate, peak, dev)
    }
}

/// Soak target of a grade index, K.
#[inline]
pub fn grade_target(grade: f64) -> f64 {
    GRADE_TARGETS[(grade as usize).min(GRADE_TARGETS.len() - 1)]
}

impl Model for SteelAnnealing {
    fn spec(&self) -> &EnvSpec {
        &self.spec
    }

    fn state_dim(&self) -> usize {
        STATE_DIM
    }

    fn reset(&self, s: &mut [f64], rng: &mut EnvRng) {
        let p = &self.p;
        s.fill(0.0);
        // First coil, then the schedule.
        let d = uniform_in(rng, p.thickness_min, p.thickness_max);
        let grade = ((uniform(rng) * 4.0) as usize).min(3) as f64;
        let eps = if self.options.disturbances {
            uniform_in(rng, p.emissivity_min, p.emissivity_max)
        } else {
            p.emissivity_nominal
        };
        let entry = [d, eps, grade];
        let next = self.draw_coil(entry, rng);
        s[S_COIL_AHEAD..S_COIL_AHEAD + 3].copy_from_slice(&entry);
        s[S_COIL_ENTRY..S_COIL_ENTRY + 3].copy_from_slice(&entry);
        s[S_COIL_NEXT..S_COIL_NEXT + 3].copy_from_slice(&next);
        s[S_WELD] = -1.0;
        s[S_REMAINING] = if self.options.disturbances {
            uniform_in(rng, 300.0, 2500.0)
        } else {
            self.coil_length(rng)
        };
        // Operating point: 70–90 % of the nominal heat cycle, walls around the target.
        let v =
            (p.heat_cycle_nominal / d * uniform_in(rng, 0.7, 0.9)).clamp(p.speed_min, p.speed_max);
        s[S_SPEED] = v;
        let target = grade_target(grade);
        s[S_WALL] = target + uniform_in(rng, 60.0, 140.0);
        s[S_WALL + 1] = target + uniform_in(rng, 10.0, 50.0);
        s[S_WALL + 2] = target + uniform_in(rng, -10.0, 15.0);
        s[S_ETA_DRIFT] = if self.options.disturbances {
            gaussian(rng, 0.0, p.eta_drift_sigma)
        } else {
            0.0
        };
        // Keep the reset state well inside the hard limits.
        while p.heating_rate(p.t_entry, s[S_WALL], p.h_conv[0], eps, d) > 0.85 * p.heating_rate_max
        {
            s[S_WALL] -= 5.0;
        }
        self.settle_strip(s);
        while self.signals(s).1 > p.peak_temperature_max - 20.0 {
            for i in 0..N_FIRED {
                s[S_WALL + i] -= 5.0;
            }
            self.settle_strip(s);
        }
    }

    fn step(&self, s: &mut [f64], a: &[f64], rng: &mut EnvRng) -> Transition {
        let p = &self.p;
        let dt = p.dt;
        // 1. Burner-efficiency drift.
        if self.options.disturbances {
            s[S_ETA_DRIFT] = self.ou_a * s[S_ETA_DRIFT] + self.ou_b * normal(rng);
        }
        // 2. Line drive.
        let v0 = s[S_SPEED];
        let dv_max = p.accel_max * dt;
        let v1 = v0 + (a[A_SPEED] - v0).clamp(-dv_max, dv_max);
        let v_mean = 0.5 * (v0 + v1);
        s[S_SPEED] = v1;
        // 3. Coil tracking.
        let advance = v_mean * dt;
        if s[S_WELD] >= 0.0 {
            s[S_WELD] += advance;
            if s[S_WELD] >= self.furnace_length {
                s[S_WELD] = -1.0;
            }
        }
        s[S_REMAINING] -= advance;
        if s[S_REMAINING] <= 0.0 {
            let mut entry = [0.0; 3];
            entry.copy_from_slice(&s[S_COIL_ENTRY..S_COIL_ENTRY + 3]);
            let mut next = [0.0; 3];
            next.copy_from_slice(&s[S_COIL_NEXT..S_COIL_NEXT + 3]);
            let after = self.draw_coil(next, rng);
            s[S_COIL_AHEAD..S_COIL_AHEAD + 3].copy_from_slice(&entry);
            s[S_COIL_ENTRY..S_COIL_ENTRY + 3].copy_from_slice(&next);
            s[S_COIL_NEXT..S_COIL_NEXT + 3].copy_from_slice(&after);
            s[S_WELD] = -s[S_REMAINING];
            s[S_REMAINING] += self.coil_length(rng);
        }
        // 4. Strip: quasi-steady zone exits, then the transport lag (2).
        let (rad, conv, d) = self.zone_coeffs(s);
        let t_in = self.zone_inlets(s);
        let mut residence = [0.0; 4];
        for (r, l) in residence.iter_mut().zip(p.zone_length) {
            *r = l / v1;
        }
        let phi = strip_exit_temperatures(t_in, self.zone_walls(s), rad, conv, residence);
        for i in 0..N_ZONES {
            let f = libm::exp(-v_mean * dt / p.zone_length[i]);
            s[S_STRIP + i] = phi[i] + (s[S_STRIP + i] - phi[i]) * f;
        }
        // 5. Walls (3), exact with the strip load and firing held.
        let eta = p.burner_efficiency * (1.0 + s[S_ETA_DRIFT]);
        let rho_c_w = p.density * p.specific_heat * p.width;
        let mut fuel = 0.0;
        for i in 0..N_FIRED {
            let q_strip = rho_c_w * d[i] * v1 * (phi[i] - t_in[i]);
            let t_inf = p.t_ambient + (eta * a[A_BURNER + i] * 1e6 - q_strip) / p.wall_loss[i];
            s[S_WALL + i] = t_inf + (s[S_WALL + i] - t_inf) * self.wall_decay[i];
            fuel += a[A_BURNER + i];
        }
        // 6. Economics.
        let d_soak = s[self.zone_coil(s, 2) + C_THICKNESS];
        let tph = p.density * p.width * d_soak * v1 * 3.6;
        let e = (s[S_STRIP + 2] - self.zone_target(s, 2)) / p.soak_band;
        let quality = 1.0 - (e * e).min(2.0);
        let r = p.dt / 3600.0 * (p.margin * tph * quality - p.fuel_price * fuel);
        let (lo, hi) = self.spec.reward_range;
        Transition {
            reward: r.clamp(lo, hi),
            terminal: false,
        }
    }

    fn observe(&self, s: &[f64], obs: &mut [f32], rng: &mut EnvRng) {
        let p = &self.p;
        // Eight independent standard normals (four `math::normal_pair` draws).
        let mut z = [0.0; 8];
        if self.options.sensor_noise {
            for k in 0..4 {
                (z[2 * k], z[2 * k + 1]) = normal_pair(rng);
            }
        }
        for i in 0..N_FIRED {
            obs[O_WALL + i] = (s[S_WALL + i] + p.noise_wall * z[i]) as f32;
        }
        for i in 0..N_ZONES {
            obs[O_STRIP + i] = (s[S_STRIP + i] + p.noise_strip * z[3 + i]) as f32;
        }
        obs[O_SPEED] = (s[S_SPEED] + p.noise_speed * z[7]) as f32;
        let soak = self.zone_coil(s, 2);
        obs[O_THICKNESS_ENTRY] = (s[S_COIL_ENTRY + C_THICKNESS] * 1e3) as f32;
        obs[O_TARGET_ENTRY] = grade_target(s[S_COIL_ENTRY + C_GRADE]) as f32;
        obs[O_THICKNESS_SOAK] = (s[soak + C_THICKNESS] * 1e3) as f32;
        obs[O_TARGET_SOAK] = grade_target(s[soak + C_GRADE]) as f32;
        obs[O_THICKNESS_NEXT] = (s[S_COIL_NEXT + C_THICKNESS] * 1e3) as f32;
        obs[O_TARGET_NEXT] = grade_target(s[S_COIL_NEXT + C_GRADE]) as f32;
        obs[O_REMAINING] = s[S_REMAINING].max(0.0) as f32;
        obs[O_WELD] = if s[S_WELD] >= 0.0 {
            s[S_WELD]
        } else {
            self.furnace_length
        } as f32;
    }

    fn constraints(&self, s: &[f64], out: &mut [f64]) {
        let (rate, peak, dev) = self.signals(s);
        out[K_HEATING_RATE] = rate;
        out[K_PEAK] = peak;
        out[K_SOAK_HIGH] = dev;
        out[K_SOAK_LOW] = dev;
    }

    fn safe_action(&self, s: &[f64], action: &mut [f64]) {
        // Burners tripped; the strip keeps running at the current speed and
        // carries heat out of the furnace (stopping it in hot zones would
        // overheat it).
        for i in 0..N_FIRED {
            action[A_BURNER + i] = 0.0;
        }
        action[A_SPEED] = s[S_SPEED].clamp(self.p.speed_min, self.p.speed_max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{Env, EnvOptions};
    use rand::SeedableRng;

    fn det(p: Params) -> SteelAnnealing {
        SteelAnnealing::with_params(EnvOptions::deterministic(), p)
    }

    /// A deterministic state: one coil of `d` m, emissivity `eps`, grade 2,
    /// walls `tw`, speed `v`, strip at its steady profile.
    fn state(m: &SteelAnnealing, d: f64, eps: f64, tw: [f64; 3], v: f64) -> Vec<f64> {
        let mut s = vec![0.0; STATE_DIM];
        let mut rng = EnvRng::seed_from_u64(0);
        m.reset(&mut s, &mut rng);
        for c in [S_COIL_AHEAD, S_COIL_ENTRY, S_COIL_NEXT] {
            s[c + C_THICKNESS] = d;
            s[c + C_EMISSIVITY] = eps;
            s[c + C_GRADE] = 2.0;
        }
        s[S_WALL..S_WALL + 3].copy_from_slice(&tw);
        s[S_SPEED] = v;
        s[S_WELD] = -1.0;
        s[S_ETA_DRIFT] = 0.0;
        m.settle_strip(&mut s);
        s
    }

    fn run(m: &SteelAnnealing, s: &mut [f64], a: [f64; 4], steps: usize) {
        let mut rng = EnvRng::seed_from_u64(1);
        for _ in 0..steps {
            m.step(s, &a, &mut rng);
        }
    }

    #[test]
    fn convection_only_heats_exponentially_with_time_constant_rho_c_d_over_2h() {
        let p = Params::default();
        let (d, h, tw, t0) = (0.8e-3, 30.0, 1150.0, 313.15);
        let tau = p.density * p.specific_heat * d / (2.0 * h);
        let conv = p.conv_coeff(h, d);
        for t in [5.0, 20.0, 60.0, 200.0] {
            let lane = |x: f64| [x; 4];
            let phi = strip_exit_temperatures(lane(t0), lane(tw), lane(0.0), lane(conv), lane(t));
            let exact = tw - (tw - t0) * libm::exp(-t / tau);
            // RK4 with hλ ≤ 0.6 keeps the excess temperature within
            // n·e^{−0.6n}·1.1e-3 ≤ 6.4e-4 of the rise (≈ 0.55 K of 840 K).
            assert!(
                (phi[0] - exact).abs() < 0.6e-3 * (tw - t0),
                "t = {t}: {} vs {exact}",
                phi[0]
            );
        }
        // At t = τ the strip has covered 63.2 % of the way to the wall.
        let phi = strip_exit_temperatures([t0; 4], [tw; 4], [0.0; 4], [conv; 4], [tau; 4]);
        let frac = (phi[0] - t0) / (tw - t0);
        assert!((frac - (1.0 - libm::exp(-1.0))).abs() < 6.4e-4, "{frac}");
    }

    #[test]
    fn convection_only_line_profile_at_steady_state() {
        // Whole model, ε = 0: at steady state the zone-1 exit is the
        // exponential heating curve after the residence time L/v.
        let m = det(Params::default());
        let mut s = state(&m, 1.0e-3, 0.0, [1100.0, 1100.0, 1050.0], 3.0);
        run(&m, &mut s, [20.0, 8.0, 3.0, 3.0], 4000);
        let p = m.params();
        let tau = p.density * p.specific_heat * 1.0e-3 / (2.0 * p.h_conv[0]);
        let t_res = p.zone_length[0] / s[S_SPEED];
        let tw = s[S_WALL];
        let exact = tw - (tw - p.t_entry) * libm::exp(-t_res / tau);
        assert!(
            (s[S_STRIP] - exact).abs() < 0.05,
            "{} vs {exact}",
            s[S_STRIP]
        );
    }

    /// Incropera & DeWitt Eq. 5.18: time for a lumped body (V/A = d/2) to go
    /// from `ti` to `t` by radiation from surroundings at `ts`.
    fn radiation_time(p: &Params, eps: f64, d: f64, ts: f64, ti: f64, t: f64) -> f64 {
        let k =
            p.density * p.specific_heat * d / 2.0 / (4.0 * eps * STEFAN_BOLTZMANN * ts * ts * ts);
        let ln = |x: f64| libm::log(((ts + x) / (ts - x)).abs());
        k * (ln(t) - ln(ti) + 2.0 * (libm::atan(t / ts) - libm::atan(ti / ts)))
    }

    #[test]
    fn radiation_only_matches_incropera_closed_form_and_ends_at_wall_temperature() {
        let p = Params::default();
        let (d, eps, tw, t0) = (0.6e-3, 0.3, 1200.0, 313.15);
        let rad = p.rad_coeff(eps, d);
        for t in [10.0, 30.0, 90.0] {
            let phi = strip_exit_temperatures([t0; 4], [tw; 4], [rad; 4], [0.0; 4], [t; 4]);
            let t_back = radiation_time(&p, eps, d, tw, t0, phi[0]);
            assert!(
                (t_back - t).abs() < 1e-3 * t,
                "{t} s: closed form gives {t_back} s"
            );
        }
        // Equilibrium: the strip ends at the wall temperature, from below and above.
        for start in [313.15, 1400.0] {
            let phi = strip_exit_temperatures([start; 4], [tw; 4], [rad; 4], [0.0; 4], [1000.0; 4]);
            assert!((phi[0] - tw).abs() < 1e-6, "{start}: {}", phi[0]);
        }
        // And in the whole model: a slow line with radiation only leaves the
        // soaking zone at its wall temperature.
        let m = det(Params {
            h_conv: [0.0; 4],
            ..Params::default()
        });
        let mut s = state(&m, 0.5e-3, 0.3, [1100.0, 1080.0, 1070.0], 1.0);
        run(&m, &mut s, [6.0, 2.0, 1.0, 1.0], 3000);
        assert!(
            (s[S_STRIP + 2] - s[S_WALL + 2]).abs() < 0.01,
            "{:?}",
            &s[..8]
        );
    }

    #[test]
    fn unloaded_wall_reaches_63_percent_of_a_burner_step_at_c_over_ua() {
        // No strip load (W = 0): C dT/dt = ηP − UA(T − T_amb), τ = C/UA.
        let p = Params {
            width: 0.0,
            ..Params::default()
        };
        let m = det(p.clone());
        let (p0, p1) = (1.0, 1.5);
        let eq = |pw: f64| p.t_ambient + p.burner_efficiency * pw * 1e6 / p.wall_loss[0];
        let mut s = state(&m, 1.0e-3, 0.27, [eq(p0), 900.0, 900.0], 3.0);
        let tau = p.wall_capacity[0] / p.wall_loss[0];
        let steps = (tau / p.dt).round() as usize;
        assert_eq!(steps as f64 * p.dt, tau);
        run(&m, &mut s, [p1, 0.0, 0.0, 3.0], steps);
        let frac = (s[S_WALL] - eq(p0)) / (eq(p1) - eq(p0));
        assert!((frac - (1.0 - libm::exp(-1.0))).abs() < 1e-9, "{frac}");
    }

    #[test]
    fn loaded_wall_time_constant_is_c_over_ua_plus_strip_conductance() {
        // With the strip: τ = C/(UA + G), G = ∂Q/∂T_w from the strip model.
        let m = det(Params::default());
        let p = m.params().clone();
        let mut s = state(&m, 1.0e-3, 0.27, [1150.0, 1100.0, 1060.0], 4.0);
        let burners = [24.0, 8.0, 2.0, 4.0];
        run(&m, &mut s, burners, 3000);
        let q = |s: &[f64], tw: f64| {
            let mut s2 = s.to_vec();
            s2[S_WALL] = tw;
            let phi = m.quasi_steady_exits(&s2);
            p.density * p.specific_heat * p.width * 1.0e-3 * s[S_SPEED] * (phi[0] - p.t_entry)
        };
        let tw0 = s[S_WALL];
        let g = (q(&s, tw0 + 0.5) - q(&s, tw0 - 0.5)) / 1.0;
        let tau = p.wall_capacity[0] / (p.wall_loss[0] + g);
        let gain = p.burner_efficiency * 1e6 / (p.wall_loss[0] + g);
        // A small step (0.1 MW → ≈ 2.5 K), sampled at the steps around τ.
        let dp = 0.1;
        let mut a = burners;
        a[0] += dp;
        let mut rng = EnvRng::seed_from_u64(1);
        let mut t = 0.0;
        let mut hit = None;
        while t < 3.0 * tau {
            m.step(&mut s, &a, &mut rng);
            t += p.dt;
            let frac = (s[S_WALL] - tw0) / (gain * dp);
            if hit.is_none() && frac >= 1.0 - libm::exp(-1.0) {
                hit = Some(t);
            }
        }
        let hit = hit.expect("never reached 63 %");
        assert!(
            (hit - tau).abs() <= p.dt + 0.02 * tau,
            "63 % at {hit} s, τ = {tau} s"
        );
        let final_frac = (s[S_WALL] - tw0) / (gain * dp);
        assert!(
            (final_frac - (1.0 - libm::exp(-3.0))).abs() < 0.03,
            "{final_frac}"
        );
    }

    #[test]
    fn zone_energy_balance_holds_at_steady_state() {
        // η P_i = UA_i (T_w,i − T_amb) + ρ c d W v (T_i − T_{i−1}) for each fired zone.
        let m = det(Params::default());
        let p = m.params().clone();
        let d = 0.9e-3;
        let mut s = state(&m, d, 0.27, [1150.0, 1100.0, 1060.0], 4.0);
        let a = [22.0, 7.0, 2.5, 4.0];
        run(&m, &mut s, a, 5000);
        let t_in = [p.t_entry, s[S_STRIP], s[S_STRIP + 1]];
        for i in 0..N_FIRED {
            let burner = p.burner_efficiency * a[i] * 1e6;
            let loss = p.wall_loss[i] * (s[S_WALL + i] - p.t_ambient);
            let strip =
                p.density * p.specific_heat * d * p.width * s[S_SPEED] * (s[S_STRIP + i] - t_in[i]);
            assert!(
                (burner - loss - strip).abs() < 1e-6 * burner,
                "zone {}: burner {burner} W, loss {loss} W, strip {strip} W",
                i + 1
            );
        }
    }

    #[test]
    fn heating_rate_signal_is_the_entry_rate_of_zone_1() {
        let m = det(Params::default());
        let p = m.params().clone();
        let (d, eps, tw) = (0.7e-3, 0.3, 1180.0);
        let s = state(&m, d, eps, [tw, 1100.0, 1070.0], 5.0);
        let mut out = [0.0; 4];
        m.constraints(&s, &mut out);
        let te = p.t_entry;
        let q = eps * STEFAN_BOLTZMANN * (tw.powi(4) - te.powi(4)) + p.h_conv[0] * (tw - te);
        let expected = 2.0 * q / (p.density * p.specific_heat * d);
        assert!((out[K_HEATING_RATE] - expected).abs() < 1e-9 * expected);
        let peak = s[S_STRIP].max(s[S_STRIP + 1]).max(s[S_STRIP + 2]);
        assert_eq!(out[K_PEAK], peak);
        assert_eq!(out[K_SOAK_HIGH], s[S_STRIP + 2] - GRADE_TARGETS[2]);
    }

    #[test]
    fn line_speed_follows_its_set_point_at_the_drive_acceleration() {
        let m = det(Params::default());
        let mut s = state(&m, 1.0e-3, 0.27, [1150.0, 1100.0, 1060.0], 2.0);
        let mut rng = EnvRng::seed_from_u64(1);
        m.step(&mut s, &[20.0, 8.0, 2.0, 6.0], &mut rng);
        assert!((s[S_SPEED] - 2.5).abs() < 1e-12);
        m.step(&mut s, &[20.0, 8.0, 2.0, 2.7], &mut rng);
        assert!((s[S_SPEED] - 2.7).abs() < 1e-12);
    }

    #[test]
    fn welds_are_tracked_through_the_zones() {
        let m = SteelAnnealing::new(EnvOptions::default());
        let p = m.params().clone();
        let mut found = false;
        for seed in 0..20 {
            let mut rng = EnvRng::seed_from_u64(seed);
            let mut s = vec![0.0; STATE_DIM];
            m.reset(&mut s, &mut rng);
            let a = [20.0, 6.0, 2.0, 5.0];
            for _ in 0..300 {
                let before = s.clone();
                m.step(&mut s, &a, &mut rng);
                let adv = 0.5 * (before[S_SPEED] + s[S_SPEED]) * p.dt;
                if before[S_REMAINING] > adv {
                    assert!((before[S_REMAINING] - s[S_REMAINING] - adv).abs() < 1e-9);
                } else {
                    // The next coil became the entering one, the entering one is ahead.
                    assert_eq!(
                        s[S_COIL_ENTRY..S_COIL_ENTRY + 3],
                        before[S_COIL_NEXT..S_COIL_NEXT + 3]
                    );
                    assert_eq!(
                        s[S_COIL_AHEAD..S_COIL_AHEAD + 3],
                        before[S_COIL_ENTRY..S_COIL_ENTRY + 3]
                    );
                    assert!((s[S_WELD] - (adv - before[S_REMAINING])).abs() < 1e-9);
                    found = true;
                }
                if before[S_WELD] >= 0.0 && before[S_WELD] + adv < m.furnace_length {
                    assert!((s[S_WELD] - before[S_WELD] - adv).abs() < 1e-9);
                    // Zone 3's strip is the new coil exactly once the weld passed its midpoint.
                    let soak = m.zone_coil(&s, 2);
                    assert_eq!(soak == S_COIL_ENTRY, s[S_WELD] >= 380.0);
                }
            }
        }
        assert!(found, "no coil change in 20 episodes");
    }

    #[test]
    fn reset_is_safe_and_observations_in_bounds() {
        for options in [EnvOptions::default(), EnvOptions::deterministic()] {
            let m = SteelAnnealing::new(options);
            let spec = m.spec().clone();
            let mut s = vec![0.0; STATE_DIM];
            let mut obs = vec![0.0f32; OBS_DIM];
            let mut out = [0.0; 4];
            for seed in 0..2000 {
                let mut rng = EnvRng::seed_from_u64(seed);
                m.reset(&mut s, &mut rng);
                m.constraints(&s, &mut out);
                assert!(
                    out[K_HEATING_RATE] < 0.9 * spec.constraints[0].limit,
                    "seed {seed}: {out:?}"
                );
                assert!(
                    out[K_PEAK] < spec.constraints[1].limit - 10.0,
                    "seed {seed}: {out:?}"
                );
                m.observe(&s, &mut obs, &mut rng);
                for (x, d) in obs.iter().zip(&spec.observations) {
                    let x = *x as f64;
                    assert!(x >= d.low - 10.0 && x <= d.high + 10.0, "{}: {x}", d.name);
                }
            }
        }
    }

    #[test]
    fn full_firing_with_a_stopped_line_overheats_the_strip() {
        let mut env = Env::new(build(EnvOptions::default()), EnvOptions::default());
        env.reset(3);
        let a = [36.0f32, 16.0, 8.0, 1.0];
        let mut breached = false;
        for _ in 0..540 {
            let s = env.step(&a).unwrap();
            if s.done() {
                breached = s.info.hard_violation;
                break;
            }
        }
        assert!(
            breached,
            "full authority must be able to breach a hard limit"
        );
    }

    #[test]
    fn rewards_stay_in_range_and_pay_for_throughput() {
        let m = det(Params::default());
        let (lo, hi) = m.spec().reward_range;
        assert!(lo < -60.0 && hi > 50.0);
        // On target, the reward is the value added minus the gas bill.
        let mut s = state(&m, 1.0e-3, 0.27, [1150.0, 1100.0, 1063.15], 4.0);
        s[S_STRIP + 2] = GRADE_TARGETS[2];
        let p = m.params().clone();
        let mut rng = EnvRng::seed_from_u64(0);
        let a = [20.0, 8.0, 2.0, 4.0];
        let tr = m.step(&mut s, &a, &mut rng);
        assert!(tr.reward > lo && tr.reward < hi);
        let e = (s[S_STRIP + 2] - GRADE_TARGETS[2]) / p.soak_band;
        let tph = p.density * p.width * 1.0e-3 * 4.0 * 3.6;
        let expected = p.dt / 3600.0 * (p.margin * tph * (1.0 - e * e) - p.fuel_price * 30.0);
        assert!(
            (tr.reward - expected).abs() < 1e-9,
            "{} vs {expected}",
            tr.reward
        );
    }

    /// CPU time of this thread, s (Linux; the build machine is shared, so
    /// wall time would count other people's work).
    fn thread_cpu_seconds() -> f64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
        let after = stat.rsplit(')').next().unwrap_or("");
        let f: Vec<f64> = after
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0.0))
            .collect();
        // Fields 14 and 15 (utime, stime) are at 11 and 12 after the ')'.
        if f.len() > 12 {
            (f[11] + f[12]) / 100.0
        } else {
            0.0
        }
    }

    /// `cargo test --release -p neorl --lib steel_annealing::tests::timing -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn timing() {
        for options in [EnvOptions::default(), EnvOptions::deterministic()] {
            timing_with(options);
        }
    }

    fn timing_with(options: EnvOptions) {
        let m = SteelAnnealing::new(options);
        let mut s = vec![0.0; STATE_DIM];
        let mut obs = vec![0.0f32; OBS_DIM];
        let mut out = [0.0; 4];
        let mut rng = EnvRng::seed_from_u64(0);
        m.reset(&mut s, &mut rng);
        let a = [24.0, 8.0, 2.0, 5.0];
        let n = 4_000_000;
        let (w0, c0) = (std::time::Instant::now(), thread_cpu_seconds());
        for i in 0..n {
            m.step(&mut s, &a, &mut rng);
            m.constraints(&s, &mut out);
            m.observe(&s, &mut obs, &mut rng);
            // Episodes end at the horizon or at a hard breach, as in `Env`.
            if i % 540 == 539 || out[K_HEATING_RATE] > 40.0 || out[K_PEAK] > 1153.15 {
                m.reset(&mut s, &mut rng);
            }
        }
        let wall = w0.elapsed().as_secs_f64() * 1e9 / n as f64;
        let cpu = (thread_cpu_seconds() - c0) * 1e9 / n as f64;
        println!(
            "SteelAnnealing-v0 step+constraints+observe ({options:?}): {cpu:.0} ns CPU, {wall:.0} ns wall per step"
        );
        let c0 = thread_cpu_seconds();
        for _ in 0..n {
            m.observe(&s, &mut obs, &mut rng);
        }
        println!(
            "  observe alone: {:.0} ns CPU",
            (thread_cpu_seconds() - c0) * 1e9 / n as f64
        );
        let c0 = thread_cpu_seconds();
        let mut acc = 0.0;
        for _ in 0..n {
            acc += m.quasi_steady_exits(std::hint::black_box(&s))[2];
        }
        println!(
            "  strip model alone: {:.0} ns CPU ({acc:.0})",
            (thread_cpu_seconds() - c0) * 1e9 / n as f64
        );
        std::hint::black_box(&obs);
    }
}
