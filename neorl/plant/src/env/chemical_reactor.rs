//! # ChemicalReactor-v0 — jacketed exothermic CSTR at its open-loop-unstable operating point
//!
//! ## Process
//!
//! A continuous stirred-tank reactor (CSTR) of `V = 100 L` converts a feed of
//! reactant A (`q = 100 L/min`, `C_Af ≈ 1 mol/L`, `T_f ≈ 350 K`) into product B
//! by the irreversible, exothermic, first-order reaction `A → B` with
//! Arrhenius kinetics. The reaction heat is removed by a cooling jacket fed
//! with refrigerated brine (50 vol % ethylene glycol–water) at `T_ci = 255 K`;
//! the brine flow `F_c` through the control valve is the manipulated
//! variable. The reactor is run at the *middle* of its three steady states —
//! the classic open-loop-unstable operating point of the textbook CSTR — where
//! the product concentration is about half the feed concentration: any
//! temperature excursion either *ignites* the reactor (runaway towards the
//! hot, high-conversion steady state near 394 K) or *extinguishes* it (the
//! cold steady state near 302 K, almost no conversion). The task is to track
//! product-concentration set-points (grade changes every 5 min between
//! 0.42 and 0.58 mol/L) with as little brine as possible, without ever
//! tripping the high-temperature interlock.
//!
//! ## Model (time in minutes inside the model)
//!
//! Component balance of A, reactor energy balance and jacket energy balance
//! (perfectly mixed reactor and jacket, constant volumes and properties, heat
//! capacity of the jacket wall neglected):
//!
//! ```text
//!   dC_A/dt = q/V (C_Af − C_A) − k(T) C_A
//!   dT/dt   = q/V (T_f − T) + (−ΔH)/(ρ c_p) k(T) C_A + UA/(ρ c_p V) (T_j − T)
//!   dT_j/dt = F_c/V_j (T_ci − T_j) + UA/(ρ_c c_pc V_j) (T − T_j)
//!   k(T)    = k_0 exp(−E/(R T))
//! ```
//!
//! The reactor part and its parameters are exactly the textbook exothermic
//! CSTR of Seborg, Edgar, Mellichamp & Doyle (its standard numerical example,
//! with the coolant temperature as input; the same set is the widely used
//! "exothermic CSTR" control benchmark):
//!
//! | symbol | value | unit | meaning |
//! |---|---|---|---|
//! | `V` | 100 | L | reactor hold-up |
//! | `q` | 100 | L/min | feed (and outlet) flow |
//! | `C_Af` | 1.0 (nominal) | mol/L | feed concentration of A |
//! | `T_f` | 350 (nominal) | K | feed temperature |
//! | `k_0` | 7.2·10¹⁰ | 1/min | pre-exponential factor |
//! | `E/R` | 8750 | K | activation temperature |
//! | `ΔH` | −5·10⁴ | J/mol | heat of reaction (exothermic) |
//! | `ρ` | 1000 | g/L | density of the reaction mass |
//! | `c_p` | 0.239 | J/(g K) | heat capacity of the reaction mass (see below: a cal/J slip) |
//! | `UA` | 5·10⁴ | J/(min K) | jacket heat-transfer coefficient × area |
//!
//! `c_p = 0.239` is the textbook's value, and it is not the heat capacity
//! of an aqueous mass in J/(g K) — water's is 4.18 J/(g K), i.e. 1 cal/(g K);
//! 0.239 is the J→cal factor, a unit slip carried by the widely used
//! parameter set. We keep it (in v0, frozen, and in v1): it is what gives
//! the benchmark its hazard. With `c_p = 4.18` the adiabatic rise is 12 K,
//! the reactor has a single steady state near 350 K for every brine flow
//! from 0 to 40 L/min (`datasets/protocol/reactor_steady_states.py`), no
//! runaway exists and the 375 K trip could not be reached — a different,
//! benign process, whose expert, shield and shutdown would all need
//! re-tuning. Read the reaction mass as a hypothetical one with
//! `ρ c_p = 239 J/(L K)` (or, equivalently, a feed about 17× more
//! concentrated or exothermic than an aqueous one could be).
//!
//! With these values the adiabatic temperature rise `(−ΔH) C_Af/(ρ c_p)` is
//! 209 K, and at the operating point `C_A = 0.5 mol/L`, `T = 350 K`,
//! `k = 1.0 1/min` the reactor must shed 2.5·10⁶ J/min through the wall.
//!
//! The jacket energy balance replaces the textbook's manipulated coolant
//! temperature by a jacket state, as in Russo & Bequette (1995) and Luyben
//! (2007, ch. 4). Its parameters are a design choice of this benchmark:
//! `V_j = 3 L` (half-pipe-coil hold-up; its heat capacity
//! `ρ_c c_pc V_j = 10.4 kJ/K` is 0.43 × that of the reactor contents, so
//! the jacket responds within ≈ 6 s); brine `ρ_c c_pc = 1080 g/L ·
//! 3.2 J/(g K) = 3456 J/(L K)` at `T_ci = 255 K` (−18 °C), and a valve of
//! `F_c,max = 40 L/min`. In steady state the jacket gives the effective
//! conductance `1/UA_eff = 1/UA + 1/(ρ_c c_pc F_c)`, so the brine flow needed
//! at the nominal point is `F_c = 16.07 L/min` (`T_j = 300 K`, exactly the
//! textbook's coolant temperature) and the fully open valve raises the
//! effective conductance by only 40 % — cooling authority is limited, as on
//! real jacketed reactors. For the nominal flow the three steady states are
//! `T = 302.1 K`, `350.0 K` (unstable: one real eigenvalue of the linearised
//! three-state model at +3.8 1/min, an e-folding time of 16 s) and
//! `394.1 K`; for every flow below ≈ 21.8 L/min the ignited steady state
//! lies above 375 K, between 21.83 and 22.41 L/min it lies *below* 375 K
//! (374.6 K at 21.9, 370.1 K at 22.4 L/min), and above ≈ 22.42 L/min only
//! the extinguished one exists (`datasets/protocol/reactor_steady_states.py`).
//! The nominal flow sits at 40 % of the valve range: a valve moved at
//! random averages 20 L/min, inside the multiplicity region, and such a
//! policy ignites the reactor in about a quarter of the episodes and
//! extinguishes it in most of the others.
//!
//! ## Spaces
//!
//! Control interval `dt = 3 s` (0.05 min), horizon 800 steps (40 min).
//!
//! Action (1): `F_c` — brine flow, L/min, actuator range `[0, 40]`.
//!
//! Observations (7):
//!
//! | # | name | unit | range | |
//! |---|---|---|---|---|
//! | 0 | `C_A` | mol/L | [0, 1.2] | on-line analyser (σ = 0.003 mol/L) |
//! | 1 | `T` | K | [280, 460] | reactor RTD (σ = 0.05 K) |
//! | 2 | `T_j` | K | [250, 460] | jacket outlet RTD (σ = 0.05 K) |
//! | 3 | `T_f` | K | [340, 360] | feed RTD (σ = 0.1 K) |
//! | 4 | `C_A_sp` | mol/L | [0.42, 0.58] | product-concentration set-point now in force |
//! | 5 | `F_c_prev` | L/min | [0, 40] | brine flow applied in the previous interval |
//! | 6 | `time` | min | [0, 40] | time since the start of the episode |
//!
//! The feed concentration is not measured (it is a disturbance).
//!
//! State (16): `C_A, T, T_j, T_f, C_Af, F_c,prev, ΔF_c, step, 8 set-points`.
//!
//! ## Constraints
//!
//! * **hard** `T ≤ 375 K` — the high-high temperature trip of the safety
//!   instrumented system. It sits 20 K above the hottest normal operating
//!   point (354.6 K at `C_A,sp = 0.42 mol/L`) and below the ignited steady
//!   state the reactor runs away to when cooling is insufficient for every
//!   brine flow except a narrow band, 21.83–22.41 L/min, where the ignited
//!   state (370–375 K) lies just under it: there a held flow can leave the
//!   reactor ignited, off-specification, without tripping (a policy that
//!   holds the flow there is not caught by the trip, only by the product
//!   band); everywhere else an ignition is caught on its way up. Around this temperature an
//!   aqueous reaction mass approaches boiling at the vessel's design
//!   pressure. Crossing it ends the episode as a breach. The emergency
//!   shutdown below is what keeps it from being crossed when the brine
//!   valve alone cannot.
//! * **soft** `|C_A − C_A,sp| ≤ 0.05 mol/L` — the product specification band
//!   (±10 % of the nominal product concentration).
//! * **soft** `|F_c(t) − F_c(t−1)| ≤ 4 L/min` per 3 s interval — 10 % of
//!   the valve range per interval; faster moves wear the valve and upset the
//!   plant's brine header, which other consumers share.
//!
//! ## Emergency shutdown: feed cut-off and quench
//!
//! Near the ignition boundary no brine flow can stop a runaway that the
//! unmeasured feed drift has already decided: at full cooling the reactor's
//! peak temperature swings by tens of kelvin with a fraction of a kelvin
//! of feed temperature (see `safety`). A real reactor of this kind has a
//! safety instrumented function beyond the control valve for that case —
//! interrupt the feed and quench the reaction mass (Stoessel, 2008;
//! CCPS, 1995) — and so does this model ([`Model::shutdown`]). It is not
//! part of the policy's action space (the `-v0` datasets are unchanged);
//! the emergency stop fires it, the shield as its last resort.
//!
//! When tripped, the reactant feed valve closes (fail-closed), the quench
//! valve opens (fail-open: `q_q = 200 L/min` of process water at
//! `T_q = 293 K`, two reactor volumes per minute through the overflow, a
//! DN 50 line at about 1.7 m/s) and the brine valve opens fully:
//!
//! ```text
//!   dC_A/dt = −(q_q/V) C_A − k(T) C_A
//!   dT/dt   = (q_q/V)(T_q − T) + (−ΔH)/(ρ c_p) k(T) C_A + UA/(ρ c_p V) (T_j − T)
//!   dT_j/dt = F_c,max/V_j (T_ci − T_j) + UA/(ρ_c c_pc V_j) (T − T_j)
//! ```
//!
//! (the water's heat capacity taken as the reaction mass's). The valves
//! act at the boundary of the control interval of the trip: the SIF's
//! response time (sensor, logic solver, a valve stroke of 1–2 s) is taken
//! as within one 3-s interval (IEC 61511-1 asks that it be within the
//! process safety time, here the ≈ 16-s e-folding of the runaway). With
//! the feed cut off, the feed drift no longer enters, so the transient is
//! a function of the state alone and the shield predicts it exactly. From
//! every state of an ignition below 372 K the quench's peak stays below
//! the 375 K limit (tested), and after the simulated 2 min (40 intervals)
//! the reactor is below 300 K with `C_A < 0.01 mol/L`. Tripping it ends
//! production: the episode terminates, the step of the trip and every
//! step left are charged `−2` (two specification bands: nothing on-spec is
//! made), and the trip counts one unit of cost.
//!
//! ## Reward
//!
//! Per step, in units of "one specification band of off-quality product
//! for one interval":
//!
//! ```text
//!   r = −[ min(|C_A − C_A,sp| / 0.05, 2) + 0.2 · F_c / F_c,max ]  ∈ [−2.2, 0]
//! ```
//!
//! The quality loss grows linearly with the deviation (the cost of blending
//! or re-processing grows with it) and saturates at two bands, where the
//! product is simply downgraded; the second term is the refrigeration cost
//! of the brine, 0.2 units per interval at full flow. `C_A,sp` is the
//! set-point that was in force (observed) when the action was chosen. A
//! hard breach is charged `−2.2` for every remaining step by the framework.
//!
//! ## Disturbances and noise
//!
//! With `options.disturbances`, the feed temperature and feed concentration
//! drift as independent Ornstein–Uhlenbeck processes (exactly discretised,
//! correlation time 5 min; stationary standard deviations 2 K and
//! 0.03 mol/L — an upstream heat exchanger and an upstream unit's
//! composition swings), started from their stationary distributions at reset.
//! Without it they stay at 350 K and 1.0 mol/L. With `options.sensor_noise`,
//! the four measurements get the Gaussian noise listed above. Random draws
//! happen in a fixed order: reset — 8 set-points, the three initial
//! offsets, then (disturbances) `T_f`, `C_Af`; step — `T_f`, `C_Af`;
//! observe — `C_A, T, T_j, T_f`. Gaussian draws come in pairs (`math::normal_pair`, ziggurat)
//! (cosine and sine variate of one pair of uniforms, both used).
//!
//! ## Reset
//!
//! Set-points for the eight 5-min segments are drawn uniformly in
//! [0.42, 0.58] mol/L. The reactor starts at the (unstable) steady state of
//! the first set-point under nominal feed, with `C_A`, `T` and `T_j` offset
//! by U(±0.02) mol/L, U(±1) K and U(±1) K; the previous brine flow is that
//! steady state's flow. With disturbances, the feed starts from the
//! stationary distribution of its drift, so the reactor is not in
//! equilibrium with it.
//!
//! ## Integration
//!
//! The three balances are integrated with classical RK4, two sub-steps of
//! 1.5 s per control interval (the fastest mode — the jacket at full brine
//! flow — has a time constant of 3.3 s; the unstable mode 16 s), with the
//! feed conditions and the brine flow held over the interval. Along
//! trajectories under random valve moves the one-step error against a
//! 200-sub-step reference is about 6·10⁻⁴ K in `T` and 5·10⁻³ K in `T_j`,
//! an order of magnitude under the sensor noise; one sub-step would give
//! 0.15 K in `T_j` (tested: below 2·10⁻³ K and 10⁻² K for two sub-steps,
//! above 0.05 K for one). RK4 keeps every steady state exactly and
//! reproduces the unstable eigenvalue to 1 % (tested). On the step that
//! crosses the trip a runaway can overshoot it by tens of kelvin (up to
//! ≈ 450 K); temperatures are kept in [200, 1000] K and `C_A ≥ 0` so that
//! step always stays finite.
//!
//! ## Sources
//!
//! * D. E. Seborg, T. F. Edgar, D. A. Mellichamp, F. J. Doyle III, *Process
//!   Dynamics and Control*, 3rd ed., Wiley, 2011 — the non-isothermal CSTR
//!   model and its parameter set.
//! * L. P. Russo, B. W. Bequette, "Impact of process design on the
//!   multiplicity behavior of a jacketed exothermic CSTR", *AIChE J.* 41(1),
//!   135–147, 1995 — jacket energy balance with coolant flow as input.
//! * W. L. Luyben, *Chemical Reactor Design and Control*, Wiley/AIChE, 2007,
//!   ch. 4 — jacket cooling, limited cooling authority, reactor temperature
//!   control.
//! * A. Uppal, W. H. Ray, A. B. Poore, "On the dynamic behavior of continuous
//!   stirred tank reactors", *Chem. Eng. Sci.* 29, 967–985, 1974 —
//!   steady-state multiplicity and stability of the CSTR.
//! * F. Stoessel, *Thermal Safety of Chemical Processes*, Wiley-VCH, 2008 —
//!   runaway scenarios and temperature trips.

use super::math::{normal_pair, rk4_substeps, uniform_in};
use super::model::{EnvOptions, EnvRng, Model, Shutdown, Transition};
use super::spec::{ConstraintSpec, Dim, EnvSpec};
use std::sync::Arc;

/// Control interval, s.
pub const DT_S: f64 = 3.0;
/// Control interval, min (the model's time unit).
pub const DT_MIN: f64 = DT_S / 60.0;
/// Steps per episode (40 min).
pub const HORIZON: usize = 800;
/// Steps per set-point segment (5 min).
pub const SEGMENT_STEPS: usize = 100;
/// Set-point segments per episode.
pub const N_SEGMENTS: usize = HORIZON / SEGMENT_STEPS;
/// Range of the product-concentration set-points, mol/L.
pub const SP_LOW: f64 = 0.42;
pub const SP_HIGH: f64 = 0.58;
/// High-high temperature trip, K.
pub const T_TRIP: f64 = 375.0;
/// Half-width of the product specification band, mol/L.
pub const SPEC_BAND: f64 = 0.05;
/// Soft limit on the brine-flow change per interval, L/min.
pub const MAX_FLOW_STEP: f64 = 4.0;
/// Saturation of the quality loss, in specification bands.
pub const QUALITY_CAP: f64 = 2.0;
/// Refrigeration cost at full brine flow, reward units per interval.
pub const COOLANT_COST: f64 = 0.2;
/// Disturbance correlation time, min.
pub const DISTURBANCE_TAU_MIN: f64 = 5.0;
/// Stationary standard deviation of the feed temperature, K.
pub const TF_SIGMA: f64 = 2.0;
/// Stationary standard deviation of the feed concentration, mol/L.
pub const CAF_SIGMA: f64 = 0.03;
/// Quench-water flow of the emergency shutdown, L/min.
pub const QUENCH_FLOW: f64 = 200.0;
/// Quench-water temperature, K (process water at 20 °C).
pub const QUENCH_T: f64 = 293.0;
/// Control intervals of the shutdown transient simulated after a trip (2 min).
pub const SHUTDOWN_STEPS: usize = 40;
/// Sensor noise standard deviations: C_A (mol/L), T, T_j, T_f (K).
pub const NOISE_CA: f64 = 0.003;
pub const NOISE_T: f64 = 0.05;
pub const NOISE_TJ: f64 = 0.05;
pub const NOISE_TF: f64 = 0.1;

/// Observation layout.
pub const OBS_CA: usize = 0;
pub const OBS_T: usize = 1;
pub const OBS_TJ: usize = 2;
pub const OBS_TF: usize = 3;
pub const OBS_CA_SP: usize = 4;
pub const OBS_FC_PREV: usize = 5;
pub const OBS_TIME: usize = 6;

/// State layout.
pub const S_CA: usize = 0;
pub const S_T: usize = 1;
pub const S_TJ: usize = 2;
pub const S_TF: usize = 3;
pub const S_CAF: usize = 4;
pub const S_FC: usize = 5;
pub const S_DFC: usize = 6;
pub const S_STEP: usize = 7;
pub const S_SP0: usize = 8;
pub const STATE_DIM: usize = S_SP0 + N_SEGMENTS;

/// Physical parameters (units as in the module documentation; time in min).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Reactor volume `V`, L.
    pub volume: f64,
    /// Feed flow `q`, L/min.
    pub feed_flow: f64,
    /// Nominal feed concentration `C_Af`, mol/L.
    pub caf: f64,
    /// Nominal feed temperature `T_f`, K.
    pub tf: f64,
    /// Pre-exponential factor `k_0`, 1/min.
    pub k0: f64,
    /// Activation temperature `E/R`, K.
    pub e_over_r: f64,
    /// Heat of reaction `ΔH`, J/mol (negative: exothermic).
    pub delta_h: f64,
    /// Density of the reaction mass `ρ`, g/L.
    pub rho: f64,
    /// Heat capacity of the reaction mass `c_p`, J/(g K).
    pub cp: f64,
    /// Heat-transfer coefficient × area `UA`, J/(min K).
    pub ua: f64,
    /// Jacket hold-up `V_j`, L.
    pub jacket_volume: f64,
    /// Volumetric heat capacity of the brine `ρ_c c_pc`, J/(L K).
    pub coolant_rho_cp: f64,
    /// Brine supply temperature `T_ci`, K.
    pub coolant_inlet_t: f64,
    /// Brine valve capacity `F_c,max`, L/min.
    pub coolant_flow_max: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            volume: 100.0,
            feed_flow: 100.0,
            caf: 1.0,
            tf: 350.0,
            k0: 7.2e10,
            e_over_r: 8750.0,
            delta_h: -5.0e4,
            rho: 1000.0,
            cp: 0.239,
            ua: 5.0e4,
            jacket_volume: 3.0,
            coolant_rho_cp: 1080.0 * 3.2,
            coolant_inlet_t: 255.0,
            coolant_flow_max: 40.0,
        }
    }
}

impl Params {
    /// Arrhenius rate constant `k(T)`, 1/min.
    #[inline]
    pub fn rate_constant(&self, t: f64) -> f64 {
        self.k0 * libm::exp(-self.e_over_r / t.clamp(200.0, 1000.0))
    }

    /// Reactor temperature at which the steady-state product concentration
    /// is `ca` for feed concentration `caf` (from the component balance):
    /// `k = q (C_Af − C_A)/(V C_A)`, `T = (E/R) / ln(k_0 / k)`.
    pub fn temperature_for(&self, ca: f64, caf: f64) -> f64 {
        let k = self.feed_flow * (caf - ca) / (self.volume * ca);
        self.e_over_r / libm::log(self.k0 / k)
    }

    /// Steady state `(T, T_j, F_c)` that holds the product concentration at
    /// `ca` under feed `(caf, tf)`: the heat to remove follows from the
    /// reactor energy balance, `T_j` from the wall, `F_c` from the jacket.
    pub fn steady_state_for(&self, ca: f64, caf: f64, tf: f64) -> (f64, f64, f64) {
        let t = self.temperature_for(ca, caf);
        let k = self.rate_constant(t);
        let heat =
            self.rho * self.cp * self.feed_flow * (tf - t) - self.delta_h * self.volume * k * ca;
        let tj = t - heat / self.ua;
        let fc = heat / (self.coolant_rho_cp * (tj - self.coolant_inlet_t));
        (t, tj, fc)
    }
}

/// The jacketed CSTR. See the module documentation.
#[derive(Debug)]
pub struct ChemicalReactor {
    spec: EnvSpec,
    options: EnvOptions,
    p: Params,
    substeps: usize,
    // Precomputed coefficients of the right-hand side.
    dilution: f64,
    heat_gain: f64,
    wall_reactor: f64,
    wall_jacket: f64,
    inv_vj: f64,
    // Exact OU discretisation: x' = a x + s ξ.
    ou_a: f64,
    ou_s: f64,
    shutdown: Shutdown,
}

impl ChemicalReactor {
    /// The benchmark reactor with the documented parameters.
    pub fn new(options: EnvOptions) -> Self {
        Self::with_params(options, Params::default(), 2)
    }

    /// A reactor with other parameters or RK4 sub-steps (for tests and studies).
    pub fn with_params(options: EnvOptions, p: Params, substeps: usize) -> Self {
        let ou_a = libm::exp(-DT_MIN / DISTURBANCE_TAU_MIN);
        ChemicalReactor {
            spec: make_spec(&p),
            options,
            substeps: substeps.max(1),
            dilution: p.feed_flow / p.volume,
            heat_gain: -p.delta_h / (p.rho * p.cp),
            wall_reactor: p.ua / (p.rho * p.cp * p.volume),
            wall_jacket: p.ua / (p.coolant_rho_cp * p.jacket_volume),
            inv_vj: 1.0 / p.jacket_volume,
            ou_a,
            ou_s: (1.0 - ou_a * ou_a).sqrt(),
            shutdown: make_shutdown(),
            p,
        }
    }

    /// The physical parameters.
    pub fn params(&self) -> &Params {
        &self.p
    }

    /// Right-hand side of the balances for `x = [C_A, T, T_j]`.
    #[inline]
    fn rhs(&self, x: &[f64; 3], fc: f64, tf: f64, caf: f64, d: &mut [f64; 3]) {
        let r = self.p.rate_constant(x[1]) * x[0];
        d[0] = self.dilution * (caf - x[0]) - r;
        d[1] = self.dilution * (tf - x[1]) + self.heat_gain * r + self.wall_reactor * (x[2] - x[1]);
        d[2] =
            fc * self.inv_vj * (self.p.coolant_inlet_t - x[2]) + self.wall_jacket * (x[1] - x[2]);
    }

    /// Right-hand side during the emergency shutdown: no feed of A, quench
    /// water at `QUENCH_FLOW` and `QUENCH_T` through the overflow, brine
    /// valve fully open.
    #[inline]
    fn rhs_quench(&self, x: &[f64; 3], d: &mut [f64; 3]) {
        let r = self.p.rate_constant(x[1]) * x[0];
        let flush = QUENCH_FLOW / self.p.volume;
        d[0] = -flush * x[0] - r;
        d[1] = flush * (QUENCH_T - x[1]) + self.heat_gain * r + self.wall_reactor * (x[2] - x[1]);
        d[2] = self.p.coolant_flow_max * self.inv_vj * (self.p.coolant_inlet_t - x[2])
            + self.wall_jacket * (x[1] - x[2]);
    }

    /// One control interval of the balances `rhs` (RK4, the model's
    /// sub-steps) with brine flow `fc`: the reactor variables stay finite
    /// (`C_A ≥ 0`, temperatures in [200, 1000] K), the flow and its change
    /// are recorded and the clock advances.
    #[inline]
    ///
    /// Explicit RK4 at the model's sub-steps cannot follow an ignition that
    /// happens inside one interval: the rate constant grows by orders of
    /// magnitude within the step and the stages overshoot to non-finite or
    /// non-physical temperatures (below the 255 K brine, above 1000 K). Such
    /// an interval is integrated again from its start with four times the
    /// sub-steps, up to 1024 times the model's, so the runaway is resolved
    /// instead of clamped into nonsense. An interval the model's sub-steps
    /// integrate into the physical range is untouched (bit-identical to
    /// before this fallback: every pinned -v0 dataset still matches).
    fn advance(&self, state: &mut [f64], fc: f64, mut rhs: impl FnMut(&[f64; 3], &mut [f64; 3])) {
        let start = [state[S_CA], state[S_T], state[S_TJ]];
        let physical = |x: &[f64; 3]| {
            x.iter().all(|v| v.is_finite())
                && (200.0..=1000.0).contains(&x[1])
                && (200.0..=1000.0).contains(&x[2])
        };
        let mut x = start;
        let mut substeps = self.substeps;
        rk4_substeps(&mut x, DT_MIN, substeps, &mut rhs);
        while !physical(&x) && substeps < self.substeps * 1024 {
            substeps *= 4;
            x = start;
            rk4_substeps(&mut x, DT_MIN, substeps, &mut rhs);
        }
        state[S_CA] = x[0].max(0.0);
        state[S_T] = x[1].clamp(200.0, 1000.0);
        state[S_TJ] = x[2].clamp(200.0, 1000.0);
        state[S_DFC] = fc - state[S_FC];
        state[S_FC] = fc;
        state[S_STEP] += 1.0;
    }

    /// Set-point in force after `step` steps.
    #[inline]
    fn setpoint(state: &[f64], step: f64) -> f64 {
        let seg = ((step as usize) / SEGMENT_STEPS).min(N_SEGMENTS - 1);
        state[S_SP0 + seg]
    }
}

fn make_shutdown() -> Shutdown {
    Shutdown {
        name: "feed cut-off and quench".into(),
        description: format!(
            "Safety instrumented function of the reactor: the reactant feed valve closes \
             (fail-closed), the quench-water valve opens (fail-open: {QUENCH_FLOW} L/min of \
             process water at {QUENCH_T} K through the overflow) and the brine valve opens fully. \
             It acts at the boundary of the control interval of the trip; the transient is \
             simulated for {SHUTDOWN_STEPS} intervals (2 min) and must stay below the 375 K \
             limit. It ends production: the step of the trip and every step left are charged \
             -{QUALITY_CAP} (two specification bands: nothing on-spec is made)."
        ),
        steps: SHUTDOWN_STEPS,
        reward_per_step: -QUALITY_CAP,
        sources: vec![
            "F. Stoessel, Thermal Safety of Chemical Processes, Wiley-VCH, 2008 (emergency \
             measures against runaway: feed interruption, emergency cooling, quenching)"
                .into(),
            "CCPS, Guidelines for Safe Storage and Handling of Reactive Materials, AIChE, 1995 \
             (quench and drown-out systems)"
                .into(),
            "IEC 61511-1:2016, Functional safety - Safety instrumented systems for the process \
             industry sector (safety instrumented functions, response within the process \
             safety time)"
                .into(),
        ],
    }
}

fn make_spec(p: &Params) -> EnvSpec {
    EnvSpec {
        id: "ChemicalReactor-v0".into(),
        description: "Jacketed exothermic CSTR (A -> B, first order, Arrhenius) held at its \
            open-loop-unstable middle steady state: track product-concentration set-points \
            (grade changes every 5 min in 0.42-0.58 mol/L) by manipulating the brine flow to \
            the cooling jacket, with minimal refrigeration cost, without ever exceeding the \
            375 K high-temperature trip. Feed temperature and concentration drift."
            .into(),
        sources: vec![
            "D. E. Seborg, T. F. Edgar, D. A. Mellichamp, F. J. Doyle III, Process Dynamics and \
             Control, 3rd ed., Wiley, 2011 (non-isothermal CSTR model and parameter set)"
                .into(),
            "L. P. Russo, B. W. Bequette, Impact of process design on the multiplicity behavior \
             of a jacketed exothermic CSTR, AIChE J. 41(1):135-147, 1995 (jacket energy balance)"
                .into(),
            "W. L. Luyben, Chemical Reactor Design and Control, Wiley/AIChE, 2007, ch. 4 \
             (jacket cooling, limited cooling authority)"
                .into(),
            "A. Uppal, W. H. Ray, A. B. Poore, On the dynamic behavior of continuous stirred tank \
             reactors, Chem. Eng. Sci. 29:967-985, 1974 (multiplicity and stability)"
                .into(),
            "F. Stoessel, Thermal Safety of Chemical Processes, Wiley-VCH, 2008 (runaway, \
             temperature trips)"
                .into(),
        ],
        observations: vec![
            Dim::new("C_A", "mol/L", 0.0, 1.2),
            Dim::new("T", "K", 280.0, 460.0),
            Dim::new("T_j", "K", 250.0, 460.0),
            Dim::new("T_f", "K", 340.0, 360.0),
            Dim::new("C_A_sp", "mol/L", SP_LOW, SP_HIGH),
            Dim::new("F_c_prev", "L/min", 0.0, p.coolant_flow_max),
            Dim::new("time", "min", 0.0, HORIZON as f64 * DT_MIN),
        ],
        actions: vec![Dim::new("F_c", "L/min", 0.0, p.coolant_flow_max)],
        dt: DT_S,
        horizon: HORIZON,
        constraints: vec![
            ConstraintSpec::hard_max(
                "T_max",
                T_TRIP,
                "K",
                "Reactor temperature; high-high trip of the safety instrumented system, 20 K \
                 above the hottest normal operating point and below the ignited (runaway) \
                 steady state for every brine flow outside 21.8-22.4 L/min, so a runaway is \
                 caught on its way up (in that band the ignited state, 370-375 K, lies just below).",
            ),
            ConstraintSpec::soft_max(
                "C_A_band",
                SPEC_BAND,
                "mol/L",
                "|C_A - C_A_sp|: product specification band (+/-10 % of the nominal product \
                 concentration).",
            ),
            ConstraintSpec::soft_max(
                "F_c_rate",
                MAX_FLOW_STEP,
                "L/min",
                "|F_c(t) - F_c(t-1)| per 3 s interval: 10 % of the valve range; faster moves \
                 wear the valve and upset the shared brine header.",
            ),
        ],
        reward_range: (-(QUALITY_CAP + COOLANT_COST), 0.0),
        ref_random_return: -1684.662154271729,
        ref_expert_return: -286.5795723517679,
        breach: super::spec::BreachPenalty::RemainingHorizon,
    }
}

impl Model for ChemicalReactor {
    fn spec(&self) -> &EnvSpec {
        &self.spec
    }

    fn state_dim(&self) -> usize {
        STATE_DIM
    }

    fn reset(&self, state: &mut [f64], rng: &mut EnvRng) {
        for i in 0..N_SEGMENTS {
            state[S_SP0 + i] = uniform_in(rng, SP_LOW, SP_HIGH);
        }
        let sp0 = state[S_SP0];
        let (t, tj, fc) = self.p.steady_state_for(sp0, self.p.caf, self.p.tf);
        state[S_CA] = sp0 + uniform_in(rng, -0.02, 0.02);
        state[S_T] = t + uniform_in(rng, -1.0, 1.0);
        state[S_TJ] = tj + uniform_in(rng, -1.0, 1.0);
        if self.options.disturbances {
            let (n_tf, n_caf) = normal_pair(rng);
            state[S_TF] = self.p.tf + TF_SIGMA * n_tf;
            state[S_CAF] = self.p.caf + CAF_SIGMA * n_caf;
        } else {
            state[S_TF] = self.p.tf;
            state[S_CAF] = self.p.caf;
        }
        state[S_FC] = fc;
        state[S_DFC] = 0.0;
        state[S_STEP] = 0.0;
    }

    fn step(&self, state: &mut [f64], action: &[f64], rng: &mut EnvRng) -> Transition {
        let fc = action[0];
        let (tf, caf) = (state[S_TF], state[S_CAF]);
        let sp = Self::setpoint(state, state[S_STEP]);
        self.advance(state, fc, |x, d| self.rhs(x, fc, tf, caf, d));
        if self.options.disturbances {
            let (n_tf, n_caf) = normal_pair(rng);
            state[S_TF] = self.p.tf + self.ou_a * (tf - self.p.tf) + TF_SIGMA * self.ou_s * n_tf;
            state[S_CAF] =
                self.p.caf + self.ou_a * (caf - self.p.caf) + CAF_SIGMA * self.ou_s * n_caf;
        }
        let quality = ((state[S_CA] - sp).abs() / SPEC_BAND).min(QUALITY_CAP);
        let energy = COOLANT_COST * fc / self.p.coolant_flow_max;
        Transition {
            reward: -(quality + energy),
            terminal: false,
        }
    }

    fn observe(&self, state: &[f64], obs: &mut [f32], rng: &mut EnvRng) {
        let (mut n_ca, mut n_t, mut n_tj, mut n_tf) = (0.0, 0.0, 0.0, 0.0);
        if self.options.sensor_noise {
            let (a, b) = normal_pair(rng);
            let (c, d) = normal_pair(rng);
            n_ca = NOISE_CA * a;
            n_t = NOISE_T * b;
            n_tj = NOISE_TJ * c;
            n_tf = NOISE_TF * d;
        }
        obs[OBS_CA] = (state[S_CA] + n_ca) as f32;
        obs[OBS_T] = (state[S_T] + n_t) as f32;
        obs[OBS_TJ] = (state[S_TJ] + n_tj) as f32;
        obs[OBS_TF] = (state[S_TF] + n_tf) as f32;
        obs[OBS_CA_SP] = Self::setpoint(state, state[S_STEP]) as f32;
        obs[OBS_FC_PREV] = state[S_FC] as f32;
        obs[OBS_TIME] = (state[S_STEP] * DT_MIN) as f32;
    }

    fn constraints(&self, state: &[f64], out: &mut [f64]) {
        out[0] = state[S_T];
        out[1] = (state[S_CA] - Self::setpoint(state, state[S_STEP])).abs();
        out[2] = state[S_DFC].abs();
    }

    fn safe_action(&self, _state: &[f64], action: &mut [f64]) {
        // Emergency cooling: brine valve fully open. The feed cut-off and the
        // quench are the shutdown's (`shutdown_step`), outside the policy's
        // action space.
        action[0] = self.p.coolant_flow_max;
    }

    fn shutdown(&self) -> Option<&Shutdown> {
        Some(&self.shutdown)
    }

    fn shutdown_step(&self, state: &mut [f64], _k: usize, _rng: &mut EnvRng) {
        let fc = self.p.coolant_flow_max;
        self.advance(state, fc, |x, d| self.rhs_quench(x, d));
    }
}

/// Registry constructor.
pub fn build(options: EnvOptions) -> Arc<dyn Model> {
    Arc::new(ChemicalReactor::new(options))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> EnvRng {
        EnvRng::seed_from_u64(1)
    }

    /// A deterministic reactor with parameters `p`.
    fn reactor(p: Params, substeps: usize) -> ChemicalReactor {
        ChemicalReactor::with_params(EnvOptions::deterministic(), p, substeps)
    }

    /// A state with the given reactor variables, nominal feed and all
    /// set-points at 0.5 mol/L.
    fn state_with(p: &Params, ca: f64, t: f64, tj: f64, fc: f64) -> [f64; STATE_DIM] {
        let mut s = [0.5; STATE_DIM];
        s[S_CA] = ca;
        s[S_T] = t;
        s[S_TJ] = tj;
        s[S_TF] = p.tf;
        s[S_CAF] = p.caf;
        s[S_FC] = fc;
        s[S_DFC] = 0.0;
        s[S_STEP] = 0.0;
        s
    }

    /// Steady-state energy balance at constant brine flow `f`, written out
    /// independently of the model: `C_A` from the component balance, the
    /// jacket folded into an effective conductance.
    fn energy_residual(p: &Params, f: f64, t: f64) -> f64 {
        let k = p.k0 * libm::exp(-p.e_over_r / t);
        let ca = p.feed_flow * p.caf / (p.feed_flow + p.volume * k);
        let ua_eff = 1.0 / (1.0 / p.ua + 1.0 / (p.coolant_rho_cp * f));
        p.rho * p.cp * p.feed_flow * (p.tf - t) - p.delta_h * p.volume * k * ca
            + ua_eff * (p.coolant_inlet_t - t)
    }

    /// All steady-state temperatures in [250, 700] K by scanning and bisection.
    fn steady_temperatures(p: &Params, f: f64) -> Vec<f64> {
        let mut roots = vec![];
        let mut a = 250.0;
        while a < 700.0 {
            let b = a + 0.25;
            let (fa, fb) = (energy_residual(p, f, a), energy_residual(p, f, b));
            if fa * fb < 0.0 {
                let (mut lo, mut hi) = (a, b);
                for _ in 0..200 {
                    let mid = 0.5 * (lo + hi);
                    if energy_residual(p, f, lo) * energy_residual(p, f, mid) <= 0.0 {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
                roots.push(0.5 * (lo + hi));
            }
            a = b;
        }
        roots
    }

    /// Full steady state `(C_A, T, T_j)` at temperature root `t` and flow `f`.
    fn full_steady_state(p: &Params, f: f64, t: f64) -> (f64, f64, f64) {
        let k = p.k0 * libm::exp(-p.e_over_r / t);
        let ca = p.feed_flow * p.caf / (p.feed_flow + p.volume * k);
        let x = p.coolant_rho_cp * f;
        let tj = (x * p.coolant_inlet_t + p.ua * t) / (x + p.ua);
        (ca, t, tj)
    }

    fn run(m: &ChemicalReactor, s: &mut [f64; STATE_DIM], f: f64, steps: usize) {
        let mut r = rng();
        for _ in 0..steps {
            m.step(s, &[f], &mut r);
        }
    }

    #[test]
    fn three_steady_states_and_the_outer_ones_attract() {
        let p = Params::default();
        let m = reactor(p, 2);
        let (t_nom, tj_nom, f_nom) = p.steady_state_for(0.5, p.caf, p.tf);
        assert!((t_nom - 350.0).abs() < 0.01 && (tj_nom - 300.0).abs() < 0.01);
        let roots = steady_temperatures(&p, f_nom);
        assert_eq!(roots.len(), 3, "{roots:?}");
        // The middle one is the design point the closed form computed.
        assert!((roots[1] - t_nom).abs() < 1e-6, "{roots:?} vs {t_nom}");
        assert!(roots[0] < 310.0 && roots[2] > T_TRIP, "{roots:?}");
        // Open loop, from 2 K inside each basin, the reactor settles at the
        // outer steady states.
        for (root, offset) in [(roots[0], 2.0), (roots[2], -2.0)] {
            let (ca, t, tj) = full_steady_state(&p, f_nom, root);
            let mut s = state_with(&p, ca, t + offset, tj, f_nom);
            run(&m, &mut s, f_nom, 4000);
            assert!((s[S_T] - t).abs() < 1e-3, "T {} vs {}", s[S_T], t);
            assert!((s[S_CA] - ca).abs() < 1e-5, "C_A {} vs {}", s[S_CA], ca);
            assert!((s[S_TJ] - tj).abs() < 1e-3, "T_j {} vs {}", s[S_TJ], tj);
        }
    }

    #[test]
    fn middle_steady_state_is_unstable_at_the_linearised_rate() {
        let p = Params::default();
        let m = reactor(p, 2);
        let (t0, tj0, f) = p.steady_state_for(0.5, p.caf, p.tf);
        let ca0 = 0.5;
        // Jacobian of (C_A, T, T_j) at the steady state.
        let k = p.rate_constant(t0);
        let dk = k * p.e_over_r / (t0 * t0);
        let d = p.feed_flow / p.volume;
        let g = -p.delta_h / (p.rho * p.cp);
        let w = p.ua / (p.rho * p.cp * p.volume);
        let wj = p.ua / (p.coolant_rho_cp * p.jacket_volume);
        let j = [
            [-d - k, -dk * ca0, 0.0],
            [g * k, -d + g * dk * ca0 - w, w],
            [0.0, wj, -f / p.jacket_volume - wj],
        ];
        let det3 = |l: f64| {
            let a = [
                [j[0][0] - l, j[0][1], j[0][2]],
                [j[1][0], j[1][1] - l, j[1][2]],
                [j[2][0], j[2][1], j[2][2] - l],
            ];
            a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1])
                - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
                + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
        };
        // Exactly one positive eigenvalue: det(J - λI) changes sign once on (0, 100).
        let (mut lo, mut hi) = (1e-9, 100.0);
        assert!(det3(lo) * det3(hi) < 0.0);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if det3(lo) * det3(mid) <= 0.0 {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        let lambda = 0.5 * (lo + hi);
        assert!(lambda > 1.0, "unstable eigenvalue {lambda} 1/min");
        for sign in [1.0, -1.0] {
            let mut s = state_with(&p, ca0, t0 + sign * 1e-7, tj0, f);
            run(&m, &mut s, f, 20); // 1 min: the unstable mode dominates
            let d1 = s[S_T] - t0;
            run(&m, &mut s, f, 20);
            let d2 = s[S_T] - t0;
            assert!(d1 * sign > 0.0 && d2 * sign > 0.0, "{d1} {d2}");
            let rate = libm::log(d2 / d1) / (20.0 * DT_MIN);
            assert!(
                (rate - lambda).abs() < 0.01 * lambda,
                "growth {rate} vs eigenvalue {lambda}"
            );
            // And it keeps going: ignition or extinction, far from 350 K.
            run(&m, &mut s, f, 400);
            assert!((s[S_T] - t0) * sign > 30.0, "T = {}", s[S_T]);
        }
    }

    #[test]
    fn flushing_without_reaction_is_first_order_with_time_constant_v_over_q() {
        let p = Params {
            k0: 0.0,
            ..Params::default()
        };
        let m = reactor(p, 2);
        let ca0 = 0.2;
        let mut s = state_with(&p, ca0, 340.0, 300.0, 10.0);
        let mut r = rng();
        for n in 1..=60 {
            m.step(&mut s, &[10.0], &mut r);
            let t = n as f64 * DT_MIN;
            let exact = p.caf + (ca0 - p.caf) * libm::exp(-t * p.feed_flow / p.volume);
            assert!((s[S_CA] - exact).abs() < 1e-8, "{} vs {exact}", s[S_CA]);
        }
    }

    #[test]
    fn without_reaction_temperatures_settle_at_the_linear_heat_balance() {
        let p = Params {
            k0: 0.0,
            ..Params::default()
        };
        let m = reactor(p, 2);
        let f = 12.0;
        // 0 = a (T_f - T) + w (T_j - T);  0 = b (T_ci - T_j) + wj (T - T_j)
        let a = p.feed_flow / p.volume;
        let w = p.ua / (p.rho * p.cp * p.volume);
        let b = f / p.jacket_volume;
        let wj = p.ua / (p.coolant_rho_cp * p.jacket_volume);
        let tj_of_t = |t: f64| (b * p.coolant_inlet_t + wj * t) / (b + wj);
        // Substitute: a (T_f - T) + w (tj_of_t(T) - T) = 0 is linear in T.
        let c1 = a + w - w * wj / (b + wj);
        let c0 = a * p.tf + w * b * p.coolant_inlet_t / (b + wj);
        let t_ss = c0 / c1;
        let mut s = state_with(&p, 0.5, 330.0, 290.0, f);
        run(&m, &mut s, f, 600);
        assert!((s[S_T] - t_ss).abs() < 1e-6, "{} vs {t_ss}", s[S_T]);
        assert!((s[S_TJ] - tj_of_t(t_ss)).abs() < 1e-6);
    }

    #[test]
    fn adiabatic_batch_conserves_enthalpy() {
        // q = 0, UA = 0: T + (-ΔH)/(ρ c_p) C_A is invariant.
        let p = Params {
            feed_flow: 0.0,
            ua: 0.0,
            ..Params::default()
        };
        let m = reactor(p, 2);
        let mut s = state_with(&p, 0.2, 320.0, 300.0, 0.0);
        let beta = -p.delta_h / (p.rho * p.cp);
        let h0 = s[S_T] + beta * s[S_CA];
        run(&m, &mut s, 0.0, 600);
        assert!(s[S_CA] < 0.1, "the batch must react: C_A = {}", s[S_CA]);
        let h1 = s[S_T] + beta * s[S_CA];
        assert!((h1 - h0).abs() < 1e-9 * h0, "{h0} -> {h1}");
        assert!((s[S_T] - (320.0 + beta * (0.2 - s[S_CA]))).abs() < 1e-9 * h0);
    }

    /// One-step error against a 200-sub-step reference, from states along
    /// trajectories under random valve moves (below the trip): two sub-steps
    /// stay an order of magnitude below the sensor noise; one sub-step does
    /// not (its jacket error exceeds the 0.05 K noise).
    #[test]
    fn one_step_error_of_two_substeps_is_below_sensor_noise() {
        let p = Params::default();
        let fine = reactor(p, 200);
        let mut worst = [[0.0f64; 3]; 2];
        for (w, n) in worst.iter_mut().zip([1, 2]) {
            let coarse = reactor(p, n);
            let mut rr = EnvRng::seed_from_u64(5);
            let mut r = rng();
            for _ in 0..30 {
                let sp = uniform_in(&mut rr, SP_LOW, SP_HIGH);
                let (t0, tj0, f0) = p.steady_state_for(sp, p.caf, p.tf);
                let mut s0 = state_with(&p, sp, t0 + uniform_in(&mut rr, -1.0, 1.0), tj0, f0);
                let f_mean = uniform_in(&mut rr, 0.0, 40.0);
                for _ in 0..150 {
                    let f = (f_mean + uniform_in(&mut rr, -20.0, 20.0)).clamp(0.0, 40.0);
                    let (mut a, mut b) = (s0, s0);
                    coarse.step(&mut a, &[f], &mut r);
                    fine.step(&mut b, &[f], &mut r);
                    if b[S_T] > T_TRIP {
                        break;
                    }
                    for (wi, i) in w.iter_mut().zip([S_T, S_TJ, S_CA]) {
                        *wi = wi.max((a[i] - b[i]).abs());
                    }
                    s0 = b;
                }
            }
        }
        let [one, two] = worst;
        assert!(two[0] < 2e-3 && two[1] < 1e-2 && two[2] < 1e-5, "{two:?}");
        assert!(one[1] > NOISE_TJ, "one sub-step would do: {one:?}");
    }

    #[test]
    fn two_rk4_substeps_match_a_fine_reference() {
        let p = Params::default();
        let (coarse, fine) = (reactor(p, 2), reactor(p, 100));
        let (t0, tj0, f0) = p.steady_state_for(0.5, p.caf, p.tf);
        for f in [0.0, f0 + 1.0, 25.0, 40.0] {
            let mut a = state_with(&p, 0.52, t0 + 0.5, tj0, f0);
            let mut b = a;
            let mut r = rng();
            for _ in 0..40 {
                coarse.step(&mut a, &[f], &mut r);
                fine.step(&mut b, &[f], &mut r);
                if b[S_T] > T_TRIP {
                    break;
                }
                assert!(
                    (a[S_T] - b[S_T]).abs() < 0.01,
                    "F {f}: {} vs {}",
                    a[S_T],
                    b[S_T]
                );
                assert!((a[S_TJ] - b[S_TJ]).abs() < 0.01);
                assert!((a[S_CA] - b[S_CA]).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn closed_form_steady_state_is_an_equilibrium_of_the_model() {
        let p = Params::default();
        let m = reactor(p, 2);
        for ca in [SP_LOW, 0.5, SP_HIGH] {
            let (t, tj, f) = p.steady_state_for(ca, p.caf, p.tf);
            assert!(f > 0.0 && f < p.coolant_flow_max, "{ca}: F = {f}");
            let mut s = state_with(&p, ca, t, tj, f);
            run(&m, &mut s, f, 1);
            assert!((s[S_T] - t).abs() < 1e-9 && (s[S_CA] - ca).abs() < 1e-11);
            assert!((s[S_TJ] - tj).abs() < 1e-9);
        }
    }

    #[test]
    fn reset_is_safe_and_near_the_first_setpoint() {
        for options in [EnvOptions::deterministic(), EnvOptions::default()] {
            let m = ChemicalReactor::new(options);
            let mut r = rng();
            let mut s = [0.0; STATE_DIM];
            let mut c = [0.0; 3];
            for _ in 0..500 {
                m.reset(&mut s, &mut r);
                m.constraints(&s, &mut c);
                assert!(c[0] < T_TRIP - 15.0, "T = {}", c[0]);
                assert!(c[1] <= 0.02 + 1e-12 && c[2] == 0.0);
                assert!(s[S_FC] > 0.0 && s[S_FC] < m.params().coolant_flow_max);
                for i in 0..N_SEGMENTS {
                    assert!((SP_LOW..SP_HIGH).contains(&s[S_SP0 + i]));
                }
            }
        }
    }

    #[test]
    fn noise_and_disturbances_only_when_enabled() {
        let det = ChemicalReactor::new(EnvOptions::deterministic());
        let mut r = rng();
        let mut s = [0.0; STATE_DIM];
        det.reset(&mut s, &mut r);
        let mut obs = [0f32; 7];
        for _ in 0..50 {
            det.step(&mut s, &[16.0], &mut r);
            det.observe(&s, &mut obs, &mut r);
            assert_eq!((s[S_TF], s[S_CAF]), (350.0, 1.0));
            assert_eq!(obs[OBS_T], s[S_T] as f32);
            assert_eq!(obs[OBS_CA], s[S_CA] as f32);
        }
        let noisy = ChemicalReactor::new(EnvOptions::default());
        noisy.reset(&mut s, &mut r);
        let tf0 = s[S_TF];
        noisy.step(&mut s, &[16.0], &mut r);
        noisy.observe(&s, &mut obs, &mut r);
        assert_ne!(s[S_TF], tf0);
        assert_ne!(obs[OBS_T], s[S_T] as f32);
    }

    #[test]
    fn setpoint_schedule_rate_signal_and_reward() {
        let p = Params::default();
        let m = reactor(p, 2);
        let (t, tj, f) = p.steady_state_for(0.5, p.caf, p.tf);
        let mut s = state_with(&p, 0.5, t, tj, f);
        for i in 0..N_SEGMENTS {
            s[S_SP0 + i] = 0.43 + 0.01 * i as f64;
        }
        let mut r = rng();
        let mut obs = [0f32; 7];
        let mut c = [0.0; 3];
        for n in 0..HORIZON {
            let sp_seen = s[S_SP0 + n / SEGMENT_STEPS];
            let fc = if n % 2 == 0 { f + 3.0 } else { f - 3.0 };
            let prev = s[S_FC];
            let tr = m.step(&mut s, &[fc], &mut r);
            let expected = -(((s[S_CA] - sp_seen).abs() / SPEC_BAND).min(QUALITY_CAP)
                + COOLANT_COST * fc / p.coolant_flow_max);
            assert_eq!(tr.reward, expected);
            m.constraints(&s, &mut c);
            assert!((c[2] - (fc - prev).abs()).abs() < 1e-12);
            m.observe(&s, &mut obs, &mut r);
            let k = ((n + 1) / SEGMENT_STEPS).min(N_SEGMENTS - 1);
            assert_eq!(obs[OBS_CA_SP], s[S_SP0 + k] as f32);
            assert!((obs[OBS_TIME] as f64 - (n + 1) as f64 * DT_MIN).abs() < 1e-4);
        }
    }

    #[test]
    fn normal_pairs_are_independent_standard_normals() {
        let mut r = rng();
        let n = 200_000;
        let (mut m, mut v, mut c) = ([0.0; 2], [0.0; 2], 0.0);
        for _ in 0..n {
            let (a, b) = normal_pair(&mut r);
            m[0] += a;
            m[1] += b;
            v[0] += a * a;
            v[1] += b * b;
            c += a * b;
        }
        let nf = n as f64;
        for i in 0..2 {
            assert!((m[i] / nf).abs() < 0.01, "mean {}", m[i] / nf);
            assert!((v[i] / nf - 1.0).abs() < 0.01, "var {}", v[i] / nf);
        }
        assert!((c / nf).abs() < 0.01, "correlation {}", c / nf);
    }

    /// `cargo test -p neorl --release --lib chemical_reactor::tests::timing -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn timing() {
        let m = ChemicalReactor::new(EnvOptions::default());
        let mut r = rng();
        let mut s = [0.0; STATE_DIM];
        let mut obs = [0f32; 7];
        let mut c = [0.0; 3];
        m.reset(&mut s, &mut r);
        let (_, _, f) = m.params().steady_state_for(0.5, 1.0, 350.0);
        let n = 2_000_000;
        let t0 = std::time::Instant::now();
        let mut acc = 0.0;
        for i in 0..n {
            if i % HORIZON == 0 {
                m.reset(&mut s, &mut r);
            }
            acc += m.step(&mut s, &[f], &mut r).reward;
            m.constraints(&s, &mut c);
            m.observe(&s, &mut obs, &mut r);
        }
        let ns = t0.elapsed().as_nanos() as f64 / n as f64;
        let m2 = ChemicalReactor::new(EnvOptions::deterministic());
        let t1 = std::time::Instant::now();
        for i in 0..n {
            if i % HORIZON == 0 {
                m2.reset(&mut s, &mut r);
            }
            acc += m2.step(&mut s, &[f], &mut r).reward;
            m2.constraints(&s, &mut c);
            m2.observe(&s, &mut obs, &mut r);
        }
        let ns2 = t1.elapsed().as_nanos() as f64 / n as f64;
        let t2 = std::time::Instant::now();
        let mut x = 300.0;
        for _ in 0..n {
            x = 300.0 + 0.5 * libm::exp(-8750.0 / x);
        }
        let ns3 = t2.elapsed().as_nanos() as f64 / n as f64;
        println!("libm::exp: {ns3:.1} ns/call [{x}]");
        println!(
            "ChemicalReactor: {ns:.0} ns/step (noise + disturbances), {ns2:.0} ns/step (deterministic) [{acc}]"
        );
    }

    /// The shutdown stops a runaway: along ignitions at several constant
    /// brine flows (the valve shut, and flows too small to hold the
    /// unstable point), from every state below 372 K the quench's peak
    /// stays below the 375 K limit, and after its 2 min the reactor is
    /// cold and flushed of reactant.
    #[test]
    fn quench_stops_a_runaway_from_below_372_k() {
        let p = Params::default();
        let m = reactor(p, 2);
        let mut rng = rng();
        let mut checked = 0;
        for f in [0.0, 4.0, 8.0, 12.0, 14.0] {
            let mut s = state_with(&p, 0.5, 351.0, 300.0, 16.07);
            for _ in 0..400 {
                if s[S_T] >= 372.0 {
                    break;
                }
                let mut q = s;
                let mut peak = q[S_T];
                for k in 0..SHUTDOWN_STEPS {
                    m.shutdown_step(&mut q, k, &mut rng);
                    peak = peak.max(q[S_T]);
                }
                assert!(
                    peak < T_TRIP,
                    "F_c={f}: from T={:.2} the quench peaks at {peak:.2} K",
                    s[S_T]
                );
                assert!(
                    q[S_T] < 300.0 && q[S_CA] < 0.01,
                    "F_c={f}: not flushed: {q:?}"
                );
                checked += 1;
                m.step(&mut s, &[f], &mut rng);
            }
            assert!(s[S_T] >= 372.0, "F_c={f} did not ignite the reactor");
        }
        assert!(checked > 30);
    }

    /// The shutdown's transient is a function of the state alone (the
    /// shield predicts it exactly): it draws nothing, and the feed drift
    /// does not enter it.
    #[test]
    fn shutdown_is_deterministic_and_ignores_the_feed() {
        let p = Params::default();
        let m = ChemicalReactor::new(EnvOptions::default());
        let mut a = state_with(&p, 0.45, 365.0, 310.0, 10.0);
        let mut b = a;
        b[S_TF] = 355.0;
        b[S_CAF] = 1.05;
        let (mut r1, mut r2) = (EnvRng::seed_from_u64(1), EnvRng::seed_from_u64(2));
        for k in 0..SHUTDOWN_STEPS {
            m.shutdown_step(&mut a, k, &mut r1);
            m.shutdown_step(&mut b, k, &mut r2);
            assert_eq!(a[..S_TF], b[..S_TF]);
        }
        assert_eq!(
            r1,
            EnvRng::seed_from_u64(1),
            "the shutdown drew from the RNG"
        );
        let sd = m.shutdown().expect("the reactor has a shutdown");
        assert_eq!(
            (sd.steps, sd.reward_per_step),
            (SHUTDOWN_STEPS, -QUALITY_CAP)
        );
    }
}
