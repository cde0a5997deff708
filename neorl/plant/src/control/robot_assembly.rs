//! Controllers of RobotAssembly-v0: computed-torque (inverse-dynamics)
//! control on a planned approach-then-insert trajectory, with force-limited,
//! laterally compliant insertion.
//!
//! ## Structure (expert and medium)
//!
//! **Trajectory planner** (Cartesian, peg tip `(x, y)` and orientation `φ`):
//!
//! 1. *Approach*: an online trajectory generator moves the reference on a
//!    straight line to the pre-insertion point 10 mm above the hole
//!    entrance, with acceleration ≤ 1.5 m/s², speed ≤ 0.45 m/s in free
//!    space and ≤ 0.15 m/s inside the collaborative zone (the cell's safety
//!    speed is 0.25 m/s; the planner slows down before the zone with the
//!    same deceleration, `v ≤ √(v_zone² + 2 a d_zone)`), and a
//!    `√(2 a d)` braking profile at the target. The orientation reference
//!    turns the peg vertical (`φ = −π/2`) at ≤ 1 rad/s.
//! 2. *Align*: hold the pre-insertion point until the measured tip is within
//!    0.3 mm of the hole axis, 1 mm of the height, at rest (< 1 cm/s) and
//!    vertical (< 5 mrad).
//! 3. *Insert*: descend at 20 mm/s, scaled by the measured axial contact
//!    force `F_y`: `ẏ_ref = −v_ins · clamp((F_lim − F_y)/F_band, −1, 1)`,
//!    i.e. full speed below 10 N, stop at `F_lim` = 20 N and back off above
//!    it (indirect force control / admittance, Siciliano et al. §9.2–9.3),
//!    well below the 40 N marking and 80 N damage limits; laterally the
//!    reference yields to the measured side force, `ẋ_ref = k_lat F_x`
//!    (an emulated remote-centre compliance, Whitney 1982), so the chamfer
//!    guides the peg into the hole instead of jamming it.
//!
//! The hole position from the vision system is low-pass filtered
//! (first-order, 50 ms). The Cartesian reference is mapped to joint
//! references by the closed-form elbow-up inverse kinematics,
//! `q̇_d = J⁻¹ ẋ_d`, `q̈_d = J⁻¹ (ẍ_d − J̇ q̇_d)`.
//!
//! **Computed-torque law** (Spong et al., inverse-dynamics control;
//! Siciliano et al. §8.5.2):
//!
//! ```text
//!   τ = M̂(q) [ q̈_d + K_d (q̇_d − q̇) + K_p e + K_i ∫ e ] + Ĉ(q, q̇) q̇ + ĝ(q) + τ̂_f(q̇_d)
//! ```
//!
//! with the nominal model (nominal payload and friction: the real ones
//! vary, the integral action removes the resulting offsets). With a perfect
//! model the joint errors obey `e⃛ + K_d ë + K_p ė + K_i e = 0`. The
//! proportional–integral part is one [`Pid`] per joint (output in rad/s²,
//! conditional-integration anti-windup); the derivative part uses the
//! measured joint velocity directly.
//!
//! ## Expert tuning
//!
//! Pole placement: a triple closed-loop pole at `s = −ω`,
//! `K_d = 3ω, K_p = 3ω², K_i = ω³`, with `ω = 15 rad/s`. The sampling rule
//! of thumb `ω Δt ≈ 0.1–0.6` (Åström & Wittenmark, *Computer-Controlled
//! Systems*, on the choice of the sampling interval) gives `ω Δt = 0.15`;
//! the resulting Cartesian stiffness (≈ 1–5 kN/m) is well below the contact
//! stiffness (100 kN/m), so the contact stays stable, and the velocity
//! noise reaches the torques as ≈ 0.2 N m only.
//!
//! ## Medium
//!
//! The same structure, detuned as a poorly commissioned cell: `ω = 8 rad/s`
//! instead of 15 and a four times slower integral (poles at `−ω, −ω, −ω/4`:
//! `K_d = 2.25ω`, `K_p = 1.5ω²`, `K_i = ω³/4`). It tracks the approach with a
//! larger lag and rejects the torque disturbances about seven times less
//! (proportional gain `K_p` 96 vs 675 1/s²), so the tip wanders by
//! millimetres at the pre-insertion point: the 0.3 mm alignment gate opens
//! late or never, and a peg that drifts off the chamfer while descending
//! ends up pressing on the plate. With Gaussian actuator noise of 0.5 % of
//! each torque range ([`WithActionNoise`]) it inserts in roughly a quarter
//! of the episodes.

use super::{Pid, WithActionNoise};
use crate::env::EnvSpec;
use crate::env::robot_assembly::{
    ArmParams, Coefficients, DT, Kinematics, PAYLOAD, TAU_MAX, ZONE_RADIUS, coriolis, friction,
    gravity, inverse_kinematics, mass_matrix, obs, solve3,
};
use crate::error::Result;
use crate::policy::Policy;
use std::f64::consts::FRAC_PI_2;

/// Gains and planner settings of one controller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// Derivative gain, 1/s.
    pub kd: f64,
    /// Proportional gain, 1/s².
    pub kp: f64,
    /// Integral gain, 1/s³.
    pub ki: f64,
    /// Free-space approach speed, m/s.
    pub v_fast: f64,
    /// Speed inside the collaborative zone, m/s.
    pub v_zone: f64,
    /// Reference acceleration limit, m/s².
    pub a_max: f64,
    /// Height of the pre-insertion point above the hole entrance, m.
    pub h_pre: f64,
    /// Alignment tolerance on the tip's distance from the hole axis, m.
    pub align_tol: f64,
    /// Insertion speed, m/s.
    pub v_insert: f64,
    /// Axial contact force at which the descent stops, N.
    pub f_limit: f64,
    /// Force band over which the descent speed is scaled, N.
    pub f_band: f64,
    /// Lateral admittance, m/(N s).
    pub k_lateral: f64,
}

impl Tuning {
    /// The expert: triple pole at −15 rad/s.
    pub fn expert() -> Self {
        let w: f64 = 15.0;
        Tuning {
            kd: 3.0 * w,
            kp: 3.0 * w * w,
            ki: w * w * w,
            ..Self::planner()
        }
    }

    /// The medium controller: poles at −8, −8, −2 rad/s.
    pub fn medium() -> Self {
        let w: f64 = 8.0;
        Tuning {
            kd: 2.25 * w,
            kp: 1.5 * w * w,
            ki: 0.25 * w * w * w,
            ..Self::planner()
        }
    }

    fn planner() -> Self {
        Tuning {
            kd: 0.0,
            kp: 0.0,
            ki: 0.0,
            v_fast: 0.45,
            v_zone: 0.15,
            a_max: 1.5,
            h_pre: 0.010,
            align_tol: 3e-4,
            v_insert: 0.020,
            f_limit: 20.0,
            f_band: 10.0,
            k_lateral: 2e-3,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Start,
    Approach,
    Align,
    Insert,
}

/// Computed-torque controller with an approach–align–insert planner.
#[derive(Debug)]
pub struct AssemblyController {
    name: &'static str,
    tuning: Tuning,
    params: ArmParams,
    coeffs: Coefficients,
    pid: [Pid; 3],
    phase: Phase,
    hole: [f64; 2],
    p_ref: [f64; 2],
    v_ref: [f64; 2],
    phi_ref: f64,
    w_ref: f64,
}

/// Angular speed and acceleration limits of the orientation reference.
const W_MAX: f64 = 1.0;
const ALPHA_MAX: f64 = 4.0;
/// Hole-position filter gain per step (time constant ≈ 50 ms).
const HOLE_FILTER: f64 = 0.2;
/// The planner slows down this far before the collaborative zone, m.
const ZONE_MARGIN: f64 = 0.02;

impl AssemblyController {
    pub fn new(name: &'static str, tuning: Tuning) -> Self {
        let params = ArmParams::NOMINAL.with_payload(PAYLOAD.0, PAYLOAD.1);
        let pid = std::array::from_fn(|_| {
            Pid::new(tuning.kp, tuning.ki, 0.0, DT).with_limits(-60.0, 60.0)
        });
        AssemblyController {
            name,
            tuning,
            params,
            coeffs: params.coefficients(),
            pid,
            phase: Phase::Start,
            hole: [0.0; 2],
            p_ref: [0.0; 2],
            v_ref: [0.0; 2],
            phi_ref: 0.0,
            w_ref: 0.0,
        }
    }

    /// Advance the Cartesian reference toward `target`; returns the
    /// reference acceleration and whether the target was reached.
    fn approach(&mut self, target: [f64; 2]) -> ([f64; 2], bool) {
        let t = &self.tuning;
        let d = [target[0] - self.p_ref[0], target[1] - self.p_ref[1]];
        let dist = (d[0] * d[0] + d[1] * d[1]).sqrt();
        let hz = [self.p_ref[0] - self.hole[0], self.p_ref[1] - self.hole[1]];
        let to_zone = (hz[0] * hz[0] + hz[1] * hz[1]).sqrt() - ZONE_RADIUS - ZONE_MARGIN;
        let v_cap = if to_zone <= 0.0 {
            t.v_zone
        } else {
            t.v_fast
                .min((t.v_zone * t.v_zone + 2.0 * t.a_max * to_zone).sqrt())
        };
        let speed = v_cap.min((2.0 * t.a_max * dist).sqrt());
        let v_des = if dist > 1e-12 {
            [d[0] / dist * speed, d[1] / dist * speed]
        } else {
            [0.0, 0.0]
        };
        let mut dv = [v_des[0] - self.v_ref[0], v_des[1] - self.v_ref[1]];
        let dv_norm = (dv[0] * dv[0] + dv[1] * dv[1]).sqrt();
        let dv_max = t.a_max * DT;
        if dv_norm > dv_max {
            dv = [dv[0] * dv_max / dv_norm, dv[1] * dv_max / dv_norm];
        }
        let v_new = [self.v_ref[0] + dv[0], self.v_ref[1] + dv[1]];
        let step = (v_new[0] * v_new[0] + v_new[1] * v_new[1]).sqrt() * DT;
        if step >= dist {
            self.p_ref = target;
            self.v_ref = [0.0, 0.0];
            return ([0.0, 0.0], true);
        }
        self.p_ref[0] += v_new[0] * DT;
        self.p_ref[1] += v_new[1] * DT;
        self.v_ref = v_new;
        ([dv[0] / DT, dv[1] / DT], false)
    }

    /// Advance the orientation reference toward vertical; returns its
    /// angular acceleration.
    fn orient(&mut self) -> f64 {
        let err = -FRAC_PI_2 - self.phi_ref;
        let w_des = (err.signum() * (2.0 * ALPHA_MAX * err.abs()).sqrt()).clamp(-W_MAX, W_MAX);
        let dw = (w_des - self.w_ref).clamp(-ALPHA_MAX * DT, ALPHA_MAX * DT);
        let w_new = self.w_ref + dw;
        if (w_new * DT).abs() >= err.abs() {
            self.phi_ref = -FRAC_PI_2;
            self.w_ref = 0.0;
            return 0.0;
        }
        self.phi_ref += w_new * DT;
        self.w_ref = w_new;
        dw / DT
    }
}

impl Policy for AssemblyController {
    fn name(&self) -> String {
        self.name.to_string()
    }

    fn reset(&mut self, _seed: u64) {
        for p in self.pid.iter_mut() {
            p.reset();
        }
        self.phase = Phase::Start;
        self.v_ref = [0.0; 2];
        self.w_ref = 0.0;
    }

    fn act(&mut self, o: &[f32], action: &mut [f32]) -> Result<()> {
        let o = |i: usize| o[i] as f64;
        let q = [o(obs::Q), o(obs::Q + 1), o(obs::Q + 2)];
        let qd = [o(obs::QD), o(obs::QD + 1), o(obs::QD + 2)];
        let tip = [o(obs::X_TIP), o(obs::Y_TIP)];
        let v_tip = [o(obs::VX_TIP), o(obs::VY_TIP)];
        let phi = o(obs::PHI_TIP);
        let hole_meas = [o(obs::X_HOLE), o(obs::Y_HOLE)];
        let force = [o(obs::FX), o(obs::FY)];
        let t = self.tuning;

        if self.phase == Phase::Start {
            self.hole = hole_meas;
            self.p_ref = tip;
            self.v_ref = [0.0; 2];
            self.phi_ref = phi;
            self.w_ref = 0.0;
            self.phase = Phase::Approach;
        } else {
            for (h, m) in self.hole.iter_mut().zip(hole_meas) {
                *h += HOLE_FILTER * (m - *h);
            }
        }
        let pre = [self.hole[0], self.hole[1] + t.h_pre];
        let alpha_ref = self.orient();
        let mut a_ref = [0.0; 2];
        match self.phase {
            Phase::Start | Phase::Approach => {
                let (a, reached) = self.approach(pre);
                a_ref = a;
                if reached {
                    self.phase = Phase::Align;
                }
            }
            Phase::Align => {
                self.p_ref = pre;
                self.v_ref = [0.0; 2];
                let aligned = (tip[0] - pre[0]).abs() < t.align_tol
                    && (tip[1] - pre[1]).abs() < 1e-3
                    && (v_tip[0] * v_tip[0] + v_tip[1] * v_tip[1]).sqrt() < 0.01
                    && (phi + FRAC_PI_2).abs() < 5e-3;
                if aligned {
                    self.phase = Phase::Insert;
                }
            }
            Phase::Insert => {
                let s = ((t.f_limit - force[1]) / t.f_band).clamp(-1.0, 1.0);
                self.v_ref = [t.k_lateral * force[0], -t.v_insert * s];
                self.p_ref[0] += self.v_ref[0] * DT;
                self.p_ref[1] = (self.p_ref[1] + self.v_ref[1] * DT)
                    .max(self.hole[1] - crate::env::robot_assembly::GOAL_DEPTH - 0.003);
            }
        }

        // Joint-space references from the Cartesian ones.
        let l = &self.params.l;
        let q_d = inverse_kinematics(l, self.p_ref, self.phi_ref);
        let kin_d = Kinematics::new(l, &q_d);
        let jac = kin_d.jacobian();
        let qd_d = solve3(&jac, &[self.v_ref[0], self.v_ref[1], self.w_ref]);
        let jdq = kin_d.jacobian_dot_qd(l, &qd_d);
        let qdd_d = solve3(
            &jac,
            &[a_ref[0] - jdq[0], a_ref[1] - jdq[1], alpha_ref - jdq[2]],
        );

        // Computed torque with the nominal model.
        let kin = Kinematics::new(l, &q);
        let m = mass_matrix(&self.coeffs, &kin);
        let h = coriolis(&self.coeffs, &kin, &qd);
        let g = gravity(&self.coeffs, &kin);
        let f = friction(&self.params, &qd_d);
        let mut v = [0.0; 3];
        for i in 0..3 {
            v[i] = qdd_d[i] + t.kd * (qd_d[i] - qd[i]) + self.pid[i].update(q_d[i], q[i]);
        }
        for i in 0..3 {
            let tau = m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2] + h[i] + g[i] + f[i];
            action[i] = tau.clamp(-TAU_MAX[i], TAU_MAX[i]) as f32;
        }
        Ok(())
    }
}

/// The plant's controller: computed torque with a triple pole at −15 rad/s.
pub fn expert(_spec: &EnvSpec) -> Box<dyn Policy> {
    Box::new(AssemblyController::new(
        "expert (computed torque, force-limited insertion)",
        Tuning::expert(),
    ))
}

/// Detuned computed torque (poles −8, −8, −2 rad/s) with 0.5 % actuator noise.
pub fn medium(spec: &EnvSpec) -> Box<dyn Policy> {
    Box::new(WithActionNoise::new(
        Box::new(AssemblyController::new(
            "medium (detuned computed torque)",
            Tuning::medium(),
        )),
        spec,
        0.005,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::robot_assembly::{F_MARK, HORIZON, ZONE_SPEED};
    use crate::env::{EnvOptions, make, make_with};
    use crate::rollout::plain::run_episode;
    use crate::rollout::record_episode;

    /// On the nominal plant (no noise, no disturbances) the expert inserts
    /// the peg well within the horizon, never marks the part and keeps to
    /// the collaborative speed.
    #[test]
    fn expert_inserts_the_peg_gently() {
        let mut env = make_with("RobotAssembly-v0", EnvOptions::deterministic()).unwrap();
        let spec = env.spec().clone();
        let force = spec.constraint_index("contact_force_marks").unwrap();
        let speed = spec.constraint_index("collaborative_speed").unwrap();
        let mut policy = expert(&spec);
        for seed in 0..10 {
            let tr = record_episode(&mut env, policy.as_mut(), seed).unwrap();
            assert!(tr.terminated, "seed {seed}: not inserted");
            assert!(tr.rewards.len() < HORIZON * 3 / 4, "seed {seed}: too slow");
            let last = tr.constraint_values.last().unwrap();
            assert!(
                spec.constraints
                    .iter()
                    .zip(last)
                    .all(|(c, v)| !c.violated(*v)),
                "seed {seed}: ended on a violation {last:?}"
            );
            for c in &tr.constraint_values {
                assert!(c[force] < F_MARK, "seed {seed}: force {}", c[force]);
                assert!(c[speed] <= ZONE_SPEED, "seed {seed}: speed {}", c[speed]);
            }
        }
    }

    /// The expert's gains are the triple pole at −15 rad/s: the error
    /// polynomial s³ + K_d s² + K_p s + K_i and its first two derivatives
    /// vanish there.
    #[test]
    fn expert_gains_place_a_triple_pole() {
        let t = Tuning::expert();
        let s = -15.0;
        let p = s * s * s + t.kd * s * s + t.kp * s + t.ki;
        let dp = 3.0 * s * s + 2.0 * t.kd * s + t.kp;
        let ddp = 6.0 * s + 2.0 * t.kd;
        assert!(p.abs() < 1e-9 && dp.abs() < 1e-9 && ddp.abs() < 1e-9);
        let m = Tuning::medium();
        let roots = [-8.0, -8.0, -2.0];
        for r in roots {
            let p = r * r * r + m.kd * r * r + m.kp * r + m.ki;
            assert!(p.abs() < 1e-9, "medium root {r}: {p}");
        }
    }

    /// `reset` clears the integrators and the planner: the same seed gives
    /// the same episode after another one.
    #[test]
    fn reset_makes_episodes_repeatable() {
        let mut env = make("RobotAssembly-v0").unwrap();
        let spec = env.spec().clone();
        for make_policy in [expert, medium] {
            let mut policy = make_policy(&spec);
            let a = run_episode(&mut env, policy.as_mut(), 3).unwrap();
            run_episode(&mut env, policy.as_mut(), 4).unwrap();
            let b = run_episode(&mut env, policy.as_mut(), 3).unwrap();
            assert_eq!(a, b);
        }
    }
}
