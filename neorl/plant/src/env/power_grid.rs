//! # PowerGrid-v0 / PowerGrid-v1 — multi-area load-frequency control (AGC)
//!
//! ## Process
//! An interconnected 60 Hz power system of `n` control areas (default: three
//! areas on a ring). Each area is aggregated, as in the standard
//! load-frequency-control (LFC) model of Kundur (1994, §11.1), Elgerd
//! (1982, ch. 9) and Bevrani (2014, ch. 2), into one equivalent reheat steam
//! generating unit with a speed governor (droop `R`), its load (damping `D`)
//! and the AC tie lines to its neighbours, linearised about the scheduled
//! operating point. Primary control (the governors' droop) is always in
//! service; the task is the secondary control — automatic generation control
//! (AGC) — which moves each area's generation set-point `ΔP_ref` so that the
//! area's own load changes are taken up by its own units, the frequency
//! returns to 60 Hz and the tie-line interchanges return to schedule.
//! All powers are per unit on a common 1000 MW base (each area is a 1000 MW
//! balancing authority); times are in seconds.
//! The control interval is the AGC cycle, `dt = 1 s`; an episode is 600
//! cycles (10 min).
//!
//! ## Model equations (area `i`, tie line `l` from area `a(l)` to `b(l)`)
//! Frequency deviation `Δf_i` is in p.u. of `f0 = 60 Hz` inside the model and
//! in Hz in observations and constraints (`Δf[Hz] = f0 · Δf[p.u.]`).
//! ```text
//! swing equation      2H_i dΔf_i/dt  = ΔP_m,i − ΔP_L,i − D_i Δf_i − ΔP_tie,i
//! governor            T_g,i dΔP_g,i/dt  = ΔP_ref,i − Δf_i / R_i − ΔP_g,i
//! steam chest (HP)    T_t,i dΔP_ch,i/dt = ΔP_g,i − ΔP_ch,i
//! reheater (IP/LP)    T_r,i dΔP_rh,i/dt = ΔP_ch,i − ΔP_rh,i
//! turbine power       ΔP_m,i = F_hp,i ΔP_ch,i + (1 − F_hp,i) ΔP_rh,i
//!                     (i.e. ΔP_m/ΔP_g = (1 + F_hp T_r s) / ((1 + T_t s)(1 + T_r s)))
//! DC tie-line flow    ΔP_l = T_l (δ_a − δ_b),  dδ/dt = 2π f0 Δf
//!                     ⇒ dΔP_l/dt = 2π f0 T_l (Δf_a(l) − Δf_b(l))
//! net export          ΔP_tie,i = Σ_{l: a(l)=i} ΔP_l − Σ_{l: b(l)=i} ΔP_l
//! area control error  ACE_i = ΔP_tie,i + B_i Δf_i,   B_i = β_i = D_i + 1/R_i
//! net load            ΔP_L,i = L_i (load steps, generator trips) + w_i (renewables)
//! ```
//! Every tie flow enters one area's swing equation with `+` and another's
//! with `−`, so `Σ_i ΔP_tie,i = 0`: the tie lines only move power between
//! areas. Without AGC (`ΔP_ref` constant) the steady state is the droop
//! (primary-control) equilibrium `Δf = −Σ ΔP_L / Σ β`, `ΔP_tie,i = −β_i Δf −
//! ΔP_L,i`; for two areas and a load step in area 1,
//! `ΔP_tie,1 = −ΔP_L β_2/(β_1 + β_2)` (Kundur §11.1). The frequency
//! bias `B_i = β_i` makes `ACE_i` non-interacting: in steady state
//! `ACE_i = ΔP_ref,i − ΔP_L,i`, so an integral of ACE in every area restores
//! `Δf = 0` and scheduled interchange (Kundur §11.1; NERC BAL-001).
//!
//! ## State (`state_dim = 4n + m + 5n + 4`; default 34)
//! `Δf_i` (p.u.), `ΔP_g,i`, `ΔP_ch,i`, `ΔP_rh,i` (p.u.) per area; `ΔP_l`
//! (p.u.) per tie line; the load-step level `L_i` and renewable fluctuation
//! `w_i` (p.u.); the set-point in force `ΔP_ref,i` (the previous action,
//! p.u.) and its last rate `|ΔP_ref,i(k) − ΔP_ref,i(k−1)|/dt` (p.u./s); the
//! elapsed time (s); the scheduled generator trip (time s, area, size p.u.);
//! the weather driver `z_i` of the renewable fluctuation (p.u.). See the
//! `idx_*` accessors.
//!
//! ## Observations (`5n + m`; default 18), in this order
//! * `df_i` — frequency deviation of area `i`, Hz, range ±1 Hz;
//! * `ace_i` — area control error computed by the EMS from the telemetered
//!   tie flows and frequency, p.u., ±0.5;
//! * `ptie_i` — net tie-line export deviation of area `i`, p.u., ±0.5;
//! * `pm_i` — measured generation deviation `ΔP_m,i` (turbine output), p.u., ±0.5;
//! * `pref_i` — the AGC set-point in force (the previous action), p.u., ±0.25;
//! * `pline_a_b` — flow deviation on each tie line, p.u., ±0.5.
//!
//! The scheduled values (60 Hz, scheduled interchange, zero ACE) are the
//! references, so deviations are the control errors themselves; no time
//! feature is needed (the disturbances are not periodic on a 10-min horizon).
//!
//! ## Actions (`n`)
//! `dpref_i` — the AGC set-point `ΔP_ref,i` of area `i` (deviation of the
//! area's generation from its economic-dispatch base point), p.u., bounded to
//! ±0.25 p.u. (±250 MW): the load-following range of the units on AGC.
//!
//! ## Parameters (default grid; common 1000 MW base)
//! | area | H (s) | D (p.u./p.u.) | R (p.u.) | T_g (s) | T_t (s) | F_hp | T_r (s) | σ_w (p.u.) |
//! |------|-------|---------------|----------|---------|---------|------|---------|------------|
//! | 1    | 5.0   | 1.0           | 0.05     | 0.20    | 0.30    | 0.30 | 7.0     | 0.010      |
//! | 2    | 4.0   | 0.8           | 0.05     | 0.25    | 0.35    | 0.30 | 8.0     | 0.020      |
//! | 3    | 6.0   | 1.2           | 0.04     | 0.20    | 0.40    | 0.25 | 6.0     | 0.015      |
//!
//! Area 1 is Kundur's typical reheat steam unit (H = 5 s, D = 1, R = 5 %,
//! T_G = 0.2 s, T_CH = 0.3 s, F_HP = 0.3, T_RH = 7 s; §11.1 and the IEEE
//! 1973 turbine-model report); areas 2 and 3 vary these within the ranges those
//! sources give (H 4–6 s, R 4–5 %, T_RH 6–8 s). Tie lines (synchronising
//! coefficients `T_l`, p.u./rad): 1→2 0.0866 (Elgerd's classic two-area value,
//! 2πT = 0.545 p.u./Hz), 2→3 0.070, 3→1 0.100. The eigenvalues of the
//! continuous-time matrix `A` of the default ring (computed by
//! `datasets/protocol/power_grid_modes.py`) give two inter-area modes, at
//! 0.555 Hz (ζ = 0.013; areas 1 and 2 swinging against each other) and
//! 0.500 Hz (ζ = 0.016; area 3 against areas 1 and 2) — in the usual
//! 0.1–0.8 Hz inter-area range but very lightly damped, since the model has
//! no power-system stabilisers or damper windings, only load damping `D` —
//! and one common (system-frequency) mode of the governors and turbines at
//! 0.090 Hz (ζ = 0.65); the other eigenvalues are real (−5.6 to −0.13 1/s,
//! and one zero: the ring's three tie flows have one redundant angle
//! difference). `with_topology`
//! builds any graph of identical Kundur areas with T = 0.0866; `new` takes
//! arbitrary areas and lines (all specs keep the id `PowerGrid-v0`; the
//! stored reference returns are those of the default grid).
//!
//! ## Constraints
//! * hard `freq_dev_i`: `|Δf_i| ≤ 0.7 Hz`. At 59.3 Hz the first stage of
//!   under-frequency load shedding trips (ERCOT Nodal Operating Guide §2.6,
//!   UFLS stages 59.3/58.9/58.5 Hz, under NERC PRC-006); the same 0.7 Hz
//!   margin is kept on the over-frequency side, above which generators'
//!   ride-through obligations become time-limited and over-frequency
//!   protection may trip them (NERC PRC-024: about 60.5 Hz and up).
//!   Crossing it is an emergency: the episode terminates.
//! * soft `tie_flow_a_b`: `|ΔP_l| ≤ 0.06 p.u.` (60 MW): deviation from the
//!   scheduled interchange beyond the corridor's transfer reliability margin.
//! * soft `ramp_i`: `|ΔP_ref,i(k) − ΔP_ref,i(k−1)|/dt ≤ 0.1/60 p.u./s`: the
//!   generation rate constraint of reheat steam units, 10 %/min (IEEE 1973;
//!   Bevrani ch. 2), uses the previous set-point kept in the state. In v0
//!   it is only a cost: the plant applies any set-point jump at once. (In
//!   v1 the plant rate-limits the set-point, see below, and the signal is
//!   the *commanded* rate.)
//!
//! Droop alone (set-points held) arrests the largest generator trip here
//! (0.08 p.u.) well above the load-shedding threshold: the frequency nadirs
//! computed by `datasets/protocol/power_grid_modes.py` are −0.27 Hz (trip
//! in area 1), −0.30 Hz (area 2) and −0.25 Hz (area 3) in the tripped area
//! (−0.22 to −0.23 Hz in the others), about 2.4 s after the trip, settling
//! to the droop equilibrium of about −0.07 Hz; so a sensible AGC is always
//! safe. In v0, set-point jumps across the full ±0.25 p.u. range every
//! second excite the reheat and lightly damped inter-area dynamics enough to
//! reach the load-shedding threshold: they cause nearly all of v0's hard
//! breaches (the random policy's: 97 of 100 episodes, largest |Δf| 0.95 Hz;
//! the expert, which ramps at 10 %/min, peaks at 0.225 Hz, the generator
//! trip included; `examples/protocol_v1.rs`).
//!
//! ## Set-point rate limit (v1)
//! No steam unit can follow a set-point jump: the governor's load reference
//! is moved by a motor-operated speed changer and the boiler limits how fast
//! a unit may load, so LFC models put a generation rate constraint (GRC) in
//! the turbine-governor loop itself (Bevrani 2014, ch. 2 and §3; Kundur
//! 1994, §11.1). `PowerGrid-v1` does the same, on the set-point:
//! `ΔP_ref,applied(k) = ΔP_ref(k−1) + clamp(ΔP_ref,cmd(k) − ΔP_ref(k−1),
//! ±ρ dt)` with `ρ = 0.1/60 p.u./s` ([`SETPOINT_RAMP_V1`]), the 10 %/min
//! that v0 charges as the soft `ramp_i` limit and the expert AGC already
//! keeps. GRCs in LFC studies range from about 3 %/min (a single reheat
//! unit) to 10 %/min; v1 takes the upper value, for an area's aggregate AGC
//! fleet, so that v0's soft limit, v1's plant and the expert agree. The reward's set-point-move term uses the
//! applied move; `ramp_i` reports the commanded rate (what the AGC asked
//! beyond the units), and the observation `pref_i` is the applied set-point.
//! Measured (`examples/protocol_v1.rs`, 100 episodes each): the random
//! policy breaches in 97/100 v0 episodes (largest |Δf| 0.95 Hz) and in
//! 0/100 v1 episodes (0.30 Hz); medium (0.36 → 0.27 Hz) and expert
//! (0.225 Hz in both) breach in neither. In v1 the load-shedding limit is
//! thus out of reach of any set-point sequence the controllers produce — as
//! on a real grid, where UFLS is for contingencies beyond the dimensioning
//! incident; it stays a hard limit for the safety layer.
//!
//! ## Reward
//! `r = −min(c, 50)` with the normalised quadratic regulation cost
//! `c = (1/n) Σ_i [(ACE_i / 0.01)² + (Δf_i / 0.03 Hz)² + (ΔP_ref,i(k) − ΔP_ref,i(k−1))² / 0.01²]`:
//! ACE is what a balancing authority is judged and charged on (NERC BAL-001
//! CPS and inadvertent-interchange settlement; 0.01 p.u. = 10 MW is the order
//! of the L10 band of a 1000 MW area), frequency deviation on the
//! interconnection's ε1 (30 mHz for ERCOT), and set-point movement is the
//! "regulation mileage" that costs heat rate and wear on the AGC units.
//! `reward_range = (−50, 0)`; in v0 a hard breach is charged −50 for every
//! remaining step, worse than any way of finishing the episode; v1 adds an
//! alive reward of +50 per step instead (`env::protocol`), `(0, 50)`.
//!
//! ## Disturbances (`options.disturbances`)
//! * load switching: per area a Poisson process (rate 1/300 s⁻¹) of steps
//!   `U(−0.02, 0.02)` p.u., the accumulated level clamped to ±0.15 p.u.;
//! * one generator trip per episode (the dimensioning incident): at
//!   `t ~ U(30, 400)` s in a uniformly drawn area, a loss of
//!   `U(0.03, 0.08)` p.u. (a 30–80 MW unit);
//! * wind/solar net-load fluctuation `w_i`: a weather driver `z_i`, an
//!   Ornstein–Uhlenbeck process with correlation time τ_z = 300 s, seen
//!   through the fleet's spatial smoothing, a first-order lag τ_w = 60 s:
//!   `z_{k+1} = a z_k + σ_z √(1 − a²) ξ_k` (exact, `a = e^{−dt/τ_z}`),
//!   `w_{k+1} = b w_k + (1 − b) z_k` (exact for `z` held over the cycle,
//!   `b = e^{−dt/τ_w}`), `σ_z = σ_w √((τ_z + τ_w)/τ_z)` so that `w` has
//!   standard deviation σ_w; started from the stationary joint law
//!   (`w ~ N(0, σ_w²)`, `z = w + N(0, σ_w² τ_w/τ_z)`). The output changes by
//!   a few MW per minute, as a 1000 MW area with 20–40 % wind and solar does;
//!   a plain OU would give it white-noise-like second-to-second jumps that no
//!   generator could follow.
//!
//! Draw order per step: for each area (event uniform, step-size uniform);
//! then the driver normals in pairs (`math::normal_pair`, ziggurat), area by area; the trip is
//! deterministic once drawn at reset.
//!
//! ## Sensor noise (`options.sensor_noise`)
//! Gaussian, from pairs (`math::normal_pair`, ziggurat) in the fixed order frequencies, line
//! flows, generation: frequency σ = 2 mHz, line flows σ = 0.002 p.u. (2 MW),
//! generation σ = 0.002 p.u. ACE and net exports are computed, as the EMS does,
//! from the noisy telemetry; the set-points are digital values and exact.
//!
//! ## Reset
//! The system starts at a balanced operating point with a random net-load
//! offset `L_i ~ U(−0.03, 0.03)` p.u. per area already taken up by AGC
//! (`ΔP_ref = ΔP_g = ΔP_ch = ΔP_rh = L_i`), small residual deviations
//! `Δf_i ~ U(±0.02)` Hz and `ΔP_l ~ U(±0.01)` p.u., and (with disturbances) a
//! stationary renewable draw and the trip scenario.
//!
//! ## Integration
//! The model is linear and time-invariant with the inputs (set-point and net
//! load) held over each 1 s AGC cycle, so it is discretised exactly (zero-order
//! hold): `x_{k+1} = Φ x_k + Γ [u_k; d_k]` with `Φ = e^{A dt}` and
//! `Γ = ∫_0^dt e^{As} ds B`, both read off the augmented exponential
//! `exp([[A, B], [0, 0]] dt)` (Van Loan 1978), computed once at construction
//! by scaling and squaring a 16-term Taylor series (only + − × ÷, hence
//! bit-identical across machines). A step is one matrix–vector product; the
//! tests check it against RK4 with 2000 sub-steps.
//!
//! ## Safe action
//! AGC "emergency assist": every set-point jumps by its area's ACE,
//! `ΔP_ref,i − ACE_i` (clipped), which in steady state is the area's net-load
//! change, so the power balance and the frequency are restored at once.
//!
//! ## Sources
//! * P. Kundur, *Power System Stability and Control*, McGraw-Hill, 1994, ch. 11.
//! * H. Bevrani, *Robust Power System Frequency Control*, 2nd ed., Springer, 2014, ch. 2–3.
//! * O. I. Elgerd, *Electric Energy Systems Theory: An Introduction*, 2nd ed., McGraw-Hill, 1982, ch. 9.
//! * IEEE Committee Report, "Dynamic models for steam and hydro turbines in
//!   power system studies", IEEE Trans. PAS-92(6), 1973.
//! * NERC PRC-006 (UFLS), PRC-024 (frequency ride-through), BAL-001 (ACE,
//!   frequency bias, CPS); ERCOT Nodal Operating Guides §2.6.
//! * C. F. Van Loan, "Computing integrals involving the matrix exponential",
//!   IEEE Trans. Automatic Control 23(3), 1978.

use super::math::{expm, normal_pair, uniform_in};
use super::model::{EnvOptions, EnvRng, Model, Transition};
use super::spec::{ConstraintSpec, Dim, EnvSpec};
use std::sync::Arc;

/// Nominal frequency, Hz.
pub const F0: f64 = 60.0;
/// Control interval (AGC cycle), s.
pub const DT: f64 = 1.0;
/// Steps per episode (10 min).
pub const HORIZON: usize = 600;
/// Hard limit on |Δf|, Hz (first under-frequency load-shedding stage, 59.3 Hz).
pub const DF_MAX_HZ: f64 = 0.7;
/// Soft limit on each tie-line flow deviation, p.u. (1000 MW base).
pub const TIE_MAX: f64 = 0.06;
/// Soft limit on the AGC set-point ramp rate, p.u./s (10 %/min).
pub const RAMP_MAX: f64 = 0.1 / 60.0;
/// Set-point rate limit inside the v1 plant, p.u./s: the 10 %/min of the
/// soft `ramp_i` limit (see the module docs, "Set-point rate limit (v1)").
pub const SETPOINT_RAMP_V1: f64 = RAMP_MAX;
/// AGC set-point range (actuator bound), ±p.u.
pub const U_MAX: f64 = 0.25;
/// Largest number of dynamic states (4 per area + 1 per tie line).
pub const MAX_NX: usize = 64;
/// Largest number of areas.
pub const MAX_AREAS: usize = 12;

/// Reward normalisation: ACE, p.u. (10 MW on the 1000 MW area base).
pub const ACE_NORM: f64 = 0.01;
/// Reward normalisation: frequency deviation, Hz (ERCOT ε1 = 30 mHz).
pub const DF_NORM_HZ: f64 = 0.03;
/// Reward normalisation: set-point move per AGC cycle, p.u.
pub const DU_NORM: f64 = 0.01;
/// Largest per-step regulation cost (the per-step reward is clamped at its negative).
pub const COST_CAP: f64 = 50.0;

/// Ornstein–Uhlenbeck correlation time of the weather driver of the renewable fluctuation, s.
pub const OU_TAU: f64 = 300.0;
/// Smoothing time constant of the renewable fleet's output (spatial smoothing), s.
pub const RENEWABLE_LAG: f64 = 60.0;
/// Poisson rate of random load switching steps per area, 1/s.
pub const LOAD_STEP_RATE: f64 = 1.0 / 300.0;
/// Largest random load switching step, p.u.
pub const LOAD_STEP_MAX: f64 = 0.02;
/// Bound on the accumulated load-step level per area, p.u.
pub const LOAD_LEVEL_MAX: f64 = 0.15;

/// Sensor noise standard deviations.
pub const NOISE_DF_HZ: f64 = 0.002;
pub const NOISE_LINE: f64 = 0.002;
pub const NOISE_PM: f64 = 0.002;

/// Mean return of the uniform random policy (see `eval::reference`).
pub const REF_RANDOM_RETURN: f64 = -29997.76250446406;
/// Mean return of the expert AGC.
pub const REF_EXPERT_RETURN: f64 = -902.9976528441588;

/// Parameters of one control area (per unit on the common 1000 MW base).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AreaParams {
    /// Inertia constant, s.
    pub h: f64,
    /// Load damping, p.u. power / p.u. frequency.
    pub d: f64,
    /// Governor droop, p.u. frequency / p.u. power.
    pub r: f64,
    /// Governor time constant, s.
    pub t_g: f64,
    /// Steam-chest (turbine) time constant, s.
    pub t_t: f64,
    /// High-pressure turbine power fraction, -.
    pub f_hp: f64,
    /// Reheater time constant, s.
    pub t_r: f64,
    /// Stationary standard deviation of the renewable (wind/solar) net-load fluctuation, p.u.
    pub renewable_sigma: f64,
}

impl AreaParams {
    /// The typical reheat-steam area of Kundur §11.1.
    pub const fn typical() -> Self {
        AreaParams {
            h: 5.0,
            d: 1.0,
            r: 0.05,
            t_g: 0.2,
            t_t: 0.3,
            f_hp: 0.3,
            t_r: 7.0,
            renewable_sigma: 0.015,
        }
    }

    /// Frequency-response characteristic β = D + 1/R, p.u./p.u.
    pub fn beta(&self) -> f64 {
        self.d + 1.0 / self.r
    }
}

/// One tie line from area `from` to area `to` (0-based); positive flow is
/// export from `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TieLine {
    pub from: usize,
    pub to: usize,
    /// Synchronising power coefficient T = (|V1||V2|/X) cos δ0, p.u./rad.
    pub t_sync: f64,
}

/// Multi-area load-frequency control with AGC set-points as actions.
#[derive(Debug, Clone)]
pub struct PowerGrid {
    spec: EnvSpec,
    options: EnvOptions,
    areas: Vec<AreaParams>,
    ties: Vec<TieLine>,
    n: usize,
    m: usize,
    nx: usize,
    /// `[Φ Γ]` (zero-order-hold transition and input matrices; inputs
    /// ΔP_ref then net load), nx × (nx + 2n), stored column by column so
    /// that a step is a sequence of contiguous, vectorisable axpys.
    phi_gamma: Vec<f64>,
    /// OU decay per step and innovation standard deviation per area.
    ou_a: f64,
    ou_s: Vec<f64>,
    /// Per-step decay of the renewable smoothing lag.
    lag_b: f64,
    /// Standard deviation of the driver's part not explained by the smoothed
    /// output (for the stationary initial draw), per area.
    z_resid: Vec<f64>,
    /// Probability of a load switching step per area per step.
    p_step: f64,
    /// Rate limit of the applied set-point, p.u./s (`None`: v0, the plant
    /// applies any commanded set-point at once).
    setpoint_ramp: Option<f64>,
}

/// The default three-area ring.
pub fn default_areas() -> [AreaParams; 3] {
    [
        AreaParams {
            renewable_sigma: 0.010,
            ..AreaParams::typical()
        },
        AreaParams {
            h: 4.0,
            d: 0.8,
            r: 0.05,
            t_g: 0.25,
            t_t: 0.35,
            f_hp: 0.3,
            t_r: 8.0,
            renewable_sigma: 0.020,
        },
        AreaParams {
            h: 6.0,
            d: 1.2,
            r: 0.04,
            t_g: 0.2,
            t_t: 0.4,
            f_hp: 0.25,
            t_r: 6.0,
            renewable_sigma: 0.015,
        },
    ]
}

/// The default tie lines of the three-area ring.
pub fn default_ties() -> [TieLine; 3] {
    [
        TieLine {
            from: 0,
            to: 1,
            t_sync: 0.0866,
        },
        TieLine {
            from: 1,
            to: 2,
            t_sync: 0.07,
        },
        TieLine {
            from: 2,
            to: 0,
            t_sync: 0.10,
        },
    ]
}

/// Default three-area ring with disturbances per `options`.
pub fn build(options: EnvOptions) -> Arc<dyn Model> {
    Arc::new(PowerGrid::new(&default_areas(), &default_ties(), options))
}

/// The plant of `PowerGrid-v1` (still under the v0 spec; the registry wraps
/// it in `protocol::Versioned`): the default ring with the set-point rate
/// limited to [`SETPOINT_RAMP_V1`] inside the plant.
pub fn build_v1_plant(options: EnvOptions) -> Arc<dyn Model> {
    Arc::new(
        PowerGrid::new(&default_areas(), &default_ties(), options)
            .with_setpoint_ramp_limit(SETPOINT_RAMP_V1),
    )
}

impl PowerGrid {
    /// A grid of identical typical areas (`AreaParams::typical`) joined by
    /// tie lines `edges` (0-based `(from, to)`), each with T = 0.0866 p.u./rad.
    pub fn with_topology(n_areas: usize, edges: &[(usize, usize)], options: EnvOptions) -> Self {
        let areas = vec![AreaParams::typical(); n_areas];
        let ties: Vec<TieLine> = edges
            .iter()
            .map(|&(from, to)| TieLine {
                from,
                to,
                t_sync: 0.0866,
            })
            .collect();
        PowerGrid::new(&areas, &ties, options)
    }

    /// A grid of arbitrary areas and tie lines.
    ///
    /// # Panics
    /// If there are no areas, more than [`MAX_AREAS`], more than [`MAX_NX`]
    /// dynamic states, or a tie line names a missing area or joins an area to itself.
    pub fn new(areas: &[AreaParams], ties: &[TieLine], options: EnvOptions) -> Self {
        let n = areas.len();
        let m = ties.len();
        let nx = 4 * n + m;
        assert!((1..=MAX_AREAS).contains(&n), "1..={MAX_AREAS} areas");
        assert!(nx <= MAX_NX, "at most {MAX_NX} dynamic states");
        for t in ties {
            assert!(
                t.from < n && t.to < n && t.from != t.to,
                "bad tie line {t:?}"
            );
        }
        // Continuous-time model dx/dt = A x + B [u; d], augmented (Van Loan)
        // to K = nx + 2n so that exp(K dt) = [[Φ, Γ], [0, I]].
        let nu = 2 * n;
        let k = nx + nu;
        let mut mat = vec![0.0; k * k];
        let mut set = |row: usize, col: usize, v: f64| mat[row * k + col] += v * DT;
        let (df, pg, pch, prh, tie0) = (0, n, 2 * n, 3 * n, 4 * n);
        let (cu, cd) = (nx, nx + n);
        for (i, a) in areas.iter().enumerate() {
            let m2h = 1.0 / (2.0 * a.h);
            set(df + i, pch + i, a.f_hp * m2h);
            set(df + i, prh + i, (1.0 - a.f_hp) * m2h);
            set(df + i, df + i, -a.d * m2h);
            set(df + i, cd + i, -m2h);
            set(pg + i, cu + i, 1.0 / a.t_g);
            set(pg + i, df + i, -1.0 / (a.r * a.t_g));
            set(pg + i, pg + i, -1.0 / a.t_g);
            set(pch + i, pg + i, 1.0 / a.t_t);
            set(pch + i, pch + i, -1.0 / a.t_t);
            set(prh + i, pch + i, 1.0 / a.t_r);
            set(prh + i, prh + i, -1.0 / a.t_r);
        }
        let w0 = std::f64::consts::TAU * F0;
        for (e, t) in ties.iter().enumerate() {
            // Export from `from` leaves `from`'s swing equation and enters `to`'s.
            set(df + t.from, tie0 + e, -1.0 / (2.0 * areas[t.from].h));
            set(df + t.to, tie0 + e, 1.0 / (2.0 * areas[t.to].h));
            set(tie0 + e, df + t.from, w0 * t.t_sync);
            set(tie0 + e, df + t.to, -w0 * t.t_sync);
        }
        let ex = expm(&mat, k);
        let mut phi_gamma = vec![0.0; nx * k];
        for j in 0..k {
            for i in 0..nx {
                phi_gamma[j * nx + i] = ex[i * k + j];
            }
        }
        // Driver z: OU with stationary σ_z; output w: z through the lag
        // RENEWABLE_LAG. Var w = σ_z² τ_z/(τ_z + τ_w) = σ_w² and
        // Cov(z, w) = Var w, so z = w + N(0, σ_w² τ_w/τ_z) at stationarity.
        let ou_a = libm::exp(-DT / OU_TAU);
        let ratio = (OU_TAU + RENEWABLE_LAG) / OU_TAU;
        let z_sigma: Vec<f64> = areas
            .iter()
            .map(|a| a.renewable_sigma * ratio.sqrt())
            .collect();
        let ou_s = z_sigma
            .iter()
            .map(|sz| sz * (1.0 - ou_a * ou_a).sqrt())
            .collect();
        let z_resid = areas
            .iter()
            .map(|a| a.renewable_sigma * (RENEWABLE_LAG / OU_TAU).sqrt())
            .collect();
        let lag_b = libm::exp(-DT / RENEWABLE_LAG);
        let p_step = 1.0 - libm::exp(-LOAD_STEP_RATE * DT);
        let spec = Self::make_spec(areas, ties);
        PowerGrid {
            spec,
            options,
            areas: areas.to_vec(),
            ties: ties.to_vec(),
            n,
            m,
            nx,
            phi_gamma,
            ou_a,
            ou_s,
            lag_b,
            z_resid,
            p_step,
            setpoint_ramp: None,
        }
    }

    /// The plant of protocol v1: each area's applied set-point moves towards
    /// the commanded one at most `rate` p.u./s, as a governor's
    /// load-reference motor (speed changer) does, so a jump of the AGC signal
    /// becomes a ramp (see the module docs, "Set-point rate limit (v1)").
    /// The `ramp_i` soft constraint then measures the commanded rate
    /// `|ΔP_ref,cmd(k) − ΔP_ref(k−1)|/dt`, i.e. what the AGC asked beyond the
    /// units. A non-finite or non-positive rate is a programming error.
    pub fn with_setpoint_ramp_limit(mut self, rate: f64) -> Self {
        assert!(rate.is_finite() && rate > 0.0, "ramp rate must be positive");
        self.setpoint_ramp = Some(rate);
        self
    }

    /// The set-point rate limit in the plant, p.u./s (`None` in v0).
    pub fn setpoint_ramp_limit(&self) -> Option<f64> {
        self.setpoint_ramp
    }

    fn make_spec(areas: &[AreaParams], ties: &[TieLine]) -> EnvSpec {
        let n = areas.len();
        let mut obs = vec![];
        for i in 1..=n {
            obs.push(Dim::new(format!("df_{i}"), "Hz", -1.0, 1.0));
        }
        for i in 1..=n {
            obs.push(Dim::new(format!("ace_{i}"), "p.u.", -0.5, 0.5));
        }
        for i in 1..=n {
            obs.push(Dim::new(format!("ptie_{i}"), "p.u.", -0.5, 0.5));
        }
        for i in 1..=n {
            obs.push(Dim::new(format!("pm_{i}"), "p.u.", -0.5, 0.5));
        }
        for i in 1..=n {
            obs.push(Dim::new(format!("pref_{i}"), "p.u.", -U_MAX, U_MAX));
        }
        for t in ties {
            obs.push(Dim::new(
                format!("pline_{}_{}", t.from + 1, t.to + 1),
                "p.u.",
                -0.5,
                0.5,
            ));
        }
        let actions = (1..=n)
            .map(|i| Dim::new(format!("dpref_{i}"), "p.u.", -U_MAX, U_MAX))
            .collect();
        let mut constraints = vec![];
        for i in 1..=n {
            constraints.push(ConstraintSpec::hard_max(
                &format!("freq_dev_{i}"),
                DF_MAX_HZ,
                "Hz",
                "|Δf| of the area: at 59.3 Hz the first under-frequency load-shedding stage trips (ERCOT/NERC PRC-006); the same margin is kept on the over-frequency side",
            ));
        }
        for t in ties {
            constraints.push(ConstraintSpec::soft_max(
                &format!("tie_flow_{}_{}", t.from + 1, t.to + 1),
                TIE_MAX,
                "p.u.",
                "|ΔP_tie| of the line: deviation from the scheduled interchange beyond the transfer reliability margin of the corridor (60 MW)",
            ));
        }
        for i in 1..=n {
            constraints.push(ConstraintSpec::soft_max(
                &format!("ramp_{i}"),
                RAMP_MAX,
                "p.u./s",
                "|dΔP_ref/dt| of the area's AGC set-point: above the reheat units' generation rate constraint (10 %/min)",
            ));
        }
        EnvSpec {
            id: "PowerGrid-v0".into(),
            description: format!(
                "Automatic generation control of a {n}-area, {}-tie-line interconnected 60 Hz power system with reheat steam units: choose each area's AGC set-point change ΔP_ref so that the area control errors and frequency deviations return to zero after load steps, generator trips and wind/solar fluctuations, without tripping under-frequency load shedding, overloading tie lines or exceeding generator ramp rates.",
                ties.len()
            ),
            sources: vec![
                "P. Kundur, Power System Stability and Control, McGraw-Hill, 1994, ch. 11 (Control of active power and reactive power)".into(),
                "H. Bevrani, Robust Power System Frequency Control, 2nd ed., Springer, 2014, ch. 2–3".into(),
                "O. I. Elgerd, Electric Energy Systems Theory: An Introduction, 2nd ed., McGraw-Hill, 1982, ch. 9".into(),
                "IEEE Committee Report, Dynamic models for steam and hydro turbines in power system studies, IEEE Trans. PAS-92(6), 1973".into(),
                "NERC Standard PRC-006 (Automatic Underfrequency Load Shedding) and ERCOT Nodal Operating Guides §2.6 (UFLS at 59.3/58.9/58.5 Hz)".into(),
                "NERC Standard BAL-001 (Real Power Balancing Control Performance: ACE, frequency bias, ε1) and PRC-024 (generator frequency ride-through)".into(),
                "C. F. Van Loan, Computing integrals involving the matrix exponential, IEEE Trans. Automatic Control 23(3), 1978 (exact zero-order-hold discretisation)".into(),
            ],
            observations: obs,
            actions,
            dt: DT,
            horizon: HORIZON,
            constraints,
            reward_range: (-COST_CAP, 0.0),
            ref_random_return: REF_RANDOM_RETURN,
            ref_expert_return: REF_EXPERT_RETURN,
            breach: super::spec::BreachPenalty::RemainingHorizon,
        }
    }

    /// Number of control areas.
    pub fn n_areas(&self) -> usize {
        self.n
    }
    /// Number of tie lines.
    pub fn n_ties(&self) -> usize {
        self.m
    }
    /// Area parameters.
    pub fn areas(&self) -> &[AreaParams] {
        &self.areas
    }
    /// Tie lines.
    pub fn ties(&self) -> &[TieLine] {
        &self.ties
    }

    /// State index of Δf of area `i` (p.u. of 60 Hz).
    pub fn idx_df(&self, i: usize) -> usize {
        i
    }
    /// State index of the governor (valve) output ΔP_g of area `i`, p.u.
    pub fn idx_pg(&self, i: usize) -> usize {
        self.n + i
    }
    /// State index of the steam-chest (HP) power ΔP_ch of area `i`, p.u.
    pub fn idx_pch(&self, i: usize) -> usize {
        2 * self.n + i
    }
    /// State index of the reheater (IP/LP) power ΔP_rh of area `i`, p.u.
    pub fn idx_prh(&self, i: usize) -> usize {
        3 * self.n + i
    }
    /// State index of the flow deviation of tie line `e`, p.u.
    pub fn idx_tie(&self, e: usize) -> usize {
        4 * self.n + e
    }
    /// State index of the load-step level of area `i`, p.u.
    pub fn idx_load(&self, i: usize) -> usize {
        self.nx + i
    }
    /// State index of the renewable net-load fluctuation `w` of area `i`, p.u.
    pub fn idx_renewable(&self, i: usize) -> usize {
        self.nx + self.n + i
    }
    /// State index of the applied AGC set-point ΔP_ref of area `i`, p.u.
    pub fn idx_pref(&self, i: usize) -> usize {
        self.nx + 2 * self.n + i
    }
    /// State index of the last set-point ramp rate |ΔP_ref(k) − ΔP_ref(k−1)|/dt of area `i`, p.u./s.
    pub fn idx_ramp(&self, i: usize) -> usize {
        self.nx + 3 * self.n + i
    }
    /// State index of the elapsed time, s.
    pub fn idx_time(&self) -> usize {
        self.nx + 4 * self.n
    }
    /// State index of the contingency time (s; negative: none), area and size (p.u.).
    pub fn idx_contingency(&self) -> usize {
        self.nx + 4 * self.n + 1
    }
    /// State index of the OU weather driver `z` of the renewable fluctuation of area `i`, p.u.
    pub fn idx_driver(&self, i: usize) -> usize {
        self.nx + 4 * self.n + 4 + i
    }

    /// Net tie-line export of area `i`, p.u.
    #[inline]
    pub fn tie_net(&self, state: &[f64], i: usize) -> f64 {
        let mut p = 0.0;
        for (e, t) in self.ties.iter().enumerate() {
            if t.from == i {
                p += state[4 * self.n + e];
            } else if t.to == i {
                p -= state[4 * self.n + e];
            }
        }
        p
    }

    /// Mechanical power deviation ΔP_m = F_hp ΔP_ch + (1 − F_hp) ΔP_rh of area `i`, p.u.
    #[inline]
    pub fn mech_power(&self, state: &[f64], i: usize) -> f64 {
        let a = &self.areas[i];
        a.f_hp * state[2 * self.n + i] + (1.0 - a.f_hp) * state[3 * self.n + i]
    }

    /// Area control error ACE = ΔP_tie + B Δf (B = β = D + 1/R, Δf in p.u.), p.u.
    #[inline]
    pub fn ace(&self, state: &[f64], i: usize) -> f64 {
        self.tie_net(state, i) + self.areas[i].beta() * state[i]
    }

    /// Per-step regulation cost (positive, before clamping) of `state` after
    /// a step whose set-point moves were `du`.
    #[inline]
    fn cost(&self, state: &[f64], du: &[f64]) -> f64 {
        let mut c = 0.0;
        for (i, &dui) in du.iter().enumerate().take(self.n) {
            let ace = self.ace(state, i) / ACE_NORM;
            let f = state[i] * F0 / DF_NORM_HZ;
            let u = dui / DU_NORM;
            c += ace * ace + f * f + u * u;
        }
        c / self.n as f64
    }
}

impl Model for PowerGrid {
    fn spec(&self) -> &EnvSpec {
        &self.spec
    }

    fn state_dim(&self) -> usize {
        self.nx + 5 * self.n + 4
    }

    fn reset(&self, state: &mut [f64], rng: &mut EnvRng) {
        let (n, nx) = (self.n, self.nx);
        state.fill(0.0);
        // Operating point: each area carries a net-load offset that the AGC
        // has already balanced (ΔP_ref = ΔP_g = ΔP_ch = ΔP_rh = ΔP_L).
        for i in 0..n {
            let pl = uniform_in(rng, -0.03, 0.03);
            state[self.idx_load(i)] = pl;
            state[self.idx_pref(i)] = pl;
            state[self.idx_pg(i)] = pl;
            state[self.idx_pch(i)] = pl;
            state[self.idx_prh(i)] = pl;
        }
        // A small residual frequency and tie-flow deviation.
        for df in &mut state[..n] {
            *df = uniform_in(rng, -0.02, 0.02) / F0;
        }
        for tie in &mut state[4 * n..nx] {
            *tie = uniform_in(rng, -0.01, 0.01);
        }
        let c = self.idx_contingency();
        state[c] = -1.0;
        if self.options.disturbances {
            for i in 0..n {
                // Stationary joint draw of the smoothed output and its driver.
                let (e1, e2) = normal_pair(rng);
                let w = self.areas[i].renewable_sigma * e1;
                state[nx + n + i] = w;
                state[self.idx_driver(i)] = w + self.z_resid[i] * e2;
            }
            // The dimensioning incident: a generator trip at a random time.
            state[c] = uniform_in(rng, 30.0, 400.0);
            state[c + 1] = ((super::math::uniform(rng) * n as f64) as usize).min(n - 1) as f64;
            state[c + 2] = uniform_in(rng, 0.03, 0.08);
        }
    }

    fn step(&self, state: &mut [f64], action: &[f64], rng: &mut EnvRng) -> Transition {
        let (n, nx) = (self.n, self.nx);
        let t = state[self.idx_time()];
        if self.options.disturbances {
            for i in 0..n {
                let ev = super::math::uniform(rng);
                let size = uniform_in(rng, -LOAD_STEP_MAX, LOAD_STEP_MAX);
                if ev < self.p_step {
                    let l = nx + i;
                    state[l] = (state[l] + size).clamp(-LOAD_LEVEL_MAX, LOAD_LEVEL_MAX);
                }
            }
            // Renewables: the smoothed output follows the driver held over
            // the cycle (exact for the lag), then the driver moves (exact OU).
            let z0 = self.idx_driver(0);
            let mut i = 0;
            while i < n {
                let (e1, e2) = normal_pair(rng);
                for (j, e) in [(i, e1), (i + 1, e2)] {
                    if j < n {
                        let (w, z) = (nx + n + j, z0 + j);
                        state[w] = self.lag_b * state[w] + (1.0 - self.lag_b) * state[z];
                        state[z] = self.ou_a * state[z] + self.ou_s[j] * e;
                    }
                }
                i += 2;
            }
            let c = self.idx_contingency();
            let tc = state[c];
            if tc >= 0.0 && t < tc && tc <= t + DT {
                let a = state[c + 1] as usize;
                state[nx + a] += state[c + 2];
            }
        }
        // The set-point applied: the command (v0), or the command reached
        // at the plant's rate limit from the set-point in force (v1).
        let mut applied = [0.0; MAX_AREAS];
        for i in 0..n {
            applied[i] = match self.setpoint_ramp {
                None => action[i],
                Some(rate) => {
                    let prev = state[nx + 2 * n + i];
                    prev + (action[i] - prev).clamp(-rate * DT, rate * DT)
                }
            };
        }
        // Inputs held over the interval: u = ΔP_ref, d = ΔP_L + renewable.
        let mut v = [0.0; MAX_NX + 2 * MAX_AREAS];
        v[..nx].copy_from_slice(&state[..nx]);
        for i in 0..n {
            v[nx + i] = applied[i];
            v[nx + n + i] = state[nx + i] + state[nx + n + i];
        }
        // x_{k+1} = Φ x_k + Γ [u; d], column by column.
        let mut x = [0.0; MAX_NX];
        let x = &mut x[..nx];
        for (col, &vj) in self.phi_gamma.chunks_exact(nx).zip(&v[..nx + 2 * n]) {
            for (xi, c) in x.iter_mut().zip(col) {
                *xi += c * vj;
            }
        }
        state[..nx].copy_from_slice(x);
        let mut du = [0.0; MAX_AREAS];
        for i in 0..n {
            let p = nx + 2 * n + i;
            // The ramp signal is the commanded move (in v0 the applied one).
            state[nx + 3 * n + i] = (action[i] - state[p]).abs() / DT;
            du[i] = applied[i] - state[p];
            state[p] = applied[i];
        }
        state[self.idx_time()] = t + DT;
        let cost = self.cost(state, &du[..n]).min(COST_CAP);
        Transition {
            reward: -cost,
            terminal: false,
        }
    }

    fn observe(&self, state: &[f64], obs: &mut [f32], rng: &mut EnvRng) {
        let (n, m) = (self.n, self.m);
        let mut line = [0.0; MAX_NX];
        line[..m].copy_from_slice(&state[4 * n..4 * n + m]);
        let mut df = [0.0; MAX_AREAS];
        let mut pm = [0.0; MAX_AREAS];
        for i in 0..n {
            df[i] = state[i] * F0;
            pm[i] = self.mech_power(state, i);
        }
        if self.options.sensor_noise {
            // Fixed order: frequencies, line flows, generation; pairs of draws.
            let mut noise = [0.0; MAX_NX + 2 * MAX_AREAS + 1];
            let total = 2 * n + m;
            let mut k = 0;
            while k < total {
                let (a, b) = normal_pair(rng);
                noise[k] = a;
                noise[k + 1] = b;
                k += 2;
            }
            for i in 0..n {
                df[i] += NOISE_DF_HZ * noise[i];
                pm[i] += NOISE_PM * noise[n + m + i];
            }
            for e in 0..m {
                line[e] += NOISE_LINE * noise[n + e];
            }
        }
        for i in 0..n {
            // ACE as the EMS computes it, from the telemetered flows and frequency.
            let mut tie = 0.0;
            for (e, t) in self.ties.iter().enumerate() {
                if t.from == i {
                    tie += line[e];
                } else if t.to == i {
                    tie -= line[e];
                }
            }
            let ace = tie + self.areas[i].beta() * df[i] / F0;
            obs[i] = df[i] as f32;
            obs[n + i] = ace as f32;
            obs[2 * n + i] = tie as f32;
            obs[3 * n + i] = pm[i] as f32;
            obs[4 * n + i] = state[self.idx_pref(i)] as f32;
        }
        for e in 0..m {
            obs[5 * n + e] = line[e] as f32;
        }
    }

    fn constraints(&self, state: &[f64], out: &mut [f64]) {
        let (n, m) = (self.n, self.m);
        for i in 0..n {
            out[i] = (state[i] * F0).abs();
        }
        for e in 0..m {
            out[n + e] = state[4 * n + e].abs();
        }
        for i in 0..n {
            out[n + m + i] = state[self.idx_ramp(i)];
        }
    }

    fn safe_action(&self, state: &[f64], action: &mut [f64]) {
        // Emergency assist: move every area's set-point by its ACE at once
        // (in steady state ΔP_ref − ACE is the area's net-load change), so
        // the power balance, hence the frequency, is restored.
        for (i, a) in action.iter_mut().enumerate().take(self.n) {
            *a = (state[self.idx_pref(i)] - self.ace(state, i)).clamp(-U_MAX, U_MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::math::rk4_substeps;
    use rand::SeedableRng;

    /// Run `steps` steps of `g` from `state` with a constant action.
    fn hold(g: &PowerGrid, state: &mut [f64], u: &[f64], steps: usize) {
        let mut rng = EnvRng::seed_from_u64(0);
        for _ in 0..steps {
            g.step(state, u, &mut rng);
        }
    }

    /// A zero state with a load step `dpl` in area `area`.
    fn stepped(g: &PowerGrid, area: usize, dpl: f64) -> Vec<f64> {
        let mut s = vec![0.0; g.state_dim()];
        s[g.idx_contingency()] = -1.0;
        s[g.idx_load(area)] = dpl;
        s
    }

    fn rel_close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-12)
    }

    #[test]
    fn single_area_droop_steady_state() {
        // Primary control only: Δf_ss = −ΔP_L / (D + 1/R), ΔP_m = −Δf/R = ΔP_L − D Δf.
        let g = PowerGrid::with_topology(1, &[], EnvOptions::deterministic());
        let a = AreaParams::typical();
        let dpl = 0.05;
        let mut s = stepped(&g, 0, dpl);
        hold(&g, &mut s, &[0.0], 400);
        let expected_pu = -dpl / (a.d + 1.0 / a.r);
        assert!(rel_close(s[g.idx_df(0)], expected_pu, 1e-9), "{}", s[0]);
        let mut obs = [0f32; 5];
        g.observe(&s, &mut obs, &mut EnvRng::seed_from_u64(0));
        let expected_hz = expected_pu * F0; // −0.142857 Hz
        assert!((obs[0] as f64 - expected_hz).abs() < 1e-6, "{}", obs[0]);
        assert!(rel_close(g.mech_power(&s, 0), -expected_pu / a.r, 1e-9));
        // Without ties the ACE is B Δf.
        assert!(rel_close(g.ace(&s, 0), a.beta() * expected_pu, 1e-9));
    }

    #[test]
    fn single_area_integral_agc_restores_frequency() {
        // AGC: ΔP_ref ← ΔP_ref − K_I · ACE · dt drives ACE, hence Δf, to 0
        // and ΔP_ref to the load change.
        let g = PowerGrid::with_topology(1, &[], EnvOptions::deterministic());
        let dpl = 0.05;
        let mut s = stepped(&g, 0, dpl);
        let mut rng = EnvRng::seed_from_u64(0);
        let ki = 0.05;
        let mut u = 0.0;
        let mut nadir: f64 = 0.0;
        for _ in 0..600 {
            u -= ki * g.ace(&s, 0) * DT;
            g.step(&mut s, &[u], &mut rng);
            nadir = nadir.min(s[0]);
        }
        let droop_ss = -dpl / AreaParams::typical().beta();
        assert!(nadir < droop_ss, "the transient passes the droop level");
        assert!((s[0] * F0).abs() < 1e-6, "Δf = {} Hz", s[0] * F0);
        assert!((u - dpl).abs() < 1e-6, "ΔP_ref = {u}");
        assert!((g.mech_power(&s, 0) - dpl).abs() < 1e-6);
    }

    #[test]
    fn two_identical_areas_share_a_load_step_by_beta() {
        let g = PowerGrid::with_topology(2, &[(0, 1)], EnvOptions::deterministic());
        let b = AreaParams::typical().beta();
        let dpl = 0.04;
        let mut s = stepped(&g, 0, dpl);
        hold(&g, &mut s, &[0.0, 0.0], 500);
        // Export from area 1: −ΔP_L β2/(β1+β2) = −ΔP_L/2; Δf = −ΔP_L/(β1+β2).
        let tie = s[g.idx_tie(0)];
        assert!(rel_close(tie, -dpl * b / (b + b), 1e-8), "tie {tie}");
        assert!(rel_close(s[0], -dpl / (2.0 * b), 1e-8));
        assert!(rel_close(s[1], s[0], 1e-8), "one frequency in steady state");
        assert_eq!(g.tie_net(&s, 0), -g.tie_net(&s, 1));
    }

    #[test]
    fn two_different_areas_tie_flow_follows_the_frequency_response_characteristics() {
        let a1 = AreaParams::typical();
        let a2 = AreaParams {
            d: 0.6,
            r: 0.08,
            h: 3.0,
            ..AreaParams::typical()
        };
        let (b1, b2) = (a1.beta(), a2.beta());
        let line = TieLine {
            from: 0,
            to: 1,
            t_sync: 0.05,
        };
        let g = PowerGrid::new(&[a1, a2], &[line], EnvOptions::deterministic());
        let dpl = 0.03;
        let mut s = stepped(&g, 0, dpl);
        hold(&g, &mut s, &[0.0, 0.0], 800);
        assert!(rel_close(s[g.idx_tie(0)], -dpl * b2 / (b1 + b2), 1e-8));
        // The same step in area 2 reverses the line flow: area 1 exports ΔP_L β1/(β1+β2).
        let mut s = stepped(&g, 1, dpl);
        hold(&g, &mut s, &[0.0, 0.0], 800);
        assert!(rel_close(s[g.idx_tie(0)], dpl * b1 / (b1 + b2), 1e-8));
        assert!(rel_close(s[0], -dpl / (b1 + b2), 1e-8));
    }

    #[test]
    fn ring_steady_state_and_tie_flows_sum_to_zero() {
        let g = PowerGrid::new(
            &default_areas(),
            &default_ties(),
            EnvOptions::deterministic(),
        );
        let dpl = [0.03, -0.01, 0.02];
        let mut s = stepped(&g, 0, dpl[0]);
        s[g.idx_load(1)] = dpl[1];
        s[g.idx_load(2)] = dpl[2];
        hold(&g, &mut s, &[0.0; 3], 800);
        let sum_beta: f64 = g.areas().iter().map(|a| a.beta()).sum();
        let df = -dpl.iter().sum::<f64>() / sum_beta;
        for (i, a) in g.areas().iter().enumerate() {
            assert!(rel_close(s[i], df, 1e-8), "area {i}");
            let export = -a.beta() * df - dpl[i];
            assert!((g.tie_net(&s, i) - export).abs() < 1e-10, "area {i}");
        }
    }

    #[test]
    fn tie_flows_cancel_along_a_random_trajectory() {
        let g = PowerGrid::with_topology(
            4,
            &[(0, 1), (1, 2), (2, 3), (3, 0), (0, 2)],
            EnvOptions::default(),
        );
        let mut rng = EnvRng::seed_from_u64(5);
        let mut s = vec![0.0; g.state_dim()];
        g.reset(&mut s, &mut rng);
        let mut u = [0.0; 4];
        for _ in 0..300 {
            for ui in &mut u {
                *ui = uniform_in(&mut rng, -0.05, 0.05);
            }
            g.step(&mut s, &u, &mut rng);
            let sum: f64 = (0..4).map(|i| g.tie_net(&s, i)).sum();
            let scale: f64 = (0..5).map(|e| s[g.idx_tie(e)].abs()).sum();
            assert!(sum.abs() <= 1e-14 * scale.max(1.0), "Σ ΔP_tie = {sum}");
        }
    }

    /// The continuous-time right-hand side, written out directly from the
    /// equations of the module documentation (independently of the matrices).
    fn rhs(g: &PowerGrid, x: &[f64; 15], u: &[f64; 3], d: &[f64; 3], dx: &mut [f64; 15]) {
        let n = 3;
        for (i, a) in g.areas().iter().enumerate() {
            let pm = a.f_hp * x[2 * n + i] + (1.0 - a.f_hp) * x[3 * n + i];
            let mut tie = 0.0;
            for (e, t) in g.ties().iter().enumerate() {
                if t.from == i {
                    tie += x[4 * n + e];
                }
                if t.to == i {
                    tie -= x[4 * n + e];
                }
            }
            dx[i] = (pm - d[i] - a.d * x[i] - tie) / (2.0 * a.h);
            dx[n + i] = (u[i] - x[i] / a.r - x[n + i]) / a.t_g;
            dx[2 * n + i] = (x[n + i] - x[2 * n + i]) / a.t_t;
            dx[3 * n + i] = (x[2 * n + i] - x[3 * n + i]) / a.t_r;
        }
        for (e, t) in g.ties().iter().enumerate() {
            dx[4 * n + e] = std::f64::consts::TAU * F0 * t.t_sync * (x[t.from] - x[t.to]);
        }
    }

    #[test]
    fn exact_discretisation_matches_fine_rk4() {
        let g = PowerGrid::new(
            &default_areas(),
            &default_ties(),
            EnvOptions::deterministic(),
        );
        let mut rng = EnvRng::seed_from_u64(3);
        for _ in 0..5 {
            let mut s = vec![0.0; g.state_dim()];
            s[g.idx_contingency()] = -1.0;
            let mut x = [0.0; 15];
            for v in x.iter_mut() {
                *v = uniform_in(&mut rng, -0.02, 0.02);
            }
            s[..15].copy_from_slice(&x);
            let mut u = [0.0; 3];
            let mut d = [0.0; 3];
            for i in 0..3 {
                u[i] = uniform_in(&mut rng, -0.1, 0.1);
                d[i] = uniform_in(&mut rng, -0.05, 0.05);
                s[g.idx_load(i)] = d[i];
            }
            g.step(&mut s, &u, &mut rng);
            rk4_substeps(&mut x, DT, 2000, |x, dx| rhs(&g, x, &u, &d, dx));
            for k in 0..15 {
                assert!(
                    (s[k] - x[k]).abs() < 1e-11,
                    "state {k}: {} vs {}",
                    s[k],
                    x[k]
                );
            }
        }
    }

    #[test]
    fn ramp_rate_and_previous_setpoint_are_kept_in_the_state() {
        let g = PowerGrid::with_topology(2, &[(0, 1)], EnvOptions::deterministic());
        let mut s = stepped(&g, 0, 0.0);
        let mut rng = EnvRng::seed_from_u64(0);
        g.step(&mut s, &[0.01, -0.002], &mut rng);
        g.step(&mut s, &[0.013, -0.002], &mut rng);
        let mut c = [0.0; 5];
        g.constraints(&s, &mut c);
        assert!((c[3] - 0.003 / DT).abs() < 1e-15, "{c:?}");
        assert_eq!(c[4], 0.0);
        assert_eq!(s[g.idx_pref(0)], 0.013);
        let spec = g.spec();
        assert!(
            spec.constraints[3].violated(c[3]),
            "0.18 p.u./min > 0.1 p.u./min"
        );
        assert!(!spec.constraints[4].violated(c[4]));
    }

    #[test]
    fn reward_is_the_documented_cost() {
        let g = PowerGrid::with_topology(1, &[], EnvOptions::deterministic());
        let a = AreaParams::typical();
        let mut s = vec![0.0; g.state_dim()];
        s[g.idx_contingency()] = -1.0;
        // From Δf = 0.03 Hz with a set-point move of 0.004 p.u., the cost is
        // (ACE/0.01)² + (Δf/0.03 Hz)² + (0.004/0.01)² on the state after the step.
        s[0] = 0.03 / F0;
        let tr = g.step(&mut s, &[0.004], &mut EnvRng::seed_from_u64(0));
        let ace = a.beta() * s[0];
        let expected =
            (ace / ACE_NORM).powi(2) + (s[0] * F0 / DF_NORM_HZ).powi(2) + (0.004 / DU_NORM).powi(2);
        assert!(
            (tr.reward + expected).abs() < 1e-12,
            "{} vs {}",
            tr.reward,
            -expected
        );
        assert!(!tr.terminal);
        let (lo, hi) = g.spec().reward_range;
        assert!(tr.reward >= lo && tr.reward <= hi);
    }

    #[test]
    fn reset_is_balanced_safe_and_deterministic() {
        let g = PowerGrid::new(&default_areas(), &default_ties(), EnvOptions::default());
        let spec = g.spec();
        for seed in 0..200 {
            let mut s1 = vec![0.0; g.state_dim()];
            let mut s2 = vec![0.0; g.state_dim()];
            g.reset(&mut s1, &mut EnvRng::seed_from_u64(seed));
            g.reset(&mut s2, &mut EnvRng::seed_from_u64(seed));
            assert_eq!(s1, s2);
            let mut c = vec![0.0; spec.n_constraints()];
            g.constraints(&s1, &mut c);
            for (cs, v) in spec.constraints.iter().zip(&c) {
                assert!(!cs.violated(*v), "seed {seed}: {} = {v}", cs.name);
            }
            for i in 0..3 {
                // The set-point in force balances the load-step level.
                assert_eq!(s1[g.idx_pref(i)], s1[g.idx_load(i)]);
                assert!((g.mech_power(&s1, i) - s1[g.idx_load(i)]).abs() < 1e-15);
            }
            let tc = s1[g.idx_contingency()];
            assert!((30.0..400.0).contains(&tc));
        }
    }

    #[test]
    fn generator_trip_happens_once_at_its_time() {
        let g = PowerGrid::new(&default_areas(), &default_ties(), EnvOptions::default());
        let mut rng = EnvRng::seed_from_u64(11);
        let mut s = vec![0.0; g.state_dim()];
        g.reset(&mut s, &mut rng);
        let c = g.idx_contingency();
        let (tc, area, size) = (s[c], s[c + 1] as usize, s[c + 2]);
        let mut prev = s[g.idx_load(area)];
        let mut jumps = 0;
        for k in 0..600 {
            let u: Vec<f64> = (0..3).map(|i| s[g.idx_pref(i)]).collect();
            g.step(&mut s, &u, &mut rng);
            let l = s[g.idx_load(area)];
            if (l - prev - size).abs() < 1e-12 {
                jumps += 1;
                assert!(
                    ((k + 1) as f64 * DT - tc).abs() <= DT,
                    "trip at {k}, scheduled {tc}"
                );
            }
            prev = l;
        }
        assert_eq!(jumps, 1);
    }

    #[test]
    fn random_setpoint_swings_can_trigger_load_shedding() {
        // Full-range random AGC moves breach the 0.7 Hz limit in some episodes.
        let g = PowerGrid::new(
            &default_areas(),
            &default_ties(),
            EnvOptions::deterministic(),
        );
        let spec = g.spec();
        let mut breaches = 0;
        for seed in 0..20 {
            let mut rng = EnvRng::seed_from_u64(seed);
            let mut s = vec![0.0; g.state_dim()];
            g.reset(&mut s, &mut rng);
            let mut c = vec![0.0; spec.n_constraints()];
            for _ in 0..HORIZON {
                let u: Vec<f64> = (0..3)
                    .map(|_| uniform_in(&mut rng, -U_MAX, U_MAX))
                    .collect();
                g.step(&mut s, &u, &mut rng);
                g.constraints(&s, &mut c);
                if (0..3).any(|i| spec.constraints[i].violated(c[i])) {
                    breaches += 1;
                    break;
                }
            }
        }
        assert!(breaches > 0);
    }

    #[test]
    fn safe_action_restores_balance() {
        // After a load step has settled under droop, the emergency-assist
        // set-point (ΔP_ref − ACE) equals the load change and returns Δf to 0.
        let g = PowerGrid::with_topology(2, &[(0, 1)], EnvOptions::deterministic());
        let mut s = stepped(&g, 1, 0.06);
        hold(&g, &mut s, &[0.0, 0.0], 400);
        let mut a = [0.0; 2];
        g.safe_action(&s, &mut a);
        assert!(
            (a[0] - 0.0).abs() < 1e-9 && (a[1] - 0.06).abs() < 1e-9,
            "{a:?}"
        );
        hold(&g, &mut s, &a, 400);
        assert!((s[0] * F0).abs() < 1e-8 && s[g.idx_tie(0)].abs() < 1e-8);
    }

    /// `cargo test --release -p neorl --lib power_grid::tests::timing -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn timing() {
        for opts in [EnvOptions::deterministic(), EnvOptions::default()] {
            let g = PowerGrid::new(&default_areas(), &default_ties(), opts);
            let mut rng = EnvRng::seed_from_u64(1);
            let mut s = vec![0.0; g.state_dim()];
            g.reset(&mut s, &mut rng);
            let mut obs = vec![0f32; g.spec().obs_dim()];
            let mut c = vec![0.0; g.spec().n_constraints()];
            let u = [0.01, -0.01, 0.0];
            // Minimum over batches of one episode: robust to a shared machine.
            let (mut step_ns, mut full_ns) = (f64::INFINITY, f64::INFINITY);
            let mut acc = 0.0;
            for _ in 0..2000 {
                g.reset(&mut s, &mut rng);
                let t0 = std::time::Instant::now();
                for _ in 0..HORIZON {
                    acc += g.step(&mut s, &u, &mut rng).reward;
                }
                step_ns = step_ns.min(t0.elapsed().as_nanos() as f64 / HORIZON as f64);
                g.reset(&mut s, &mut rng);
                let t0 = std::time::Instant::now();
                for _ in 0..HORIZON {
                    acc += g.step(&mut s, &u, &mut rng).reward;
                    g.constraints(&s, &mut c);
                    g.observe(&s, &mut obs, &mut rng);
                }
                full_ns = full_ns.min(t0.elapsed().as_nanos() as f64 / HORIZON as f64);
            }
            println!(
                "{opts:?}: step {step_ns:.0} ns, step+constraints+observe {full_ns:.0} ns ({acc:.1})"
            );
        }
    }
}
