//! # WaterTreatment-v0 — chlorination and pH adjustment in a drinking-water clearwell
//!
//! ## Process
//!
//! Filtered water enters a covered, baffled chlorine-contact tank (clearwell)
//! of plan area A = 300 m² (e.g. 20 m × 15 m) and 5 m wall height, from
//! which the high-service pumps draw the town's demand. Three chemicals are
//! injected into the inlet pipe by metering pumps just upstream of the tank:
//! sodium hypochlorite (disinfection: a free-chlorine residual must leave the
//! plant), 50 % caustic soda (pH raise for corrosion control) and 93 %
//! sulfuric acid (pH trim down, when the raw water is above the pH set-point);
//! caustic and acid are the two halves of a split-range pH loop. The inlet
//! flow is set by the filter-effluent flow controller (its set-point is an
//! action: the fast flow loop is assumed to track within one control
//! interval). The operator's task: hold the outlet free-chlorine residual,
//! the outlet pH and the clearwell level at their set-points at the lowest
//! chemical and pumping cost, through diurnal demand swings and changes in
//! raw-water quality (chlorine demand, pH, alkalinity).
//!
//! The serpentine baffling is represented by the tanks-in-series model with
//! two equal, perfectly mixed compartments sharing one free surface
//! (Crittenden et al., 2012, ch. 13; a baffling factor T10/T ≈ 0.5 lies
//! between one and three tanks in series). The chlorine analyser and the pH
//! electrode sample the outlet compartment, which is also where the limits
//! apply (the point of entry to the distribution system).
//!
//! ## Model equations
//!
//! Level (one free surface, both compartments of volume V₁ = V₂ = A h / 2):
//!
//! ```text
//! dh/dt = (q_in − q_out) / A
//! q_out = q_dem(t) · clamp((h − 0.3 m) / 0.5 m, 0, 1)     (pumps lose suction below 0.8 m)
//! q_12  = q_in − A/2 · dh/dt = (q_in + q_out) / 2          (flow through the baffle)
//! ```
//!
//! For every dissolved species X with inlet concentration X_in and reaction
//! rate R_X, the balances of the two compartments with varying volume are
//! (using d(V X)/dt = V dX/dt + X dV/dt)
//!
//! ```text
//! dX₁/dt = (ṅ_X + q_in (X_in − X₁)) / V₁ − R_X(X₁)
//! dX₂/dt =  q_12 (X₁ − X₂) / V₂          − R_X(X₂)
//! ```
//!
//! where ṅ_X is the injected chemical. The species are:
//!
//! * **Free chlorine** C (HOCl + OCl⁻, mg/L as Cl₂). Two parallel reactions
//!   (the "fast demand + slow bulk decay" model of Clark, 1998, the
//!   first-order bulk term as in EPANET, Rossman et al., 1994):
//!   `R_C = k_b C + k_f C D`, with a fast-reacting demand D (mg/L as Cl₂,
//!   reduced organics, Fe²⁺, Mn²⁺, NH₃ from the filtered water) that is
//!   consumed mass for mass, `R_D = k_f C D`. With no demand and no flow the
//!   residual decays as C(t) = C(0) e^{−k_b t}.
//! * **Strong-ion excess** W = [Na⁺] − [Cl⁻] − 2[SO₄²⁻] + … (mmol/L,
//!   equivalents of strong base; a reaction invariant of Gustafsson & Waller,
//!   1983). Caustic adds 1 eq/mol, sulfuric acid removes 2 eq/mol, sodium
//!   hypochlorite adds 1 eq of Na⁺ per mole of OCl⁻, and every mole of free
//!   chlorine reduced to chloride (HOCl + RH → ROH + H⁺ + Cl⁻) removes one
//!   equivalent: `R_W = R_C / M_Cl₂`.
//! * **Total inorganic carbon** C_T = [H₂CO₃*] + [HCO₃⁻] + [CO₃²⁻]
//!   (mmol/L, the second invariant; the covered tank does not degas CO₂).
//!
//! The pH follows from the electroneutrality condition of the outlet water,
//! solved for [H⁺] each step (McMillan, 1994, ch. 2; Stumm & Morgan, 1996,
//! ch. 4):
//!
//! ```text
//! f(H) = H + W − K_w/H − C_T (K₁H + 2K₁K₂)/(H² + K₁H + K₁K₂) − C_Cl K_a/(K_a + H) = 0
//! ```
//!
//! (all in mol/L, C_Cl = C / 70 906 mg/mol the free chlorine as HOCl + OCl⁻).
//! f is strictly increasing in H (f′ = 1 + K_w/H² + … > 0), so the root is
//! unique. It is found by Newton's method in H with each step confined to
//! [H/10, 10 H] (no transcendental functions in the loop), a fixed number of
//! iterations: 60 from a cold start (reset), 8 warm-started from the
//! previous step's [H⁺] (kept in the state; a test checks the warm root
//! against the cold one to 1e-8 pH along uniformly random action
//! sequences). Activity corrections are neglected (ionic strength ≈ 3 mM,
//! γ± ≈ 0.94: a bias of a few hundredths of a pH unit that a plant's
//! electrode calibration absorbs).
//!
//! The inlet water's C_T follows from its measured pH and alkalinity (W_in =
//! Alk_in for water without free chlorine):
//! `C_T,in = (Alk_in − K_w/H_in + H_in) / (α₁ + 2α₂)(H_in)`.
//!
//! The amperometric chlorine analyser sees the outlet through a sample line
//! and membrane: a first-order lag, `dC_m/dt = (C₂ − C_m)/τ_a`.
//!
//! ## State (28 values, layout in [`sx`])
//!
//! h [m]; C₁, D₁ [mg/L]; W₁, C_T1 [mmol/L]; C₂, D₂ [mg/L]; W₂, C_T2 [mmol/L];
//! C_m analyser reading [mg/L] (these ten are integrated); pH₂ and [H⁺]₂
//! [mol/L] of the outlet (read by the constraints, warm start of the
//! solver); sin, cos of the time-of-day phase (advanced by an exact
//! rotation each step); the demand scenario (base flow [m³/s],
//! Ornstein–Uhlenbeck deviation [-], current outflow [m³/s]); raw-water
//! chlorine demand (base, current) [mg/L]; raw-water pH (base, current);
//! raw-water alkalinity (base, current) [meq/L] and the C_T,in they imply
//! [mmol/L]; the inlet flow applied last step [m³/s]; the three set-points.
//!
//! ## Actions (metering pumps and the inlet flow set-point)
//!
//! | name        | unit  | range   | what                                                  |
//! |-------------|-------|---------|-------------------------------------------------------|
//! | `hypo_feed` | L/h   | 0 – 60  | 12.5 trade-% NaOCl, 125 g/L available Cl₂              |
//! | `caustic_feed` | L/h | 0 – 120 | 50 % w/w NaOH, ρ = 1.525 kg/L → 19.06 mol/L          |
//! | `acid_feed` | L/h   | 0 – 15  | 93 % w/w H₂SO₄, ρ = 1.828 kg/L → 34.7 eq/L             |
//! | `q_in`      | m³/s  | 0 – 0.6 | filtered-water inflow                                  |
//!
//! ## Observations
//!
//! | name        | unit  | noise σ | source                                   |
//! |-------------|-------|---------|------------------------------------------|
//! | `level`     | m     | 0.005   | radar level transmitter                  |
//! | `pH`        | -     | 0.02    | outlet pH electrode                      |
//! | `cl_residual` | mg/L | 0.02   | outlet amperometric analyser (lag τ_a)   |
//! | `q_in`      | m³/s  | 0.003   | inlet magnetic flow meter                |
//! | `q_out`     | m³/s  | 0.003   | high-service discharge flow meter        |
//! | `raw_pH`    | -     | 0.02    | inlet pH electrode                       |
//! | `raw_alkalinity` | meq/L | 0.02 | inlet titrimetric alkalinity analyser |
//! | `cl_setpoint`, `pH_setpoint`, `level_setpoint` | mg/L, -, m | none | operator set-points |
//! | `tod_sin`, `tod_cos` | - | none | time of day, phase 2π t / 24 h        |
//!
//! ## Parameters
//!
//! | symbol | value | unit | source |
//! |---|---|---|---|
//! | A | 300 | m² | clearwell of a ≈ 20 000 m³/d plant, HRT ≈ 1 h (Crittenden et al., 2012) |
//! | overflow weir | 4.8 | m | 0.2 m freeboard below a 5 m wall |
//! | k_b | 0.1 | 1/h | bulk decay of treated surface water, a typical magnitude (Powell et al., 2000) |
//! | k_f | 0.05 | L/(mg·min) | fast second-order demand reaction, the order of magnitude of Clark (1998) |
//! | D_in | 0.4 – 2.5 | mg/L | short-term chlorine demand of filtered surface water (White, 2010) |
//! | pK_w, pK₁, pK₂ | 14.00, 6.35, 10.33 | - | 25 °C, Stumm & Morgan (1996) |
//! | pK_a(HOCl) | 7.54 | - | 25 °C, Morris (1966) |
//! | τ_a | 90 | s | analyser sample line + membrane response |
//! | hypochlorite | 125 g/L as Cl₂, 0.30 $/L | | 12.5 trade-% (White, 2010) |
//! | caustic | 19.06 mol/L, 0.50 $/L | | 50 % NaOH, ρ = 1.525 (Perry's) |
//! | acid | 34.7 eq/L, 0.40 $/L | | 93 % H₂SO₄, ρ = 1.828 (Perry's) |
//! | inlet pumping | 12 m head, η = 0.70, 0.12 $/kWh | | |
//!
//! Chemical prices are typical US bulk delivered prices of the early 2020s
//! (order of magnitude; they set the trade-off, not an exact budget).
//!
//! ## Constraints
//!
//! * **hard** `cl_residual_max`: outlet free chlorine ≤ 4.0 mg/L — the US EPA
//!   maximum residual disinfectant level for chlorine (Stage 1 D/DBP Rule,
//!   40 CFR 141.65). The MRDL itself is a running annual average in the
//!   distribution system; a plant enforces it instantaneously at the point
//!   of entry with a high-residual interlock that stops the feed and the
//!   high-service pumps.
//! * **hard** `level_max`: level ≤ 4.8 m — the overflow weir: chlorinated
//!   water spills to the storm drain (a reportable discharge).
//! * **soft** `pH_min` / `pH_max`: 6.5 ≤ pH ≤ 8.5 — the US secondary
//!   standard (40 CFR 143.3), corrosivity and taste.
//! * **soft** `cl_residual_min`: free chlorine ≥ 0.2 mg/L — the minimum
//!   residual entering the distribution system (40 CFR 141.72).
//! * **soft** `level_min`: level ≥ 1.5 m — below it the contact time (CT)
//!   credit and the pumps' suction head are lost.
//!
//! ## Reward
//!
//! The negative cost of the step in US dollars: chemicals
//! (Σ feed × price), inlet pumping energy (ρ g H q_in / η × price), and
//! quality penalties expressed as equivalent costs per hour,
//! 40 $/h per (mg/L)² of residual error, 60 $/h per pH² of pH error and
//! 10 $/h per m² of level error, times dt. Clamped to [−3, 0] $ per step
//! (−3 $/step = 180 $/h, well above the running cost of any sensible
//! operation, so an early safety trip, charged −3 for every remaining step,
//! never pays).
//!
//! ## Disturbances (`options.disturbances`)
//!
//! Drawn every step in this order: the demand deviation (OU, τ = 30 min,
//! σ = 5 % of the base flow, on top of a deterministic diurnal pattern
//! 1 + 0.25 sin(…) with its minimum at 04:00 and maximum at 16:00); the
//! raw-water chlorine demand (OU around its base, τ = 2 h, σ = 0.15 mg/L);
//! a storm event (Poisson, 1 per 12 h) that raises the demand base by
//! 0.3–0.8 mg/L and lowers the alkalinity base by 0.1–0.3 meq/L; raw pH (OU,
//! τ = 2 h, σ = 0.1); raw alkalinity (OU, τ = 3 h, σ = 0.08 meq/L). The
//! storm's magnitude is drawn every step whether or not a storm occurs, so
//! the stream position never depends on the outcome. Without
//! disturbances the diurnal demand pattern remains (it is deterministic).
//!
//! ## Reset
//!
//! Drawn in this order: base demand 0.18–0.28 m³/s (≈ 15 000–24 000 m³/d),
//! time of day (uniform over 24 h), raw chlorine demand 0.4–1.4 mg/L, raw
//! pH 6.5–8.0, raw alkalinity 0.5–1.5 meq/L, set-points (residual
//! 0.8–1.5 mg/L, pH 7.2–7.8, level 3.0–3.6 m), initial level 2.6–3.9 m,
//! initial residual 0.4–2.0 mg/L in both compartments, initial pH = pH
//! set-point + U(−0.4, 0.3) (the tank holds the raw water's carbonate
//! brought to that pH). Every reset state satisfies the hard limits.
//!
//! ## Integration
//!
//! Inputs are held over the control interval dt = 60 s; the ten
//! differential states are integrated with one classical RK4 step per
//! interval. The fastest modes are the mixing of a nearly empty inlet
//! compartment (V₁ ≥ 45 m³ at the pumps' 0.3 m cut-off, q_in ≤ 0.6 m³/s:
//! λ ≤ 0.013 /s), the fast demand (k_f C ≤ 0.01 /s) and the analyser
//! (1/90 s): h|λ| ≤ 0.8, inside RK4's stability interval (2.78), with a
//! local error below 0.5 % in that extreme corner and below 1e-9 at the
//! normal operating point (h|λ| ≈ 0.03). Concentrations are clipped at
//! zero after the step. An episode is 720 steps (12 h).
//!
//! Gaussian draws use `math::normal_pair` (ziggurat) (fixed stream
//! order; see `normal_pair`). Measured cost: 200–250 ns per step without
//! noise and disturbances and 420–560 ns with them (release build, step +
//! observe + constraints, thread CPU time on a heavily shared 2-core
//! machine; the ignored `timing` test). The eleven Gaussian draws per step
//! are about half of it.
//!
//! ## Limits of the model (on purpose)
//! * **Fixed temperature.** Every equilibrium constant (pK_w, the carbonate
//!   pK₁/pK₂, pK_a of HOCl) is its 25 °C value. Real clearwells run at
//!   2–30 °C; pK_a(HOCl) rises from 7.54 at 25 °C to 7.75 at 5 °C
//!   (Morris 1966), so the HOCl fraction at a given pH — the disinfecting part of the
//!   free chlorine — is higher in cold water than modelled, and the decay
//!   and demand rates, which are temperature-dependent too, are fixed.
//! * **No chloramines.** Ammonia in the filtered water is lumped into the
//!   fast chlorine demand `D`, consumed mass for mass. Real chlorine–ammonia
//!   chemistry forms mono- and dichloramine (combined chlorine, a weaker
//!   disinfectant that the free-chlorine analyser does not read) up to the
//!   breakpoint, about 7.6 mg Cl₂ per mg NH₃-N, and only beyond it does free
//!   chlorine build up. The model has no breakpoint curve and no combined
//!   chlorine; it fits waters with little ammonia (as filtered surface water
//!   usually has), not chloraminating plants.
//!
//! These are limits of v0 and v1 alike (`datasets/protocol/environments.md`).
//!
//! ## Sources
//!
//! See [`SOURCES`].

use super::math::{normal_pair, rk4_substeps, uniform, uniform_in};
use super::model::{EnvOptions, EnvRng, Model, Transition};
use super::spec::{ConstraintSpec, Dim, EnvSpec};
use std::sync::Arc;

/// References for the model, its parameters and its limits.
pub const SOURCES: &[&str] = &[
    "McMillan, G.K. (1994). pH Measurement and Control, 2nd ed. ISA, Research Triangle Park (charge-balance pH models, titration-curve characterisation, split-range reagent control).",
    "Gustafsson, T.K., Waller, K.V. (1983). Dynamic modeling and reaction invariant control of pH. Chemical Engineering Science 38(3), 389-398.",
    "Stumm, W., Morgan, J.J. (1996). Aquatic Chemistry, 3rd ed. Wiley, New York (carbonate equilibria, pK1 = 6.35, pK2 = 10.33, pKw = 14.0 at 25 C).",
    "Morris, J.C. (1966). The acid ionization constant of HOCl from 5 to 35 C. Journal of Physical Chemistry 70(12), 3798-3805.",
    "Clark, R.M. (1998). Chlorine demand and TTHM formation kinetics: a second-order model. Journal of Environmental Engineering 124(1), 16-24.",
    "Rossman, L.A., Clark, R.M., Grayman, W.M. (1994). Modeling chlorine residuals in drinking-water distribution systems. Journal of Environmental Engineering 120(4), 803-820.",
    "Powell, J.C., Hallam, N.B., West, J.R., Forster, C.F., Simms, J. (2000). Factors which control bulk chlorine decay rates. Water Research 34(1), 117-126.",
    "Crittenden, J.C., Trussell, R.R., Hand, D.W., Howe, K.J., Tchobanoglous, G. (2012). MWH's Water Treatment: Principles and Design, 3rd ed. Wiley (contact basins, tanks-in-series, CT).",
    "Black & Veatch (2010). White's Handbook of Chlorination and Alternative Disinfectants, 5th ed. Wiley (hypochlorite strength, flow-paced residual control).",
    "US EPA, 40 CFR 141.65 (MRDL for chlorine 4.0 mg/L as Cl2), 40 CFR 141.72 (minimum 0.2 mg/L entering distribution), 40 CFR 143.3 (pH 6.5-8.5).",
    "Perry, R.H., Green, D.W. (2008). Perry's Chemical Engineers' Handbook, 8th ed. McGraw-Hill (densities of NaOH and H2SO4 solutions).",
];

// ---------------------------------------------------------------- parameters

/// Plan area of the clearwell, m².
pub const AREA: f64 = 300.0;
/// Overflow weir height, m.
pub const LEVEL_OVERFLOW: f64 = 4.8;
/// Minimum level for CT credit and pump suction, m.
pub const LEVEL_LOW: f64 = 1.5;
/// Level at which the high-service pumps lose suction completely, m.
pub const LEVEL_TRIP: f64 = 0.3;
/// Band over which the outflow throttles above `LEVEL_TRIP`, m.
pub const LEVEL_THROTTLE: f64 = 0.5;
/// Bulk first-order chlorine decay, 1/s (0.1 /h).
pub const K_BULK: f64 = 0.1 / 3600.0;
/// Fast second-order demand rate, L/(mg·s) (0.05 L/(mg·min)).
pub const K_FAST: f64 = 0.05 / 60.0;
/// Analyser first-order lag, s.
pub const TAU_ANALYSER: f64 = 90.0;
/// Molar mass of Cl₂, mg/mmol (= g/mol).
pub const MW_CL2: f64 = 70.906;
/// Available chlorine of 12.5 trade-% hypochlorite, g/L.
pub const HYPO_STRENGTH: f64 = 125.0;
/// NaOH in 50 % caustic, mol/L.
pub const CAUSTIC_STRENGTH: f64 = 19.06;
/// Acid equivalents in 93 % sulfuric acid, eq/L.
pub const ACID_STRENGTH: f64 = 34.7;
/// Actuator limits.
pub const HYPO_MAX: f64 = 60.0;
pub const CAUSTIC_MAX: f64 = 120.0;
pub const ACID_MAX: f64 = 15.0;
pub const Q_IN_MAX: f64 = 0.6;
/// Chemical prices, $/L.
pub const PRICE_HYPO: f64 = 0.30;
pub const PRICE_CAUSTIC: f64 = 0.50;
pub const PRICE_ACID: f64 = 0.40;
/// Electricity price, $/kWh; inlet pump head, m; pump efficiency.
pub const PRICE_ELEC: f64 = 0.12;
pub const PUMP_HEAD: f64 = 12.0;
pub const PUMP_EFF: f64 = 0.70;
/// Quality penalties, $/h per unit² of error.
pub const W_RESIDUAL: f64 = 40.0;
pub const W_PH: f64 = 60.0;
pub const W_LEVEL: f64 = 10.0;
/// Most negative per-step reward, $.
pub const REWARD_MIN: f64 = -3.0;
/// Control interval, s.
pub const DT: f64 = 60.0;
/// Steps per episode (12 h).
pub const HORIZON: usize = 720;
/// RK4 sub-steps per control interval.
const SUBSTEPS: usize = 1;
/// Amplitude of the diurnal demand pattern.
pub const DIURNAL_AMPLITUDE: f64 = 0.25;

/// Hard and soft limits.
pub const RESIDUAL_MAX: f64 = 4.0;
pub const RESIDUAL_MIN: f64 = 0.2;
pub const PH_MIN: f64 = 6.5;
pub const PH_MAX: f64 = 8.5;

/// Warm-started Newton iterations per step; cold-start iterations.
const PH_ITERS_WARM: usize = 8;
const PH_ITERS_COLD: usize = 60;

// ------------------------------------------------------------ state layout

/// Indices into the state vector.
pub mod sx {
    pub const LEVEL: usize = 0;
    pub const C1: usize = 1;
    pub const D1: usize = 2;
    pub const W1: usize = 3;
    pub const CT1: usize = 4;
    pub const C2: usize = 5;
    pub const D2: usize = 6;
    pub const W2: usize = 7;
    pub const CT2: usize = 8;
    pub const C_MEAS: usize = 9;
    /// Number of integrated states.
    pub const N_ODE: usize = 10;
    pub const PH2: usize = 10;
    pub const TOD_SIN: usize = 11;
    pub const TOD_COS: usize = 12;
    pub const Q_BASE: usize = 13;
    pub const DEM_DEV: usize = 14;
    pub const Q_OUT: usize = 15;
    pub const DIN_BASE: usize = 16;
    pub const DIN: usize = 17;
    pub const PHIN_BASE: usize = 18;
    pub const PHIN: usize = 19;
    pub const ALK_BASE: usize = 20;
    pub const ALK: usize = 21;
    pub const Q_IN: usize = 22;
    pub const C_SP: usize = 23;
    pub const PH_SP: usize = 24;
    pub const H_SP: usize = 25;
    /// Outlet [H⁺], mol/L (warm start of the pH solver).
    pub const H2: usize = 26;
    /// Inlet total carbonate, mmol/L (from raw pH and alkalinity).
    pub const CT_IN: usize = 27;
    pub const DIM: usize = 28;
}

/// Indices into the observation vector.
pub mod ox {
    pub const LEVEL: usize = 0;
    pub const PH: usize = 1;
    pub const RESIDUAL: usize = 2;
    pub const Q_IN: usize = 3;
    pub const Q_OUT: usize = 4;
    pub const RAW_PH: usize = 5;
    pub const RAW_ALK: usize = 6;
    pub const C_SP: usize = 7;
    pub const PH_SP: usize = 8;
    pub const H_SP: usize = 9;
    pub const TOD_SIN: usize = 10;
    pub const TOD_COS: usize = 11;
    pub const DIM: usize = 12;
}

/// Indices into the action vector.
pub mod ax {
    pub const HYPO: usize = 0;
    pub const CAUSTIC: usize = 1;
    pub const ACID: usize = 2;
    pub const Q_IN: usize = 3;
}

// --------------------------------------------------------------- chemistry

/// Acid–base equilibrium constants at 25 °C (mol/L).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Equilibria {
    pub kw: f64,
    pub k1: f64,
    pub k2: f64,
    /// HOCl ⇌ H⁺ + OCl⁻.
    pub ka_hocl: f64,
}

impl Default for Equilibria {
    fn default() -> Self {
        Self::at_25c()
    }
}

impl Equilibria {
    /// pK_w = 14.00, pK₁ = 6.35, pK₂ = 10.33 (Stumm & Morgan, 1996),
    /// pK_a(HOCl) = 7.54 (Morris, 1966).
    pub fn at_25c() -> Self {
        Equilibria {
            kw: libm::pow(10.0, -14.0),
            k1: libm::pow(10.0, -6.35),
            k2: libm::pow(10.0, -10.33),
            ka_hocl: libm::pow(10.0, -7.54),
        }
    }

    /// Carbonate charge per mole of C_T, α₁ + 2α₂, and its derivative in H.
    #[inline]
    pub fn carbonate_charge(&self, h: f64) -> (f64, f64) {
        let k1k2 = self.k1 * self.k2;
        let inv_den = 1.0 / (h * h + self.k1 * h + k1k2);
        let num = self.k1 * h + 2.0 * k1k2;
        let a = num * inv_den;
        let da = (self.k1 - a * (2.0 * h + self.k1)) * inv_den;
        (a, da)
    }

    /// Charge balance f(H) (mol/L) and df/dH for strong-ion excess `w`,
    /// total carbonate `ct` and free chlorine `cl` (all mol/L).
    #[inline]
    pub fn charge_balance(&self, h: f64, w: f64, ct: f64, cl: f64) -> (f64, f64) {
        let (a, da) = self.carbonate_charge(h);
        let inv_h = 1.0 / h;
        let inv_kah = 1.0 / (self.ka_hocl + h);
        let b = self.ka_hocl * inv_kah;
        let db = -b * inv_kah;
        let kw_h = self.kw * inv_h;
        let f = h + w - kw_h - ct * a - cl * b;
        let df = 1.0 + kw_h * inv_h - ct * da - cl * db;
        (f, df)
    }

    /// Solve the charge balance for [H⁺] (mol/L): `iters` Newton steps from
    /// `h0`, each confined to [H/10, 10 H]. No transcendental functions,
    /// fixed iteration count: bit-reproducible.
    #[inline]
    pub fn solve_h(&self, w: f64, ct: f64, cl: f64, h0: f64, iters: usize) -> f64 {
        let mut h = h0;
        for _ in 0..iters {
            let (f, df) = self.charge_balance(h, w, ct, cl);
            let hn = h - f / df;
            h = hn.clamp(0.1 * h, 10.0 * h);
        }
        h
    }

    /// pH of water with strong-ion excess `w`, total carbonate `ct` and free
    /// chlorine `cl_mg` (mmol/L, mmol/L, mg/L as Cl₂), from a cold start.
    pub fn ph(&self, w: f64, ct: f64, cl_mg: f64) -> f64 {
        let h = self.solve_h(
            w * 1e-3,
            ct * 1e-3,
            cl_mg / MW_CL2 * 1e-3,
            1e-7,
            PH_ITERS_COLD,
        );
        -libm::log10(h)
    }

    /// [H⁺] (mol/L) of water with strong-ion excess `w`, total carbonate
    /// `ct` and free chlorine `cl_mg` (mmol/L, mmol/L, mg/L as Cl₂),
    /// warm-started from the previous root `h_prev` with fewer iterations.
    #[inline]
    pub fn h_warm(&self, w: f64, ct: f64, cl_mg: f64, h_prev: f64) -> f64 {
        self.solve_h(
            w * 1e-3,
            ct * 1e-3,
            cl_mg * (1e-3 / MW_CL2),
            h_prev,
            PH_ITERS_WARM,
        )
    }

    /// Strong-ion excess (mmol/L) of water at `ph` with total carbonate `ct`
    /// (mmol/L) and free chlorine `cl_mg` (mg/L): the closed-form inverse of
    /// the charge balance (the titration curve).
    pub fn strong_ion_excess(&self, ph: f64, ct: f64, cl_mg: f64) -> f64 {
        let h = libm::pow(10.0, -ph);
        let (a, _) = self.carbonate_charge(h);
        let b = self.ka_hocl / (self.ka_hocl + h);
        ct * a + cl_mg / MW_CL2 * b + 1e3 * (self.kw / h - h)
    }

    /// Total carbonate (mmol/L) of chlorine-free water at `ph` with
    /// alkalinity `alk` (meq/L).
    pub fn total_carbonate(&self, ph: f64, alk: f64) -> f64 {
        let h = libm::pow(10.0, -ph);
        let (a, _) = self.carbonate_charge(h);
        ((alk - 1e3 * (self.kw / h - h)) / a).max(0.0)
    }
}

// ------------------------------------------------------------------ model

/// Inputs held constant over one control interval.
#[derive(Debug, Clone, Copy)]
struct Inputs {
    q_in: f64,
    q_dem: f64,
    /// Chlorine injection, g/s.
    m_cl: f64,
    /// Net strong base injection, mol/s.
    n_base: f64,
    d_in: f64,
    w_in: f64,
    ct_in: f64,
}

/// Time derivatives of the ten integrated states.
#[inline]
fn derivatives(x: &[f64; sx::N_ODE], u: &Inputs, dx: &mut [f64; sx::N_ODE]) {
    const INV_AREA: f64 = 1.0 / AREA;
    const INV_MW: f64 = 1.0 / MW_CL2;
    const INV_TAU_A: f64 = 1.0 / TAU_ANALYSER;
    let h = x[sx::LEVEL];
    let inv_v = 2.0 * INV_AREA / h.max(0.05);
    let q_out = outflow(u.q_dem, h);
    let q12 = 0.5 * (u.q_in + q_out);
    dx[sx::LEVEL] = (u.q_in - q_out) * INV_AREA;
    // Inlet compartment.
    let c1 = x[sx::C1].max(0.0);
    let rb1 = K_BULK * c1;
    let rf1 = K_FAST * c1 * x[sx::D1].max(0.0);
    let a1 = u.q_in * inv_v;
    dx[sx::C1] = u.m_cl * inv_v - a1 * x[sx::C1] - rb1 - rf1;
    dx[sx::D1] = a1 * (u.d_in - x[sx::D1]) - rf1;
    dx[sx::W1] = u.n_base * inv_v + a1 * (u.w_in - x[sx::W1]) - (rb1 + rf1) * INV_MW;
    dx[sx::CT1] = a1 * (u.ct_in - x[sx::CT1]);
    // Outlet compartment.
    let c2 = x[sx::C2].max(0.0);
    let rb2 = K_BULK * c2;
    let rf2 = K_FAST * c2 * x[sx::D2].max(0.0);
    let a2 = q12 * inv_v;
    dx[sx::C2] = a2 * (x[sx::C1] - x[sx::C2]) - rb2 - rf2;
    dx[sx::D2] = a2 * (x[sx::D1] - x[sx::D2]) - rf2;
    dx[sx::W2] = a2 * (x[sx::W1] - x[sx::W2]) - (rb2 + rf2) * INV_MW;
    dx[sx::CT2] = a2 * (x[sx::CT1] - x[sx::CT2]);
    // Analyser.
    dx[sx::C_MEAS] = (x[sx::C2] - x[sx::C_MEAS]) * INV_TAU_A;
}

/// Outflow the high-service pumps achieve at level `h` for demand `q_dem`.
#[inline]
pub fn outflow(q_dem: f64, h: f64) -> f64 {
    q_dem * ((h - LEVEL_TRIP) / LEVEL_THROTTLE).clamp(0.0, 1.0)
}

/// Drinking-water chlorination and pH control in a clearwell.
#[derive(Debug)]
pub struct WaterTreatment {
    spec: EnvSpec,
    options: EnvOptions,
    eq: Equilibria,
    /// cos, sin of the time-of-day advance per step.
    rot: (f64, f64),
    /// cos, sin of the diurnal pattern's phase offset.
    diurnal: (f64, f64),
    /// OU decay factors per step: demand, chlorine demand, pH, alkalinity.
    phi: [f64; 4],
    /// Probability of a storm event in one interval, 1 − exp(−rate dt).
    p_storm: f64,
}

/// OU time constants, s, and stationary standard deviations.
const TAU_DEMAND: f64 = 1800.0;
const SIG_DEMAND: f64 = 0.05;
const TAU_DIN: f64 = 7200.0;
const SIG_DIN: f64 = 0.15;
const TAU_PHIN: f64 = 7200.0;
const SIG_PHIN: f64 = 0.10;
const TAU_ALK: f64 = 10800.0;
const SIG_ALK: f64 = 0.08;
/// Storm events per second (one per 12 h).
const STORM_RATE: f64 = 1.0 / 43200.0;

impl WaterTreatment {
    pub fn new(options: EnvOptions) -> Self {
        let omega = std::f64::consts::TAU / 86400.0;
        // Diurnal minimum at 04:00, maximum at 16:00: sin(θ − φ₀), φ₀ = 5π/6.
        let phi0 = 5.0 * std::f64::consts::PI / 6.0;
        let ou = |tau: f64| libm::exp(-DT / tau);
        WaterTreatment {
            options,
            eq: Equilibria::at_25c(),
            rot: (libm::cos(omega * DT), libm::sin(omega * DT)),
            diurnal: (libm::cos(phi0), libm::sin(phi0)),
            phi: [ou(TAU_DEMAND), ou(TAU_DIN), ou(TAU_PHIN), ou(TAU_ALK)],
            p_storm: 1.0 - libm::exp(-STORM_RATE * DT),
            spec: Self::make_spec(),
        }
    }

    fn make_spec() -> EnvSpec {
        EnvSpec {
            id: "WaterTreatment-v0".into(),
            description: "Drinking-water clearwell (two-compartment baffled contact tank, 300 m2): \
                dose 12.5% sodium hypochlorite, 50% caustic and 93% sulfuric acid and set the inlet flow \
                to hold the outlet free-chlorine residual, the outlet pH (carbonate charge balance) and \
                the level at their set-points at least chemical and pumping cost, through diurnal \
                demand and raw-water chlorine demand, pH and alkalinity changes. Hard limits: residual \
                4 mg/L (EPA MRDL) and the overflow weir; soft: pH 6.5-8.5, residual >= 0.2 mg/L, level >= 1.5 m."
                .into(),
            sources: SOURCES.iter().map(|s| s.to_string()).collect(),
            observations: vec![
                Dim::new("level", "m", 0.0, 5.0),
                Dim::new("pH", "-", 2.0, 12.0),
                Dim::new("cl_residual", "mg/L", 0.0, 20.0),
                Dim::new("q_in", "m3/s", 0.0, Q_IN_MAX),
                Dim::new("q_out", "m3/s", 0.0, 0.6),
                Dim::new("raw_pH", "-", 5.5, 9.0),
                Dim::new("raw_alkalinity", "meq/L", 0.0, 3.0),
                Dim::new("cl_setpoint", "mg/L", 0.0, RESIDUAL_MAX),
                Dim::new("pH_setpoint", "-", PH_MIN, PH_MAX),
                Dim::new("level_setpoint", "m", 0.0, LEVEL_OVERFLOW),
                Dim::new("tod_sin", "-", -1.0, 1.0),
                Dim::new("tod_cos", "-", -1.0, 1.0),
            ],
            actions: vec![
                Dim::new("hypo_feed", "L/h", 0.0, HYPO_MAX),
                Dim::new("caustic_feed", "L/h", 0.0, CAUSTIC_MAX),
                Dim::new("acid_feed", "L/h", 0.0, ACID_MAX),
                Dim::new("q_in", "m3/s", 0.0, Q_IN_MAX),
            ],
            dt: DT,
            horizon: HORIZON,
            constraints: vec![
                ConstraintSpec::hard_max(
                    "cl_residual_max",
                    RESIDUAL_MAX,
                    "mg/L",
                    "outlet free chlorine; EPA maximum residual disinfectant level (40 CFR 141.65), high-residual interlock",
                ),
                ConstraintSpec::hard_max(
                    "level_max",
                    LEVEL_OVERFLOW,
                    "m",
                    "clearwell level; overflow weir, chlorinated water spills to drain",
                ),
                ConstraintSpec::soft_min(
                    "pH_min",
                    PH_MIN,
                    "-",
                    "outlet pH; secondary standard (40 CFR 143.3), corrosive water below",
                ),
                ConstraintSpec::soft_max(
                    "pH_max",
                    PH_MAX,
                    "-",
                    "outlet pH; secondary standard (40 CFR 143.3), scaling and weak disinfection above",
                ),
                ConstraintSpec::soft_min(
                    "cl_residual_min",
                    RESIDUAL_MIN,
                    "mg/L",
                    "outlet free chlorine; minimum entering distribution (40 CFR 141.72)",
                ),
                ConstraintSpec::soft_min(
                    "level_min",
                    LEVEL_LOW,
                    "m",
                    "clearwell level; contact-time credit and pump suction head",
                ),
            ],
            reward_range: (REWARD_MIN, 0.0),
            ref_random_return: -2103.811269057167,
            ref_expert_return: -149.6154203705545,
            breach: super::spec::BreachPenalty::RemainingHorizon,
        }
    }

    /// The acid–base constants the model uses.
    pub fn equilibria(&self) -> &Equilibria {
        &self.eq
    }

    /// Demand of the high-service pumps (before suction throttling), m³/s.
    #[inline]
    pub fn demand(&self, state: &[f64]) -> f64 {
        let (s, c) = (state[sx::TOD_SIN], state[sx::TOD_COS]);
        // sin(θ − φ₀) = sin θ cos φ₀ − cos θ sin φ₀
        let pattern = 1.0 + DIURNAL_AMPLITUDE * (s * self.diurnal.0 - c * self.diurnal.1);
        state[sx::Q_BASE] * pattern * (1.0 + state[sx::DEM_DEV])
    }

    /// Advance the disturbance states by one interval (draws in fixed order).
    fn disturb(&self, state: &mut [f64], rng: &mut EnvRng) {
        let ou = |x: f64, mu: f64, phi: f64, sig: f64, n: f64| {
            mu + (x - mu) * phi + sig * (1.0 - phi * phi).sqrt() * n
        };
        let (n_dem, n_din) = normal_pair(rng);
        let storm = uniform(rng) < self.p_storm;
        let storm_u = uniform(rng);
        let (n_ph, n_alk) = normal_pair(rng);
        state[sx::DEM_DEV] =
            ou(state[sx::DEM_DEV], 0.0, self.phi[0], SIG_DEMAND, n_dem).clamp(-0.2, 0.2);
        if storm {
            state[sx::DIN_BASE] = (state[sx::DIN_BASE] + 0.3 + 0.5 * storm_u).min(2.5);
            state[sx::ALK_BASE] = (state[sx::ALK_BASE] - 0.1 - 0.2 * storm_u).max(0.3);
        }
        state[sx::DIN] = ou(
            state[sx::DIN],
            state[sx::DIN_BASE],
            self.phi[1],
            SIG_DIN,
            n_din,
        )
        .clamp(0.0, 3.0);
        state[sx::PHIN] = ou(
            state[sx::PHIN],
            state[sx::PHIN_BASE],
            self.phi[2],
            SIG_PHIN,
            n_ph,
        )
        .clamp(6.0, 8.5);
        state[sx::ALK] = ou(
            state[sx::ALK],
            state[sx::ALK_BASE],
            self.phi[3],
            SIG_ALK,
            n_alk,
        )
        .clamp(0.2, 2.5);
        state[sx::CT_IN] = self.eq.total_carbonate(state[sx::PHIN], state[sx::ALK]);
    }

    /// Integrate the process over one interval with the given inputs
    /// (no disturbances, no reward): the physics core of [`Model::step`].
    pub fn integrate(&self, state: &mut [f64], hypo: f64, caustic: f64, acid: f64, q_in: f64) {
        let q_dem = self.demand(state);
        let ct_in = state[sx::CT_IN];
        let m_cl = hypo * HYPO_STRENGTH / 3600.0;
        let u = Inputs {
            q_in,
            q_dem,
            m_cl,
            n_base: (caustic * CAUSTIC_STRENGTH - acid * ACID_STRENGTH) / 3600.0 + m_cl / MW_CL2,
            d_in: state[sx::DIN],
            w_in: state[sx::ALK],
            ct_in,
        };
        let mut x = [0.0; sx::N_ODE];
        x.copy_from_slice(&state[..sx::N_ODE]);
        rk4_substeps(&mut x, DT, SUBSTEPS, |x, dx| derivatives(x, &u, dx));
        for v in x.iter_mut() {
            *v = v.max(0.0);
        }
        state[..sx::N_ODE].copy_from_slice(&x);
        let h2 = self
            .eq
            .h_warm(state[sx::W2], state[sx::CT2], state[sx::C2], state[sx::H2]);
        state[sx::H2] = h2;
        state[sx::PH2] = -libm::log10(h2);
        // Advance the time of day by one interval (rotation).
        let (s, c) = (state[sx::TOD_SIN], state[sx::TOD_COS]);
        state[sx::TOD_SIN] = s * self.rot.0 + c * self.rot.1;
        state[sx::TOD_COS] = c * self.rot.0 - s * self.rot.1;
        state[sx::Q_OUT] = outflow(q_dem, state[sx::LEVEL]);
        state[sx::Q_IN] = q_in;
    }

    /// Running cost of one interval in $/h (chemicals, pumping, quality).
    pub fn cost_rate(&self, state: &[f64], hypo: f64, caustic: f64, acid: f64, q_in: f64) -> f64 {
        let chem = PRICE_HYPO * hypo + PRICE_CAUSTIC * caustic + PRICE_ACID * acid;
        let pump_kw = 1000.0 * 9.81 * PUMP_HEAD * q_in / PUMP_EFF / 1000.0;
        let ec = state[sx::C2] - state[sx::C_SP];
        let ep = state[sx::PH2] - state[sx::PH_SP];
        let eh = state[sx::LEVEL] - state[sx::H_SP];
        chem + PRICE_ELEC * pump_kw + W_RESIDUAL * ec * ec + W_PH * ep * ep + W_LEVEL * eh * eh
    }
}

/// Registry constructor.
pub fn build(options: EnvOptions) -> Arc<dyn Model> {
    Arc::new(WaterTreatment::new(options))
}

impl Model for WaterTreatment {
    fn spec(&self) -> &EnvSpec {
        &self.spec
    }

    fn state_dim(&self) -> usize {
        sx::DIM
    }

    fn reset(&self, state: &mut [f64], rng: &mut EnvRng) {
        // Scenario and initial condition, drawn in a fixed order.
        let q_base = uniform_in(rng, 0.18, 0.28);
        let t0 = uniform_in(rng, 0.0, 86400.0);
        let din = uniform_in(rng, 0.4, 1.4);
        let ph_in = uniform_in(rng, 6.5, 8.0);
        let alk = uniform_in(rng, 0.5, 1.5);
        let c_sp = uniform_in(rng, 0.8, 1.5);
        let ph_sp = uniform_in(rng, 7.2, 7.8);
        let h_sp = uniform_in(rng, 3.0, 3.6);
        let h0 = uniform_in(rng, 2.6, 3.9);
        let c0 = uniform_in(rng, 0.4, 2.0);
        let ph0 = ph_sp + uniform_in(rng, -0.4, 0.3);

        let theta = std::f64::consts::TAU * t0 / 86400.0;
        state[sx::TOD_SIN] = libm::sin(theta);
        state[sx::TOD_COS] = libm::cos(theta);
        state[sx::Q_BASE] = q_base;
        state[sx::DEM_DEV] = 0.0;
        state[sx::DIN_BASE] = din;
        state[sx::DIN] = din;
        state[sx::PHIN_BASE] = ph_in;
        state[sx::PHIN] = ph_in;
        state[sx::ALK_BASE] = alk;
        state[sx::ALK] = alk;
        state[sx::C_SP] = c_sp;
        state[sx::PH_SP] = ph_sp;
        state[sx::H_SP] = h_sp;

        // Tank water: raw water's carbonate, partly adjusted to pH0.
        let ct = self.eq.total_carbonate(ph_in, alk);
        let w = self.eq.strong_ion_excess(ph0, ct, c0);
        state[sx::LEVEL] = h0;
        for (ci, di, wi, cti, frac) in [
            (sx::C1, sx::D1, sx::W1, sx::CT1, 0.3),
            (sx::C2, sx::D2, sx::W2, sx::CT2, 0.1),
        ] {
            state[ci] = c0;
            state[di] = frac * din;
            state[wi] = w;
            state[cti] = ct;
        }
        state[sx::C_MEAS] = c0;
        state[sx::CT_IN] = ct;
        let ph2 = self.eq.ph(w, ct, c0);
        state[sx::PH2] = ph2;
        state[sx::H2] = libm::pow(10.0, -ph2);
        let q_dem = self.demand(state);
        state[sx::Q_OUT] = outflow(q_dem, h0);
        state[sx::Q_IN] = q_dem;
    }

    fn step(&self, state: &mut [f64], action: &[f64], rng: &mut EnvRng) -> Transition {
        if self.options.disturbances {
            self.disturb(state, rng);
        }
        let (hypo, caustic, acid, q_in) = (
            action[ax::HYPO],
            action[ax::CAUSTIC],
            action[ax::ACID],
            action[ax::Q_IN],
        );
        self.integrate(state, hypo, caustic, acid, q_in);
        let cost = self.cost_rate(state, hypo, caustic, acid, q_in) * DT / 3600.0;
        Transition {
            reward: (-cost).clamp(REWARD_MIN, 0.0),
            terminal: false,
        }
    }

    fn observe(&self, state: &[f64], obs: &mut [f32], rng: &mut EnvRng) {
        let mut n = [0.0; 8];
        if self.options.sensor_noise {
            const SIGMA: [f64; 8] = [0.005, 0.02, 0.02, 0.003, 0.003, 0.02, 0.02, 0.0];
            for k in 0..4 {
                let (a, b) = normal_pair(rng);
                n[2 * k] = SIGMA[2 * k] * a;
                n[2 * k + 1] = SIGMA[2 * k + 1] * b;
            }
        }
        obs[ox::LEVEL] = (state[sx::LEVEL] + n[0]) as f32;
        obs[ox::PH] = (state[sx::PH2] + n[1]) as f32;
        obs[ox::RESIDUAL] = (state[sx::C_MEAS] + n[2]).max(0.0) as f32;
        obs[ox::Q_IN] = (state[sx::Q_IN] + n[3]).max(0.0) as f32;
        obs[ox::Q_OUT] = (state[sx::Q_OUT] + n[4]).max(0.0) as f32;
        obs[ox::RAW_PH] = (state[sx::PHIN] + n[5]) as f32;
        obs[ox::RAW_ALK] = (state[sx::ALK] + n[6]).max(0.0) as f32;
        obs[ox::C_SP] = state[sx::C_SP] as f32;
        obs[ox::PH_SP] = state[sx::PH_SP] as f32;
        obs[ox::H_SP] = state[sx::H_SP] as f32;
        obs[ox::TOD_SIN] = state[sx::TOD_SIN] as f32;
        obs[ox::TOD_COS] = state[sx::TOD_COS] as f32;
    }

    fn constraints(&self, state: &[f64], out: &mut [f64]) {
        out[0] = state[sx::C2];
        out[1] = state[sx::LEVEL];
        out[2] = state[sx::PH2];
        out[3] = state[sx::PH2];
        out[4] = state[sx::C2];
        out[5] = state[sx::LEVEL];
    }

    fn safe_action(&self, _state: &[f64], action: &mut [f64]) {
        // Emergency shutdown: stop every chemical feed and close the inlet.
        action[ax::HYPO] = 0.0;
        action[ax::CAUSTIC] = 0.0;
        action[ax::ACID] = 0.0;
        action[ax::Q_IN] = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn model() -> WaterTreatment {
        WaterTreatment::new(EnvOptions::deterministic())
    }

    fn reset_state(m: &WaterTreatment, seed: u64) -> Vec<f64> {
        let mut s = vec![0.0; sx::DIM];
        let mut rng = EnvRng::seed_from_u64(seed);
        m.reset(&mut s, &mut rng);
        s
    }

    /// With no flow, no fast demand and no dosing, free chlorine decays as
    /// C(t) = C(0) exp(−k_b t) in both compartments.
    #[test]
    fn chlorine_decays_first_order_without_flow_or_demand() {
        let m = model();
        let mut s = reset_state(&m, 1);
        s[sx::Q_BASE] = 0.0;
        for i in [sx::D1, sx::D2, sx::DIN] {
            s[i] = 0.0;
        }
        s[sx::C1] = 2.5;
        s[sx::C2] = 1.5;
        let h0 = s[sx::LEVEL];
        let mut rng = EnvRng::seed_from_u64(0);
        let n = 180;
        for _ in 0..n {
            m.step(&mut s, &[0.0; 4], &mut rng);
        }
        let t = n as f64 * DT;
        let decay = libm::exp(-K_BULK * t);
        assert!(
            (s[sx::C1] - 2.5 * decay).abs() < 1e-10 * 2.5,
            "{}",
            s[sx::C1]
        );
        assert!(
            (s[sx::C2] - 1.5 * decay).abs() < 1e-10 * 1.5,
            "{}",
            s[sx::C2]
        );
        assert_eq!(s[sx::LEVEL], h0, "no flow, constant level");
    }

    #[test]
    fn pure_water_is_neutral_at_25c() {
        let eq = Equilibria::at_25c();
        let ph = eq.ph(0.0, 0.0, 0.0);
        assert!((ph - 7.0).abs() < 1e-9, "{ph}");
    }

    /// Strong acid at C mol/L: [H⁺] = C/2 + √(C²/4 + K_w), ≈ C; strong base
    /// likewise with [OH⁻].
    #[test]
    fn strong_acid_and_base_match_closed_form() {
        let eq = Equilibria::at_25c();
        for c in [1e-2, 1e-3, 1e-4, 1e-5] {
            let exact = 0.5 * c + (0.25 * c * c + eq.kw).sqrt();
            let ph = eq.ph(-c * 1e3, 0.0, 0.0);
            assert!((ph + libm::log10(exact)).abs() < 1e-9, "C {c}: {ph}");
            if c >= 1e-4 {
                assert!((ph + libm::log10(c)).abs() < 1e-5, "C {c}: {ph}");
            }
            let ph_b = eq.ph(c * 1e3, 0.0, 0.0);
            assert!(
                (ph_b - (14.0 + libm::log10(exact))).abs() < 1e-9,
                "base {c}: {ph_b}"
            );
        }
    }

    /// Carbonate solutions: the solved pH satisfies the charge balance (written
    /// independently here with α fractions), and sits where textbook
    /// approximations put it.
    #[test]
    fn carbonate_solutions_satisfy_charge_balance() {
        let eq = Equilibria::at_25c();
        let residual = |ph: f64, w: f64, ct: f64| {
            let h = libm::pow(10.0, -ph);
            let d = h * h + eq.k1 * h + eq.k1 * eq.k2;
            let hco3 = ct * eq.k1 * h / d;
            let co3 = ct * eq.k1 * eq.k2 / d;
            h + w - eq.kw / h - hco3 - 2.0 * co3
        };
        for (ct_mm, w_mm) in [(2.0, 1.0), (1.0, 1.0), (2.5, 1.5), (1.0, 0.2), (1.5, 2.5)] {
            let ph = eq.ph(w_mm, ct_mm, 0.0);
            let r = residual(ph, w_mm * 1e-3, ct_mm * 1e-3);
            assert!(
                r.abs() < 1e-12 * ct_mm,
                "CT {ct_mm} W {w_mm}: pH {ph} residual {r}"
            );
        }
        // Equimolar bicarbonate / carbonic acid buffer: pH ≈ pK₁.
        let ph = eq.ph(1.0, 2.0, 0.0);
        assert!((ph - 6.35).abs() < 0.01, "{ph}");
        // 1 mM NaHCO₃: pH ≈ (pK₁ + pK₂)/2 = 8.34, a little lower at this dilution.
        let ph = eq.ph(1.0, 1.0, 0.0);
        assert!(ph > 8.1 && ph < 8.34, "{ph}");
        // Proton condition of NaHCO₃: [H⁺] + [H₂CO₃*] = [CO₃²⁻] + [OH⁻].
        let h = libm::pow(10.0, -ph);
        let d = h * h + eq.k1 * h + eq.k1 * eq.k2;
        let pc = h + 1e-3 * h * h / d - 1e-3 * eq.k1 * eq.k2 / d - eq.kw / h;
        assert!(pc.abs() < 1e-14, "{pc}");
    }

    /// The closed-form titration curve and the solver are inverses,
    /// including free chlorine as a weak acid.
    #[test]
    fn titration_curve_round_trips() {
        let eq = Equilibria::at_25c();
        for ph in [5.0, 6.5, 7.0, 7.5, 8.0, 8.5, 9.5, 10.5] {
            for ct in [0.5, 1.5, 3.0] {
                for cl in [0.0, 1.0, 4.0] {
                    let w = eq.strong_ion_excess(ph, ct, cl);
                    let back = eq.ph(w, ct, cl);
                    assert!((back - ph).abs() < 1e-9, "pH {ph} CT {ct} Cl {cl}: {back}");
                }
            }
        }
        // Raw water: C_T from pH and alkalinity reproduces the alkalinity.
        let ct = eq.total_carbonate(7.2, 1.2);
        assert!((eq.strong_ion_excess(7.2, ct, 0.0) - 1.2).abs() < 1e-12);
    }

    /// Level: Δh = (q_in − q_out)/A · dt over one interval.
    #[test]
    fn level_follows_the_mass_balance() {
        let m = model();
        for (seed, q_in) in [(2, 0.0), (3, 0.15), (4, 0.45), (5, 0.6)] {
            let mut s = reset_state(&m, seed);
            let h0 = s[sx::LEVEL];
            let q_out = outflow(m.demand(&s), h0);
            assert!(h0 > LEVEL_TRIP + LEVEL_THROTTLE);
            let mut rng = EnvRng::seed_from_u64(0);
            m.step(&mut s, &[0.0, 0.0, 0.0, q_in], &mut rng);
            let expected = h0 + (q_in - q_out) / AREA * DT;
            assert!(
                (s[sx::LEVEL] - expected).abs() < 1e-12,
                "{} vs {expected}",
                s[sx::LEVEL]
            );
            assert_eq!(s[sx::Q_IN], q_in);
        }
    }

    /// Constant flow through the two compartments at constant level: the
    /// steady state is the closed form of two CSTRs in series with
    /// first-order decay, C₁ = (ṁ/q)/(1 + k_b τ), C₂ = C₁/(1 + k_b τ), τ = V/(2q),
    /// and W, C_T follow from the dosing and the chloride produced.
    #[test]
    fn steady_state_matches_two_cstrs_in_series() {
        let m = model();
        let mut s = reset_state(&m, 6);
        let (q, h) = (0.25, 3.0);
        s[sx::TOD_SIN] = 0.0; // freeze the diurnal pattern at 1
        s[sx::TOD_COS] = 0.0;
        s[sx::Q_BASE] = q;
        s[sx::DEM_DEV] = 0.0;
        s[sx::LEVEL] = h;
        s[sx::DIN] = 0.0;
        s[sx::D1] = 0.0;
        s[sx::D2] = 0.0;
        let (hypo, caustic) = (20.0, 10.0);
        let mut rng = EnvRng::seed_from_u64(0);
        for _ in 0..4000 {
            m.step(&mut s, &[hypo, caustic, 0.0, q], &mut rng);
        }
        let tau = 0.5 * AREA * h / q;
        let m_cl = hypo * HYPO_STRENGTH / 3600.0; // g/s
        let c1 = m_cl / q / (1.0 + K_BULK * tau);
        let c2 = c1 / (1.0 + K_BULK * tau);
        let n_base = caustic * CAUSTIC_STRENGTH / 3600.0 + m_cl / MW_CL2; // mol/s
        let w1 = s[sx::ALK] + n_base / q - K_BULK * c1 * tau / MW_CL2;
        let w2 = w1 - K_BULK * c2 * tau / MW_CL2;
        let ct = m.equilibria().total_carbonate(s[sx::PHIN], s[sx::ALK]);
        assert_eq!(s[sx::LEVEL], h);
        for (got, want, what) in [
            (s[sx::C1], c1, "C1"),
            (s[sx::C2], c2, "C2"),
            (s[sx::C_MEAS], c2, "analyser"),
            (s[sx::W1], w1, "W1"),
            (s[sx::W2], w2, "W2"),
            (s[sx::CT1], ct, "CT1"),
            (s[sx::CT2], ct, "CT2"),
        ] {
            assert!(
                (got - want).abs() < 1e-9 * want.abs().max(1.0),
                "{what}: {got} vs {want}"
            );
        }
        let ph = m.equilibria().ph(w2, ct, c2);
        assert!((s[sx::PH2] - ph).abs() < 1e-9, "{} vs {ph}", s[sx::PH2]);
    }

    /// The compartment balances with changing volume conserve mass: for the
    /// whole tank, d(V₁X₁ + V₂X₂)/dt = inflow − outflow + injection − reaction,
    /// with V₁ = V₂ = A h/2 (checked on the derivative function, filling and
    /// draining).
    #[test]
    fn compartment_balances_conserve_mass_with_changing_volume() {
        let m = model();
        for (seed, q_in, hypo) in [(1, 0.05, 30.0), (2, 0.45, 10.0), (3, 0.25, 0.0)] {
            let s = reset_state(&m, seed);
            let mut x = [0.0; sx::N_ODE];
            x.copy_from_slice(&s[..sx::N_ODE]);
            x[sx::C1] = 3.0; // distinct compartments
            x[sx::CT1] = 2.0;
            let m_cl = hypo * HYPO_STRENGTH / 3600.0;
            let u = Inputs {
                q_in,
                q_dem: m.demand(&s),
                m_cl,
                n_base: 0.0,
                d_in: 1.0,
                w_in: 1.0,
                ct_in: 1.7,
            };
            let mut dx = [0.0; sx::N_ODE];
            derivatives(&x, &u, &mut dx);
            let h = x[sx::LEVEL];
            let q_out = outflow(u.q_dem, h);
            assert!((q_in - q_out).abs() > 0.01, "volume must change");
            let v = 0.5 * AREA * h;
            let dv = 0.5 * AREA * dx[sx::LEVEL];
            let total = |a: usize, b: usize| v * (dx[a] + dx[b]) + dv * (x[a] + x[b]);
            // Carbonate is conservative.
            let want = q_in * u.ct_in - q_out * x[sx::CT2];
            let got = total(sx::CT1, sx::CT2);
            assert!((got - want).abs() < 1e-12, "CT: {got} vs {want}");
            // Chlorine: injection − outflow − reactions in both compartments.
            let r = |c: f64, d: f64| K_BULK * c + K_FAST * c * d;
            let want =
                m_cl - q_out * x[sx::C2] - v * (r(x[sx::C1], x[sx::D1]) + r(x[sx::C2], x[sx::D2]));
            let got = total(sx::C1, sx::C2);
            assert!((got - want).abs() < 1e-12, "C: {got} vs {want}");
        }
    }

    #[test]
    fn reset_is_safe_and_consistent() {
        let m = WaterTreatment::new(EnvOptions::default());
        let mut out = [0.0; 6];
        for seed in 0..300 {
            let s = reset_state(&m, seed);
            m.constraints(&s, &mut out);
            for (c, v) in m.spec().constraints.iter().zip(out) {
                assert!(!c.violated(v), "seed {seed}: {} = {v}", c.name);
            }
            let cold = m.equilibria().ph(s[sx::W2], s[sx::CT2], s[sx::C2]);
            assert!((s[sx::PH2] - cold).abs() < 1e-9);
        }
    }

    /// The warm-started solver stays on the cold-start root along wild
    /// (uniformly random) action sequences.
    #[test]
    fn warm_started_ph_matches_cold_solve() {
        use crate::env::math::uniform_in;
        let m = WaterTreatment::new(EnvOptions::default());
        let spec = m.spec().clone();
        let mut rng = EnvRng::seed_from_u64(11);
        let mut arng = EnvRng::seed_from_u64(12);
        for _ in 0..20 {
            let mut s = vec![0.0; sx::DIM];
            m.reset(&mut s, &mut rng);
            let mut a = [0.0; 4];
            for _ in 0..300 {
                for (ai, d) in a.iter_mut().zip(&spec.actions) {
                    *ai = uniform_in(&mut arng, d.low, d.high);
                }
                m.step(&mut s, &a, &mut rng);
                let cold = m.equilibria().ph(s[sx::W2], s[sx::CT2], s[sx::C2]);
                assert!((s[sx::PH2] - cold).abs() < 1e-8, "{} vs {cold}", s[sx::PH2]);
            }
        }
    }

    #[test]
    fn deterministic_options_draw_nothing() {
        let m = model();
        let mut s = reset_state(&m, 9);
        let mut rng = EnvRng::seed_from_u64(5);
        let before = rng.clone();
        let mut obs = [0f32; ox::DIM];
        for _ in 0..10 {
            m.step(&mut s, &[10.0, 10.0, 1.0, 0.2], &mut rng);
            m.observe(&s, &mut obs, &mut rng);
        }
        assert_eq!(rng, before);
    }

    /// CPU time of this thread in ns (Linux `schedstat`; wall clock elsewhere),
    /// so the measurement is not inflated by other processes on a busy machine.
    fn thread_cpu_ns(wall: std::time::Instant) -> f64 {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or_else(|| wall.elapsed().as_nanos() as f64)
    }

    /// `cargo test --release -p neorl --lib water_treatment::tests::timing -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn timing() {
        use std::hint::black_box;
        for (label, options) in [
            ("default options", EnvOptions::default()),
            ("deterministic", EnvOptions::deterministic()),
        ] {
            let m = WaterTreatment::new(options);
            let mut rng = EnvRng::seed_from_u64(1);
            let mut s = vec![0.0; sx::DIM];
            let mut obs = [0f32; ox::DIM];
            let mut cons = [0.0; 6];
            let a = [14.0, 10.0, 0.5, 0.22];
            let n = 1_000_000;
            let wall = std::time::Instant::now();
            let t0 = thread_cpu_ns(wall);
            for i in 0..n {
                if i % HORIZON == 0 {
                    m.reset(&mut s, &mut rng);
                }
                black_box(m.step(&mut s, black_box(&a), &mut rng));
                m.observe(&s, &mut obs, &mut rng);
                m.constraints(&s, &mut cons);
                black_box((&obs, &cons));
            }
            let ns = (thread_cpu_ns(wall) - t0) / n as f64;
            eprintln!(
                "WaterTreatment-v0 ({label}): {ns:.0} ns CPU per step (step + observe + constraints)"
            );
        }
    }
}
