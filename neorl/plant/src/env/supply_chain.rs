//! # SupplyChain-v0 — a three-echelon production–distribution system
//!
//! ## Process
//!
//! One product family (counted in cases) flows through a serial supply
//! chain of three echelons, reviewed once a day:
//!
//! ```text
//!  production line ──L_F=3 d──▶ factory store ──L_W=5 d──▶ distribution ──L_R=2 d──▶ retailer ──▶ customers
//!   (≤ 500 case/d)              (K_F = 3000)               warehouse (K_W = 4000)     (K_R = 2000)
//! ```
//!
//! The factory starts production (its finished goods are released to the
//! factory store after a production-plus-QA lead time `L_F`); the
//! distribution warehouse orders from the factory (trucked in `L_W` days);
//! the retailer orders from the warehouse (delivered in `L_R` days) and
//! serves the end customers. This is the serial system of Clark & Scarf
//! (1960), with the deterministic transport lead times, linear costs and
//! backlogging of Zipkin (2000, ch. 8) and Snyder & Shen (2019, ch. 6), and
//! the stage layout of the OR-Gym `InvManagement` environments (Hubbs et
//! al., 2020), extended by storage capacities, a seasonal and promotional
//! demand, and unplanned line stoppages.
//!
//! **Unmet demand is backlogged** at every stage: customers whose demand the
//! retailer cannot serve wait (and are charged a backorder penalty per case
//! and day, for delay fines, expediting and lost goodwill); a stage that
//! cannot fill its downstream stage's order in full ships what it has and
//! owes the rest. Backlogging keeps the model in the class for which
//! echelon base-stock policies are optimal (Clark & Scarf, 1960).
//!
//! ## Model equations (one step = one day `t`)
//!
//! Notation: on-hand inventory `I_j`, backlog `B_j` owed by stage `j` to its
//! customer (`B_R`: end customers, `B_W`: the retailer, `B_F`: the
//! warehouse), pipeline slots `P_j[k]` (goods that arrive in `k+1` days),
//! actions `q_R` (retailer order), `q_W` (warehouse order), `q_F`
//! (production start). Within a day the events happen in this order:
//!
//! 1. Receipt: `I_j ← I_j + P_j[0]`, `P_j[k] ← P_j[k+1]`, `P_j[L_j−1] ← 0`.
//!    The on-hand stock right after receipt, `Î_j`, is what must fit into
//!    the store (the constraint signals below).
//! 2. Factory ships to the warehouse: `s_FW = min(I_F, B_F + q_W)`,
//!    `I_F ← I_F − s_FW`, `B_F ← B_F + q_W − s_FW`, `P_W[L_W−1] ← s_FW`.
//! 3. Production starts: `P_F[L_F−1] ← y·q_F` with `y = 0` on a line-stoppage
//!    day, else 1.
//! 4. Warehouse ships to the retailer: `s_WR = min(I_W, B_W + q_R)`,
//!    `I_W ← I_W − s_WR`, `B_W ← B_W + q_R − s_WR`, `P_R[L_R−1] ← s_WR`.
//! 5. Customer demand `D_t` arrives: `s_C = min(I_R, B_R + D_t)`,
//!    `I_R ← I_R − s_C`, `B_R ← B_R + D_t − s_C`.
//!
//! So a quantity ordered on day `t` and shipped at once arrives on day
//! `t + L` (and is available to serve that day's demand). The three
//! inventory positions are balanced exactly:
//! `IP_R = I_R + ΣP_R + B_W − B_R` changes by `q_R − D_t`,
//! `IP_W = I_W + ΣP_W + B_F − B_W` by `q_W − q_R`, and
//! `IP_F = I_F + ΣP_F − B_F` by `y·q_F − q_W`.
//!
//! **Demand.** `D_t = m · d̄(doy_t) · ε_t · λ_t` with the deterministic
//! seasonal profile
//! `d̄(doy) = μ · [1 + a_y cos(2π (doy − doy_pk)/365)] · [1 + a_w cos(2π (dow − dow_pk)/7)]`,
//! `dow = doy mod 7` (day 0 = 1 January, a Monday), `μ = 200 case/d`,
//! `a_y = 0.25` (peak `doy_pk = 340`, early December), `a_w = 0.15` (peak on
//! Saturday, `dow_pk = 5`): typical grocery/consumer-goods seasonality
//! (Silver, Pyke & Thomas, 2017, ch. 4). With disturbances on:
//! `ε_t = exp(σ z_t − σ²/2)`, `z_t ~ N(0,1)` (ziggurat, `math::normal`),
//! `σ = 0.25` (log-normal,
//! mean 1, coefficient of variation 0.25); unannounced promotions start with
//! probability `1/40` per day (when none is running), last 3–7 days and lift
//! demand by `λ ~ U(1.3, 1.8)` (else `λ = 1`); the market level of the
//! episode is `m ~ U(0.9, 1.1)` (else `m = 1`).
//!
//! **Line stoppages.** With disturbances on, the production line is down on
//! a day with probability 0.02 (unplanned breakdown, about one a week of
//! downtime in a year, cf. typical OEE availability losses); that day's
//! production start is lost (`y = 0`) and costs nothing.
//!
//! ## State (internal, 32 values)
//!
//! `I_R, I_W, I_F, B_R, B_W, B_F` (case), pipelines `P_R[2], P_W[5], P_F[3]`
//! (case), day counter `t`, start day of the year, market level `m`, the
//! last seven daily demands (ring buffer, case/d), remaining promotion days
//! and its lift, the post-receipt on-hand `Î_R, Î_W, Î_F` of the last day
//! (case), and the last day's demand.
//!
//! ## Observations (15)
//!
//! | # | name | unit | meaning |
//! |---|------|------|---------|
//! | 0–2 | `inv_retailer`, `inv_warehouse`, `inv_factory` | case | on-hand stock at the end of the day (inventory records) |
//! | 3 | `backorders_customers` | case | customer demand waiting at the retailer |
//! | 4 | `backorders_warehouse` | case | retailer orders the warehouse still owes |
//! | 5 | `backorders_factory` | case | warehouse orders the factory still owes |
//! | 6 | `in_transit_retailer` | case | shipped warehouse → retailer, not yet arrived |
//! | 7 | `in_transit_warehouse` | case | shipped factory → warehouse, not yet arrived |
//! | 8 | `wip_factory` | case | production started, not yet released |
//! | 9 | `demand_last` | case/d | yesterday's customer demand (order records) |
//! | 10 | `demand_ma7` | case/d | 7-day moving average of demand |
//! | 11–12 | `doy_sin`, `doy_cos` | - | day of the year of the coming day |
//! | 13–14 | `dow_sin`, `dow_cos` | - | day of the week of the coming day |
//!
//! **Sensor noise** (when enabled): the on-hand counts carry Gaussian record
//! errors of standard deviation 0.5 % of the store's capacity (10, 20 and
//! 15 case), the magnitude of inventory-record inaccuracy reported by
//! DeHoratius & Raman (2008); counts are clipped at zero. Order books,
//! shipments and demand records are exact (they are transactions in the
//! ERP system).
//!
//! ## Actions (3, case/d)
//!
//! | # | name | range | limit |
//! |---|------|-------|-------|
//! | 0 | `order_retailer` | 0–600 | receiving-dock capacity of the retailer (3 × mean demand) |
//! | 1 | `order_warehouse` | 0–800 | outbound truck capacity of the factory |
//! | 2 | `production` | 0–500 | line capacity (two shifts, 2.5 × mean demand) |
//!
//! ## Constraints
//!
//! * **hard** `retailer_storage` `Î_R ≤ 2000 case`, `warehouse_storage`
//!   `Î_W ≤ 4000 case`, `factory_storage` `Î_F ≤ 3000 case`: the stock on
//!   hand right after the day's receipt must fit into the store (about 10,
//!   20 and 15 days of mean demand, usual for a regional store, a
//!   distribution centre and a plant's finished-goods store, Silver et al.,
//!   2017, ch. 11). A delivery that does not fit cannot be accepted: the
//!   trucks are turned away, the lane is blocked and the plan has failed,
//!   so the episode ends as an interlock would.
//! * **soft** `customer_backorders` `B_R ≤ 0 case`: every day with customers
//!   waiting is a stock-out day (service-level KPI).
//!
//! ## Emergency shutdown: overflow diversion
//!
//! Goods already on the road or in production cannot be recalled, so no
//! setting of the three order quantities can keep a store from
//! overflowing once too much is under way and demand falls short. A real
//! logistics operation has a contingency for that: inbound loads that
//! would not fit are diverted to overflow storage (a third-party
//! warehouse or a rented trailer yard; Silver et al., 2017, ch. 11;
//! Chopra & Meindl, 2016, ch. 13). That is this plant's emergency
//! shutdown ([`Model::shutdown`]), tripped by the emergency stop: all
//! orders and the line stop, every day's receipt is accepted only up to
//! the store's capacity and the rest is diverted, and the retailer keeps
//! selling at the seasonal mean demand (the transient draws nothing),
//! for `L_W` days, until every pipeline is empty. It ends the episode (the
//! plan has failed) at the reward floor of −20 k$/d for the day of the
//! trip and every day left, as a breach would, but no delivery is turned
//! away.
//!
//! ## Reward (k$/d)
//!
//! Daily contribution margin
//! `r = [p s_C − c_P y q_F − c_FW s_FW − c_WR s_WR − h_R I_R − h_W I_W − h_F I_F − b B_R] / 1000`,
//! clipped to `[−20, 80]` k$/d, with price `p = 40 $/case`, variable
//! production cost `c_P = 16 $/case`, freight `c_FW = 1.2 $/case` (long
//! haul) and `c_WR = 0.8 $/case` (regional), holding costs `h_R = 0.12`,
//! `h_W = 0.06`, `h_F = 0.04 $/(case·d)` (about 25 %/a capital cost on the
//! value added so far plus storage space, rising downstream as in Zipkin,
//! 2000, §8.3), and backorder penalty `b = 6 $/(case·d)` (delay fines,
//! expediting and lost goodwill, 25 % of the unit margin per day late).
//! The floor of −20 k$/d exceeds the cost of a day of maximum production
//! and freight with full stores (about 15.6 k$) and is reached only with
//! thousands of cases of customer backlog besides; since every day of a
//! continuing episode earns at least the floor, the framework's charge of
//! the floor for every day left after a storage breach never makes a breach
//! pay. A well-run day earns about 4.5 k$.
//!
//! ## Reset
//!
//! Random start day of the year (season), on-hand stock `I_R ~ U(400, 900)`,
//! `I_W ~ U(1000, 2500)`, `I_F ~ U(300, 1000)` case, each pipeline slot
//! `U(0.8, 1.2)` times the mean demand of the start day, no backlogs, the
//! demand history equal to the seasonal profile of the last seven days,
//! and (disturbances on) the market level `m`. Every reset state satisfies
//! the storage limits.
//!
//! ## Integration
//!
//! The model is a discrete-time balance (difference equations) and is
//! advanced exactly, one day per step; there is nothing to integrate.
//! Seasonal factors and time features are tabulated once at construction
//! with `libm::cos`/`libm::sin`, so a step needs no transcendental function
//! beyond the random draws (`libm::exp`/`libm::log` in the ziggurat's rare edge draws, `libm::exp`
//! for the log-normal factor).
//!
//! ## Sources
//!
//! * A. J. Clark, H. Scarf (1960), "Optimal policies for a multi-echelon
//!   inventory problem", *Management Science* 6(4):475–490.
//! * P. H. Zipkin (2000), *Foundations of Inventory Management*,
//!   McGraw-Hill, ch. 6 and 8.
//! * L. V. Snyder, Z.-J. M. Shen (2019), *Fundamentals of Supply Chain
//!   Theory*, 2nd ed., Wiley, ch. 4 and 6.
//! * K. H. Shang, J.-S. Song (2003), "Newsvendor bounds and heuristic for
//!   optimal policies in serial supply chains", *Management Science*
//!   49(5):618–638.
//! * C. D. Hubbs, H. D. Perez, O. Sarwar, N. V. Sahinidis, I. E. Grossmann,
//!   J. M. Wassick (2020), "OR-Gym: A reinforcement learning library for
//!   operations research problems", arXiv:2008.06319.
//! * E. A. Silver, D. F. Pyke, D. J. Thomas (2017), *Inventory and
//!   Production Management in Supply Chains*, 4th ed., CRC Press.
//! * N. DeHoratius, A. Raman (2008), "Inventory record inaccuracy: an
//!   empirical analysis", *Management Science* 54(4):627–641.

use super::math::{normal_pair, uniform, uniform_in};
use super::model::{EnvOptions, EnvRng, Model, Shutdown, Transition};
use super::spec::{ConstraintSpec, Dim, EnvSpec};
use std::f64::consts::TAU;
use std::sync::Arc;

/// Days of the shutdown transient: until the longest pipeline is empty.
pub const SHUTDOWN_STEPS: usize = L_W;

/// Transport lead time warehouse → retailer, d.
pub const L_R: usize = 2;
/// Transport lead time factory → warehouse, d.
pub const L_W: usize = 5;
/// Production (plus QA release) lead time, d.
pub const L_F: usize = 3;

/// Storage capacity of the retailer, case.
pub const CAP_R: f64 = 2000.0;
/// Storage capacity of the distribution warehouse, case.
pub const CAP_W: f64 = 4000.0;
/// Finished-goods storage capacity of the factory, case.
pub const CAP_F: f64 = 3000.0;

/// Largest retailer order (receiving-dock capacity), case/d.
pub const Q_R_MAX: f64 = 600.0;
/// Largest warehouse order (factory outbound trucks), case/d.
pub const Q_W_MAX: f64 = 800.0;
/// Production-line capacity, case/d.
pub const P_MAX: f64 = 500.0;

/// Mean daily customer demand over the year, case/d.
pub const MEAN_DEMAND: f64 = 200.0;
/// Relative amplitude of the yearly season.
pub const A_YEAR: f64 = 0.25;
/// Day of the year of the seasonal peak (0 = 1 January).
pub const PEAK_DOY: f64 = 340.0;
/// Relative amplitude of the weekly pattern.
pub const A_WEEK: f64 = 0.15;
/// Day of the week of the weekly peak (0 = Monday, 5 = Saturday).
pub const PEAK_DOW: f64 = 5.0;
/// Log-standard deviation of the daily demand factor.
pub const SIGMA_LN: f64 = 0.25;
/// Probability per day that a promotion starts (when none runs).
pub const PROMO_PROB: f64 = 1.0 / 40.0;
/// Range of promotion lifts.
pub const PROMO_LIFT: (f64, f64) = (1.3, 1.8);
/// Shortest and longest promotion, d.
pub const PROMO_DAYS: (f64, f64) = (3.0, 7.0);
/// Range of the episode's market-level factor.
pub const MARKET_LEVEL: (f64, f64) = (0.9, 1.1);
/// Probability per day of an unplanned line stoppage.
pub const STOPPAGE_PROB: f64 = 0.02;

/// Selling price, $/case.
pub const PRICE: f64 = 40.0;
/// Variable production cost, $/case.
pub const C_PROD: f64 = 16.0;
/// Freight factory → warehouse, $/case.
pub const C_FW: f64 = 1.2;
/// Freight warehouse → retailer, $/case.
pub const C_WR: f64 = 0.8;
/// Holding cost at the retailer, $/(case·d).
pub const H_R: f64 = 0.12;
/// Holding cost at the warehouse, $/(case·d).
pub const H_W: f64 = 0.06;
/// Holding cost at the factory store, $/(case·d).
pub const H_F: f64 = 0.04;
/// Customer backorder penalty, $/(case·d).
pub const BACKORDER: f64 = 6.0;

/// Record-error standard deviations of the on-hand counts (R, W, F), case.
pub const COUNT_NOISE: [f64; 3] = [10.0, 20.0, 15.0];

/// Per-step reward bounds, k$/d.
pub const REWARD_RANGE: (f64, f64) = (-20.0, 80.0);

/// Days in the episode (one year).
pub const HORIZON: usize = 365;

/// Indices into the state vector.
pub mod state {
    pub const INV_R: usize = 0;
    pub const INV_W: usize = 1;
    pub const INV_F: usize = 2;
    pub const BO_R: usize = 3;
    pub const BO_W: usize = 4;
    pub const BO_F: usize = 5;
    /// `L_R` slots, slot 0 arrives next.
    pub const PIPE_R: usize = 6;
    /// `L_W` slots.
    pub const PIPE_W: usize = PIPE_R + super::L_R;
    /// `L_F` slots.
    pub const PIPE_F: usize = PIPE_W + super::L_W;
    /// Days elapsed in the episode.
    pub const T: usize = PIPE_F + super::L_F;
    /// Day of the year of the first day.
    pub const DOY0: usize = T + 1;
    /// Market-level factor of the episode.
    pub const LEVEL: usize = DOY0 + 1;
    /// Demand of the last 7 days, indexed by `t mod 7`.
    pub const HIST: usize = LEVEL + 1;
    pub const PROMO_LEFT: usize = HIST + 7;
    pub const PROMO_LIFT: usize = PROMO_LEFT + 1;
    /// On-hand right after receipt on the last day (R, W, F).
    pub const PEAK_R: usize = PROMO_LIFT + 1;
    pub const PEAK_W: usize = PEAK_R + 1;
    pub const PEAK_F: usize = PEAK_W + 1;
    pub const LAST_D: usize = PEAK_F + 1;
    pub const DIM: usize = LAST_D + 1;
}

/// Indices into the observation vector.
pub mod obs {
    pub const INV_R: usize = 0;
    pub const INV_W: usize = 1;
    pub const INV_F: usize = 2;
    pub const BO_R: usize = 3;
    pub const BO_W: usize = 4;
    pub const BO_F: usize = 5;
    pub const TRANSIT_R: usize = 6;
    pub const TRANSIT_W: usize = 7;
    pub const WIP_F: usize = 8;
    pub const DEMAND_LAST: usize = 9;
    pub const DEMAND_MA7: usize = 10;
    pub const DOY_SIN: usize = 11;
    pub const DOY_COS: usize = 12;
    pub const DOW_SIN: usize = 13;
    pub const DOW_COS: usize = 14;
    pub const DIM: usize = 15;
}

/// The deterministic demand profile (the tests replace it by a constant).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DemandProfile {
    /// Mean demand, case/d.
    pub mean: f64,
    /// Relative amplitude of the yearly season.
    pub a_year: f64,
    /// Relative amplitude of the weekly pattern.
    pub a_week: f64,
}

impl Default for DemandProfile {
    fn default() -> Self {
        DemandProfile {
            mean: MEAN_DEMAND,
            a_year: A_YEAR,
            a_week: A_WEEK,
        }
    }
}

/// Seasonal factor `1 + a_y cos(2π (doy − doy_pk)/365)`.
pub fn yearly_factor(a_year: f64, doy: usize) -> f64 {
    1.0 + a_year * libm::cos(TAU * (doy as f64 - PEAK_DOY) / 365.0)
}

/// Weekly factor `1 + a_w cos(2π (dow − dow_pk)/7)`.
pub fn weekly_factor(a_week: f64, dow: usize) -> f64 {
    1.0 + a_week * libm::cos(TAU * (dow as f64 - PEAK_DOW) / 7.0)
}

/// The three-echelon supply chain model.
#[derive(Debug)]
pub struct SupplyChain {
    spec: EnvSpec,
    options: EnvOptions,
    demand: DemandProfile,
    /// `μ · yearly · weekly` per day of the year.
    mean_demand: [f64; 365],
    doy_sin: [f64; 365],
    doy_cos: [f64; 365],
    dow_sin: [f64; 7],
    dow_cos: [f64; 7],
    shutdown: Shutdown,
}

/// Build the registered `SupplyChain-v0`.
pub fn build(options: EnvOptions) -> Arc<dyn Model> {
    Arc::new(SupplyChain::new(options))
}

impl SupplyChain {
    /// The model with the default demand profile.
    pub fn new(options: EnvOptions) -> Self {
        Self::with_demand(options, DemandProfile::default())
    }

    /// The model with a custom deterministic demand profile.
    pub fn with_demand(options: EnvOptions, demand: DemandProfile) -> Self {
        let mut mean_demand = [0.0; 365];
        let mut doy_sin = [0.0; 365];
        let mut doy_cos = [0.0; 365];
        for d in 0..365 {
            mean_demand[d] =
                demand.mean * yearly_factor(demand.a_year, d) * weekly_factor(demand.a_week, d % 7);
            let a = TAU * d as f64 / 365.0;
            doy_sin[d] = libm::sin(a);
            doy_cos[d] = libm::cos(a);
        }
        let mut dow_sin = [0.0; 7];
        let mut dow_cos = [0.0; 7];
        for d in 0..7 {
            let a = TAU * d as f64 / 7.0;
            dow_sin[d] = libm::sin(a);
            dow_cos[d] = libm::cos(a);
        }
        SupplyChain {
            spec: spec(),
            options,
            demand,
            mean_demand,
            doy_sin,
            doy_cos,
            dow_sin,
            dow_cos,
            shutdown: Shutdown {
                name: "overflow diversion".into(),
                description: format!(
                    "Contingency of the logistics operation: all orders and the production line \
                     stop; each day's inbound loads are accepted up to the store's capacity and the \
                     rest is diverted to overflow storage, for {SHUTDOWN_STEPS} days until every \
                     pipeline is empty; the retailer keeps selling at the seasonal mean demand. \
                     Ends the episode at the reward floor ({} k$/d) for the day of the trip and \
                     every day left.",
                    REWARD_RANGE.0
                ),
                steps: SHUTDOWN_STEPS,
                reward_per_step: REWARD_RANGE.0,
                sources: vec![
                    "E. A. Silver, D. F. Pyke, D. J. Thomas, Inventory and Production Management \
                     in Supply Chains, 4th ed., CRC Press, 2017, ch. 11 (storage capacity)"
                        .into(),
                    "S. Chopra, P. Meindl, Supply Chain Management: Strategy, Planning, and \
                     Operation, 6th ed., Pearson, 2016 (third-party and overflow warehousing)"
                        .into(),
                ],
            },
        }
    }

    /// The demand profile in use.
    pub fn demand_profile(&self) -> DemandProfile {
        self.demand
    }

    /// Day of the year of episode day `t` given the start day.
    #[inline]
    fn doy(state: &[f64], t: usize) -> usize {
        (state[state::DOY0] as usize + t) % 365
    }

    /// Deterministic mean demand of episode day `t` (market level included).
    #[inline]
    pub fn mean_demand_on(&self, state: &[f64], t: usize) -> f64 {
        state[state::LEVEL] * self.mean_demand[Self::doy(state, t)]
    }
}

fn spec() -> EnvSpec {
    let kr = CAP_R;
    let kw = CAP_W;
    let kf = CAP_F;
    EnvSpec {
        id: "SupplyChain-v0".into(),
        description: "Three-echelon serial supply chain (factory with a production line, \
            distribution warehouse, retailer) with transport and production lead times of \
            3, 5 and 2 days, finite stores and line capacity, seasonal and promotional \
            customer demand that is backlogged when not served, and unplanned line \
            stoppages. Each day the agent sets the retailer's and the warehouse's \
            replenishment orders and the production start, to maximise the contribution \
            margin (revenue − production, freight, holding and backorder costs) without \
            ever delivering more than a store can hold."
            .into(),
        sources: vec![
            "A. J. Clark, H. Scarf (1960), Optimal policies for a multi-echelon inventory problem, Management Science 6(4):475-490".into(),
            "P. H. Zipkin (2000), Foundations of Inventory Management, McGraw-Hill, ch. 6 and 8".into(),
            "L. V. Snyder, Z.-J. M. Shen (2019), Fundamentals of Supply Chain Theory, 2nd ed., Wiley, ch. 4 and 6".into(),
            "K. H. Shang, J.-S. Song (2003), Newsvendor bounds and heuristic for optimal policies in serial supply chains, Management Science 49(5):618-638".into(),
            "C. D. Hubbs et al. (2020), OR-Gym: A reinforcement learning library for operations research problems, arXiv:2008.06319".into(),
            "E. A. Silver, D. F. Pyke, D. J. Thomas (2017), Inventory and Production Management in Supply Chains, 4th ed., CRC Press".into(),
            "N. DeHoratius, A. Raman (2008), Inventory record inaccuracy: an empirical analysis, Management Science 54(4):627-641".into(),
        ],
        observations: vec![
            Dim::new("inv_retailer", "case", 0.0, kr),
            Dim::new("inv_warehouse", "case", 0.0, kw),
            Dim::new("inv_factory", "case", 0.0, kf),
            Dim::new("backorders_customers", "case", 0.0, 5000.0),
            Dim::new("backorders_warehouse", "case", 0.0, 5000.0),
            Dim::new("backorders_factory", "case", 0.0, 5000.0),
            Dim::new("in_transit_retailer", "case", 0.0, L_R as f64 * Q_R_MAX),
            Dim::new("in_transit_warehouse", "case", 0.0, L_W as f64 * Q_W_MAX),
            Dim::new("wip_factory", "case", 0.0, L_F as f64 * P_MAX),
            Dim::new("demand_last", "case/d", 0.0, 1000.0),
            Dim::new("demand_ma7", "case/d", 0.0, 1000.0),
            Dim::new("doy_sin", "-", -1.0, 1.0),
            Dim::new("doy_cos", "-", -1.0, 1.0),
            Dim::new("dow_sin", "-", -1.0, 1.0),
            Dim::new("dow_cos", "-", -1.0, 1.0),
        ],
        actions: vec![
            Dim::new("order_retailer", "case/d", 0.0, Q_R_MAX),
            Dim::new("order_warehouse", "case/d", 0.0, Q_W_MAX),
            Dim::new("production", "case/d", 0.0, P_MAX),
        ],
        dt: 86_400.0,
        horizon: HORIZON,
        constraints: vec![
            ConstraintSpec::hard_max(
                "retailer_storage",
                kr,
                "case",
                "On-hand stock at the retailer right after the day's deliveries; \
                 goods beyond the store's capacity cannot be received.",
            ),
            ConstraintSpec::hard_max(
                "warehouse_storage",
                kw,
                "case",
                "On-hand stock at the distribution warehouse right after the day's \
                 deliveries; pallets beyond the rack capacity cannot be received.",
            ),
            ConstraintSpec::hard_max(
                "factory_storage",
                kf,
                "case",
                "Finished goods in the factory store right after the day's release \
                 from production; a full store stops the line's outfeed.",
            ),
            ConstraintSpec::soft_max(
                "customer_backorders",
                0.0,
                "case",
                "Customer demand waiting at the retailer at the end of the day; \
                 any backorder is a stock-out day (service-level KPI).",
            ),
        ],
        reward_range: REWARD_RANGE,
        ref_random_return: -6702.410183701185,
        ref_expert_return: 1683.8092614297382,
        breach: super::spec::BreachPenalty::RemainingHorizon,
    }
}

impl Model for SupplyChain {
    fn spec(&self) -> &EnvSpec {
        &self.spec
    }

    fn state_dim(&self) -> usize {
        state::DIM
    }

    fn reset(&self, s: &mut [f64], rng: &mut EnvRng) {
        s.fill(0.0);
        // Draw order: start day, three on-hand stocks, the pipeline slots
        // (R, W, F), then (disturbances only) the market level.
        let doy0 = ((uniform(rng) * 365.0) as usize).min(364);
        s[state::DOY0] = doy0 as f64;
        s[state::INV_R] = uniform_in(rng, 400.0, 900.0);
        s[state::INV_W] = uniform_in(rng, 1000.0, 2500.0);
        s[state::INV_F] = uniform_in(rng, 300.0, 1000.0);
        let d0 = self.mean_demand[doy0];
        for k in 0..(L_R + L_W + L_F) {
            s[state::PIPE_R + k] = d0 * uniform_in(rng, 0.8, 1.2);
        }
        s[state::LEVEL] = if self.options.disturbances {
            uniform_in(rng, MARKET_LEVEL.0, MARKET_LEVEL.1)
        } else {
            1.0
        };
        // Demand history: the profile of the seven days before the start,
        // stored at the slot of their day index (t = -7..-1 → (t mod 7)).
        for back in 1..=7usize {
            let doy = (doy0 + 365 - back) % 365;
            let slot = (7 - back) % 7; // (−back) mod 7
            s[state::HIST + slot] = s[state::LEVEL] * self.mean_demand[doy];
        }
        s[state::LAST_D] = s[state::HIST + 6];
        s[state::PROMO_LEFT] = 0.0;
        s[state::PROMO_LIFT] = 1.0;
        s[state::PEAK_R] = s[state::INV_R];
        s[state::PEAK_W] = s[state::INV_W];
        s[state::PEAK_F] = s[state::INV_F];
    }

    fn step(&self, s: &mut [f64], action: &[f64], rng: &mut EnvRng) -> Transition {
        let q_r = action[0];
        let q_w = action[1];
        let q_f = action[2];

        // Random draws in a fixed order: the demand factor (one normal pair,
        // the second variate unused), the promotion start, the line
        // stoppage, and only on a day a promotion starts, its duration and
        // lift.
        let (eps, u_promo, u_stop) = if self.options.disturbances {
            let (z, _) = normal_pair(rng);
            let eps = libm::exp(SIGMA_LN * z - 0.5 * SIGMA_LN * SIGMA_LN);
            (eps, uniform(rng), uniform(rng))
        } else {
            (1.0, 1.0, 1.0)
        };

        // 1. Receipts.
        let arr_r = s[state::PIPE_R];
        for k in 0..L_R - 1 {
            s[state::PIPE_R + k] = s[state::PIPE_R + k + 1];
        }
        s[state::PIPE_R + L_R - 1] = 0.0;
        let arr_w = s[state::PIPE_W];
        for k in 0..L_W - 1 {
            s[state::PIPE_W + k] = s[state::PIPE_W + k + 1];
        }
        s[state::PIPE_W + L_W - 1] = 0.0;
        let arr_f = s[state::PIPE_F];
        for k in 0..L_F - 1 {
            s[state::PIPE_F + k] = s[state::PIPE_F + k + 1];
        }
        s[state::PIPE_F + L_F - 1] = 0.0;
        let mut inv_r = s[state::INV_R] + arr_r;
        let mut inv_w = s[state::INV_W] + arr_w;
        let mut inv_f = s[state::INV_F] + arr_f;
        s[state::PEAK_R] = inv_r;
        s[state::PEAK_W] = inv_w;
        s[state::PEAK_F] = inv_f;

        // 2. Factory ships to the warehouse.
        let due_f = s[state::BO_F] + q_w;
        let ship_fw = inv_f.min(due_f);
        inv_f -= ship_fw;
        s[state::BO_F] = due_f - ship_fw;
        s[state::PIPE_W + L_W - 1] = ship_fw;

        // 3. Production start (lost on a line-stoppage day).
        let made = if u_stop < STOPPAGE_PROB { 0.0 } else { q_f };
        s[state::PIPE_F + L_F - 1] = made;

        // 4. Warehouse ships to the retailer.
        let due_w = s[state::BO_W] + q_r;
        let ship_wr = inv_w.min(due_w);
        inv_w -= ship_wr;
        s[state::BO_W] = due_w - ship_wr;
        s[state::PIPE_R + L_R - 1] = ship_wr;

        // 5. Customer demand.
        let t = s[state::T] as usize;
        let mut left = s[state::PROMO_LEFT];
        if left <= 0.0 && u_promo < PROMO_PROB {
            let u_days = uniform(rng);
            let u_lift = uniform(rng);
            left = (PROMO_DAYS.0 + u_days * (PROMO_DAYS.1 - PROMO_DAYS.0 + 1.0))
                .floor()
                .min(PROMO_DAYS.1);
            s[state::PROMO_LIFT] = PROMO_LIFT.0 + u_lift * (PROMO_LIFT.1 - PROMO_LIFT.0);
        }
        let lift = if left > 0.0 {
            left -= 1.0;
            s[state::PROMO_LIFT]
        } else {
            1.0
        };
        s[state::PROMO_LEFT] = left;
        let demand = self.mean_demand_on(s, t) * eps * lift;
        let due_r = s[state::BO_R] + demand;
        let sold = inv_r.min(due_r);
        inv_r -= sold;
        s[state::BO_R] = due_r - sold;

        s[state::INV_R] = inv_r;
        s[state::INV_W] = inv_w;
        s[state::INV_F] = inv_f;
        s[state::HIST + t % 7] = demand;
        s[state::LAST_D] = demand;
        s[state::T] = (t + 1) as f64;

        let margin = PRICE * sold
            - C_PROD * made
            - C_FW * ship_fw
            - C_WR * ship_wr
            - H_R * inv_r
            - H_W * inv_w
            - H_F * inv_f
            - BACKORDER * s[state::BO_R];
        Transition {
            reward: (margin / 1000.0).clamp(REWARD_RANGE.0, REWARD_RANGE.1),
            terminal: false,
        }
    }

    fn observe(&self, s: &[f64], o: &mut [f32], rng: &mut EnvRng) {
        let (n_r, n_w, n_f) = if self.options.sensor_noise {
            let (z1, z2) = normal_pair(rng);
            let (z3, _) = normal_pair(rng);
            (
                COUNT_NOISE[0] * z1,
                COUNT_NOISE[1] * z2,
                COUNT_NOISE[2] * z3,
            )
        } else {
            (0.0, 0.0, 0.0)
        };
        o[obs::INV_R] = (s[state::INV_R] + n_r).max(0.0) as f32;
        o[obs::INV_W] = (s[state::INV_W] + n_w).max(0.0) as f32;
        o[obs::INV_F] = (s[state::INV_F] + n_f).max(0.0) as f32;
        o[obs::BO_R] = s[state::BO_R] as f32;
        o[obs::BO_W] = s[state::BO_W] as f32;
        o[obs::BO_F] = s[state::BO_F] as f32;
        let mut p_r = 0.0;
        for k in 0..L_R {
            p_r += s[state::PIPE_R + k];
        }
        let mut p_w = 0.0;
        for k in 0..L_W {
            p_w += s[state::PIPE_W + k];
        }
        let mut p_f = 0.0;
        for k in 0..L_F {
            p_f += s[state::PIPE_F + k];
        }
        o[obs::TRANSIT_R] = p_r as f32;
        o[obs::TRANSIT_W] = p_w as f32;
        o[obs::WIP_F] = p_f as f32;
        o[obs::DEMAND_LAST] = s[state::LAST_D] as f32;
        let mut h = 0.0;
        for k in 0..7 {
            h += s[state::HIST + k];
        }
        o[obs::DEMAND_MA7] = (h / 7.0) as f32;
        let doy = Self::doy(s, s[state::T] as usize);
        o[obs::DOY_SIN] = self.doy_sin[doy] as f32;
        o[obs::DOY_COS] = self.doy_cos[doy] as f32;
        o[obs::DOW_SIN] = self.dow_sin[doy % 7] as f32;
        o[obs::DOW_COS] = self.dow_cos[doy % 7] as f32;
    }

    fn constraints(&self, s: &[f64], out: &mut [f64]) {
        out[0] = s[state::PEAK_R];
        out[1] = s[state::PEAK_W];
        out[2] = s[state::PEAK_F];
        out[3] = s[state::BO_R];
    }

    fn safe_action(&self, _state: &[f64], action: &mut [f64]) {
        // Emergency stop of the flow: no new orders, line stopped. Nothing
        // new enters any pipeline, so no store receives more than is
        // already under way.
        action[0] = 0.0;
        action[1] = 0.0;
        action[2] = 0.0;
    }

    fn shutdown(&self) -> Option<&Shutdown> {
        Some(&self.shutdown)
    }

    fn shutdown_step(&self, s: &mut [f64], _k: usize, _rng: &mut EnvRng) {
        // Receipts up to each store's capacity; the rest is diverted.
        for (inv, peak, pipe, lead, cap) in [
            (state::INV_R, state::PEAK_R, state::PIPE_R, L_R, CAP_R),
            (state::INV_W, state::PEAK_W, state::PIPE_W, L_W, CAP_W),
            (state::INV_F, state::PEAK_F, state::PIPE_F, L_F, CAP_F),
        ] {
            let arriving = s[pipe];
            for k in 0..lead - 1 {
                s[pipe + k] = s[pipe + k + 1];
            }
            s[pipe + lead - 1] = 0.0;
            s[inv] = (s[inv] + arriving).min(cap.max(s[inv]));
            s[peak] = s[inv];
        }
        // Nothing ships, nothing is made; customers buy at the mean demand.
        let t = s[state::T] as usize;
        let demand = self.mean_demand_on(s, t);
        let due = s[state::BO_R] + demand;
        let sold = s[state::INV_R].min(due);
        s[state::INV_R] -= sold;
        s[state::BO_R] = due - sold;
        s[state::HIST + t % 7] = demand;
        s[state::LAST_D] = demand;
        s[state::T] = (t + 1) as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::{PolicyKind, make_policy};
    use crate::env::make;
    use crate::rollout::rollout;
    use rand::SeedableRng;

    fn rng(seed: u64) -> EnvRng {
        EnvRng::seed_from_u64(seed)
    }

    /// A model without noise or disturbances and a constant demand `d`.
    fn constant(d: f64) -> SupplyChain {
        SupplyChain::with_demand(
            EnvOptions::deterministic(),
            DemandProfile {
                mean: d,
                a_year: 0.0,
                a_week: 0.0,
            },
        )
    }

    fn pipe(s: &[f64], start: usize, len: usize) -> f64 {
        s[start..start + len].iter().sum()
    }

    /// Local inventory positions (R, W, F).
    fn positions(s: &[f64]) -> [f64; 3] {
        use state::*;
        [
            s[INV_R] + pipe(s, PIPE_R, L_R) + s[BO_W] - s[BO_R],
            s[INV_W] + pipe(s, PIPE_W, L_W) + s[BO_F] - s[BO_W],
            s[INV_F] + pipe(s, PIPE_F, L_F) - s[BO_F],
        ]
    }

    /// The demand profile written out independently of the model's tables.
    fn profile(doy: usize) -> f64 {
        let y = 1.0 + 0.25 * libm::cos(2.0 * std::f64::consts::PI * (doy as f64 - 340.0) / 365.0);
        let w = 1.0 + 0.15 * libm::cos(2.0 * std::f64::consts::PI * ((doy % 7) as f64 - 5.0) / 7.0);
        200.0 * y * w
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0)
    }

    #[test]
    fn inventory_is_conserved_over_an_episode() {
        let m = SupplyChain::new(EnvOptions::deterministic());
        let mut r = rng(3);
        let mut s = [0.0; state::DIM];
        m.reset(&mut s, &mut r);
        let ip0 = positions(&s);
        let physical0 = s[state::INV_R]
            + s[state::INV_W]
            + s[state::INV_F]
            + pipe(&s, state::PIPE_R, L_R + L_W + L_F);
        let bo0 = s[state::BO_R];
        let doy0 = s[state::DOY0] as usize;
        let (mut sum_q, mut sum_d) = ([0.0; 3], 0.0);
        let mut act = rng(17);
        for t in 0..HORIZON {
            let a = [
                uniform_in(&mut act, 0.0, Q_R_MAX),
                uniform_in(&mut act, 0.0, Q_W_MAX),
                uniform_in(&mut act, 0.0, P_MAX),
            ];
            m.step(&mut s, &a, &mut r);
            let d = profile((doy0 + t) % 365);
            assert!(
                close(s[state::LAST_D], d, 1e-12),
                "day {t}: demand {} vs profile {d}",
                s[state::LAST_D]
            );
            for k in 0..3 {
                sum_q[k] += a[k];
            }
            sum_d += d;
        }
        let ip = positions(&s);
        let tol = 1e-9;
        assert!(close(ip[0] - ip0[0], sum_q[0] - sum_d, tol), "retailer");
        assert!(close(ip[1] - ip0[1], sum_q[1] - sum_q[0], tol), "warehouse");
        assert!(close(ip[2] - ip0[2], sum_q[2] - sum_q[1], tol), "factory");
        // Goods: what is on hand or under way = start + produced − delivered,
        // and delivered = demanded − backlog increase.
        let physical = s[state::INV_R]
            + s[state::INV_W]
            + s[state::INV_F]
            + pipe(&s, state::PIPE_R, L_R + L_W + L_F);
        let delivered = sum_d - (s[state::BO_R] - bo0);
        assert!(close(physical, physical0 + sum_q[2] - delivered, tol));
        assert!(s.iter().all(|x| x.is_finite() && *x >= 0.0));
    }

    #[test]
    fn base_stock_reaches_the_closed_form_steady_state() {
        // Constant demand d, local base-stock levels S_j ≥ d (L_j + 1): the
        // end-of-day on-hand settles at S_j − d (L_j + 1) with no backlog.
        let d = 200.0;
        let levels = [1000.0, 2000.0, 1500.0];
        let leads = [L_R, L_W, L_F];
        let m = constant(d);
        for seed in 0..5 {
            let mut r = rng(seed);
            let mut s = [0.0; state::DIM];
            m.reset(&mut s, &mut r);
            let mut reward = 0.0;
            for _ in 0..200 {
                let ip = positions(&s);
                let a = [
                    (levels[0] - ip[0]).clamp(0.0, Q_R_MAX),
                    (levels[1] - ip[1]).clamp(0.0, Q_W_MAX),
                    (levels[2] - ip[2]).clamp(0.0, P_MAX),
                ];
                reward = m.step(&mut s, &a, &mut r).reward;
            }
            let inv = [s[state::INV_R], s[state::INV_W], s[state::INV_F]];
            for j in 0..3 {
                let expect = levels[j] - d * (leads[j] + 1) as f64;
                assert!(
                    (inv[j] - expect).abs() < 1e-9,
                    "seed {seed} stage {j}: {} vs {expect}",
                    inv[j]
                );
            }
            assert_eq!(s[state::BO_R], 0.0);
            assert_eq!(s[state::BO_W], 0.0);
            assert_eq!(s[state::BO_F], 0.0);
            // Each stage receives d a day: the peak is the end stock + d.
            assert!((s[state::PEAK_R] - (inv[0] + d)).abs() < 1e-9);
            // Steady-state margin: sell d, make d, ship d twice, hold S − d(L+1).
            let margin = PRICE * d
                - (C_PROD + C_FW + C_WR) * d
                - H_R * (levels[0] - 3.0 * d)
                - H_W * (levels[1] - 6.0 * d)
                - H_F * (levels[2] - 4.0 * d);
            assert!((reward - margin / 1000.0).abs() < 1e-12, "{reward}");
        }
    }

    #[test]
    fn an_order_placed_on_day_t_arrives_on_day_t_plus_l() {
        let m = constant(0.0);
        let mut s = [0.0; state::DIM];
        m.reset(&mut s, &mut rng(0));
        for k in 0..(L_R + L_W + L_F) {
            s[state::PIPE_R + k] = 0.0;
        }
        s[state::INV_R] = 100.0;
        s[state::INV_W] = 1000.0;
        s[state::INV_F] = 1000.0;
        let (q_r, q_w, q_f) = (123.0, 77.0, 55.0);
        let mut r = rng(1);
        m.step(&mut s, &[q_r, q_w, q_f], &mut r);
        // Shipped at once from the upstream stocks.
        assert_eq!(s[state::INV_W], 1000.0 - q_r);
        assert_eq!(s[state::INV_F], 1000.0 - q_w);
        let mut inv = [0.0; 3];
        for day in 1..=10usize {
            m.step(&mut s, &[0.0, 0.0, 0.0], &mut r);
            inv = [s[state::INV_R], s[state::INV_W], s[state::INV_F]];
            let peak = [s[state::PEAK_R], s[state::PEAK_W], s[state::PEAK_F]];
            let r_exp = if day >= L_R { 100.0 + q_r } else { 100.0 };
            let w_exp = if day >= L_W {
                1000.0 - q_r + q_w
            } else {
                1000.0 - q_r
            };
            let f_exp = if day >= L_F {
                1000.0 - q_w + q_f
            } else {
                1000.0 - q_w
            };
            assert_eq!(inv, [r_exp, w_exp, f_exp], "day {day}");
            assert_eq!(peak, inv, "no demand: peak = end stock (day {day})");
        }
        assert_eq!(pipe(&s, state::PIPE_R, L_R + L_W + L_F), 0.0);
        assert_eq!(inv, [223.0, 1000.0 - 123.0 + 77.0, 1000.0 - 77.0 + 55.0]);
    }

    #[test]
    fn shortages_are_backlogged_and_served_first() {
        let m = constant(200.0);
        let mut s = [0.0; state::DIM];
        m.reset(&mut s, &mut rng(0));
        for k in 0..(L_R + L_W + L_F) {
            s[state::PIPE_R + k] = 0.0;
        }
        s[state::INV_R] = 50.0;
        s[state::INV_W] = 30.0;
        s[state::INV_F] = 0.0;
        let mut r = rng(2);
        m.step(&mut s, &[100.0, 40.0, 0.0], &mut r);
        assert_eq!(s[state::BO_R], 150.0); // 200 demanded, 50 served
        assert_eq!(s[state::BO_W], 70.0); // 100 ordered, 30 shipped
        assert_eq!(s[state::BO_F], 40.0); // nothing to ship
        let mut c = [0.0; 4];
        m.constraints(&s, &mut c);
        assert_eq!(c, [50.0, 30.0, 0.0, 150.0]);
        assert!(m.spec().constraints[3].violated(c[3]));
        // The 30 shipped arrive on day L_R and all go to the waiting customers.
        for _ in 0..L_R {
            m.step(&mut s, &[0.0, 0.0, 0.0], &mut r);
        }
        assert_eq!(s[state::INV_R], 0.0);
        assert_eq!(s[state::BO_R], 150.0 + 200.0 * L_R as f64 - 30.0);
    }

    #[test]
    fn one_step_reward_is_the_contribution_margin() {
        let m = constant(200.0);
        let mut s = [0.0; state::DIM];
        m.reset(&mut s, &mut rng(0));
        for k in 0..(L_R + L_W + L_F) {
            s[state::PIPE_R + k] = 0.0;
        }
        s[state::INV_R] = 500.0;
        s[state::INV_W] = 1000.0;
        s[state::INV_F] = 800.0;
        let tr = m.step(&mut s, &[100.0, 150.0, 120.0], &mut rng(0));
        // sold 200, made 120, shipped 150 and 100; stocks 300, 900, 650.
        let expect = (40.0 * 200.0
            - 16.0 * 120.0
            - 1.2 * 150.0
            - 0.8 * 100.0
            - 0.12 * 300.0
            - 0.06 * 900.0
            - 0.04 * 650.0)
            / 1000.0;
        assert!(
            (tr.reward - expect).abs() < 1e-12,
            "{} vs {expect}",
            tr.reward
        );
        assert!(!tr.terminal);
    }

    #[test]
    fn disturbed_demand_has_the_documented_mean() {
        // Without promotions the demand factor is log-normal with mean 1;
        // promotions add (λ̄ − 1) on the fraction of days they run. Idle
        // spells last (1 − p)/p days on average (a promotion may start on
        // any idle day, and that day is already promoted), promotions E[dur]
        // days, so by the renewal-reward theorem the promoted share is
        // p·E[dur] / (1 − p + p·E[dur]).
        let m = SupplyChain::new(EnvOptions {
            sensor_noise: false,
            disturbances: true,
        });
        let mut r = rng(5);
        let mut s = [0.0; state::DIM];
        let (mut ratio, mut n) = (0.0, 0.0);
        for _ in 0..400 {
            m.reset(&mut s, &mut r);
            for _ in 0..HORIZON {
                let t = s[state::T] as usize;
                let mean = m.mean_demand_on(&s, t);
                m.step(&mut s, &[200.0, 200.0, 200.0], &mut r);
                ratio += s[state::LAST_D] / mean;
                n += 1.0;
            }
        }
        let e_dur = 5.0;
        let p = 1.0 / 40.0;
        let share = p * e_dur / (1.0 - p + p * e_dur);
        let expect = 1.0 + share * (1.55 - 1.0);
        let got = ratio / n;
        assert!((got - expect).abs() < 0.005, "{got} vs {expect}");
    }

    #[test]
    fn reset_is_inside_the_storage_limits_and_observations_in_range() {
        let m = SupplyChain::new(EnvOptions::default());
        let spec = m.spec().clone();
        let mut s = [0.0; state::DIM];
        let mut o = [0f32; obs::DIM];
        let mut c = [0.0; 4];
        for seed in 0..200 {
            let mut r = rng(seed);
            m.reset(&mut s, &mut r);
            m.constraints(&s, &mut c);
            for (k, spec_c) in spec.constraints.iter().enumerate() {
                assert!(!spec_c.violated(c[k]), "seed {seed}: {}", spec_c.name);
            }
            m.observe(&s, &mut o, &mut r);
            for (x, d) in o.iter().zip(&spec.observations) {
                assert!(
                    (*x as f64) >= d.low && (*x as f64) <= d.high,
                    "{} = {x}",
                    d.name
                );
            }
        }
    }

    /// Mean returns of the three policies (seeds of the reference test).
    #[test]
    #[ignore]
    fn report_policies() {
        let mut env = make("SupplyChain-v0").unwrap();
        let spec = env.spec().clone();
        for kind in [PolicyKind::Expert, PolicyKind::Medium, PolicyKind::Random] {
            let mut p = make_policy(&spec, kind).unwrap();
            let r = rollout(&mut env, p.as_mut(), 100, 7).unwrap();
            println!(
                "{kind}: mean {:.1} std {:.1} cost {:.1} hard {} len {:.1}",
                r.mean_return, r.std_return, r.mean_cost, r.hard_violations, r.mean_length
            );
        }
    }

    /// On-CPU time of this thread (Linux), ns: wall-clock time on a shared
    /// machine also counts the time other processes hold the core.
    fn thread_cpu_ns() -> Option<u64> {
        let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        text.split_whitespace().next()?.parse().ok()
    }

    /// `cargo test --release -p neorl --lib supply_chain::tests::timing -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn timing() {
        for options in [
            EnvOptions::deterministic(),
            EnvOptions {
                sensor_noise: false,
                disturbances: true,
            },
            EnvOptions::default(),
        ] {
            let m = SupplyChain::new(options);
            let mut r = rng(0);
            let mut s = [0.0; state::DIM];
            let mut o = [0f32; obs::DIM];
            let mut c = [0.0; 4];
            m.reset(&mut s, &mut r);
            let n = 5_000_000;
            let start = std::time::Instant::now();
            let cpu0 = thread_cpu_ns();
            let mut acc = 0.0;
            for i in 0..n {
                if i % HORIZON == 0 {
                    m.reset(&mut s, &mut r);
                }
                let a = [200.0, 200.0, 200.0];
                acc += m.step(&mut s, &a, &mut r).reward;
                m.constraints(&s, &mut c);
                m.observe(&s, &mut o, &mut r);
                acc += o[0] as f64 + c[0];
            }
            let wall = start.elapsed().as_nanos() as f64 / n as f64;
            let cpu = match (cpu0, thread_cpu_ns()) {
                (Some(a), Some(b)) => (b - a) as f64 / n as f64,
                _ => f64::NAN,
            };
            println!(
                "SupplyChain-v0 {options:?}: {cpu:.1} ns/step on-CPU ({wall:.1} wall) \
                 for step + constraints + observe ({acc:.1})"
            );
        }
    }
}
