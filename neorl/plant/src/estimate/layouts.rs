//! What each process tells the generic estimator ([`super::observer`]):
//! the state components the correction must not move and names for the
//! states the table of the module docs talks about.
//!
//! A component is left out of the correction when the observation depends
//! on it through a jump rather than a slope — a step or time counter that
//! selects a set-point segment, an occupancy schedule or a day of the
//! year, the index of a coil's steel grade — so that a finite difference
//! would read a jump as a huge slope. Those components are advanced by the
//! nominal model from the run's first observation, which is where they are
//! exact: they are clocks and catalogues, not physics.

use super::observer::Layout;
use crate::env::{chemical_reactor as cr, hvac, robot_assembly as ra, steel_annealing as sa};
use crate::env::{supply_chain as sc, water_treatment as wt};
use crate::error::{Error, Result};

/// The default hidden-state gain.
pub const HIDDEN_GAIN: f64 = 0.2;

fn names(list: &[(usize, &str)]) -> Vec<(usize, String)> {
    list.iter().map(|&(i, s)| (i, s.to_string())).collect()
}

/// ChemicalReactor-v0: concentration, temperatures and the coolant flow
/// are measured; the feed concentration `C_Af` is not (its drift is the
/// disturbance the shutdown exists for) and stays at its nominal value;
/// the set-point schedule is seen one segment at a time.
fn chemical_reactor() -> Layout {
    let n = vec![
        (cr::S_CA, "C_A"),
        (cr::S_T, "T"),
        (cr::S_TJ, "T_j"),
        (cr::S_TF, "T_f"),
        (cr::S_CAF, "C_Af"),
        (cr::S_FC, "F_c"),
        (cr::S_DFC, "ΔF_c"),
        (cr::S_STEP, "step"),
    ];
    let seg: Vec<(usize, String)> = (0..cr::N_SEGMENTS)
        .map(|k| (cr::S_SP0 + k, format!("C_A set-point, segment {}", k + 1)))
        .collect();
    Layout {
        env_id: "ChemicalReactor-v0",
        fixed: vec![(cr::S_STEP, "the step counter selects the set-point segment")],
        names: names(&n).into_iter().chain(seg).collect(),
        notes: vec![
            (
                cr::S_CAF,
                "the feed concentration stays at its nominal value",
            ),
            (
                cr::S_DFC,
                "the last coolant move, exact from the applied action",
            ),
        ],
        // Measured: one-step estimates of the feed concentration are the
        // analyser's noise amplified; with them the shield tripped the
        // shutdown three times as often (module docs).
        constant: vec![],
        refine: Some(reactor_schedule),
        hidden_gain: 0.0,
    }
}

/// The reactor's set-point schedule is seen one segment at a time: the
/// segments not yet reached are held at the current set-point (the
/// shield's look-ahead across a segment boundary assumes no change).
fn reactor_schedule(obs: &[f32], s: &mut [f64]) {
    let seg = ((s[cr::S_STEP] as usize) / cr::SEGMENT_STEPS).min(cr::N_SEGMENTS - 1);
    for k in seg..cr::N_SEGMENTS {
        s[cr::S_SP0 + k] = obs[cr::OBS_CA_SP] as f64;
    }
}

/// HVACControl-v0: zone air temperatures are measured; the five zones'
/// thermal masses are not (they follow the nominal RC model driven by the
/// measured air temperatures); the outdoor temperature's components
/// (season mean, daily swing, front, weather) are inferred from the
/// measured outdoor temperature.
fn hvac() -> Layout {
    let mut n: Vec<(usize, String)> = (0..hvac::N_ZONES)
        .flat_map(|i| {
            [
                (hvac::st::T_AIR + i, format!("T_air zone {}", i + 1)),
                (hvac::st::T_MASS + i, format!("T_mass zone {}", i + 1)),
            ]
        })
        .collect();
    n.extend(names(&[
        (hvac::st::TIME_H, "hours since Monday"),
        (hvac::st::T_MEAN, "outdoor daily mean"),
        (hvac::st::T_AMP, "outdoor half-swing"),
        (hvac::st::FRONT, "front offset"),
        (hvac::st::WEATHER, "weather noise"),
        (hvac::st::CLOUD, "cloud cover"),
        (hvac::st::SIN_DECL, "sin declination"),
        (hvac::st::COS_DECL, "cos declination"),
        (hvac::st::FRONT_T, "front onset"),
        (hvac::st::FRONT_DT, "front size"),
        (hvac::st::FRONT_DECAY, "front decay"),
        (hvac::st::CLOUD_MEAN, "mean cloud cover"),
        (hvac::st::BAND_LO, "comfort band low"),
        (hvac::st::BAND_HI, "comfort band high"),
    ]));
    n.extend(
        (0..hvac::N_ZONES).map(|i| (hvac::st::ATTEND + i, format!("attendance zone {}", i + 1))),
    );
    Layout {
        env_id: "HVACControl-v0",
        fixed: vec![
            (
                hvac::st::TIME_H,
                "the clock selects occupancy, price and the sun's hour angle",
            ),
            (
                hvac::st::T_AMP,
                "the outdoor temperature's innovation goes to the daily mean alone",
            ),
            (
                hvac::st::FRONT,
                "the outdoor temperature's innovation goes to the daily mean alone",
            ),
            (
                hvac::st::WEATHER,
                "the outdoor temperature's innovation goes to the daily mean alone",
            ),
        ],
        names: n,
        notes: vec![],
        constant: vec![],
        refine: None,
        // Measured (module docs): 0 lets the thermal masses drift and the
        // shield miss breaches; 0.5 tracks them to about 0.1 K.
        hidden_gain: 0.5,
    }
}

/// WaterTreatment-v0: level, pH, the residual analyser's reading and the
/// flows are measured; the chlorine and demand states of both tanks are
/// not.
fn water_treatment() -> Layout {
    Layout {
        env_id: "WaterTreatment-v0",
        fixed: vec![(
            wt::sx::H2,
            "the pH solver's warm start, not a physical state",
        )],
        names: names(&[
            (wt::sx::LEVEL, "level"),
            (wt::sx::C1, "chlorine tank 1"),
            (wt::sx::C2, "chlorine tank 2"),
            (wt::sx::PH2, "pH tank 2"),
            (wt::sx::C_MEAS, "residual analyser"),
            (wt::sx::D1, "demand tank 1"),
            (wt::sx::W1, "charge balance tank 1"),
            (wt::sx::CT1, "carbonate tank 1"),
            (wt::sx::D2, "demand tank 2"),
            (wt::sx::W2, "charge balance tank 2"),
            (wt::sx::CT2, "carbonate tank 2"),
            (wt::sx::TOD_SIN, "sin time of day"),
            (wt::sx::TOD_COS, "cos time of day"),
            (wt::sx::Q_BASE, "base demand"),
            (wt::sx::DEM_DEV, "demand deviation"),
            (wt::sx::Q_OUT, "outflow"),
            (wt::sx::DIN_BASE, "raw demand base"),
            (wt::sx::DIN, "raw chlorine demand"),
            (wt::sx::PHIN_BASE, "raw pH base"),
            (wt::sx::PHIN, "raw pH"),
            (wt::sx::ALK_BASE, "raw alkalinity base"),
            (wt::sx::ALK, "raw alkalinity"),
            (wt::sx::Q_IN, "inflow"),
            (wt::sx::C_SP, "chlorine set-point"),
            (wt::sx::PH_SP, "pH set-point"),
            (wt::sx::H_SP, "level set-point"),
            (wt::sx::H2, "[H+] warm start"),
            (wt::sx::CT_IN, "inlet carbonate"),
        ]),
        notes: vec![],
        constant: vec![],
        refine: None,
        // Measured: the one-step correction spreads the innovation over
        // chlorine, demand and charge states of very different scales and
        // made them worse than the prediction (chlorine tank 1: 16 vs 0.4 mg/L).
        hidden_gain: 0.0,
    }
}

/// SteelAnnealing-v0: wall and strip temperatures and the line speed are
/// measured; the burner-efficiency drift is not; the coils' grades enter
/// the observation through a table look-up (a jump) and are not corrected.
fn steel_annealing() -> Layout {
    let mut n: Vec<(usize, String)> = (0..sa::N_FIRED)
        .map(|i| (sa::S_WALL + i, format!("wall zone {}", i + 1)))
        .collect();
    n.extend((0..sa::N_ZONES).map(|i| (sa::S_STRIP + i, format!("strip zone {}", i + 1))));
    n.extend(names(&[
        (sa::S_SPEED, "line speed"),
        (sa::S_ETA_DRIFT, "burner efficiency drift"),
        (sa::S_WELD, "weld position"),
        (sa::S_REMAINING, "coil length remaining"),
    ]));
    for (c, coil) in [
        (sa::S_COIL_AHEAD, "coil ahead"),
        (sa::S_COIL_ENTRY, "coil entering"),
        (sa::S_COIL_NEXT, "next coil"),
    ] {
        n.push((c + sa::C_THICKNESS, format!("{coil}: thickness")));
        n.push((c + sa::C_EMISSIVITY, format!("{coil}: emissivity")));
        n.push((c + sa::C_GRADE, format!("{coil}: grade")));
    }
    Layout {
        env_id: "SteelAnnealing-v0",
        fixed: [sa::S_COIL_AHEAD, sa::S_COIL_ENTRY, sa::S_COIL_NEXT]
            .into_iter()
            .flat_map(|c| {
                [
                    (
                        c + sa::C_GRADE,
                        "set from the observed soak target by inverting the grade table",
                    ),
                    (
                        c + sa::C_EMISSIVITY,
                        "coil data: the nominal schedule's value",
                    ),
                ]
            })
            .chain([(
                sa::S_COIL_AHEAD + sa::C_THICKNESS,
                "observed when the coil entered; carried forward by the model",
            )])
            .collect(),
        names: n,
        notes: vec![],
        constant: vec![],
        refine: Some(steel_grades),
        hidden_gain: HIDDEN_GAIN,
    }
}

/// The grade whose soak target is nearest `target`.
fn grade_of(target: f32) -> f64 {
    let mut best = 0;
    for (g, &t) in sa::GRADE_TARGETS.iter().enumerate() {
        if (t - target as f64).abs() < (sa::GRADE_TARGETS[best] - target as f64).abs() {
            best = g;
        }
    }
    best as f64
}

/// Grades from the observed targets: the coil entering, the coil after it
/// and the coil in the soak zone (the coil ahead of the weld while the
/// weld has not reached the soak zone; where it has, the soak coil is the
/// entering one and the coil ahead, still in the last zone, is given the
/// same grade until the weld passes it).
fn steel_grades(obs: &[f32], s: &mut [f64]) {
    s[sa::S_COIL_ENTRY + sa::C_GRADE] = grade_of(obs[sa::O_TARGET_ENTRY]);
    s[sa::S_COIL_NEXT + sa::C_GRADE] = grade_of(obs[sa::O_TARGET_NEXT]);
    s[sa::S_COIL_AHEAD + sa::C_GRADE] = grade_of(obs[sa::O_TARGET_SOAK]);
}

/// PowerGrid-v0: frequencies, tie flows and set-points are measured; the
/// mechanical power splits into its HP and reheat stages by inference;
/// governors, load levels, renewables and the contingency are not.
fn power_grid() -> Result<Layout> {
    let m = crate::env::model("PowerGrid-v0", crate::env::EnvOptions::deterministic())?;
    // state = 4n + m_lines + 5n + 4, observation = 5n + m_lines.
    let (dim, obs) = (m.state_dim(), m.spec().obs_dim());
    let n = (dim - obs - 4) / 4;
    let time = dim - n - 4;
    let mut fixed = vec![(time, "the clock schedules the contingency")];
    fixed.push((time + 1, "contingency onset (not observed)"));
    fixed.push((time + 2, "contingency area index"));
    let mut nm = vec![];
    for i in 0..n {
        nm.push((i, format!("Δf area {}", i + 1)));
        nm.push((n + i, format!("ΔP_g area {}", i + 1)));
        nm.push((2 * n + i, format!("ΔP_ch area {}", i + 1)));
        nm.push((3 * n + i, format!("ΔP_rh area {}", i + 1)));
        let nx = 4 * n + (obs - 5 * n);
        nm.push((nx + i, format!("load level area {}", i + 1)));
        nm.push((nx + n + i, format!("renewable area {}", i + 1)));
        nm.push((nx + 2 * n + i, format!("ΔP_ref area {}", i + 1)));
        nm.push((nx + 3 * n + i, format!("ramp area {}", i + 1)));
        nm.push((nx + 4 * n + 4 + i, format!("weather driver area {}", i + 1)));
    }
    for e in 0..obs - 5 * n {
        nm.push((4 * n + e, format!("tie flow {}", e + 1)));
    }
    nm.push((time, "time".to_string()));
    nm.push((time + 1, "contingency onset".to_string()));
    nm.push((time + 2, "contingency area".to_string()));
    nm.push((time + 3, "contingency size".to_string()));
    Ok(Layout {
        env_id: "PowerGrid-v0",
        fixed,
        names: nm,
        notes: vec![],
        constant: vec![],
        refine: None,
        hidden_gain: HIDDEN_GAIN,
    })
}

/// SupplyChain-v0: on-hand stock and backlogs are measured; the pipelines
/// are seen only as totals and the demand history only as its last value
/// and seven-day mean (both inferred); the calendar is not corrected.
fn supply_chain() -> Layout {
    Layout {
        env_id: "SupplyChain-v0",
        fixed: vec![
            (sc::state::T, "the day counter selects the season"),
            (
                sc::state::DOY0,
                "the first day of the year selects the season",
            ),
        ],
        names: names(&[
            (sc::state::INV_R, "retailer stock"),
            (sc::state::INV_W, "warehouse stock"),
            (sc::state::INV_F, "factory stock"),
            (sc::state::PIPE_R, "retailer pipeline, slot 1"),
            (sc::state::PIPE_W, "warehouse pipeline, slot 1"),
            (sc::state::PIPE_F, "factory WIP, slot 1"),
            (sc::state::BO_R, "retailer backlog"),
            (sc::state::BO_W, "warehouse backlog"),
            (sc::state::BO_F, "factory backlog"),
            (sc::state::T, "day"),
            (sc::state::DOY0, "first day of year"),
            (sc::state::LEVEL, "demand level"),
            (sc::state::PROMO_LEFT, "promotion days left"),
            (sc::state::PROMO_LIFT, "promotion lift"),
            (sc::state::PEAK_R, "retailer peak"),
            (sc::state::PEAK_W, "warehouse peak"),
            (sc::state::PEAK_F, "factory peak"),
            (sc::state::LAST_D, "last demand"),
        ])
        .into_iter()
        .chain((1..sc::L_R).map(|k| {
            (
                sc::state::PIPE_R + k,
                format!("retailer pipeline, slot {}", k + 1),
            )
        }))
        .chain((1..sc::L_W).map(|k| {
            (
                sc::state::PIPE_W + k,
                format!("warehouse pipeline, slot {}", k + 1),
            )
        }))
        .chain((1..sc::L_F).map(|k| {
            (
                sc::state::PIPE_F + k,
                format!("factory WIP, slot {}", k + 1),
            )
        }))
        .chain((0..7).map(|k| (sc::state::HIST + k, format!("demand {} days ago", k + 1))))
        .collect(),
        notes: vec![],
        constant: vec![],
        refine: None,
        // Measured: one-step corrections of the demand process are noise.
        hidden_gain: 0.0,
    }
}

/// RobotAssembly-v0: joint angles and speeds, the hole's position and the
/// wrist force are measured (the tip pose is their function, so the
/// correction is a least-squares fit of all of them); payload, friction
/// and the torque disturbance are not.
fn robot_assembly() -> Layout {
    Layout {
        env_id: "RobotAssembly-v0",
        fixed: vec![
            (ra::idx::PAYLOAD, "a parameter, held at its nominal value"),
            (ra::idx::FRICTION, "a parameter, held at its nominal value"),
        ],
        names: names(&[
            (ra::idx::Q, "q1"),
            (ra::idx::Q + 1, "q2"),
            (ra::idx::Q + 2, "q3"),
            (ra::idx::QD, "q̇1"),
            (ra::idx::QD + 1, "q̇2"),
            (ra::idx::QD + 2, "q̇3"),
            (ra::idx::X_HOLE, "hole x"),
            (ra::idx::Y_SURF, "surface y"),
            (ra::idx::PAYLOAD, "payload"),
            (ra::idx::FRICTION, "friction"),
            (ra::idx::FX, "F_x"),
            (ra::idx::FY, "F_y"),
            (ra::idx::DIST, "torque disturbance 1"),
            (ra::idx::DIST + 1, "torque disturbance 2"),
            (ra::idx::DIST + 2, "torque disturbance 3"),
            (ra::idx::F_PEAK, "peak contact force"),
            (ra::idx::GAP, "gap"),
            (ra::idx::V_PEG, "peg speed"),
            (ra::idx::ZONE_SPEED, "speed in the zone"),
            (ra::idx::F_ROBUST, "shield's force bound"),
        ]),
        notes: vec![],
        // The hole is fixed for the run, and the 0.1 mm noise of its
        // measurement is a fifth of the 0.5 mm clearance.
        constant: vec![ra::idx::X_HOLE, ra::idx::Y_SURF],
        refine: None,
        hidden_gain: HIDDEN_GAIN,
    }
}

/// The layout of environment `env_id`, any protocol version: the layouts
/// are per process (v1 keeps every state layout), and the estimator's
/// model is the one registered under `env_id` itself.
pub fn layout(env_id: &str) -> Result<Layout> {
    let unknown = || {
        Error::InvalidArgument(format!(
            "no state estimator for environment '{env_id}'; known: {}",
            crate::env::all_ids().join(", ")
        ))
    };
    let id = crate::env::registered_id(env_id).map_err(|_| unknown())?;
    let mut layout = match crate::env::process_of(id) {
        "ChemicalReactor" => chemical_reactor(),
        "HVACControl" => hvac(),
        "WaterTreatment" => water_treatment(),
        "SteelAnnealing" => steel_annealing(),
        "PowerGrid" => power_grid()?,
        "SupplyChain" => supply_chain(),
        "RobotAssembly" => robot_assembly(),
        _ => return Err(unknown()),
    };
    layout.env_id = id;
    Ok(layout)
}
