//! # RobotAssembly-v0 — force-limited peg-in-hole insertion with a planar arm
//!
//! ## Process
//!
//! A collaborative six-axis arm of the UR5 class works in a vertical plane
//! (shoulder, elbow and first wrist joint; the other three axes are locked,
//! so the arm is a planar 3R chain and gravity acts in its plane). The
//! gripper holds a cylindrical steel peg (Ø 19.0 mm) that must be inserted
//! 20 mm deep into a chamfered hole (Ø 20.0 mm, 0.5 mm radial clearance,
//! 1 mm × 45° chamfer, 25 mm deep) in a fixture plate. The hole's position
//! varies by a few centimetres from part to part (fixture placement
//! tolerance, located by the cell's vision system). The cell's controller
//! commands joint torques at 100 Hz. The episode ends successfully when the
//! peg is 20 mm deep in the hole (a true task terminal).
//!
//! ## Model
//!
//! Rigid-body dynamics of the planar 3R arm (Euler–Lagrange; Spong et al.,
//! dynamics chapter; Siciliano et al. ch. 7), with absolute link angles
//! `θ1 = q1, θ12 = q1 + q2, θ123 = q1 + q2 + q3` measured from the horizontal
//! (y up):
//!
//! ```text
//!   M(q) q̈ + C(q, q̇) q̇ + g(q) + τ_f(q̇) = τ + τ_d + Σ_k J_k(q)ᵀ F_k
//!   τ_f,i = b_i q̇_i + F_c,i q̇_i / √(q̇_i² + v_s²)      (viscous + smooth Coulomb)
//!   M11 = I1+I2+I3 + m1 lc1² + m2 (l1²+lc2²) + m3 (l1²+l2²+lc3²)
//!         + 2A cos q2 + 2B cos(q2+q3) + 2C cos q3 + J_r1
//!   M12 = I2+I3 + m2 lc2² + m3 (l2²+lc3²) + A cos q2 + B cos(q2+q3) + 2C cos q3
//!   M13 = I3 + m3 lc3² + B cos(q2+q3) + C cos q3
//!   M22 = I2+I3 + m2 lc2² + m3 (l2²+lc3²) + 2C cos q3 + J_r2
//!   M23 = I3 + m3 lc3² + C cos q3,      M33 = I3 + m3 lc3² + J_r3
//!   A = m2 lc2 l1 + m3 l1 l2,  B = m3 l1 lc3,  C = m3 l2 lc3
//!   C(q, q̇) q̇ = Ṁ q̇ − ½ [q̇ᵀ ∂M/∂q_k q̇]_k            (Christoffel form)
//!   g1 = g[(m1 lc1 + (m2+m3) l1) cos θ1 + (m2 lc2 + m3 l2) cos θ12 + m3 lc3 cos θ123]
//!   g2 = g[(m2 lc2 + m3 l2) cos θ12 + m3 lc3 cos θ123],   g3 = g m3 lc3 cos θ123
//! ```
//!
//! `J_r,i = N_i² J_m,i` is the rotor inertia reflected through the
//! harmonic drive (the actuator-dynamics simplification of Spong et al.:
//! rotor gyroscopic coupling neglected), added to the diagonal. The payload (peg) is a point mass `m_p` at `l_p` on link 3,
//! lumped into link 3's mass, centre of mass and inertia.
//!
//! **Contact** (penalty method; Gilardi & Sharf 2002). The fixture plate is
//! the region below `y = y_s` minus the hole; the hole has 45° chamfers of
//! width `w_c`. Its material is the union of two convex blocks (left and
//! right of the hole, each the intersection of the top, wall and chamfer
//! half-planes) and the hole bottom. Contact points: the peg's two bottom
//! corners against the fixture (penetration = distance to the nearest face
//! of the block they are in, normal = that face's normal), and the four
//! chamfer vertices of the fixture against the peg's sides and bottom face
//! (the two-point contacts of Whitney's 1982 peg-in-hole analysis). Every
//! contact point is a unilateral Kelvin–Voigt spring–damper with
//! regularised Coulomb friction:
//!
//! ```text
//!   F_n = max(0, k_c δ + c_c δ̇),    F_t = −clamp(c_t v_t, −μ F_n, μ F_n)
//! ```
//!
//! `k_c` lumps the compliance of the gripper fingers, the wrist F/T sensor
//! and the parts; `c_c` gives a damping ratio ≈ 0.3 at the smallest
//! operational-space mass of the arm (≈ 1.7 kg). The linear Kelvin–Voigt
//! law is chosen over Hunt–Crossley's `k δⁿ (1 + α δ̇)` for its
//! penetration-independent damping ratio; its known drawback, a force jump
//! `c_c v` at an impact with speed `v`, is real impact loading and counts
//! toward the damage constraint. The friction regulariser
//! `c_t` (stiction velocity `μ F_n / c_t`) bounds the stiffness the friction
//! adds to the ODE. Contact forces enter the dynamics through `J_kᵀ F_k`,
//! i.e. `τ_i += (p_k − o_i) × F_k` for contact point `p_k` and joint `o_i`.
//!
//! ## Parameters (nominal)
//!
//! | symbol | value | unit | source |
//! |---|---|---|---|
//! | l1, l2, l3 | 0.425, 0.392, 0.300 | m | UR5 upper arm / forearm (UR DH parameters); wrist 2+3 + gripper + peg to tip |
//! | m1, m2, m3 | 8.393, 3.494, 2.332 | kg | UR5 upper arm; forearm 2.275 + wrist-1 module 1.219; wrist 2+3 modules 1.407 + 2F-85-class gripper 0.925 |
//! | lc1, lc2, lc3 | 0.2125, 0.215, 0.161 | m | UR5 centre-of-mass data, lumped |
//! | I1, I2, I3 | 0.126, 0.091, 0.015 | kg m² | slender-rod + parallel-axis estimates about each centre of mass |
//! | J_r | 0.35, 0.35, 0.07 | kg m² | N² J_m, N = 101 harmonic drives, rotor inertia ≈ 3.4e-5 / 6.9e-6 kg m² (estimate) |
//! | b | 4.0, 3.0, 0.8 | N m s/rad | harmonic-drive viscous friction (Armstrong-Hélouvry et al. 1994, order of magnitude) |
//! | F_c | 7.0, 5.0, 1.5 | N m | Coulomb friction ≈ 5 % of rated torque (ibid.); smoothing velocity v_s = 0.05 rad/s |
//! | τ_max | 150, 150, 28 | N m | UR5 joint torque ratings (size-3 and size-1 joints) |
//! | m_p, l_p | 0.2, 0.28 | kg, m | peg and carrier (nominal; varied when disturbances are on) |
//! | peg, hole | Ø 19.0, Ø 20.0 | mm | 0.5 mm radial clearance, chamfer 1 mm × 45°, hole depth 25 mm, goal depth 20 mm |
//! | k_c, c_c | 1.0e5, 250 | N/m, N s/m | Kelvin–Voigt contact (gripper + sensor compliance) |
//! | μ, c_t | 0.25, 300 | –, N s/m | steel on aluminium, lubricated; friction regulariser |
//! | g | 9.81 | m/s² | |
//!
//! The shoulder axis is the origin. The hole entrance is at
//! `x_h ∈ [0.53, 0.57] m`, `y_s ∈ [−0.26, −0.24] m` (uniform at reset).
//!
//! ## State (internal, 19 values)
//!
//! `q1..q3` (rad), `q̇1..q̇3` (rad/s), hole entrance `x_h, y_s` (m), payload
//! mass (kg), friction scale (–), the three joint-torque disturbances (N m),
//! the contact force on the peg at the end of the step `F_x, F_y` (N), the
//! peak contact-force magnitude during the step (N), the lowest peg point's
//! height above the plate (m), the faster bottom corner's speed (m/s) and
//! the collaborative-zone speed signal (m/s). All but the peak force are
//! functions of the other entries, cached so that the step and the
//! constraints need no extra kinematics.
//!
//! Random draws, in this order. Reset: tip x, tip y, tip angle, hole x,
//! hole y, then with disturbances payload, friction scale and the three
//! initial disturbance torques. Step (with disturbances): the three
//! disturbance innovations. Observe (with sensor noise): q (3), q̇ (3),
//! hole (2), force (2).
//!
//! ## Observations (16)
//!
//! Joint angles `q1..q3` (rad) and velocities (rad/s) from the encoders;
//! the peg tip's position `x_tip, y_tip` (m), orientation `φ_tip = θ123`
//! (rad) and velocities (m/s, rad/s), from the forward kinematics of the
//! measured joints (as the robot controller reports them); the target hole
//! entrance `x_hole, y_hole` (m) from the vision system; and the contact
//! force on the peg `F_x, F_y` (N) from the wrist force/torque sensor.
//!
//! ## Actions (3)
//!
//! Joint torques `τ1, τ2, τ3` (N m) within the UR5 ratings ±150, ±150, ±28.
//!
//! ## Constraints
//!
//! - **Hard** joint position limits (safety-rated soft axis limits of the
//!   cell): `q1 ∈ [0.45, 2.20]`, `q2 ∈ [−2.60, −1.20]`, `q3 ∈ [−1.80, −0.35]`
//!   rad. They keep the arm inside the guarded cell volume, away from the
//!   stretched-out singularity and the table; the task (start poses to
//!   full insertion) needs `q1 ∈ [0.79, 1.87]`, `q2 ∈ [−2.25, −1.58]`,
//!   `q3 ∈ [−1.45, −0.70]`, so the limits leave ≥ 0.33 rad of margin for a
//!   controller that behaves.
//!   Crossing one triggers a protective stop.
//! - **Hard** contact force: the peak magnitude of the total contact force on
//!   the peg during the step must stay ≤ 80 N, the damage threshold of the
//!   part (plastic deformation of the chamfer / fixture locating features).
//! - **Soft** contact force ≤ 40 N: above it the parts get cosmetic marks
//!   (scratches, burrs) and need rework.
//! - **Soft** collaborative speed: while the peg tip is within 0.12 m of the
//!   hole entrance (the shared workspace where an operator loads parts),
//!   its speed should stay ≤ 0.25 m/s — the reduced speed of ISO 10218-1
//!   §5.6 used for collaborative operation under ISO/TS 15066. The signal is
//!   the tip speed inside the zone and 0 outside.
//!
//! The **safe action** (emergency stop, and the safety shield's backup) is
//! a controlled stop (IEC 60204-1 stop category 1): gravity hold plus an
//! inverse-dynamics deceleration `q̈ = −q̇ / 20 ms`, scaled down as a whole
//! where a joint would exceed its rating, so the arm keeps its path and is
//! at rest within 12 control steps from the fastest joint speeds.
//!
//! ## Reward
//!
//! Per step, `r = −0.5 − 0.5 min(d/0.5 m, 1) − 0.5 Σ_i (τ_i/τ_max,i)² / 3`,
//! in `[−1.5, −0.5]`, where `d` is the distance from the peg tip to the
//! fully inserted position `(x_h, y_s − 20 mm)`. The constant term is the
//! cost of cycle time (the cell earns per assembled part, so every step
//! before the insertion is done costs the same), the distance term rewards
//! progress toward the insertion depth (a dense potential), and the torque
//! term is the normalised copper loss `R τ²/K_t²` of the joint motors
//! (energy cost). Reaching 20 mm depth ends the episode, so a faster,
//! gentler insertion has the higher return. `reward_range = (−1.5, 0)`: a
//! hard breach is charged −1.5 for every remaining step, worse than any
//! way of continuing.
//!
//! ## Disturbances (`options.disturbances`)
//!
//! Drawn at reset: payload mass `m_p ~ U(0.1, 0.4)` kg (different parts and
//! grasps) and a joint-friction scale `~ U(0.7, 1.3)` (harmonic-drive
//! friction varies strongly with temperature and wear). During the episode:
//! joint-torque disturbances from cable-harness drag and vibration, three
//! independent Ornstein–Uhlenbeck processes with time constant 0.2 s and
//! stationary standard deviations 1.5, 1.0, 0.3 N m, discretised exactly
//! and held over each control interval. Without disturbances the payload is
//! 0.2 kg, the friction scale 1 and the torque disturbances 0.
//!
//! ## Sensor noise (`options.sensor_noise`)
//!
//! Gaussian, white: encoders σ = 5e-5 rad, joint velocities σ = 2e-3 rad/s
//! (the tip pose and velocity are computed from these noisy values), vision
//! hole position σ = 0.1 mm, F/T sensor σ = 0.5 N per axis.
//!
//! ## Integration
//!
//! Classical RK4 with fixed substeps inside the 10 ms control interval and
//! the torque held constant (zero-order hold). With the contact stiffness of
//! two corner springs (2 k_c) on the smallest operational mass (1.7 kg) the
//! contact frequency is ω ≈ 345 rad/s, the damping rate c_c/m ≈ 150 1/s and
//! the friction regulariser adds ≈ 350 1/s; 5 substeps (h = 2 ms, hω ≈ 0.7,
//! far inside RK4's stability region) keep contact stable and accurate: a
//! 0.1 m/s impact on the chamfer ends within 30 µm and 3 % peak force of a
//! 10× finer integration (unit test), the residual coming from locating the
//! contact onset, where the Kelvin–Voigt force jumps. Away from the fixture
//! (lowest peg point more than 20 mm + 2 |v| Δt above the plate, so no
//! contact is reachable within the step; with the torque limits the tip
//! cannot accelerate faster than ≈ 250 m/s²), the fastest dynamics is the
//! smooth Coulomb friction at rest (largest eigenvalue of
//! `M⁻¹ ∂τ_f/∂q̇` ≈ 400 1/s at the highest friction scale and the lightest
//! payload, dominated by the wrist), and 2 substeps (h = 5 ms, hλ ≈ 2.0,
//! inside RK4's real-axis stability limit 2.785) suffice: under
//! full-authority random torques they stay within 0.5 % of a 20× finer
//! integration. The peak contact force is sampled at the start of every
//! substep and at the end of the step.
//!
//! ## Sources
//!
//! See `SOURCES` (also in the spec).

use super::math::{gaussian, normal, rk4_substeps, uniform_in};
use super::model::{EnvOptions, EnvRng, Model, Transition};
use super::spec::{ConstraintSpec, Dim, EnvSpec};
use std::f64::consts::{FRAC_1_SQRT_2, FRAC_PI_2};
use std::sync::Arc;

/// Control interval, s (100 Hz torque interface).
pub const DT: f64 = 0.01;
/// Steps per episode (6 s; a good insertion takes 2–3 s).
pub const HORIZON: usize = 600;
/// RK4 substeps per control interval when contact is possible.
pub const SUBSTEPS_CONTACT: usize = 5;
/// RK4 substeps per control interval in free space.
pub const SUBSTEPS_FREE: usize = 2;

/// Gravitational acceleration, m/s².
pub const GRAVITY: f64 = 9.81;
/// Joint torque ratings, N m (UR5: size-3 shoulder/elbow, size-1 wrist).
pub const TAU_MAX: [f64; 3] = [150.0, 150.0, 28.0];

/// Peg radius, m (Ø 19.0 mm).
pub const R_PEG: f64 = 0.0095;
/// Hole radius, m (Ø 20.0 mm: 0.5 mm radial clearance).
pub const R_HOLE: f64 = 0.0100;
/// Chamfer width (45°), m.
pub const CHAMFER: f64 = 0.001;
/// Hole depth, m.
pub const HOLE_DEPTH: f64 = 0.025;
/// Insertion depth that completes the task, m.
pub const GOAL_DEPTH: f64 = 0.020;
/// Length of the peg protruding from the gripper fingers, m.
pub const PEG_LENGTH: f64 = 0.040;

/// Contact stiffness, N/m.
pub const K_CONTACT: f64 = 1.0e5;
/// Contact damping, N s/m.
pub const C_CONTACT: f64 = 250.0;
/// Coulomb friction coefficient between peg and fixture.
pub const MU_CONTACT: f64 = 0.25;
/// Slope of the regularised contact friction, N s/m.
pub const C_TANGENT: f64 = 300.0;

/// Nominal hole entrance x, m, and half-range of its variation.
pub const X_HOLE: (f64, f64) = (0.55, 0.02);
/// Nominal plate surface height y, m, and half-range of its variation.
pub const Y_SURFACE: (f64, f64) = (-0.25, 0.01);

/// Joint position limits (rad): (min, max) per joint.
pub const Q_LIMITS: [(f64, f64); 3] = [(0.45, 2.20), (-2.60, -1.20), (-1.80, -0.35)];
/// Part damage threshold on the contact force, N (hard).
pub const F_DAMAGE: f64 = 80.0;
/// Cosmetic-damage threshold on the contact force, N (soft).
pub const F_MARK: f64 = 40.0;
/// Radius of the collaborative zone around the hole entrance, m.
pub const ZONE_RADIUS: f64 = 0.12;
/// Collaborative (reduced) speed limit, m/s.
pub const ZONE_SPEED: f64 = 0.25;

/// Distance normalising the progress term of the reward, m.
pub const D_REF: f64 = 0.5;

/// Time constant of the controlled stop ([`Model::safe_action`]), s: the
/// joint speeds decay by half per control interval while the torque
/// ratings allow.
pub const STOP_TIME: f64 = 0.02;

/// Nominal payload mass, kg, and its distance from the wrist axis, m.
pub const PAYLOAD: (f64, f64) = (0.2, 0.28);

const OU_TAU: f64 = 0.2;
const OU_SIGMA: [f64; 3] = [1.5, 1.0, 0.3];
const NOISE_Q: f64 = 5e-5;
const NOISE_QD: f64 = 2e-3;
const NOISE_HOLE: f64 = 1e-4;
const NOISE_FORCE: f64 = 0.5;

/// Layout of the internal state vector.
pub mod idx {
    /// Joint angles q1..q3.
    pub const Q: usize = 0;
    /// Joint velocities q̇1..q̇3.
    pub const QD: usize = 3;
    pub const X_HOLE: usize = 6;
    pub const Y_SURF: usize = 7;
    pub const PAYLOAD: usize = 8;
    pub const FRICTION: usize = 9;
    /// Joint torque disturbances (3).
    pub const DIST: usize = 10;
    pub const FX: usize = 13;
    pub const FY: usize = 14;
    pub const F_PEAK: usize = 15;
    pub const GAP: usize = 16;
    pub const V_PEG: usize = 17;
    pub const ZONE_SPEED: usize = 18;
    /// The safety shield's bound on the peak contact force of the step
    /// (N): see [`super::robust_contact_force`].
    pub const F_ROBUST: usize = 19;
    pub const DIM: usize = 20;
}

/// Layout of the observation vector.
pub mod obs {
    pub const Q: usize = 0;
    pub const QD: usize = 3;
    pub const X_TIP: usize = 6;
    pub const Y_TIP: usize = 7;
    pub const PHI_TIP: usize = 8;
    pub const VX_TIP: usize = 9;
    pub const VY_TIP: usize = 10;
    pub const W_TIP: usize = 11;
    pub const X_HOLE: usize = 12;
    pub const Y_HOLE: usize = 13;
    pub const FX: usize = 14;
    pub const FY: usize = 15;
    pub const DIM: usize = 16;
}

/// The sources of the model (also in the spec).
pub const SOURCES: &[&str] = &[
    "M. W. Spong, S. Hutchinson, M. Vidyasagar, Robot Modeling and Control, 2nd ed., Wiley, 2020 (Euler-Lagrange dynamics of planar arms, reflected actuator inertia, inverse-dynamics control)",
    "B. Siciliano, L. Sciavicco, L. Villani, G. Oriolo, Robotics: Modelling, Planning and Control, Springer, 2009 (ch. 7 dynamics, ch. 8 motion control, ch. 9 force control)",
    "K. H. Hunt, F. R. E. Crossley, Coefficient of restitution interpreted as damping in vibroimpact, J. Applied Mechanics 42(2):440-445, 1975",
    "G. Gilardi, I. Sharf, Literature survey of contact dynamics modelling, Mechanism and Machine Theory 37(10):1213-1239, 2002 (Kelvin-Voigt penalty contact)",
    "D. E. Whitney, Quasi-static assembly of compliantly supported rigid parts, J. Dynamic Systems, Measurement, and Control 104(1):65-77, 1982 (peg-in-hole contact states, chamfers, jamming)",
    "B. Armstrong-Helouvry, P. Dupont, C. Canudas de Wit, A survey of models, analysis tools and compensation methods for the control of machines with friction, Automatica 30(7):1083-1138, 1994",
    "Universal Robots, UR5 technical specifications and published kinematic/dynamic parameters (link lengths 0.425/0.392 m, masses 8.393/2.275/1.219/1.219/0.1879 kg, joint torques 150/28 N m)",
    "P. M. Kebria, S. Al-wais, H. Abdi, S. Nahavandi, Kinematic and dynamic modelling of UR5 manipulator, IEEE Int. Conf. on Systems, Man, and Cybernetics (SMC), 2016",
    "ISO 10218-1:2011 Robots and robotic devices - Safety requirements for industrial robots, Part 1 (reduced speed 250 mm/s); ISO/TS 15066:2016 Collaborative robots",
];

/// Rigid-body, actuator and friction parameters of the planar 3R arm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArmParams {
    /// Link lengths (joint to joint; link 3: wrist axis to peg tip), m.
    pub l: [f64; 3],
    /// Distance of each link's centre of mass from its joint, m.
    pub lc: [f64; 3],
    /// Link masses, kg.
    pub m: [f64; 3],
    /// Link inertias about their centres of mass, kg m².
    pub inertia: [f64; 3],
    /// Reflected rotor inertias N² J_m, kg m².
    pub armature: [f64; 3],
    /// Viscous joint friction, N m s/rad.
    pub viscous: [f64; 3],
    /// Coulomb joint friction, N m.
    pub coulomb: [f64; 3],
    /// Smoothing velocity of the Coulomb friction, rad/s.
    pub v_smooth: f64,
    /// Gravitational acceleration, m/s².
    pub g: f64,
}

impl ArmParams {
    /// The nominal arm without payload (see the module documentation).
    pub const NOMINAL: ArmParams = ArmParams {
        l: [0.425, 0.392, 0.300],
        lc: [0.2125, 0.215, 0.161],
        m: [8.393, 3.494, 2.332],
        inertia: [0.126, 0.091, 0.015],
        armature: [0.35, 0.35, 0.07],
        viscous: [4.0, 3.0, 0.8],
        coulomb: [7.0, 5.0, 1.5],
        v_smooth: 0.05,
        g: GRAVITY,
    };

    /// These parameters with a point payload `mass` at `dist` from the wrist
    /// axis lumped into link 3.
    pub fn with_payload(&self, mass: f64, dist: f64) -> ArmParams {
        let mut p = *self;
        let m3 = self.m[2] + mass;
        let lc3 = (self.m[2] * self.lc[2] + mass * dist) / m3;
        p.inertia[2] = self.inertia[2]
            + self.m[2] * (self.lc[2] - lc3) * (self.lc[2] - lc3)
            + mass * (dist - lc3) * (dist - lc3);
        p.m[2] = m3;
        p.lc[2] = lc3;
        p
    }

    /// These parameters with the joint friction scaled by `s`.
    pub fn with_friction_scale(&self, s: f64) -> ArmParams {
        let mut p = *self;
        for i in 0..3 {
            p.viscous[i] *= s;
            p.coulomb[i] *= s;
        }
        p
    }

    /// The constant coefficients of `M(q)` and `g(q)`.
    pub fn coefficients(&self) -> Coefficients {
        let [l1, l2, _] = self.l;
        let [lc1, lc2, lc3] = self.lc;
        let [m1, m2, m3] = self.m;
        let [i1, i2, i3] = self.inertia;
        let k33 = i3 + m3 * lc3 * lc3;
        let k22 = i2 + i3 + m2 * lc2 * lc2 + m3 * (l2 * l2 + lc3 * lc3);
        Coefficients {
            a: m2 * lc2 * l1 + m3 * l1 * l2,
            b: m3 * l1 * lc3,
            c: m3 * l2 * lc3,
            k11: i1 + m1 * lc1 * lc1 + m2 * l1 * l1 + m3 * l1 * l1 + k22 + self.armature[0],
            k12: k22,
            k13: k33,
            k22: k22 + self.armature[1],
            k23: k33,
            k33: k33 + self.armature[2],
            g1: self.g * (m1 * lc1 + (m2 + m3) * l1),
            g2: self.g * (m2 * lc2 + m3 * l2),
            g3: self.g * m3 * lc3,
        }
    }
}

/// Constant coefficients of the mass matrix and the gravity vector
/// (see the module documentation for their meaning).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coefficients {
    pub a: f64,
    pub b: f64,
    pub c: f64,
    pub k11: f64,
    pub k12: f64,
    pub k13: f64,
    pub k22: f64,
    pub k23: f64,
    pub k33: f64,
    pub g1: f64,
    pub g2: f64,
    pub g3: f64,
}

/// Trigonometry and joint positions of one configuration, from one sine
/// and cosine per absolute link angle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kinematics {
    pub c1: f64,
    pub s1: f64,
    pub c12: f64,
    pub s12: f64,
    pub c123: f64,
    pub s123: f64,
    /// Elbow joint position, m.
    pub elbow: [f64; 2],
    /// Wrist joint position, m.
    pub wrist: [f64; 2],
    /// Peg tip (centre of its bottom face), m.
    pub tip: [f64; 2],
}

impl Kinematics {
    /// Forward kinematics of `q` with link lengths `l`.
    #[inline]
    pub fn new(l: &[f64; 3], q: &[f64]) -> Self {
        let t1 = q[0];
        let t12 = t1 + q[1];
        let t123 = t12 + q[2];
        let (s1, c1) = libm::sincos(t1);
        let (s12, c12) = libm::sincos(t12);
        let (s123, c123) = libm::sincos(t123);
        let elbow = [l[0] * c1, l[0] * s1];
        let wrist = [elbow[0] + l[1] * c12, elbow[1] + l[1] * s12];
        let tip = [wrist[0] + l[2] * c123, wrist[1] + l[2] * s123];
        Kinematics {
            c1,
            s1,
            c12,
            s12,
            c123,
            s123,
            elbow,
            wrist,
            tip,
        }
    }

    /// `(cos q2, sin q2, cos q3, sin q3, cos(q2+q3), sin(q2+q3))` from the
    /// absolute angles.
    #[inline]
    fn relative(&self) -> [f64; 6] {
        [
            self.c12 * self.c1 + self.s12 * self.s1,
            self.s12 * self.c1 - self.c12 * self.s1,
            self.c123 * self.c12 + self.s123 * self.s12,
            self.s123 * self.c12 - self.c123 * self.s12,
            self.c123 * self.c1 + self.s123 * self.s1,
            self.s123 * self.c1 - self.c123 * self.s1,
        ]
    }

    /// Velocity of the peg tip `(ẋ, ẏ, φ̇)` for joint velocities `qd`.
    #[inline]
    pub fn tip_velocity(&self, qd: &[f64]) -> [f64; 3] {
        let r = self.point_velocity(self.tip, qd);
        [r[0], r[1], qd[0] + qd[1] + qd[2]]
    }

    /// Velocity of a point `p` rigidly attached to link 3.
    #[inline]
    pub fn point_velocity(&self, p: [f64; 2], qd: &[f64]) -> [f64; 2] {
        // v = Σ_i q̇_i ẑ × (p − o_i), o_1 = 0.
        let s = qd[0] + qd[1] + qd[2];
        let rx = s * p[0] - qd[1] * self.elbow[0] - qd[2] * self.wrist[0];
        let ry = s * p[1] - qd[1] * self.elbow[1] - qd[2] * self.wrist[1];
        [-ry, rx]
    }

    /// Jacobian of the tip pose `(x, y, φ)` with respect to `q`.
    pub fn jacobian(&self) -> [[f64; 3]; 3] {
        let t = self.tip;
        let (e, w) = (self.elbow, self.wrist);
        [
            [-t[1], -(t[1] - e[1]), -(t[1] - w[1])],
            [t[0], t[0] - e[0], t[0] - w[0]],
            [1.0, 1.0, 1.0],
        ]
    }

    /// `J̇ q̇`: the tip acceleration `(ẍ, ÿ, φ̈)` at zero joint acceleration.
    pub fn jacobian_dot_qd(&self, l: &[f64; 3], qd: &[f64]) -> [f64; 3] {
        let w1 = qd[0];
        let w12 = w1 + qd[1];
        let w123 = w12 + qd[2];
        let (a1, a2, a3) = (l[0] * w1 * w1, l[1] * w12 * w12, l[2] * w123 * w123);
        [
            -(a1 * self.c1 + a2 * self.c12 + a3 * self.c123),
            -(a1 * self.s1 + a2 * self.s12 + a3 * self.s123),
            0.0,
        ]
    }
}

/// The mass matrix `M(q)` (symmetric; armature included).
#[inline]
pub fn mass_matrix(k: &Coefficients, kin: &Kinematics) -> [[f64; 3]; 3] {
    let [c2, _, c3, _, c23, _] = kin.relative();
    let m11 = k.k11 + 2.0 * (k.a * c2 + k.b * c23 + k.c * c3);
    let m12 = k.k12 + k.a * c2 + k.b * c23 + 2.0 * k.c * c3;
    let m13 = k.k13 + k.b * c23 + k.c * c3;
    let m22 = k.k22 + 2.0 * k.c * c3;
    let m23 = k.k23 + k.c * c3;
    [[m11, m12, m13], [m12, m22, m23], [m13, m23, k.k33]]
}

/// The Coriolis and centrifugal torques `C(q, q̇) q̇`.
#[inline]
pub fn coriolis(k: &Coefficients, kin: &Kinematics, qd: &[f64]) -> [f64; 3] {
    let [_, s2, _, s3, _, s23] = kin.relative();
    // ∂M/∂q2 and ∂M/∂q3 (∂M/∂q1 = 0).
    let d2_11 = -2.0 * (k.a * s2 + k.b * s23);
    let d2_12 = -(k.a * s2 + k.b * s23);
    let d2_13 = -k.b * s23;
    let d3_11 = -2.0 * (k.b * s23 + k.c * s3);
    let d3_12 = -(k.b * s23) - 2.0 * k.c * s3;
    let d3_13 = -(k.b * s23 + k.c * s3);
    let d3_22 = -2.0 * k.c * s3;
    let d3_23 = -k.c * s3;
    let d2 = [[d2_11, d2_12, d2_13], [d2_12, 0.0, 0.0], [d2_13, 0.0, 0.0]];
    let d3 = [
        [d3_11, d3_12, d3_13],
        [d3_12, d3_22, d3_23],
        [d3_13, d3_23, 0.0],
    ];
    let mut h = [0.0; 3];
    let mut quad2 = 0.0;
    let mut quad3 = 0.0;
    for i in 0..3 {
        let mut row = 0.0;
        let mut r2 = 0.0;
        let mut r3 = 0.0;
        for j in 0..3 {
            let mdot = d2[i][j] * qd[1] + d3[i][j] * qd[2];
            row += mdot * qd[j];
            r2 += d2[i][j] * qd[j];
            r3 += d3[i][j] * qd[j];
        }
        h[i] = row;
        quad2 += qd[i] * r2;
        quad3 += qd[i] * r3;
    }
    h[1] -= 0.5 * quad2;
    h[2] -= 0.5 * quad3;
    h
}

/// The gravity torques `g(q)`.
#[inline]
pub fn gravity(k: &Coefficients, kin: &Kinematics) -> [f64; 3] {
    let g3 = k.g3 * kin.c123;
    let g2 = k.g2 * kin.c12 + g3;
    [k.g1 * kin.c1 + g2, g2, g3]
}

/// Joint friction torques: viscous + smooth Coulomb with the algebraic
/// regularisation `F_c v / √(v² + v_s²)` (slope `F_c / v_s` at rest, like
/// `F_c tanh(v / v_s)`, but without a transcendental function).
#[inline]
pub fn friction(p: &ArmParams, qd: &[f64]) -> [f64; 3] {
    let mut f = [0.0; 3];
    for (i, fi) in f.iter_mut().enumerate() {
        let w = qd[i] / p.v_smooth;
        *fi = p.viscous[i] * qd[i] + p.coulomb[i] * w / (1.0 + w * w).sqrt();
    }
    f
}

/// Solve `A x = b` for a symmetric 3×3 `A` (Cramer's rule with the adjugate).
#[inline]
pub fn solve_sym3(a: &[[f64; 3]; 3], b: &[f64; 3]) -> [f64; 3] {
    let (m11, m12, m13, m22, m23, m33) = (a[0][0], a[0][1], a[0][2], a[1][1], a[1][2], a[2][2]);
    let a11 = m22 * m33 - m23 * m23;
    let a12 = m13 * m23 - m12 * m33;
    let a13 = m12 * m23 - m13 * m22;
    let a22 = m11 * m33 - m13 * m13;
    let a23 = m12 * m13 - m11 * m23;
    let a33 = m11 * m22 - m12 * m12;
    let inv_det = 1.0 / (m11 * a11 + m12 * a12 + m13 * a13);
    [
        (a11 * b[0] + a12 * b[1] + a13 * b[2]) * inv_det,
        (a12 * b[0] + a22 * b[1] + a23 * b[2]) * inv_det,
        (a13 * b[0] + a23 * b[1] + a33 * b[2]) * inv_det,
    ]
}

/// Solve `A x = b` for a general 3×3 `A` (Cramer's rule).
pub fn solve3(a: &[[f64; 3]; 3], b: &[f64; 3]) -> [f64; 3] {
    let det3 = |c0: [f64; 3], c1: [f64; 3], c2: [f64; 3]| {
        c0[0] * (c1[1] * c2[2] - c1[2] * c2[1]) - c1[0] * (c0[1] * c2[2] - c0[2] * c2[1])
            + c2[0] * (c0[1] * c1[2] - c0[2] * c1[1])
    };
    let col = |j: usize| [a[0][j], a[1][j], a[2][j]];
    let (a0, a1, a2) = (col(0), col(1), col(2));
    let inv = 1.0 / det3(a0, a1, a2);
    [
        det3(*b, a1, a2) * inv,
        det3(a0, *b, a2) * inv,
        det3(a0, a1, *b) * inv,
    ]
}

/// Elbow-up (q2 < 0) inverse kinematics of the tip pose `(x, y, φ)`.
/// Out-of-reach targets are projected onto the workspace boundary.
pub fn inverse_kinematics(l: &[f64; 3], tip: [f64; 2], phi: f64) -> [f64; 3] {
    let (sp, cp) = libm::sincos(phi);
    let wx = tip[0] - l[2] * cp;
    let wy = tip[1] - l[2] * sp;
    let c2 =
        ((wx * wx + wy * wy - l[0] * l[0] - l[1] * l[1]) / (2.0 * l[0] * l[1])).clamp(-1.0, 1.0);
    let q2 = -libm::acos(c2);
    let (s2, c2) = libm::sincos(q2);
    let q1 = libm::atan2(wy, wx) - libm::atan2(l[1] * s2, l[0] + l[1] * c2);
    [q1, q2, phi - q1 - q2]
}

/// The fixture: hole entrance `(x_h, y_s)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fixture {
    pub x_hole: f64,
    pub y_surface: f64,
}

/// Penetration depth and outward unit normal of a point `(u, v)` (relative
/// to the hole entrance) inside the fixture material, if it is inside.
#[inline]
fn fixture_penetration(u: f64, v: f64) -> Option<(f64, [f64; 2])> {
    if v >= 0.0 {
        return None;
    }
    if u.abs() >= R_HOLE {
        // One of the two convex blocks: top, wall and chamfer half-planes.
        let side = if u < 0.0 { 1.0 } else { -1.0 }; // normal x-direction of the wall
        let au = u.abs();
        let d_chamfer = (au - v - R_HOLE - CHAMFER) * FRAC_1_SQRT_2;
        if d_chamfer <= 0.0 {
            return None; // in the chamfer's cut-away
        }
        let d_top = -v;
        let d_wall = au - R_HOLE;
        if d_top <= d_wall && d_top <= d_chamfer {
            Some((d_top, [0.0, 1.0]))
        } else if d_wall <= d_chamfer {
            Some((d_wall, [side, 0.0]))
        } else {
            Some((d_chamfer, [side * FRAC_1_SQRT_2, FRAC_1_SQRT_2]))
        }
    } else {
        let d = -HOLE_DEPTH - v;
        (d > 0.0).then_some((d, [0.0, 1.0]))
    }
}

/// Kelvin–Voigt normal force and regularised Coulomb friction at one
/// contact point: penetration `delta`, unit normal `n` (direction of the
/// force on the peg), velocity `v` of the peg's material point.
#[inline]
fn point_force(delta: f64, n: [f64; 2], v: [f64; 2]) -> [f64; 2] {
    let delta_dot = -(v[0] * n[0] + v[1] * n[1]);
    let f_n = (K_CONTACT * delta + C_CONTACT * delta_dot).max(0.0);
    let t = [-n[1], n[0]];
    let v_t = v[0] * t[0] + v[1] * t[1];
    let f_t = -(C_TANGENT * v_t).clamp(-MU_CONTACT * f_n, MU_CONTACT * f_n);
    [f_n * n[0] + f_t * t[0], f_n * n[1] + f_t * t[1]]
}

/// Corners of the peg's bottom face.
#[inline]
fn peg_corners(kin: &Kinematics) -> [[f64; 2]; 2] {
    let n = [-kin.s123, kin.c123];
    let t = kin.tip;
    [
        [t[0] + R_PEG * n[0], t[1] + R_PEG * n[1]],
        [t[0] - R_PEG * n[0], t[1] - R_PEG * n[1]],
    ]
}

/// Total contact force on the peg (world frame) and its joint torques
/// `Σ J_kᵀ F_k`, added to `tau`.
#[inline]
pub fn contact(
    l3: f64,
    fixture: &Fixture,
    kin: &Kinematics,
    qd: &[f64],
    tau: &mut [f64; 3],
) -> [f64; 2] {
    let corners = peg_corners(kin);
    if corners[0][1].min(corners[1][1]) >= fixture.y_surface {
        return [0.0, 0.0];
    }
    let mut total = [0.0, 0.0];
    let mut apply = |p: [f64; 2], f: [f64; 2], tau: &mut [f64; 3]| {
        total[0] += f[0];
        total[1] += f[1];
        tau[0] += p[0] * f[1] - p[1] * f[0];
        tau[1] += (p[0] - kin.elbow[0]) * f[1] - (p[1] - kin.elbow[1]) * f[0];
        tau[2] += (p[0] - kin.wrist[0]) * f[1] - (p[1] - kin.wrist[1]) * f[0];
    };
    for c in corners {
        if let Some((delta, n)) =
            fixture_penetration(c[0] - fixture.x_hole, c[1] - fixture.y_surface)
        {
            let f = point_force(delta, n, kin.point_velocity(c, qd));
            apply(c, f, tau);
        }
    }
    // Fixture vertices (chamfer edges) against the peg's sides and bottom.
    for p in fixture_vertices(fixture) {
        if let Some((delta, n)) = vertex_penetration(p, kin, l3) {
            let f = point_force(delta, n, kin.point_velocity(p, qd));
            apply(p, f, tau);
        }
    }
    total
}

/// The fixture's four chamfer vertices (edges in the plane).
#[inline]
fn fixture_vertices(fixture: &Fixture) -> [[f64; 2]; 4] {
    let (xh, ys) = (fixture.x_hole, fixture.y_surface);
    [
        [xh - R_HOLE, ys - CHAMFER],
        [xh + R_HOLE, ys - CHAMFER],
        [xh - R_HOLE - CHAMFER, ys],
        [xh + R_HOLE + CHAMFER, ys],
    ]
}

/// Penetration depth of the fixture point `p` into the peg (its sides or
/// its bottom face, whichever is nearer) and the unit normal of the force
/// on the peg, if `p` is inside the peg.
#[inline]
fn vertex_penetration(p: [f64; 2], kin: &Kinematics, l3: f64) -> Option<(f64, [f64; 2])> {
    let axis = [kin.c123, kin.s123];
    let lateral = [-kin.s123, kin.c123];
    let e = [p[0] - kin.wrist[0], p[1] - kin.wrist[1]];
    let s = e[0] * axis[0] + e[1] * axis[1];
    let t = e[0] * lateral[0] + e[1] * lateral[1];
    if !(s > l3 - PEG_LENGTH && s < l3 && t.abs() < R_PEG) {
        return None;
    }
    let d_side = R_PEG - t.abs();
    let d_bottom = l3 - s;
    Some(if d_side < d_bottom {
        let sg = if t > 0.0 { -1.0 } else { 1.0 };
        (d_side, [sg * lateral[0], sg * lateral[1]])
    } else {
        (d_bottom, [-axis[0], -axis[1]])
    })
}

/// How far from its computed position each contact point is looked at by
/// [`robust_contact_force`], m.
pub const CONTACT_UNCERTAINTY: f64 = 5.0e-5;

/// A bound on the contact force's magnitude against position errors of up
/// to [`CONTACT_UNCERTAINTY`] at each contact point: `|F| + Σ_k max_probe
/// |f_k(probe) − f_k|`, where each of the six contact points (the peg's two
/// bottom corners, the fixture's four chamfer vertices) is also evaluated
/// shifted by `±ε` along x and along y (triangle inequality: no
/// combination of such shifts gives a larger total).
///
/// Why the safety shield needs it: the Kelvin–Voigt force
/// `max(0, k_c δ + c_c δ̇)` jumps from 0 to `c_c δ̇` at first touch, and a
/// penetrating corner's force jumps where its nearest face changes (top,
/// wall, chamfer). At a peg grazing the hole's wall, a torque disturbance
/// of a fraction of a newton-metre decides whether a corner is 10 µm inside
/// the wall or outside it at the end of a step, and the peak force of that
/// step with it: 56 N or 93 N, with odds of about 1 in 5 at a state
/// where shielded random runs breached. The nominal prediction sees one
/// side of the jump; this bound sees both. The plant's own constraint
/// signal is unchanged (it is the sampled force, as in the `-v0` data).
pub fn robust_contact_force(l3: f64, fixture: &Fixture, kin: &Kinematics, qd: &[f64]) -> f64 {
    let mut tau = [0.0; 3];
    let f = contact(l3, fixture, kin, qd, &mut tau);
    let mut bound = (f[0] * f[0] + f[1] * f[1]).sqrt();
    let corners = peg_corners(kin);
    if corners[0][1].min(corners[1][1]) >= fixture.y_surface + CONTACT_UNCERTAINTY {
        return bound;
    }
    let e = CONTACT_UNCERTAINTY;
    let probes = [[e, 0.0], [-e, 0.0], [0.0, e], [0.0, -e]];
    // The peg's corners against the fixture.
    for c in corners {
        let v = kin.point_velocity(c, qd);
        let force_at = |dx: [f64; 2]| {
            fixture_penetration(
                c[0] + dx[0] - fixture.x_hole,
                c[1] + dx[1] - fixture.y_surface,
            )
            .map_or([0.0, 0.0], |(delta, n)| point_force(delta, n, v))
        };
        bound += largest_change(force_at, &probes);
    }
    // The fixture's chamfer vertices against the peg's sides and bottom.
    for p in fixture_vertices(fixture) {
        let v = kin.point_velocity(p, qd);
        let force_at = |dx: [f64; 2]| {
            vertex_penetration([p[0] + dx[0], p[1] + dx[1]], kin, l3)
                .map_or([0.0, 0.0], |(delta, n)| point_force(delta, n, v))
        };
        bound += largest_change(force_at, &probes);
    }
    bound
}

/// The largest change of a contact point's force, `max_probe |f(probe) −
/// f(0)|`, over the position shifts `probes`.
#[inline]
fn largest_change(force_at: impl Fn([f64; 2]) -> [f64; 2], probes: &[[f64; 2]]) -> f64 {
    let f0 = force_at([0.0, 0.0]);
    probes
        .iter()
        .map(|&d| {
            let fp = force_at(d);
            ((fp[0] - f0[0]).powi(2) + (fp[1] - f0[1]).powi(2)).sqrt()
        })
        .fold(0.0, f64::max)
}

/// `dx/dt` of `x = (q, q̇)` under joint torques `tau`; returns the contact
/// force on the peg. `fixture = None` disables contact.
#[inline]
pub fn derivatives(
    p: &ArmParams,
    k: &Coefficients,
    fixture: Option<&Fixture>,
    x: &[f64; 6],
    tau: &[f64; 3],
    dx: &mut [f64; 6],
) -> [f64; 2] {
    let kin = Kinematics::new(&p.l, &x[0..3]);
    let qd = &x[3..6];
    let m = mass_matrix(k, &kin);
    let h = coriolis(k, &kin, qd);
    let g = gravity(k, &kin);
    let f = friction(p, qd);
    let mut rhs = [0.0; 3];
    for i in 0..3 {
        rhs[i] = tau[i] - h[i] - g[i] - f[i];
    }
    let force = match fixture {
        Some(fx) => contact(p.l[2], fx, &kin, qd, &mut rhs),
        None => [0.0, 0.0],
    };
    let qdd = solve_sym3(&m, &rhs);
    dx[0] = x[3];
    dx[1] = x[4];
    dx[2] = x[5];
    dx[3] = qdd[0];
    dx[4] = qdd[1];
    dx[5] = qdd[2];
    force
}

/// The peg-in-hole assembly cell.
#[derive(Debug)]
pub struct RobotAssembly {
    spec: EnvSpec,
    options: EnvOptions,
    ou_decay: f64,
    ou_gain: [f64; 3],
}

/// Registry constructor.
pub fn build(options: EnvOptions) -> Arc<dyn Model> {
    Arc::new(RobotAssembly::new(options))
}

impl RobotAssembly {
    pub fn new(options: EnvOptions) -> Self {
        let decay = libm::exp(-DT / OU_TAU);
        let scale = (1.0 - decay * decay).sqrt();
        let (q1, q2, q3) = (Q_LIMITS[0], Q_LIMITS[1], Q_LIMITS[2]);
        let spec = EnvSpec {
            id: "RobotAssembly-v0".into(),
            description: "A UR5-class arm working in a vertical plane (planar 3R: shoulder, elbow, \
                          wrist; rigid-body dynamics with gravity, reflected rotor inertia, viscous \
                          and smooth Coulomb joint friction) inserts a Ø19 mm peg into a chamfered \
                          Ø20 mm hole whose position varies from part to part. Contact between peg \
                          and fixture is a stiff Kelvin-Voigt penalty model with Coulomb friction. \
                          Actions are joint torques; the task is done when the peg is 20 mm deep. \
                          Hard limits: joint positions, contact force 80 N (part damage). Soft: \
                          contact force 40 N (marks), tip speed 0.25 m/s in the collaborative zone."
                .into(),
            sources: SOURCES.iter().map(|s| s.to_string()).collect(),
            observations: vec![
                Dim::new("q1", "rad", q1.0 - 0.25, q1.1 + 0.25),
                Dim::new("q2", "rad", q2.0 - 0.25, q2.1 + 0.25),
                Dim::new("q3", "rad", q3.0 - 0.25, q3.1 + 0.25),
                Dim::new("q1_dot", "rad/s", -4.0, 4.0),
                Dim::new("q2_dot", "rad/s", -4.0, 4.0),
                Dim::new("q3_dot", "rad/s", -6.0, 6.0),
                Dim::new("x_tip", "m", -0.1, 1.2),
                Dim::new("y_tip", "m", -0.6, 1.0),
                Dim::new("phi_tip", "rad", -4.0, 1.0),
                Dim::new("vx_tip", "m/s", -4.0, 4.0),
                Dim::new("vy_tip", "m/s", -4.0, 4.0),
                Dim::new("w_tip", "rad/s", -8.0, 8.0),
                Dim::new("x_hole", "m", X_HOLE.0 - 0.03, X_HOLE.0 + 0.03),
                Dim::new("y_hole", "m", Y_SURFACE.0 - 0.02, Y_SURFACE.0 + 0.02),
                Dim::new("F_x", "N", -200.0, 200.0),
                Dim::new("F_y", "N", -200.0, 200.0),
            ],
            actions: vec![
                Dim::new("tau1", "N m", -TAU_MAX[0], TAU_MAX[0]),
                Dim::new("tau2", "N m", -TAU_MAX[1], TAU_MAX[1]),
                Dim::new("tau3", "N m", -TAU_MAX[2], TAU_MAX[2]),
            ],
            dt: DT,
            horizon: HORIZON,
            constraints: vec![
                ConstraintSpec::hard_min("q1_min", q1.0, "rad", "shoulder safety-rated axis limit (protective stop): keeps the arm in the guarded cell volume"),
                ConstraintSpec::hard_max("q1_max", q1.1, "rad", "shoulder safety-rated axis limit (protective stop): keeps the arm in the guarded cell volume"),
                ConstraintSpec::hard_min("q2_min", q2.0, "rad", "elbow safety-rated axis limit: folded-arm self-collision"),
                ConstraintSpec::hard_max("q2_max", q2.1, "rad", "elbow safety-rated axis limit: away from the stretched-out singularity and the table"),
                ConstraintSpec::hard_min("q3_min", q3.0, "rad", "wrist safety-rated axis limit: gripper cable and tool orientation"),
                ConstraintSpec::hard_max("q3_max", q3.1, "rad", "wrist safety-rated axis limit: gripper collision with the forearm"),
                ConstraintSpec::hard_max("contact_force_damage", F_DAMAGE, "N", "peak contact force on the peg during the step: above 80 N the chamfer and the fixture's locating features deform plastically (part scrapped)"),
                ConstraintSpec::soft_max("contact_force_marks", F_MARK, "N", "peak contact force on the peg during the step: above 40 N the surfaces are scratched and burred (rework)"),
                ConstraintSpec::soft_max("collaborative_speed", ZONE_SPEED, "m/s", "peg-tip speed while within 0.12 m of the hole entrance (0 outside): reduced speed 250 mm/s for the shared workspace (ISO 10218-1, ISO/TS 15066)"),
            ],
            reward_range: (-1.5, 0.0),
            ref_random_return: -883.4726606509772,
            ref_expert_return: -192.45511926190272,
            breach: super::spec::BreachPenalty::RemainingHorizon,
        };
        RobotAssembly {
            spec,
            options,
            ou_decay: decay,
            ou_gain: [
                OU_SIGMA[0] * scale,
                OU_SIGMA[1] * scale,
                OU_SIGMA[2] * scale,
            ],
        }
    }

    /// The arm parameters of `state` (payload and friction scenario).
    fn params(state: &[f64]) -> ArmParams {
        ArmParams::NOMINAL
            .with_payload(state[idx::PAYLOAD], PAYLOAD.1)
            .with_friction_scale(state[idx::FRICTION])
    }

    /// Recompute the cached contact force and kinematic signals of `state`.
    /// Returns the tip position and the contact force magnitude.
    fn refresh(state: &mut [f64], p: &ArmParams) -> ([f64; 2], f64) {
        let kin = Kinematics::new(&p.l, &state[idx::Q..idx::Q + 3]);
        let qd = [state[idx::QD], state[idx::QD + 1], state[idx::QD + 2]];
        let fixture = Fixture {
            x_hole: state[idx::X_HOLE],
            y_surface: state[idx::Y_SURF],
        };
        let mut tau = [0.0; 3];
        let f = contact(p.l[2], &fixture, &kin, &qd, &mut tau);
        state[idx::FX] = f[0];
        state[idx::FY] = f[1];
        let corners = peg_corners(&kin);
        state[idx::GAP] = corners[0][1].min(corners[1][1]) - fixture.y_surface;
        let speed = |v: [f64; 2]| (v[0] * v[0] + v[1] * v[1]).sqrt();
        state[idx::V_PEG] = speed(kin.point_velocity(corners[0], &qd))
            .max(speed(kin.point_velocity(corners[1], &qd)));
        let tip = kin.tip;
        let (dx, dy) = (tip[0] - fixture.x_hole, tip[1] - fixture.y_surface);
        state[idx::ZONE_SPEED] = if dx * dx + dy * dy < ZONE_RADIUS * ZONE_RADIUS {
            speed(kin.point_velocity(tip, &qd))
        } else {
            0.0
        };
        (tip, (f[0] * f[0] + f[1] * f[1]).sqrt())
    }
}

impl Model for RobotAssembly {
    fn spec(&self) -> &EnvSpec {
        &self.spec
    }

    fn state_dim(&self) -> usize {
        idx::DIM
    }

    fn reset(&self, state: &mut [f64], rng: &mut EnvRng) {
        // Start pose: peg roughly vertical above and left of the fixture.
        let tip = [uniform_in(rng, 0.30, 0.38), uniform_in(rng, -0.05, 0.02)];
        let phi = -FRAC_PI_2 + uniform_in(rng, -0.15, 0.15);
        let x_hole = X_HOLE.0 + uniform_in(rng, -X_HOLE.1, X_HOLE.1);
        let y_surf = Y_SURFACE.0 + uniform_in(rng, -Y_SURFACE.1, Y_SURFACE.1);
        let q = inverse_kinematics(&ArmParams::NOMINAL.l, tip, phi);
        state.fill(0.0);
        state[idx::Q..idx::Q + 3].copy_from_slice(&q);
        state[idx::X_HOLE] = x_hole;
        state[idx::Y_SURF] = y_surf;
        if self.options.disturbances {
            state[idx::PAYLOAD] = uniform_in(rng, 0.1, 0.4);
            state[idx::FRICTION] = uniform_in(rng, 0.7, 1.3);
            for i in 0..3 {
                state[idx::DIST + i] = gaussian(rng, 0.0, OU_SIGMA[i]);
            }
        } else {
            state[idx::PAYLOAD] = PAYLOAD.0;
            state[idx::FRICTION] = 1.0;
        }
        let p = Self::params(state);
        Self::refresh(state, &p);
    }

    fn step(&self, state: &mut [f64], action: &[f64], rng: &mut EnvRng) -> Transition {
        if self.options.disturbances {
            for i in 0..3 {
                let d = &mut state[idx::DIST + i];
                *d = self.ou_decay * *d + self.ou_gain[i] * normal(rng);
            }
        }
        let p = Self::params(state);
        let k = p.coefficients();
        let fixture = Fixture {
            x_hole: state[idx::X_HOLE],
            y_surface: state[idx::Y_SURF],
        };
        let mut tau = [0.0; 3];
        for i in 0..3 {
            tau[i] = action[i] + state[idx::DIST + i];
        }
        let near = state[idx::GAP] < 0.02 + 2.0 * state[idx::V_PEG] * DT;
        let substeps = if near {
            SUBSTEPS_CONTACT
        } else {
            SUBSTEPS_FREE
        };
        let mut x = [0.0; 6];
        x.copy_from_slice(&state[0..6]);
        let mut peak2: f64 = 0.0;
        let mut robust: f64 = 0.0;
        let mut calls = 0usize;
        rk4_substeps(&mut x, DT, substeps, |x, dx| {
            let f = derivatives(&p, &k, Some(&fixture), x, &tau, dx);
            if calls.is_multiple_of(4) {
                peak2 = peak2.max(f[0] * f[0] + f[1] * f[1]);
                if near {
                    let kin = Kinematics::new(&p.l, &x[0..3]);
                    robust = robust.max(robust_contact_force(p.l[2], &fixture, &kin, &x[3..6]));
                }
            }
            calls += 1;
        });
        state[0..6].copy_from_slice(&x);
        let (tip, f_end) = Self::refresh(state, &p);
        state[idx::F_PEAK] = peak2.sqrt().max(f_end);
        let kin = Kinematics::new(&p.l, &x[0..3]);
        state[idx::F_ROBUST] = robust
            .max(robust_contact_force(p.l[2], &fixture, &kin, &x[3..6]))
            .max(state[idx::F_PEAK]);

        let goal = [fixture.x_hole, fixture.y_surface - GOAL_DEPTH];
        let d = ((tip[0] - goal[0]) * (tip[0] - goal[0]) + (tip[1] - goal[1]) * (tip[1] - goal[1]))
            .sqrt();
        let mut effort = 0.0;
        for i in 0..3 {
            let u = action[i] / TAU_MAX[i];
            effort += u * u;
        }
        let reward = (-0.5 - 0.5 * (d / D_REF).min(1.0) - 0.5 * effort / 3.0).clamp(-1.5, 0.0);
        let inserted = tip[1] <= goal[1] && (tip[0] - fixture.x_hole).abs() < R_HOLE;
        Transition {
            reward,
            terminal: inserted,
        }
    }

    fn observe(&self, state: &[f64], out: &mut [f32], rng: &mut EnvRng) {
        let mut q = [state[0], state[1], state[2]];
        let mut qd = [state[3], state[4], state[5]];
        let mut hole = [state[idx::X_HOLE], state[idx::Y_SURF]];
        let mut force = [state[idx::FX], state[idx::FY]];
        if self.options.sensor_noise {
            for v in q.iter_mut() {
                *v += NOISE_Q * normal(rng);
            }
            for v in qd.iter_mut() {
                *v += NOISE_QD * normal(rng);
            }
            for v in hole.iter_mut() {
                *v += NOISE_HOLE * normal(rng);
            }
            for v in force.iter_mut() {
                *v += NOISE_FORCE * normal(rng);
            }
        }
        let kin = Kinematics::new(&ArmParams::NOMINAL.l, &q);
        let v = kin.tip_velocity(&qd);
        let values = [
            q[0],
            q[1],
            q[2],
            qd[0],
            qd[1],
            qd[2],
            kin.tip[0],
            kin.tip[1],
            q[0] + q[1] + q[2],
            v[0],
            v[1],
            v[2],
            hole[0],
            hole[1],
            force[0],
            force[1],
        ];
        for (o, v) in out.iter_mut().zip(values) {
            *o = v as f32;
        }
    }

    fn constraints(&self, state: &[f64], out: &mut [f64]) {
        out[0] = state[idx::Q];
        out[1] = state[idx::Q];
        out[2] = state[idx::Q + 1];
        out[3] = state[idx::Q + 1];
        out[4] = state[idx::Q + 2];
        out[5] = state[idx::Q + 2];
        out[6] = state[idx::F_PEAK];
        out[7] = state[idx::F_PEAK];
        out[8] = state[idx::ZONE_SPEED];
    }

    fn shield_constraints(&self, state: &[f64], out: &mut [f64]) {
        self.constraints(state, out);
        out[6] = state[idx::F_ROBUST].max(state[idx::F_PEAK]);
        out[7] = out[6];
    }

    fn safe_action(&self, state: &[f64], action: &mut [f64]) {
        // Controlled stop (IEC 60204-1 stop category 1, path-maintaining):
        // hold the arm against gravity and decelerate it to rest through the
        // inverse dynamics, `τ = g(q) + s [C(q, q̇) q̇ − M(q) q̇ / T_stop]`,
        // i.e. `q̈ = −q̇ / T_stop` while the ratings allow (`s = 1`); where a
        // joint would exceed its rating the braking part is scaled down as a
        // whole (`s < 1`), so every joint still decelerates along the path.
        // Joint friction only adds braking. From the fastest joint speeds
        // the arm is at rest well within the safety shield's look-ahead
        // (unit test `safe_action_stops_within_the_shield_horizon`): a
        // backup that is still moving when the look-ahead ends can carry
        // the peg into the fixture just after it (a weak viscous brake did).
        let p = ArmParams::NOMINAL.with_payload(PAYLOAD.0, PAYLOAD.1);
        let k = p.coefficients();
        let kin = Kinematics::new(&p.l, &state[0..3]);
        let qd = &state[idx::QD..idx::QD + 3];
        let g = gravity(&k, &kin);
        let m = mass_matrix(&k, &kin);
        let h = coriolis(&k, &kin, qd);
        let mut brake = [0.0; 3];
        let mut s: f64 = 1.0;
        for i in 0..3 {
            let mqd = m[i][0] * qd[0] + m[i][1] * qd[1] + m[i][2] * qd[2];
            brake[i] = h[i] - mqd / STOP_TIME;
            let room = (TAU_MAX[i] - g[i].abs()).max(0.0);
            if brake[i].abs() > room {
                s = s.min(room / brake[i].abs());
            }
        }
        for i in 0..3 {
            action[i] = (g[i] + s * brake[i]).clamp(-TAU_MAX[i], TAU_MAX[i]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::ConstraintKind;
    use crate::env::math::{rk4, uniform_in};
    use rand::SeedableRng;

    fn frictionless(p: ArmParams) -> ArmParams {
        ArmParams {
            viscous: [0.0; 3],
            coulomb: [0.0; 3],
            ..p
        }
    }

    /// Centres of mass and joint positions, written out independently of
    /// `Kinematics`: `([c1, c2, c3], [o1, o2, o3])`.
    fn geometry(p: &ArmParams, q: &[f64]) -> ([[f64; 2]; 3], [[f64; 2]; 3]) {
        let th = [q[0], q[0] + q[1], q[0] + q[1] + q[2]];
        let u = |t: f64| [libm::cos(t), libm::sin(t)];
        let (u1, u2, u3) = (u(th[0]), u(th[1]), u(th[2]));
        let o1 = [0.0, 0.0];
        let o2 = [p.l[0] * u1[0], p.l[0] * u1[1]];
        let o3 = [o2[0] + p.l[1] * u2[0], o2[1] + p.l[1] * u2[1]];
        let c1 = [p.lc[0] * u1[0], p.lc[0] * u1[1]];
        let c2 = [o2[0] + p.lc[1] * u2[0], o2[1] + p.lc[1] * u2[1]];
        let c3 = [o3[0] + p.lc[2] * u3[0], o3[1] + p.lc[2] * u3[1]];
        ([c1, c2, c3], [o1, o2, o3])
    }

    /// Potential energy Σ m_i g y_ci.
    fn potential(p: &ArmParams, q: &[f64]) -> f64 {
        let (c, _) = geometry(p, q);
        (0..3).map(|i| p.m[i] * p.g * c[i][1]).sum()
    }

    /// Kinetic energy from the centre-of-mass velocities (central finite
    /// differences along q̇), link rotations and rotor spin.
    fn kinetic_independent(p: &ArmParams, q: &[f64; 3], qd: &[f64; 3]) -> f64 {
        let eps = 1e-6;
        let qp: Vec<f64> = (0..3).map(|i| q[i] + eps * qd[i]).collect();
        let qm: Vec<f64> = (0..3).map(|i| q[i] - eps * qd[i]).collect();
        let (cp, _) = geometry(p, &qp);
        let (cm, _) = geometry(p, &qm);
        let w = [qd[0], qd[0] + qd[1], qd[0] + qd[1] + qd[2]];
        let mut t = 0.0;
        for i in 0..3 {
            let vx = (cp[i][0] - cm[i][0]) / (2.0 * eps);
            let vy = (cp[i][1] - cm[i][1]) / (2.0 * eps);
            t += 0.5 * p.m[i] * (vx * vx + vy * vy) + 0.5 * p.inertia[i] * w[i] * w[i];
            t += 0.5 * p.armature[i] * qd[i] * qd[i];
        }
        t
    }

    fn kinetic_model(p: &ArmParams, q: &[f64], qd: &[f64]) -> f64 {
        let m = mass_matrix(&p.coefficients(), &Kinematics::new(&p.l, q));
        let mut t = 0.0;
        for i in 0..3 {
            for j in 0..3 {
                t += 0.5 * qd[i] * m[i][j] * qd[j];
            }
        }
        t
    }

    #[test]
    fn mass_matrix_is_symmetric_positive_definite_and_gives_the_kinetic_energy() {
        let p = ArmParams::NOMINAL.with_payload(0.3, 0.28);
        let mut rng = EnvRng::seed_from_u64(1);
        for _ in 0..200 {
            let q = [
                uniform_in(&mut rng, -3.0, 3.0),
                uniform_in(&mut rng, -3.0, 3.0),
                uniform_in(&mut rng, -3.0, 3.0),
            ];
            let qd = [
                uniform_in(&mut rng, -2.0, 2.0),
                uniform_in(&mut rng, -2.0, 2.0),
                uniform_in(&mut rng, -2.0, 2.0),
            ];
            let m = mass_matrix(&p.coefficients(), &Kinematics::new(&p.l, &q));
            for (i, row) in m.iter().enumerate() {
                for (j, v) in row.iter().enumerate() {
                    assert_eq!(*v, m[j][i]);
                }
            }
            // Sylvester's criterion.
            let d1 = m[0][0];
            let d2 = m[0][0] * m[1][1] - m[0][1] * m[1][0];
            let d3 = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
                - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
            assert!(d1 > 0.0 && d2 > 0.0 && d3 > 0.0, "{m:?}");
            let t_model = kinetic_model(&p, &q, &qd);
            let t_ref = kinetic_independent(&p, &q, &qd);
            assert!(
                (t_model - t_ref).abs() <= 1e-7 * t_ref,
                "{t_model} vs {t_ref}"
            );
        }
    }

    #[test]
    fn free_frictionless_torque_free_arm_conserves_energy() {
        let p = frictionless(ArmParams::NOMINAL.with_payload(0.2, 0.28));
        let k = p.coefficients();
        let mut x = [1.0, -1.5, -0.5, 1.5, -2.0, 3.0];
        let energy = |x: &[f64; 6]| kinetic_model(&p, &x[0..3], &x[3..6]) + potential(&p, &x[0..3]);
        let t0 = kinetic_model(&p, &x[0..3], &x[3..6]);
        let e0 = energy(&x);
        let (mut v_min, mut v_max) = (f64::INFINITY, f64::NEG_INFINITY);
        for _ in 0..2000 {
            rk4(&mut x, 1e-3, |x, dx| {
                derivatives(&p, &k, None, x, &[0.0; 3], dx);
            });
            let v = potential(&p, &x[0..3]);
            v_min = v_min.min(v);
            v_max = v_max.max(v);
            assert!(
                (energy(&x) - e0).abs() < 1e-7 * t0,
                "drift {}",
                energy(&x) - e0
            );
        }
        // Energy really was exchanged between kinetic and potential.
        assert!(v_max - v_min > 0.2 * t0, "{v_min} {v_max} {t0}");
    }

    #[test]
    fn gravity_torques_hold_the_arm_still() {
        let p = ArmParams::NOMINAL.with_payload(0.3, 0.28);
        let k = p.coefficients();
        for q0 in [[1.2, -2.0, -0.8], [0.3, -0.4, 1.1], [-2.0, 1.0, 2.5]] {
            // Statics: the torque at joint i balances the moments of the
            // weights of the links beyond it.
            let (c, o) = geometry(&p, &q0);
            let mut tau = [0.0; 3];
            for (i, t) in tau.iter_mut().enumerate() {
                for (j, cj) in c.iter().enumerate().skip(i) {
                    *t += p.m[j] * p.g * (cj[0] - o[i][0]);
                }
            }
            let g = gravity(&k, &Kinematics::new(&p.l, &q0));
            for i in 0..3 {
                assert!((g[i] - tau[i]).abs() < 1e-12 * (1.0 + tau[i].abs()));
            }
            let mut x = [q0[0], q0[1], q0[2], 0.0, 0.0, 0.0];
            for _ in 0..100 {
                rk4(&mut x, 1e-2, |x, dx| {
                    derivatives(&p, &k, None, x, &tau, dx);
                });
            }
            for i in 0..3 {
                assert!((x[i] - q0[i]).abs() < 1e-10, "{x:?}");
                assert!(x[3 + i].abs() < 1e-10, "{x:?}");
            }
        }
    }

    #[test]
    fn single_link_is_a_pendulum_with_the_small_angle_period() {
        let n = ArmParams::NOMINAL;
        let p = frictionless(ArmParams {
            m: [n.m[0], 0.0, 0.0],
            inertia: [n.inertia[0], 0.0, 0.0],
            ..n
        });
        let k = p.coefficients();
        let pivot_inertia = p.inertia[0] + p.m[0] * p.lc[0] * p.lc[0] + p.armature[0];
        let period = 2.0 * std::f64::consts::PI * (pivot_inertia / (p.m[0] * p.g * p.lc[0])).sqrt();
        let h = 1e-3;
        let mut x = [-FRAC_PI_2 + 0.01, 0.3, -0.2, 0.0, 0.0, 0.0];
        let mut crossings = vec![];
        let mut prev = x[0] + FRAC_PI_2;
        let mut t = 0.0;
        while crossings.len() < 6 {
            rk4(&mut x, h, |x, dx| {
                derivatives(&p, &k, None, x, &[0.0; 3], dx);
            });
            t += h;
            let cur = x[0] + FRAC_PI_2;
            if prev < 0.0 && cur >= 0.0 {
                crossings.push(t - h * cur / (cur - prev));
            }
            prev = cur;
            assert!(t < 20.0 * period);
        }
        let measured = (crossings[5] - crossings[0]) / 5.0;
        assert!(
            (measured - period).abs() < 1e-4 * period,
            "measured {measured} s, closed form {period} s"
        );
        // The massless distal joints do not move.
        assert!((x[1] - 0.3).abs() < 1e-12 && (x[2] + 0.2).abs() < 1e-12);
    }

    /// Equilibrium of a vertical peg pressed onto the flat plate with force
    /// F: each of the two corner springs carries F/2, so the penetration is
    /// F/(2 k_c) and the measured contact force is (0, F).
    #[test]
    fn pressed_peg_penetrates_f_over_two_k() {
        // Frictionless joints so that the settling is quick (the contact
        // friction still acts).
        let p = frictionless(ArmParams::NOMINAL.with_payload(0.2, 0.28));
        let k = p.coefficients();
        let fixture = Fixture {
            x_hole: 0.55,
            y_surface: -0.25,
        };
        let push = 30.0;
        let depth = push / (2.0 * K_CONTACT);
        let q_eq = inverse_kinematics(&p.l, [0.50, -0.25 - depth], -FRAC_PI_2);
        let q_start = inverse_kinematics(&p.l, [0.502, -0.248], -FRAC_PI_2 + 0.01);
        let mut x = [q_start[0], q_start[1], q_start[2], 0.0, 0.0, 0.0];
        // A soft joint PD (tip stiffness ~ 1 kN/m, 1/200 of the contact's)
        // keeps the peg from drifting sideways; it is zero at q_eq.
        let (kp, kd) = (200.0, 40.0);
        for _ in 0..5000 {
            let kin = Kinematics::new(&p.l, &x[0..3]);
            let g = gravity(&k, &kin);
            let jac = kin.jacobian();
            let mut tau = [0.0; 3];
            for i in 0..3 {
                tau[i] = g[i] - jac[1][i] * push + kp * (q_eq[i] - x[i]) - kd * x[3 + i];
            }
            rk4(&mut x, 1e-3, |x, dx| {
                derivatives(&p, &k, Some(&fixture), x, &tau, dx);
            });
        }
        let kin = Kinematics::new(&p.l, &x[0..3]);
        let mut tau = [0.0; 3];
        let f = contact(p.l[2], &fixture, &kin, &x[3..6], &mut tau);
        assert!((f[1] - push).abs() < 1e-3, "{f:?}");
        assert!(f[0].abs() < 1e-3, "{f:?}");
        assert!(
            (kin.tip[1] - (fixture.y_surface - depth)).abs() < 1e-8,
            "tip {:?}, expected depth {depth}",
            kin.tip
        );
    }

    /// The chosen RK4 substeps resolve a contact transient: a peg driven
    /// into the chamfer at 0.1 m/s, compared with a 10× finer integration.
    #[test]
    fn contact_substeps_match_a_fine_integration() {
        let p = ArmParams::NOMINAL.with_payload(0.2, 0.28);
        let k = p.coefficients();
        let fixture = Fixture {
            x_hole: 0.55,
            y_surface: -0.25,
        };
        let q0 = inverse_kinematics(&p.l, [0.5595, -0.2495], -FRAC_PI_2);
        let kin = Kinematics::new(&p.l, &q0);
        let qd0 = solve3(&kin.jacobian(), &[0.0, -0.1, 0.0]);
        let run = |n: usize| {
            let mut x = [q0[0], q0[1], q0[2], qd0[0], qd0[1], qd0[2]];
            let mut peak: f64 = 0.0;
            for _ in 0..10 {
                let g = gravity(&k, &Kinematics::new(&p.l, &x[0..3]));
                let mut f_end = [0.0; 2];
                rk4_substeps(&mut x, DT, n, |x, dx| {
                    f_end = derivatives(&p, &k, Some(&fixture), x, &g, dx);
                });
                peak = peak.max((f_end[0] * f_end[0] + f_end[1] * f_end[1]).sqrt());
            }
            (x, peak)
        };
        let (coarse, peak_c) = run(SUBSTEPS_CONTACT);
        let (fine, peak_f) = run(10 * SUBSTEPS_CONTACT);

        assert!(peak_f > 20.0, "the peg must hit the chamfer: {peak_f}");
        let kc = Kinematics::new(&p.l, &coarse[0..3]);
        let kf = Kinematics::new(&p.l, &fine[0..3]);
        let dtip = ((kc.tip[0] - kf.tip[0]).powi(2) + (kc.tip[1] - kf.tip[1]).powi(2)).sqrt();
        // The remaining error comes from locating the contact onset (the
        // Kelvin-Voigt force jumps there), O(h), not from the stiffness.
        assert!(dtip < 5e-5, "tip differs by {dtip} m");
        assert!(
            (peak_c - peak_f).abs() < 0.05 * peak_f,
            "{peak_c} vs {peak_f}"
        );
    }

    /// In free space the coarser substeps track a 20× finer integration
    /// under full-authority random torques (the friction is the stiffest
    /// part there).
    #[test]
    fn free_substeps_match_a_fine_integration() {
        let p = ArmParams::NOMINAL
            .with_payload(0.4, 0.28)
            .with_friction_scale(1.3);
        let k = p.coefficients();
        let mut rng = EnvRng::seed_from_u64(5);
        let taus: Vec<[f64; 3]> = (0..30)
            .map(|_| std::array::from_fn(|i| uniform_in(&mut rng, -TAU_MAX[i], TAU_MAX[i])))
            .collect();
        let run = |n: usize| {
            let mut x = [1.4, -2.1, -0.9, 0.0, 0.0, 0.0];
            for tau in &taus {
                rk4_substeps(&mut x, DT, n, |x, dx| {
                    derivatives(&p, &k, None, x, tau, dx);
                });
            }
            x
        };
        let coarse = run(SUBSTEPS_FREE);
        let fine = run(20 * SUBSTEPS_FREE);
        let moved = (0..3)
            .map(|i| (fine[i] - [1.4, -2.1, -0.9][i]).abs())
            .fold(0.0, f64::max);
        assert!(moved > 0.15, "the arm must move: {fine:?}");
        // Within 1 % of the displacement (it is 0.4 %; 3 substeps give 0.08 %).
        for i in 0..3 {
            assert!(
                (coarse[i] - fine[i]).abs() < 0.01 * moved,
                "{coarse:?} vs {fine:?}"
            );
        }
    }

    /// The emergency action (gravity hold plus joint braking) brings a
    /// moving arm to rest inside the joint limits.
    #[test]
    fn safe_action_stops_the_arm() {
        let model = RobotAssembly::new(EnvOptions::default());
        let mut state = vec![0.0; idx::DIM];
        let mut rng = EnvRng::seed_from_u64(2);
        model.reset(&mut state, &mut rng);
        state[idx::QD..idx::QD + 3].copy_from_slice(&[-0.6, 0.5, 0.8]);
        let mut action = [0.0; 3];
        let mut cons = vec![0.0; model.spec().n_constraints()];
        for _ in 0..100 {
            model.safe_action(&state, &mut action);
            model.step(&mut state, &action, &mut rng);
            model.constraints(&state, &mut cons);
            for (c, v) in model.spec().constraints.iter().zip(&cons) {
                assert!(
                    !(c.kind == ConstraintKind::Hard && c.violated(*v)),
                    "{}",
                    c.name
                );
            }
        }
        for i in 0..3 {
            assert!(state[idx::QD + i].abs() < 0.02, "{:?}", &state[3..6]);
        }
    }

    /// The controlled stop brings the arm to rest from the fastest joint
    /// speeds (the observation bounds, every sign combination, from 20
    /// start poses) within 12 steps, well inside the safety shield's
    /// default look-ahead (20 steps), so every backup trajectory the shield
    /// verifies ends with the arm at rest, held against gravity, and stays
    /// there after the look-ahead.
    #[test]
    fn safe_action_stops_within_the_shield_horizon() {
        let model = RobotAssembly::new(EnvOptions::deterministic());
        let mut rng = EnvRng::seed_from_u64(3);
        let mut worst = 0;
        for seed in 0..20 {
            let mut start = vec![0.0; idx::DIM];
            model.reset(&mut start, &mut EnvRng::seed_from_u64(seed));
            for mask in 0..8 {
                let mut state = start.clone();
                for (i, v) in [4.0, 4.0, 6.0].into_iter().enumerate() {
                    state[idx::QD + i] = if mask >> i & 1 == 1 { v } else { -v };
                }
                let params = RobotAssembly::params(&state);
                RobotAssembly::refresh(&mut state, &params);
                let mut action = [0.0; 3];
                let mut at_rest = None;
                for t in 1..=40 {
                    model.safe_action(&state, &mut action);
                    model.step(&mut state, &action, &mut rng);
                    if state[idx::QD..idx::QD + 3].iter().all(|v| v.abs() < 1e-3) {
                        at_rest = Some(t);
                        break;
                    }
                }
                let t = at_rest.unwrap_or_else(|| {
                    panic!(
                        "seed {seed} mask {mask}: {:?}",
                        &state[idx::QD..idx::QD + 3]
                    )
                });
                worst = worst.max(t);
            }
        }
        eprintln!("controlled stop: at rest after at most {worst} steps");
        assert!(worst <= 12, "{worst} steps");
    }

    #[test]
    fn reset_is_safe_and_away_from_the_fixture() {
        let model = RobotAssembly::new(EnvOptions::default());
        let mut state = vec![0.0; idx::DIM];
        let mut cons = vec![0.0; model.spec().n_constraints()];
        for seed in 0..500 {
            let mut rng = EnvRng::seed_from_u64(seed);
            model.reset(&mut state, &mut rng);
            model.constraints(&state, &mut cons);
            for (c, v) in model.spec().constraints.iter().zip(&cons) {
                assert!(!c.violated(*v), "seed {seed}: {} = {v}", c.name);
            }
            assert!(state[idx::GAP] > 0.15);
        }
    }

    /// Cost of one `step` + `observe` with noise and disturbances on, in
    /// free space (reset pose) and next to the fixture (peg 5 mm above the
    /// hole: contact substeps), holding the arm with its gravity torques;
    /// the best of five runs (run with `--release -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn timing() {
        let model = RobotAssembly::new(EnvOptions::default());
        let mut state = vec![0.0; idx::DIM];
        let mut obs = vec![0f32; obs::DIM];
        let mut rng = EnvRng::seed_from_u64(0);
        for near in [false, true] {
            model.reset(&mut state, &mut rng);
            if near {
                let tip = [state[idx::X_HOLE], state[idx::Y_SURF] + 0.005];
                let q = inverse_kinematics(&ArmParams::NOMINAL.l, tip, -FRAC_PI_2);
                state[0..3].copy_from_slice(&q);
                let p = RobotAssembly::params(&state);
                RobotAssembly::refresh(&mut state, &p);
            }
            let saved = state.clone();
            let p = RobotAssembly::params(&state);
            let hold = gravity(&p.coefficients(), &Kinematics::new(&p.l, &state[0..3]));
            let n = 100_000;
            let mut best = f64::INFINITY;
            let mut acc = 0.0;
            // On-CPU time of this thread (Linux), robust to a loaded machine.
            let cpu_ns = || {
                std::fs::read_to_string("/proc/thread-self/schedstat")
                    .ok()
                    .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
            };
            let mut best_cpu = f64::INFINITY;
            for _ in 0..5 {
                let (start, cpu0) = (std::time::Instant::now(), cpu_ns());
                for i in 0..n {
                    if i % 100 == 0 {
                        state.copy_from_slice(&saved);
                    }
                    acc += model.step(&mut state, &hold, &mut rng).reward;
                    model.observe(&state, &mut obs, &mut rng);
                }
                best = best.min(start.elapsed().as_nanos() as f64 / n as f64);
                if let (Some(a), Some(b)) = (cpu0, cpu_ns()) {
                    best_cpu = best_cpu.min((b - a) / n as f64);
                }
            }
            let label = if near {
                "near the fixture"
            } else {
                "free space"
            };
            println!(
                "{label}: {best:.0} ns wall, {best_cpu:.0} ns on-CPU per step + observe ({acc:.1})"
            );
        }
    }
}
