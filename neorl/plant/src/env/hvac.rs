//! # HVACControl-v0 — supervisory temperature control of a five-zone office floor
//!
//! ## Process
//!
//! One mid-height floor of an office building (24 m × 16 m plate, 384 m² of
//! floor, 3.0 m clear height, 3.5 m floor-to-floor) is split into the usual
//! five thermal zones of a perimeter/core layout (ASHRAE Handbook —
//! Fundamentals, ch. 18): four 4.5 m deep perimeter zones facing north, east,
//! south and west, and an interior core. Each zone has a reversible terminal
//! unit (a four-pipe fan-coil fed by an air-to-water heat pump / chiller)
//! that delivers a heat flow `Q_i` (positive: heating, negative: cooling) to
//! the zone air within its capacity. Floors and ceilings are adiabatic (the
//! floors above and below are conditioned alike). The supervisory controller
//! chooses the five heat flows every 15 minutes.
//!
//! ## Model: an RC thermal network (two nodes per zone)
//!
//! Each zone `i` has an air node `T_a,i` (zone air plus furnishings) and a
//! thermal-mass node `T_m,i` (slab, internal walls), the 3R2C / "2R2C per
//! zone" structure of Gouda, Danaher & Underwood (2002) and of the building
//! models used for MPC by Široký et al. (2011); the conductances follow the
//! simple hourly method of ISO 13790:2008 (air node coupled to the mass node
//! through `H_am = h_ms·A_m`, windows and ventilation to the air node, opaque
//! envelope to the mass node):
//!
//! ```text
//! C_a,i dT_a,i/dt = H_am,i (T_m,i − T_a,i) + H_ao,i (T_out − T_a,i)
//!                 + Σ_j H_ij (T_a,j − T_a,i) + Q_i + f_a^int Q_int,i + f_a^sol Q_sol,i
//! C_m,i dT_m,i/dt = H_am,i (T_a,i − T_m,i) + H_mo,i (T_out − T_m,i)
//!                 + (1 − f_a^int) Q_int,i + (1 − f_a^sol) Q_sol,i
//! ```
//!
//! i.e. `dx/dt = A x + B u` with `x = [T_a,1..5, T_m,1..5]` (°C) and
//! `u = [Q_i + gains to air (5), gains to mass (5), T_out]`. The network is
//! linear, so it is discretised **exactly** for inputs held over the
//! control interval (zero-order hold): `x_{k+1} = A_d x_k + B_d u_k` with
//! `A_d = e^{A Δt}` and `B_d = ∫_0^{Δt} e^{Aτ} dτ B`, both read off the
//! exponential of the augmented matrix `[[A, B], [0, 0]]·Δt` (Van Loan 1978),
//! computed once at construction by scaling-and-squaring of a Taylor series
//! (pure arithmetic, bit-identical everywhere). The exogenous inputs
//! (outdoor temperature, solar and internal gains) are evaluated at the
//! midpoint of the interval. The air node's time constant (≈ 9 min) is
//! shorter than the 15-min step; the exact discretisation is unconditionally
//! stable and has no truncation error for held inputs. The daily phase is
//! read from a table on the grid of half intervals, so a step costs one
//! 10 × 21 matrix–vector product, one `exp` (clear-sky beam) and one
//! `exp`/`log` pair (cloud factor) in daylight, plus the Gaussian draws.
//!
//! ## Parameters (nominal values, [`Params::nominal`])
//!
//! | quantity | value | source / reasoning |
//! |---|---|---|
//! | zone floor areas N, E, S, W, core | 87.75, 51.75, 87.75, 51.75, 105 m² | 24 × 16 m plate, 4.5 m perimeter depth |
//! | air + furnishing capacitance `C_a` | (ρc_p·3.0 m + 10 kJ/(m²K))·A_f = 13.6 kJ/(m²K)·A_f | ρc_p = 1206 J/(m³K); furnishing mass ≈ 10 kJ/(m²K) |
//! | mass capacitance `C_m` | 165 kJ/(m²K)·A_f | ISO 13790 default dynamic parameters, "medium" class |
//! | air–mass conductance `H_am` | h_ms·A_m = 9.1 W/(m²K) · 2.5 A_f | ISO 13790 simple hourly method |
//! | glazing | WWR 35 %, U_w = 1.3 W/(m²K), g = 0.35, shading factor 0.75 | low-e double glazing, solar-control coating, blinds |
//! | opaque façade | U = 0.30 W/(m²K) → mass node | ASHRAE 90.1 / EnEV-class wall |
//! | ventilation | 1.4 l/(s m²), heat recovery η = 0.75, plus 0.1 h⁻¹ infiltration → air node | EN 16798-1 cat. II office |
//! | inter-zone conductance `H_ij` | 2.0 W/(m²K) × partition area (incl. air exchange) | plasterboard partitions, open doors |
//! | occupants | 0.1 person/m², 75 W sensible each | ASHRAE Fundamentals ch. 18, "moderately active office work" |
//! | lighting + plug loads | 15 W/m² occupied, 3 W/m² otherwise | ASHRAE 90.1 lighting power density, office equipment |
//! | gain split to air | 50 % of internal, 20 % of solar (rest radiative → mass) | ISO 13790 gain split / ASHRAE RTS radiant fractions |
//! | heating capacity | 70 W/m² perimeter, 25 W/m² core | design load at −14 °C ≈ 40 W/m², ×1.75 pick-up margin |
//! | cooling capacity | 100 W/m² perimeter, 60 W/m² core | typical office sizing incl. unshaded façade peaks |
//! | latitude | 48° N | central Europe |
//!
//! Derived (north zone): `C_a` = 1.19 MJ/K, `C_m` = 14.5 MJ/K,
//! `H_am` = 1996 W/K, `H_ao` = 84 W/K, `H_mo` = 16 W/K, `Σ_j H_ij` = 166 W/K —
//! air-node time constant `C_a / (H_am + H_ao + Σ H_ij)` ≈ 9 min; whole-zone
//! time constant `(C_a + C_m) / (H_ao + H_mo)` ≈ 43 h (north) to ≈ 95 h (core).
//!
//! ## Exogenous inputs and disturbances
//!
//! * **Outdoor temperature** `T_out(t) = T̄ + ΔT cos(2π(h − 15)/24) + F(t) + w(t)`:
//!   a daily sinusoid peaking at 15:00, a **weather front** — after its
//!   passage at `t_F` the air mass relaxes to a new level,
//!   `F(t) = ΔF (1 − e^{−(t − t_F)/τ_F})` (advanced exactly on the grid of half
//!   intervals, so no transcendental function is evaluated per step) — and a
//!   red-noise weather term `w` (AR(1), τ = 6 h, σ = 1 K).
//! * **Solar gains** through each façade's glazing: sun position for
//!   latitude 48° N, declination δ and solar time = clock time (Duffie &
//!   Beckman 2013, ch. 1); ASHRAE clear-sky model (Handbook — Fundamentals
//!   2005, monthly constants A, B, C) `E_DN = A e^{−B/sin β}` (A = 1160 W/m², B = 0.16), diffuse
//!   `E_d = C·E_DN` (C = 0.09), on a vertical surface
//!   `I = E_DN max(0, cos θ) + ½E_d + ½ρ_g(E_DN sin β + E_d)` (ρ_g = 0.2),
//!   times the cloud factor `1 − 0.75 N^{3.4}` of Kasten & Czeplak (1980),
//!   with cloud cover `N ∈ [0, 1]` an AR(1) process (τ = 3 h, σ = 0.25) about
//!   an episode mean.
//! * **Occupancy**: weekday schedules N 08–18, E 07–17, S 08–18, W 09–19,
//!   core 08–18 h; the episode starts on a Monday at 00:00 and covers four
//!   working days. Each zone's attendance (fraction of the nominal occupants
//!   present) is drawn per episode.
//! * **Season**: a season index `s ∈ [−1, 1]` sets the declination
//!   `δ = 23.44°·s` and the mean outdoor temperature `T̄ = 10 + 12 s ± 3 °C`;
//!   the comfort band follows the clothing of the season (ISO 7730 /
//!   EN 16798-1 category II): 20–24 °C in the heating season (`T̄ < 12 °C`),
//!   23–26 °C in the cooling season.
//!
//! With `options.disturbances` each reset draws `s ~ U(−1, 1)`, `T̄`, the
//! daily swing `ΔT ~ U(3, 6) K`, a front (`t_F ~ U(6, 90) h`,
//! `ΔF ~ U(−6, 6) K`, `τ_F ~ U(2, 8) h`), the mean cloud cover
//! `U(0.1, 0.8)` and attendances `U(0.6, 1.1)`, and each step draws the
//! weather and cloud innovations. Without, the scenario is the nominal
//! early-spring one (`s = −0.3`, `T̄ = 6.4 °C`, `ΔT = 4.5 K`, no front, no
//! weather noise, cloud cover 0.4, full attendance). The initial
//! temperatures are always drawn: `T_m ~ U(17, 24) °C`, `T_a = T_m + U(−1, 1) K`.
//!
//! **Sensor noise** (`options.sensor_noise`): Gaussian, σ = 0.1 K on zone
//! temperatures (class-B room sensors), σ = 0.3 K on the outdoor temperature.
//! Gaussian draws come in pairs from `math::normal_pair` (ziggurat;
//! see `env::math`). Draw order: reset — initial temperatures (zone by zone: mass,
//! air offset), then (with disturbances) season, `T̄` offset, swing, front
//! onset, size, time constant, weather state, cloud mean, attendances; step —
//! one pair (weather, cloud); observation — three pairs (zones 1–5, outdoor).
//!
//! ## Actions (per zone `i`)
//!
//! `Q_i` (W): heat flow of the terminal unit, in `[−Q_cool,max,i, Q_heat,max,i]`.
//!
//! ## Observations
//!
//! | index | name | unit | range |
//! |---|---|---|---|
//! | 0–4 | `T_zone_<zone>` zone air temperatures | °C | 0 … 45 |
//! | 5 | `T_out` outdoor temperature | °C | −30 … 45 |
//! | 6, 7 | `sin_tod`, `cos_tod` time of day, `sin(2πh/24)`, `cos(2πh/24)` | - | −1 … 1 |
//! | 8–12 | `occupied_<zone>` occupancy flags | - | 0 … 1 |
//! | 13 | `price` electricity price now | EUR/kWh | 0 … 0.5 |
//! | 14, 15 | `T_comfort_low`, `T_comfort_high` comfort band of the season | °C | 15 … 30 |
//!
//! The state ([`st`], 29 entries) holds the ten node temperatures, the
//! clock (hours since Monday 00:00), the episode's weather scenario
//! (`T̄`, swing, declination, front, weather and cloud states) and
//! attendances, and the comfort band.
//!
//! ## Constraints
//!
//! * hard `freeze_<zone>`: `T_a,i ≥ 12 °C` at all times — frost protection
//!   of water-filled fan-coils and pipework in the façade and the usual BMS
//!   frost-protection threshold; below it the plant trips to protection mode.
//! * hard `overheat_<zone>`: `T_a,i ≤ 32 °C` at all times — equipment
//!   (IT, electronics) and occupant heat stress; building operators evacuate /
//!   trip above it.
//! * soft `discomfort_<zone>`: degrees outside the season's comfort band
//!   while the zone is occupied, `d_i = occ_i·max(lo − T_a,i, T_a,i − hi, 0) ≤ 0 K`
//!   (ASHRAE 55 / ISO 7730 comfort band).
//!
//! ## Reward (EUR per 15-min step)
//!
//! `r = −( p(t)·Σ_i [Q_i⁺/COP_h + Q_i⁻/EER]·Δt + Σ_i λ_i min(d_i, 3 K)·Δt )`,
//! the electricity bill plus the cost of lost productivity:
//!
//! * time-of-use price `p`: 0.12 EUR/kWh 22–07 h, 0.22 EUR/kWh 07–14 h and
//!   19–22 h, 0.38 EUR/kWh peak 14–19 h (a typical commercial TOU tariff);
//! * heat-pump COP and chiller EER from a constant fraction of the Carnot
//!   efficiency (second-law efficiency 0.45): `COP_h = 0.45·T_sup/(T_sup − T_out)`
//!   with a 35 °C supply, `EER = 0.45·T_ev/(T_out + 10 K − T_ev)` with a 7 °C
//!   evaporator, clipped to [1.5, 6] and [2, 6];
//! * `λ_i = 0.5 EUR/(K·h)` per occupant present (performance drops ≈ 1–2 %
//!   per K outside the comfort range, Seppänen, Fisk & Lei 2006, on a
//!   labour cost of ≈ 35 EUR/h); the deficit is capped at 3 K (below 17 °C
//!   or above 27–29 °C occupants stop working in the zone), which bounds the
//!   per-step reward: at most ≈ 1.6 EUR of electricity (all units at full
//!   power, peak price, worst COP) plus ≈ 15.8 EUR of discomfort, inside
//!   `reward_range = (−18, 0)` (the step reward is clamped to it). A hard
//!   breach is charged −18 EUR for every remaining step, far more than any
//!   discomfort the breach could avoid.
//!
//! There is no task terminal state; episodes run for 384 steps (4 days).
//! The emergency action ([`Model::safe_action`]) is the BMS protection
//! mode: full heating below 16 °C, full cooling above 28 °C, off otherwise.
//!
//! ## Sources
//!
//! See [`SOURCES`].

use super::math::{expm, normal, normal_pair, uniform_in};
use super::model::{EnvOptions, EnvRng, Model, Transition};
use super::spec::{ConstraintSpec, Dim, EnvSpec};
use std::sync::Arc;

/// Number of thermal zones.
pub const N_ZONES: usize = 5;
/// Number of thermal nodes (air and mass per zone).
const NX: usize = 2 * N_ZONES;
/// Number of inputs of the discretised network: heat to air (5), heat to mass (5), `T_out`.
const NU: usize = 2 * N_ZONES + 1;
/// Zone names, in action/observation order.
pub const ZONE_NAMES: [&str; N_ZONES] = ["north", "east", "south", "west", "core"];
/// Control interval, s.
pub const DT: f64 = 900.0;
/// Control interval, h.
pub const DT_H: f64 = DT / 3600.0;
/// Steps per episode (4 days).
pub const HORIZON: usize = 384;
/// Frost-protection limit on zone air temperature, °C.
pub const T_FREEZE: f64 = 12.0;
/// Overheat limit on zone air temperature, °C.
pub const T_OVERHEAT: f64 = 32.0;
/// Comfort band in the heating season, °C (ISO 7730 / EN 16798-1 cat. II, 1.0 clo).
pub const BAND_HEATING: (f64, f64) = (20.0, 24.0);
/// Comfort band in the cooling season, °C (0.5 clo).
pub const BAND_COOLING: (f64, f64) = (23.0, 26.0);
/// Mean outdoor temperature below which the episode is in the heating season, °C.
pub const SEASON_SPLIT: f64 = 12.0;
/// Worst per-step reward, EUR.
pub const REWARD_MIN: f64 = -18.0;

/// References for the model, its parameters and the reward.
pub const SOURCES: [&str; 9] = [
    "ASHRAE Handbook — Fundamentals (2017), ch. 18, Nonresidential cooling and heating load calculations (occupant and equipment gains, radiant fractions, perimeter/core zoning); 2005 edition for the A, B, C clear-sky solar model",
    "ISO 13790:2008, Energy performance of buildings — calculation of energy use for space heating and cooling (simple hourly RC method: h_ms = 9.1 W/m²K, A_m = 2.5 A_f, C_m = 165 kJ/m²K for medium construction)",
    "Gouda, Danaher & Underwood (2002), Building thermal model reduction using nonlinear constrained optimization, Building and Environment 37(12):1255–1265",
    "Široký, Oldewurtel, Cigler & Prívara (2011), Experimental analysis of model predictive control for an energy efficient building heating system, Applied Energy 88(9):3079–3087",
    "Van Loan (1978), Computing integrals involving the matrix exponential, IEEE Trans. Automatic Control 23(3):395–404",
    "Duffie & Beckman (2013), Solar Engineering of Thermal Processes, 4th ed., Wiley (sun position, irradiance on tilted surfaces)",
    "Kasten & Czeplak (1980), Solar and terrestrial radiation dependent on the amount and type of cloud, Solar Energy 24(2):177–189",
    "ISO 7730:2005 / ANSI-ASHRAE Standard 55-2020 / EN 16798-1:2019, thermal comfort ranges (category II: 20–24 °C winter, 23–26 °C summer)",
    "Seppänen, Fisk & Lei (2006), Effect of temperature on task performance in office environment, LBNL-60946 (≈ 1–2 % performance loss per K)",
];

/// Observation indices.
pub mod obs {
    /// First zone air temperature (5 entries).
    pub const T_ZONE: usize = 0;
    /// Outdoor temperature.
    pub const T_OUT: usize = 5;
    /// `sin(2π h / 24)`.
    pub const SIN_TOD: usize = 6;
    /// `cos(2π h / 24)`.
    pub const COS_TOD: usize = 7;
    /// First occupancy flag (5 entries).
    pub const OCC: usize = 8;
    /// Electricity price, EUR/kWh.
    pub const PRICE: usize = 13;
    /// Lower comfort limit, °C.
    pub const BAND_LO: usize = 14;
    /// Upper comfort limit, °C.
    pub const BAND_HI: usize = 15;
    /// Observation length.
    pub const DIM: usize = 16;
}

/// State indices.
pub mod st {
    /// First zone air temperature, °C (5 entries).
    pub const T_AIR: usize = 0;
    /// First zone mass temperature, °C (5 entries).
    pub const T_MASS: usize = 5;
    /// Hours since Monday 00:00.
    pub const TIME_H: usize = 10;
    /// Daily mean outdoor temperature, °C.
    pub const T_MEAN: usize = 11;
    /// Daily half-swing of the outdoor temperature, K.
    pub const T_AMP: usize = 12;
    /// sin of the solar declination.
    pub const SIN_DECL: usize = 13;
    /// cos of the solar declination.
    pub const COS_DECL: usize = 14;
    /// Weather-front onset, h.
    pub const FRONT_T: usize = 15;
    /// Weather-front temperature change, K.
    pub const FRONT_DT: usize = 16;
    /// Weather-front decay over half an interval, `e^{−Δt/(2τ_F)}`.
    pub const FRONT_DECAY: usize = 17;
    /// Current weather-front offset of the outdoor temperature, K.
    pub const FRONT: usize = 18;
    /// AR(1) weather noise on the outdoor temperature, K.
    pub const WEATHER: usize = 19;
    /// Cloud cover, 0–1.
    pub const CLOUD: usize = 20;
    /// Episode-mean cloud cover, 0–1.
    pub const CLOUD_MEAN: usize = 21;
    /// First zone attendance factor (5 entries).
    pub const ATTEND: usize = 22;
    /// Comfort band lower limit, °C.
    pub const BAND_LO: usize = 27;
    /// Comfort band upper limit, °C.
    pub const BAND_HI: usize = 28;
    /// State length.
    pub const DIM: usize = 29;
}

/// One thermal zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// Floor area, m².
    pub area: f64,
    /// Air-node heat capacity, J/K.
    pub c_air: f64,
    /// Mass-node heat capacity, J/K.
    pub c_mass: f64,
    /// Air–mass conductance, W/K.
    pub h_am: f64,
    /// Air–outdoor conductance (glazing, ventilation, infiltration), W/K.
    pub h_ao: f64,
    /// Mass–outdoor conductance (opaque façade), W/K.
    pub h_mo: f64,
    /// Glazing area, m².
    pub window: f64,
    /// East component of the façade's outward unit normal.
    pub normal_east: f64,
    /// North component of the façade's outward unit normal.
    pub normal_north: f64,
    /// Heating capacity, W.
    pub q_heat_max: f64,
    /// Cooling capacity, W.
    pub q_cool_max: f64,
    /// Nominal occupants, persons.
    pub occupants: f64,
    /// Occupancy start, hour of day.
    pub occ_start: f64,
    /// Occupancy end, hour of day.
    pub occ_end: f64,
}

impl Zone {
    /// Whether the zone is occupied at hour of day `h` (weekdays).
    #[inline]
    pub fn occupied(&self, h: f64) -> bool {
        h >= self.occ_start && h < self.occ_end
    }
}

/// Physical and economic parameters of the building.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub zones: [Zone; N_ZONES],
    /// Inter-zone air-to-air conductances, W/K (symmetric, zero diagonal).
    pub h_zz: [[f64; N_ZONES]; N_ZONES],
    /// Latitude, degrees north.
    pub latitude_deg: f64,
    /// Effective solar transmittance of the glazing (g-value × shading factor).
    pub g_eff: f64,
    /// Fraction of solar gains released to the air node.
    pub solar_to_air: f64,
    /// Fraction of internal gains released to the air node.
    pub internal_to_air: f64,
    /// Sensible heat per occupant, W.
    pub q_person: f64,
    /// Lighting and plug loads while occupied, W/m².
    pub q_equip_occ: f64,
    /// Stand-by loads while unoccupied, W/m².
    pub q_equip_unocc: f64,
    /// ASHRAE clear-sky apparent extraterrestrial irradiance A, W/m².
    pub sky_a: f64,
    /// ASHRAE clear-sky optical depth B.
    pub sky_b: f64,
    /// ASHRAE clear-sky diffuse factor C.
    pub sky_c: f64,
    /// Ground reflectance.
    pub albedo: f64,
    /// Second-law efficiency of the heat pump and the chiller.
    pub eta_carnot: f64,
    /// Heating supply temperature, °C.
    pub t_supply: f64,
    /// Chiller evaporator temperature, °C.
    pub t_evap: f64,
    /// Condensing temperature above outdoor, K.
    pub dt_cond: f64,
    /// COP clip range.
    pub cop_range: (f64, f64),
    /// EER clip range.
    pub eer_range: (f64, f64),
    /// Electricity price off-peak (22–07 h), shoulder (07–14, 19–22 h), peak (14–19 h), EUR/kWh.
    pub price: (f64, f64, f64),
    /// Productivity cost per occupant and kelvin outside the band, EUR/(K·h).
    pub comfort_cost: f64,
    /// Cap on the discomfort entering the reward, K.
    pub discomfort_cap: f64,
}

impl Params {
    /// The office floor described in the module documentation.
    pub fn nominal() -> Self {
        const RHO_CP_AIR: f64 = 1206.0; // J/(m³K)
        const HEIGHT: f64 = 3.0; // clear height, m
        const FLOOR_TO_FLOOR: f64 = 3.5; // m
        const WWR: f64 = 0.35;
        const U_WIN: f64 = 1.3;
        const U_WALL: f64 = 0.30;
        const C_FURN: f64 = 10_000.0; // J/(m²K)
        const C_MASS: f64 = 165_000.0; // J/(m²K), ISO 13790 medium
        const H_MS: f64 = 9.1 * 2.5; // W/(m²K) of floor, ISO 13790
        const VENT: f64 = 1.4e-3; // m³/(s m²)
        const ETA_HR: f64 = 0.75;
        const ACH_INF: f64 = 0.1; // 1/h
        const U_PART: f64 = 2.0; // W/(m²K) incl. air exchange
        const DENSITY: f64 = 0.1; // persons/m²
        // Plate 24 m (E–W) × 16 m (N–S), perimeter depth 4.5 m.
        let depth = 4.5;
        let (lx, ly) = (24.0, 16.0);
        let (cx, cy) = (lx - 2.0 * depth, ly - 2.0 * depth); // core 15 × 7 m
        let a_ns = 0.5 * (lx + cx) * depth;
        let a_ew = 0.5 * (ly + cy) * depth;
        let zone = |area: f64,
                    facade_len: f64,
                    normal: (f64, f64),
                    q_heat: f64,
                    q_cool: f64,
                    occ: (f64, f64)| {
            let facade = facade_len * FLOOR_TO_FLOOR;
            let window = WWR * facade;
            let opaque = facade - window;
            let vent = RHO_CP_AIR * VENT * area * (1.0 - ETA_HR);
            let inf = RHO_CP_AIR * ACH_INF * HEIGHT * area / 3600.0;
            Zone {
                area,
                c_air: (RHO_CP_AIR * HEIGHT + C_FURN) * area,
                c_mass: C_MASS * area,
                h_am: H_MS * area,
                h_ao: U_WIN * window + vent + inf,
                h_mo: U_WALL * opaque,
                window,
                normal_east: normal.0,
                normal_north: normal.1,
                q_heat_max: q_heat * area,
                q_cool_max: q_cool * area,
                occupants: DENSITY * area,
                occ_start: occ.0,
                occ_end: occ.1,
            }
        };
        let zones = [
            zone(a_ns, lx, (0.0, 1.0), 70.0, 100.0, (8.0, 18.0)),
            zone(a_ew, ly, (1.0, 0.0), 70.0, 100.0, (7.0, 17.0)),
            zone(a_ns, lx, (0.0, -1.0), 70.0, 100.0, (8.0, 18.0)),
            zone(a_ew, ly, (-1.0, 0.0), 70.0, 100.0, (9.0, 19.0)),
            zone(cx * cy, 0.0, (0.0, 0.0), 25.0, 60.0, (8.0, 18.0)),
        ];
        // Partitions: perimeter–core along the core's sides, perimeter–perimeter
        // along the 45° corner diagonals.
        let diag = depth * std::f64::consts::SQRT_2 * HEIGHT * U_PART;
        let mut h_zz = [[0.0; N_ZONES]; N_ZONES];
        let mut link = |i: usize, j: usize, h: f64| {
            h_zz[i][j] = h;
            h_zz[j][i] = h;
        };
        link(0, 4, cx * HEIGHT * U_PART);
        link(2, 4, cx * HEIGHT * U_PART);
        link(1, 4, cy * HEIGHT * U_PART);
        link(3, 4, cy * HEIGHT * U_PART);
        link(0, 1, diag);
        link(1, 2, diag);
        link(2, 3, diag);
        link(3, 0, diag);
        Params {
            zones,
            h_zz,
            latitude_deg: 48.0,
            g_eff: 0.35 * 0.75,
            solar_to_air: 0.2,
            internal_to_air: 0.5,
            q_person: 75.0,
            q_equip_occ: 15.0,
            q_equip_unocc: 3.0,
            sky_a: 1160.0,
            sky_b: 0.16,
            sky_c: 0.09,
            albedo: 0.2,
            eta_carnot: 0.45,
            t_supply: 35.0,
            t_evap: 7.0,
            dt_cond: 10.0,
            cop_range: (1.5, 6.0),
            eer_range: (2.0, 6.0),
            price: (0.12, 0.22, 0.38),
            comfort_cost: 0.5,
            discomfort_cap: 3.0,
        }
    }

    /// Continuous-time network `dx/dt = A x + B u` (row-major `A`: NX × NX, `B`: NX × NU).
    fn continuous(&self) -> ([[f64; NX]; NX], [[f64; NU]; NX]) {
        let mut a = [[0.0; NX]; NX];
        let mut b = [[0.0; NU]; NX];
        for (i, z) in self.zones.iter().enumerate() {
            let (ia, im) = (i, N_ZONES + i);
            let h_zones: f64 = self.h_zz[i].iter().sum();
            a[ia][ia] = -(z.h_am + z.h_ao + h_zones) / z.c_air;
            a[ia][im] = z.h_am / z.c_air;
            for (j, &h) in self.h_zz[i].iter().enumerate() {
                if j != i {
                    a[ia][j] = h / z.c_air;
                }
            }
            a[im][im] = -(z.h_am + z.h_mo) / z.c_mass;
            a[im][ia] = z.h_am / z.c_mass;
            b[ia][i] = 1.0 / z.c_air;
            b[im][N_ZONES + i] = 1.0 / z.c_mass;
            b[ia][NU - 1] = z.h_ao / z.c_air;
            b[im][NU - 1] = z.h_mo / z.c_mass;
        }
        (a, b)
    }

    /// Electricity price at hour of day `h`, EUR/kWh.
    #[inline]
    pub fn price_at(&self, h: f64) -> f64 {
        if !(7.0..22.0).contains(&h) {
            self.price.0
        } else if (14.0..19.0).contains(&h) {
            self.price.2
        } else {
            self.price.1
        }
    }

    /// Heat-pump COP and chiller EER at outdoor temperature `t_out`, °C.
    #[inline]
    pub fn cop_eer(&self, t_out: f64) -> (f64, f64) {
        const K0: f64 = 273.15;
        let cop = self.eta_carnot * (self.t_supply + K0) / (self.t_supply - t_out).max(1e-3);
        let eer =
            self.eta_carnot * (self.t_evap + K0) / (t_out + self.dt_cond - self.t_evap).max(1e-3);
        (
            cop.clamp(self.cop_range.0, self.cop_range.1),
            eer.clamp(self.eer_range.0, self.eer_range.1),
        )
    }
}

/// Exogenous inputs over one interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exogenous {
    /// Outdoor temperature, °C.
    pub t_out: f64,
    /// Solar and internal gains released to each air node, W.
    pub q_air: [f64; N_ZONES],
    /// Solar and internal gains released to each mass node, W.
    pub q_mass: [f64; N_ZONES],
}

/// The five-zone office floor (see the module documentation).
#[derive(Debug)]
pub struct HvacControl {
    spec: EnvSpec,
    options: EnvOptions,
    params: Params,
    /// `[A_d B_d]` stored by columns: `x_{k+1} = Σ_j g[j] z_j`, `z = [x_k; u_k]`.
    g: [[f64; NX]; NX + NU],
    sin_lat: f64,
    cos_lat: f64,
    /// AR(1) coefficient and innovation σ of the weather noise.
    weather_ar: (f64, f64),
    /// AR(1) coefficient and innovation σ of the cloud cover.
    cloud_ar: (f64, f64),
    /// `(sin θ, cos θ)` of the daily phase `θ = 2πh/24` on the grid of half
    /// control intervals (every time the model evaluates lies on it).
    phase_table: [(f64, f64); PHASES],
}

/// Half control intervals per day.
const PHASES: usize = (48.0 / DT_H) as usize;

/// Hour of day in `[0, 24)` of `t_h` hours since Monday 00:00.
#[inline]
pub fn hour_of_day(t_h: f64) -> f64 {
    t_h - 24.0 * libm::floor(t_h / 24.0)
}

impl HvacControl {
    /// The nominal building.
    pub fn new(options: EnvOptions) -> Self {
        Self::with_params(Params::nominal(), options)
    }

    /// A building with explicit parameters (used by the physics tests).
    pub fn with_params(params: Params, options: EnvOptions) -> Self {
        // Exact ZOH discretisation via the augmented exponential (Van Loan 1978).
        let (a, b) = params.continuous();
        let n = NX + NU;
        let mut m = vec![0.0; n * n];
        for i in 0..NX {
            for j in 0..NX {
                m[i * n + j] = a[i][j] * DT;
            }
            for k in 0..NU {
                m[i * n + NX + k] = b[i][k] * DT;
            }
        }
        let e = expm(&m, n);
        let mut g = [[0.0; NX]; NX + NU];
        for i in 0..NX {
            for (j, col) in g.iter_mut().enumerate() {
                col[i] = e[i * n + j];
            }
        }
        let lat = params.latitude_deg.to_radians();
        let ar = |tau_h: f64, sigma: f64| {
            let phi = libm::exp(-DT_H / tau_h);
            (phi, sigma * (1.0 - phi * phi).sqrt())
        };
        let spec = Self::make_spec(&params);
        let mut phase_table = [(0.0, 1.0); PHASES];
        for (k, ph) in phase_table.iter_mut().enumerate() {
            *ph = libm::sincos(std::f64::consts::TAU * k as f64 / PHASES as f64);
        }
        HvacControl {
            phase_table,
            spec,
            options,
            g,
            sin_lat: libm::sin(lat),
            cos_lat: libm::cos(lat),
            weather_ar: ar(6.0, 1.0),
            cloud_ar: ar(3.0, 0.25),
            params,
        }
    }

    fn make_spec(p: &Params) -> EnvSpec {
        let mut observations = Vec::with_capacity(obs::DIM);
        for z in ZONE_NAMES {
            observations.push(Dim::new(format!("T_zone_{z}"), "degC", 0.0, 45.0));
        }
        observations.push(Dim::new("T_out", "degC", -30.0, 45.0));
        observations.push(Dim::new("sin_tod", "-", -1.0, 1.0));
        observations.push(Dim::new("cos_tod", "-", -1.0, 1.0));
        for z in ZONE_NAMES {
            observations.push(Dim::new(format!("occupied_{z}"), "-", 0.0, 1.0));
        }
        observations.push(Dim::new("price", "EUR/kWh", 0.0, 0.5));
        observations.push(Dim::new("T_comfort_low", "degC", 15.0, 30.0));
        observations.push(Dim::new("T_comfort_high", "degC", 15.0, 30.0));
        let actions = ZONE_NAMES
            .iter()
            .zip(&p.zones)
            .map(|(name, z)| Dim::new(format!("Q_{name}"), "W", -z.q_cool_max, z.q_heat_max))
            .collect();
        let mut constraints = Vec::with_capacity(3 * N_ZONES);
        for z in ZONE_NAMES {
            constraints.push(ConstraintSpec::hard_min(
                &format!("freeze_{z}"),
                T_FREEZE,
                "degC",
                "zone air temperature; frost protection of water-filled fan-coils and façade pipework (BMS frost-protection trip)",
            ));
        }
        for z in ZONE_NAMES {
            constraints.push(ConstraintSpec::hard_max(
                &format!("overheat_{z}"),
                T_OVERHEAT,
                "degC",
                "zone air temperature; IT/electronic equipment limits and occupant heat stress (overheat trip)",
            ));
        }
        for z in ZONE_NAMES {
            constraints.push(ConstraintSpec::soft_max(
                &format!("discomfort_{z}"),
                0.0,
                "K",
                "kelvin outside the season's comfort band (20–24 °C heating season, 23–26 °C cooling season; ISO 7730 / ASHRAE 55) while the zone is occupied, 0 when unoccupied",
            ));
        }
        EnvSpec {
            id: "HVACControl-v0".into(),
            description: "Supervisory temperature control of a five-zone office floor (north, east, south, west perimeter zones and a core) modelled as an RC thermal network with an air and a mass node per zone, outdoor weather with a daily cycle and weather fronts, façade solar gains under variable cloud, office-hours occupancy and a time-of-use electricity tariff. The agent sets each zone's heating/cooling power every 15 minutes for four working days to minimise the electricity bill plus the productivity cost of discomfort, keeping every zone above 12 °C (frost protection) and below 32 °C (overheat).".into(),
            sources: SOURCES.iter().map(|s| s.to_string()).collect(),
            observations,
            actions,
            dt: DT,
            horizon: HORIZON,
            constraints,
            reward_range: (REWARD_MIN, 0.0),
            ref_random_return: -5167.650714904221,
            ref_expert_return: -21.5515763072915,
            breach: super::spec::BreachPenalty::RemainingHorizon,
        }
    }

    /// The building's parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// `(sin θ, cos θ)` of the daily phase `θ = 2πh/24` at hour of day `h`
    /// (from the table on the half-interval grid, computed otherwise).
    #[inline]
    fn phase(&self, h: f64) -> (f64, f64) {
        let q = h * (PHASES as f64 / 24.0);
        let k = q as usize;
        if k as f64 == q && k < PHASES {
            self.phase_table[k]
        } else {
            libm::sincos(std::f64::consts::TAU * h / 24.0)
        }
    }

    /// Outdoor temperature with front offset `front`, given the daily
    /// phase `(sin θ, cos θ)`, `θ = 2πh/24`.
    #[inline]
    fn t_out(&self, s: &[f64], front: f64, sin_t: f64, cos_t: f64) -> f64 {
        // cos(2π(h − 15)/24) = cos(θ − 5π/4) = −(cos θ + sin θ)/√2.
        let daily = -(cos_t + sin_t) * std::f64::consts::FRAC_1_SQRT_2;
        s[st::T_MEAN] + s[st::T_AMP] * daily + front + s[st::WEATHER]
    }

    /// The front offset half an interval after the state's time, for an
    /// interval whose midpoint is `t_mid` (exact exponential relaxation
    /// towards `ΔF` once the midpoint has passed the onset).
    #[inline]
    fn front_ahead(s: &[f64], t_mid: f64) -> f64 {
        let f = s[st::FRONT];
        if t_mid >= s[st::FRONT_T] {
            let target = s[st::FRONT_DT];
            target + (f - target) * s[st::FRONT_DECAY]
        } else {
            f
        }
    }

    /// Outdoor temperature, solar and internal gains at time `t_h` (hours
    /// since the start) for the scenario in `s`.
    pub fn exogenous(&self, s: &[f64], t_h: f64) -> Exogenous {
        let p = &self.params;
        let h = hour_of_day(t_h);
        let (sin_t, cos_t) = self.phase(h);
        let t_out = self.t_out(s, Self::front_ahead(s, t_h), sin_t, cos_t);
        // Hour angle ω = θ − π (solar noon at 12:00).
        let (sin_w, cos_w) = (-sin_t, -cos_t);
        // Sun direction (east, north, up) for declination δ, hour angle ω.
        let (sd, cd) = (s[st::SIN_DECL], s[st::COS_DECL]);
        let up = self.sin_lat * sd + self.cos_lat * cd * cos_w;
        let east = -cd * sin_w;
        let north = self.cos_lat * sd - self.sin_lat * cd * cos_w;
        let (dni, dhi) = if up > 0.0 {
            let dni = p.sky_a * libm::exp(-p.sky_b / up);
            (dni, p.sky_c * dni)
        } else {
            (0.0, 0.0)
        };
        let ghi = dni * up.max(0.0) + dhi;
        let cloud = s[st::CLOUD];
        let k_cloud = if dni > 0.0 && cloud > 0.0 {
            // N^3.4 = e^{3.4 ln N}.
            1.0 - 0.75 * libm::exp(3.4 * libm::log(cloud))
        } else {
            1.0
        };
        let diffuse = 0.5 * dhi + 0.5 * p.albedo * ghi;
        let occ_gain = p.q_person;
        let mut q_air = [0.0; N_ZONES];
        let mut q_mass = [0.0; N_ZONES];
        for (i, z) in p.zones.iter().enumerate() {
            let q_sol = if z.window > 0.0 {
                let cos_inc = z.normal_east * east + z.normal_north * north;
                p.g_eff * z.window * k_cloud * (dni * cos_inc.max(0.0) + diffuse)
            } else {
                0.0
            };
            let q_int = if z.occupied(h) {
                z.occupants * s[st::ATTEND + i] * occ_gain + z.area * p.q_equip_occ
            } else {
                z.area * p.q_equip_unocc
            };
            q_air[i] = p.internal_to_air * q_int + p.solar_to_air * q_sol;
            q_mass[i] = (1.0 - p.internal_to_air) * q_int + (1.0 - p.solar_to_air) * q_sol;
        }
        Exogenous {
            t_out,
            q_air,
            q_mass,
        }
    }

    /// Kelvin outside the comfort band of zone `i` in state `s` (0 when unoccupied).
    #[inline]
    fn discomfort(&self, s: &[f64], h: f64, i: usize) -> f64 {
        if self.params.zones[i].occupied(h) {
            let t = s[st::T_AIR + i];
            (s[st::BAND_LO] - t).max(t - s[st::BAND_HI]).max(0.0)
        } else {
            0.0
        }
    }

    /// Electricity cost of applying `action` for one interval at time `t_h`
    /// with outdoor temperature `t_out`, EUR.
    #[inline]
    pub fn energy_cost(&self, action: &[f64], t_h: f64, t_out: f64) -> f64 {
        let (cop, eer) = self.params.cop_eer(t_out);
        let mut p_el = 0.0;
        for &q in &action[..N_ZONES] {
            p_el += if q >= 0.0 { q / cop } else { -q / eer };
        }
        self.params.price_at(hour_of_day(t_h)) * p_el * 1e-3 * DT_H
    }

    /// Productivity cost of discomfort in state `s` over one interval, EUR.
    #[inline]
    pub fn discomfort_cost(&self, s: &[f64]) -> f64 {
        let p = &self.params;
        let h = hour_of_day(s[st::TIME_H]);
        let mut c = 0.0;
        for (i, z) in p.zones.iter().enumerate() {
            let d = self.discomfort(s, h, i);
            if d > 0.0 {
                c += p.comfort_cost
                    * z.occupants
                    * s[st::ATTEND + i]
                    * d.min(p.discomfort_cap)
                    * DT_H;
            }
        }
        c
    }
}

impl Model for HvacControl {
    fn spec(&self) -> &EnvSpec {
        &self.spec
    }

    fn state_dim(&self) -> usize {
        st::DIM
    }

    fn reset(&self, s: &mut [f64], rng: &mut EnvRng) {
        for i in 0..N_ZONES {
            let tm = uniform_in(rng, 17.0, 24.0);
            s[st::T_MASS + i] = tm;
            s[st::T_AIR + i] = tm + uniform_in(rng, -1.0, 1.0);
        }
        s[st::TIME_H] = 0.0;
        s[st::FRONT] = 0.0;
        let season;
        if self.options.disturbances {
            season = uniform_in(rng, -1.0, 1.0);
            s[st::T_MEAN] = 10.0 + 12.0 * season + uniform_in(rng, -3.0, 3.0);
            s[st::T_AMP] = uniform_in(rng, 3.0, 6.0);
            s[st::FRONT_T] = uniform_in(rng, 6.0, 90.0);
            s[st::FRONT_DT] = uniform_in(rng, -6.0, 6.0);
            let tau = uniform_in(rng, 2.0, 8.0);
            s[st::FRONT_DECAY] = libm::exp(-0.5 * DT_H / tau);
            s[st::WEATHER] = self.weather_ar.1
                / (1.0 - self.weather_ar.0 * self.weather_ar.0).sqrt()
                * normal(rng);
            let cloud = uniform_in(rng, 0.1, 0.8);
            s[st::CLOUD_MEAN] = cloud;
            s[st::CLOUD] = cloud;
            for i in 0..N_ZONES {
                s[st::ATTEND + i] = uniform_in(rng, 0.6, 1.1);
            }
        } else {
            season = -0.3;
            s[st::T_MEAN] = 10.0 + 12.0 * season;
            s[st::T_AMP] = 4.5;
            s[st::FRONT_T] = 0.0;
            s[st::FRONT_DT] = 0.0;
            s[st::FRONT_DECAY] = 1.0;
            s[st::WEATHER] = 0.0;
            s[st::CLOUD_MEAN] = 0.4;
            s[st::CLOUD] = 0.4;
            for i in 0..N_ZONES {
                s[st::ATTEND + i] = 1.0;
            }
        }
        let decl = (23.44 * season).to_radians();
        s[st::SIN_DECL] = libm::sin(decl);
        s[st::COS_DECL] = libm::cos(decl);
        let band = if s[st::T_MEAN] < SEASON_SPLIT {
            BAND_HEATING
        } else {
            BAND_COOLING
        };
        s[st::BAND_LO] = band.0;
        s[st::BAND_HI] = band.1;
    }

    fn step(&self, s: &mut [f64], action: &[f64], rng: &mut EnvRng) -> Transition {
        let t = s[st::TIME_H];
        let ex = self.exogenous(s, t + 0.5 * DT_H);
        // z = [x_k; u_k], u = [Q + gains to air, gains to mass, T_out].
        let mut z = [0.0; NX + NU];
        z[..NX].copy_from_slice(&s[..NX]);
        for i in 0..N_ZONES {
            z[NX + i] = action[i] + ex.q_air[i];
            z[NX + N_ZONES + i] = ex.q_mass[i];
        }
        z[NX + NU - 1] = ex.t_out;
        // Two independent accumulators (A_d x and B_d u) halve the add chain.
        let (mut xa, mut xb) = ([0.0; NX], [0.0; NX]);
        for j in 0..NX {
            let (zx, zu) = (z[j], z[NX + j]);
            for i in 0..NX {
                xa[i] += self.g[j][i] * zx;
                xb[i] += self.g[NX + j][i] * zu;
            }
        }
        for i in 0..NX {
            s[i] = xa[i] + xb[i] + self.g[NX + NU - 1][i] * z[NX + NU - 1];
        }
        let energy = self.energy_cost(action, t, ex.t_out);
        if self.options.disturbances {
            let (e_weather, e_cloud) = normal_pair(rng);
            let (phi, sig) = self.weather_ar;
            s[st::WEATHER] = phi * s[st::WEATHER] + sig * e_weather;
            let (phi, sig) = self.cloud_ar;
            let mean = s[st::CLOUD_MEAN];
            s[st::CLOUD] = (mean + phi * (s[st::CLOUD] - mean) + sig * e_cloud).clamp(0.0, 1.0);
        }
        if t + 0.5 * DT_H >= s[st::FRONT_T] {
            let target = s[st::FRONT_DT];
            let decay = s[st::FRONT_DECAY];
            s[st::FRONT] = target + (s[st::FRONT] - target) * (decay * decay);
        }
        s[st::TIME_H] = t + DT_H;
        let discomfort = self.discomfort_cost(s);
        Transition {
            reward: (-(energy + discomfort)).max(REWARD_MIN),
            terminal: false,
        }
    }

    fn observe(&self, s: &[f64], o: &mut [f32], rng: &mut EnvRng) {
        let t = s[st::TIME_H];
        let h = hour_of_day(t);
        let (sin_t, cos_t) = self.phase(h);
        let t_out = self.t_out(s, s[st::FRONT], sin_t, cos_t);
        // Noise for zones 1–5 and outdoor, in that order, three pairs (`math::normal_pair`, ziggurat).
        let mut n = [0.0; N_ZONES + 1];
        if self.options.sensor_noise {
            for pair in n.chunks_exact_mut(2) {
                let (a, b) = normal_pair(rng);
                pair[0] = a;
                pair[1] = b;
            }
        }
        for i in 0..N_ZONES {
            o[obs::T_ZONE + i] = (s[st::T_AIR + i] + 0.1 * n[i]) as f32;
        }
        o[obs::T_OUT] = (t_out + 0.3 * n[N_ZONES]) as f32;
        o[obs::SIN_TOD] = sin_t as f32;
        o[obs::COS_TOD] = cos_t as f32;
        for (i, z) in self.params.zones.iter().enumerate() {
            o[obs::OCC + i] = if z.occupied(h) { 1.0 } else { 0.0 };
        }
        o[obs::PRICE] = self.params.price_at(h) as f32;
        o[obs::BAND_LO] = s[st::BAND_LO] as f32;
        o[obs::BAND_HI] = s[st::BAND_HI] as f32;
    }

    fn constraints(&self, s: &[f64], out: &mut [f64]) {
        let h = hour_of_day(s[st::TIME_H]);
        for i in 0..N_ZONES {
            out[i] = s[st::T_AIR + i];
            out[N_ZONES + i] = s[st::T_AIR + i];
            out[2 * N_ZONES + i] = self.discomfort(s, h, i);
        }
    }

    fn safe_action(&self, s: &[f64], action: &mut [f64]) {
        for (i, z) in self.params.zones.iter().enumerate() {
            let t = s[st::T_AIR + i];
            action[i] = if t < 16.0 {
                z.q_heat_max
            } else if t > 28.0 {
                -z.q_cool_max
            } else {
                0.0
            };
        }
    }
}

/// Registry constructor.
pub fn build(options: EnvOptions) -> Arc<dyn Model> {
    Arc::new(HvacControl::new(options))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// A building without gains or inter-zone coupling (each zone isolated),
    /// with a constant outdoor temperature `t_out`.
    fn isolated(mut p: Params) -> (HvacControl, Vec<f64>, EnvRng) {
        p.h_zz = [[0.0; N_ZONES]; N_ZONES];
        p.q_person = 0.0;
        p.q_equip_occ = 0.0;
        p.q_equip_unocc = 0.0;
        for z in &mut p.zones {
            z.window = 0.0;
        }
        let model = HvacControl::with_params(p, EnvOptions::deterministic());
        let mut rng = EnvRng::seed_from_u64(1);
        let mut s = vec![0.0; st::DIM];
        model.reset(&mut s, &mut rng);
        s[st::T_AMP] = 0.0;
        (model, s, rng)
    }

    #[test]
    fn isolated_air_node_decays_to_outdoor_with_rc_time_constant() {
        // Decouple the mass (H_am = 0): the air node is a single RC element,
        // T(t) = T_out + (T0 − T_out) e^{−t/τ}, τ = C_a / H_ao.
        let mut p = Params::nominal();
        for z in &mut p.zones {
            z.h_am = 0.0;
        }
        let (model, mut s, mut rng) = isolated(p);
        let t_out = 3.0;
        s[st::T_MEAN] = t_out;
        let t0 = [25.0, 22.0, 18.0, 30.0, 21.0];
        s[..N_ZONES].copy_from_slice(&t0);
        let zero = [0.0; N_ZONES];
        for k in 1..=40 {
            model.step(&mut s, &zero, &mut rng);
            let t = k as f64 * DT;
            for (i, z) in model.params().zones.iter().enumerate() {
                let tau = z.c_air / z.h_ao;
                let exact = t_out + (t0[i] - t_out) * libm::exp(-t / tau);
                assert!(
                    (s[st::T_AIR + i] - exact).abs() < 1e-9,
                    "zone {i} step {k}: {} vs {exact}",
                    s[st::T_AIR + i]
                );
            }
        }
    }

    #[test]
    fn isolated_two_node_zone_matches_analytic_solution() {
        // x' = A (x − T_out), A = [[−(H_am+H_ao)/C_a, H_am/C_a], [H_am/C_m, −(H_am+H_mo)/C_m]].
        // Sylvester: e^{At} = (e^{λ1 t}(A − λ2 I) − e^{λ2 t}(A − λ1 I)) / (λ1 − λ2).
        let (model, mut s, mut rng) = isolated(Params::nominal());
        let t_out = -4.0;
        s[st::T_MEAN] = t_out;
        for i in 0..N_ZONES {
            s[st::T_AIR + i] = 24.0 - i as f64;
            s[st::T_MASS + i] = 19.0 + 0.5 * i as f64;
        }
        let x0: Vec<f64> = s[..NX].to_vec();
        let zero = [0.0; N_ZONES];
        for k in 1..=200 {
            model.step(&mut s, &zero, &mut rng);
            if k % 20 != 0 {
                continue;
            }
            let t = k as f64 * DT;
            for (i, z) in model.params().zones.iter().enumerate() {
                let a11 = -(z.h_am + z.h_ao) / z.c_air;
                let a12 = z.h_am / z.c_air;
                let a21 = z.h_am / z.c_mass;
                let a22 = -(z.h_am + z.h_mo) / z.c_mass;
                let tr = a11 + a22;
                let det = a11 * a22 - a12 * a21;
                let disc = (tr * tr - 4.0 * det).sqrt();
                let (l1, l2) = (0.5 * (tr + disc), 0.5 * (tr - disc));
                let (e1, e2) = (libm::exp(l1 * t), libm::exp(l2 * t));
                let m = |aii: f64, aij: f64, l: f64, diag: bool| if diag { aii - l } else { aij };
                let y = [x0[i] - t_out, x0[N_ZONES + i] - t_out];
                let phi = |r: usize, c: usize| {
                    let (aa, diag) = match (r, c) {
                        (0, 0) => (a11, true),
                        (0, 1) => (a12, false),
                        (1, 0) => (a21, false),
                        _ => (a22, true),
                    };
                    (e1 * m(aa, aa, l2, diag) - e2 * m(aa, aa, l1, diag)) / (l1 - l2)
                };
                let ta = t_out + phi(0, 0) * y[0] + phi(0, 1) * y[1];
                let tm = t_out + phi(1, 0) * y[0] + phi(1, 1) * y[1];
                assert!((s[st::T_AIR + i] - ta).abs() < 1e-8, "air {i} k {k}");
                assert!((s[st::T_MASS + i] - tm).abs() < 1e-8, "mass {i} k {k}");
            }
        }
    }

    #[test]
    fn steady_state_under_constant_heating_is_t_out_plus_p_r_total() {
        // T_a = T_out + P·R_total, R_total = 1 / (H_ao + H_am H_mo / (H_am + H_mo));
        // the mass sits on the divider: T_m − T_out = (T_a − T_out) H_am / (H_am + H_mo).
        let (model, mut s, mut rng) = isolated(Params::nominal());
        let t_out = 2.0;
        s[st::T_MEAN] = t_out;
        let q = [1500.0, 900.0, -700.0, 400.0, 600.0];
        // 200 days: ≫ the slowest time constant (≈ 4 days).
        for _ in 0..200 * 96 {
            model.step(&mut s, &q, &mut rng);
        }
        for (i, z) in model.params().zones.iter().enumerate() {
            let r_total = 1.0 / (z.h_ao + z.h_am * z.h_mo / (z.h_am + z.h_mo));
            let ta = t_out + q[i] * r_total;
            let tm = t_out + (ta - t_out) * z.h_am / (z.h_am + z.h_mo);
            assert!(
                (s[st::T_AIR + i] - ta).abs() < 1e-6,
                "zone {i}: {} vs {ta}",
                s[i]
            );
            assert!((s[st::T_MASS + i] - tm).abs() < 1e-6, "zone {i} mass");
        }
    }

    /// The continuous network written out node by node, for reference
    /// integration: returns the derivative and the heat lost to outdoor, W.
    fn network_rhs(
        p: &Params,
        x: &[f64; NX],
        q_air: &[f64; N_ZONES],
        q_mass: &[f64; N_ZONES],
        t_out: f64,
    ) -> ([f64; NX], f64) {
        let mut d = [0.0; NX];
        let mut loss = 0.0;
        for (i, z) in p.zones.iter().enumerate() {
            let (ta, tm) = (x[i], x[N_ZONES + i]);
            let mut to_air = z.h_am * (tm - ta) + z.h_ao * (t_out - ta) + q_air[i];
            for (h, tj) in p.h_zz[i].iter().zip(&x[..N_ZONES]) {
                to_air += h * (tj - ta);
            }
            let to_mass = z.h_am * (ta - tm) + z.h_mo * (t_out - tm) + q_mass[i];
            d[i] = to_air / z.c_air;
            d[N_ZONES + i] = to_mass / z.c_mass;
            loss += z.h_ao * (ta - t_out) + z.h_mo * (tm - t_out);
        }
        (d, loss)
    }

    #[test]
    fn energy_balance_over_a_step() {
        // Heat in (HVAC + solar + internal) = storage change + losses to outdoor,
        // the losses integrated independently with fine RK4 on the node equations.
        let model = HvacControl::new(EnvOptions::deterministic());
        let p = model.params().clone();
        let mut rng = EnvRng::seed_from_u64(5);
        let mut s = vec![0.0; st::DIM];
        model.reset(&mut s, &mut rng);
        for start_h in [3.0, 10.5, 13.0, 16.25] {
            s[st::TIME_H] = start_h;
            let q = [2500.0, -1800.0, -4000.0, 1200.0, -900.0];
            let ex = model.exogenous(&s, start_h + 0.5 * DT_H);
            let mut q_air = ex.q_air;
            for i in 0..N_ZONES {
                q_air[i] += q[i];
            }
            let before: Vec<f64> = s[..NX].to_vec();
            model.step(&mut s, &q, &mut rng);
            let storage: f64 = p
                .zones
                .iter()
                .enumerate()
                .map(|(i, z)| {
                    z.c_air * (s[i] - before[i]) + z.c_mass * (s[N_ZONES + i] - before[N_ZONES + i])
                })
                .sum();
            let heat_in: f64 = (0..N_ZONES).map(|i| (q_air[i] + ex.q_mass[i]) * DT).sum();
            // Reference: [nodes..., cumulative loss] integrated by RK4.
            let mut y = [0.0; NX + 1];
            y[..NX].copy_from_slice(&before);
            crate::env::math::rk4_substeps(&mut y, DT, 2000, |y, dy| {
                let mut x = [0.0; NX];
                x.copy_from_slice(&y[..NX]);
                let (d, loss) = network_rhs(&p, &x, &q_air, &ex.q_mass, ex.t_out);
                dy[..NX].copy_from_slice(&d);
                dy[NX] = loss;
            });
            for k in 0..NX {
                assert!((y[k] - s[k]).abs() < 1e-9, "node {k}: {} vs {}", y[k], s[k]);
            }
            let losses = y[NX];
            let scale = heat_in.abs().max(storage.abs()).max(losses.abs());
            assert!(
                (heat_in - storage - losses).abs() < 1e-8 * scale,
                "in {heat_in} storage {storage} losses {losses}"
            );
            assert!(scale > 1e6, "the test should move real energy");
        }
    }

    #[test]
    fn south_facade_solar_gain_at_equinox_noon() {
        // Declination 0, hour angle 0: sin β = cos φ, south façade cos θ = sin φ.
        let model = HvacControl::new(EnvOptions::deterministic());
        let p = model.params();
        let mut rng = EnvRng::seed_from_u64(0);
        let mut s = vec![0.0; st::DIM];
        model.reset(&mut s, &mut rng);
        s[st::SIN_DECL] = 0.0;
        s[st::COS_DECL] = 1.0;
        s[st::CLOUD] = 0.0;
        let t_noon = 24.0 + 12.0;
        let ex = model.exogenous(&s, t_noon);
        let phi = p.latitude_deg.to_radians();
        let (sb, cb) = (libm::cos(phi), libm::sin(phi)); // sin β, cos θ_S
        let dni = p.sky_a * libm::exp(-p.sky_b / sb);
        let dhi = p.sky_c * dni;
        let irr = dni * cb + 0.5 * dhi + 0.5 * p.albedo * (dni * sb + dhi);
        let z = &p.zones[2];
        let internal = z.occupants * p.q_person + z.area * p.q_equip_occ;
        let solar = ex.q_air[2] + ex.q_mass[2] - internal;
        let expected = p.g_eff * z.window * irr;
        assert!(
            (solar - expected).abs() < 1e-9 * expected,
            "{solar} vs {expected}"
        );
        // North façade: diffuse only; east: no beam after noon; core: none.
        let diffuse = p.g_eff * (0.5 * dhi + 0.5 * p.albedo * (dni * sb + dhi));
        let north = ex.q_air[0] + ex.q_mass[0]
            - (p.zones[0].occupants * p.q_person + p.zones[0].area * p.q_equip_occ);
        assert!((north - diffuse * p.zones[0].window).abs() < 1e-6);
        let night = model.exogenous(&s, 24.0 + 1.0);
        for i in 0..N_ZONES {
            let z = &p.zones[i];
            let standby = z.area * p.q_equip_unocc;
            assert!((night.q_air[i] + night.q_mass[i] - standby).abs() < 1e-9);
        }
    }

    #[test]
    fn energy_cost_matches_tariff_and_carnot_cop() {
        let model = HvacControl::new(EnvOptions::deterministic());
        let p = model.params();
        // 4 kW heating in one zone at 03:00, T_out = 0 °C: COP = 0.45·308.15/35.
        let cop = 0.45 * 308.15 / 35.0;
        let cost = model.energy_cost(&[4000.0, 0.0, 0.0, 0.0, 0.0], 3.0, 0.0);
        assert!((cost - p.price.0 * 4.0 / cop * 0.25).abs() < 1e-12);
        // 3 kW cooling at 15:00, T_out = 30 °C: EER = 0.45·280.15/33.
        let eer = 0.45 * 280.15 / 33.0;
        let cost = model.energy_cost(&[0.0, 0.0, -3000.0, 0.0, 0.0], 24.0 + 15.0, 30.0);
        assert!((cost - p.price.2 * 3.0 / eer * 0.25).abs() < 1e-12);
    }

    #[test]
    fn reward_floor_covers_the_worst_step() {
        let model = HvacControl::new(EnvOptions::default());
        let p = model.params();
        let e_max: f64 = p
            .zones
            .iter()
            .map(|z| (z.q_heat_max / p.cop_range.0).max(z.q_cool_max / p.eer_range.0))
            .sum::<f64>()
            * 1e-3
            * DT_H
            * p.price.2;
        let d_max: f64 = p
            .zones
            .iter()
            .map(|z| p.comfort_cost * z.occupants * 1.1 * p.discomfort_cap * DT_H)
            .sum();
        assert!(e_max + d_max <= -REWARD_MIN, "{e_max} + {d_max}");
    }

    /// Wall-clock ns per step (step + constraints + observe) over 2·10⁶ steps.
    fn time_steps(options: EnvOptions) -> f64 {
        use crate::env::core;
        let model = HvacControl::new(options);
        let spec = model.spec().clone();
        let mut rng = EnvRng::seed_from_u64(0);
        let mut s = vec![0.0; st::DIM];
        let mut o = vec![0f32; obs::DIM];
        let mut c = vec![0.0; spec.n_constraints()];
        let a: Vec<f64> = spec.actions.iter().map(|d| 0.1 * d.high).collect();
        let n = 2_000_000;
        let mut acc = 0.0;
        let t0 = std::time::Instant::now();
        for k in 0..n {
            if k % HORIZON == 0 {
                model.reset(&mut s, &mut rng);
            }
            acc += model.step(&mut s, &a, &mut rng).reward;
            core::evaluate_constraints(&model, &spec, &s, &mut c);
            model.observe(&s, &mut o, &mut rng);
        }
        let ns = t0.elapsed().as_nanos() as f64 / n as f64;
        println!("HVACControl-v0 {options:?}: {ns:.1} ns/step, checksum {acc}");
        ns
    }

    #[test]
    #[ignore]
    fn timing_with_noise_and_disturbances() {
        time_steps(EnvOptions::default());
    }

    #[test]
    #[ignore]
    fn timing_deterministic() {
        time_steps(EnvOptions::deterministic());
    }
}
