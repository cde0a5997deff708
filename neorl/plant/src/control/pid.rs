//! A discrete PID controller as plant DCS blocks implement it (ISA "ideal"
//! form, derivative on the measurement to avoid set-point kick, first-order
//! filtered derivative, output limits with conditional-integration
//! anti-windup). Reference: Åström & Hägglund, *Advanced PID Control*
//! (ISA, 2006), ch. 3.

/// Discrete PID with anti-windup.
#[derive(Debug, Clone, PartialEq)]
pub struct Pid {
    pub kp: f64,
    /// Integral gain (1/s units of `kp`): `ki = kp / Ti`.
    pub ki: f64,
    /// Derivative gain (s units of `kp`): `kd = kp · Td`.
    pub kd: f64,
    /// Sample time, s.
    pub dt: f64,
    pub out_min: f64,
    pub out_max: f64,
    /// Output offset (the manual/feed-forward value at zero error).
    pub bias: f64,
    /// Derivative filter time constant, s (0 = unfiltered).
    pub d_filter: f64,
    integral: f64,
    d_state: f64,
    prev_meas: Option<f64>,
}

impl Pid {
    /// A PID with unbounded output and zero bias.
    pub fn new(kp: f64, ki: f64, kd: f64, dt: f64) -> Self {
        Pid {
            kp,
            ki,
            kd,
            dt,
            out_min: f64::NEG_INFINITY,
            out_max: f64::INFINITY,
            bias: 0.0,
            d_filter: 0.0,
            integral: 0.0,
            d_state: 0.0,
            prev_meas: None,
        }
    }

    /// Saturate the output to `[lo, hi]` (anti-windup uses these limits).
    pub fn with_limits(mut self, lo: f64, hi: f64) -> Self {
        self.out_min = lo;
        self.out_max = hi;
        self
    }

    /// Output at zero error.
    pub fn with_bias(mut self, bias: f64) -> Self {
        self.bias = bias;
        self
    }

    /// First-order filter on the derivative term, time constant `tau` s.
    pub fn with_derivative_filter(mut self, tau: f64) -> Self {
        self.d_filter = tau;
        self
    }

    /// Clear the integrator and derivative memory (bumpless restart).
    pub fn reset(&mut self) {
        self.integral = 0.0;
        self.d_state = 0.0;
        self.prev_meas = None;
    }

    /// The accumulated integral term (output units).
    pub fn integral(&self) -> f64 {
        self.integral
    }

    /// One control update; returns the saturated output.
    pub fn update(&mut self, setpoint: f64, measurement: f64) -> f64 {
        let e = setpoint - measurement;
        // Derivative on measurement, filtered.
        let raw_d = match self.prev_meas {
            Some(p) => -(measurement - p) / self.dt,
            None => 0.0,
        };
        self.prev_meas = Some(measurement);
        let alpha = if self.d_filter > 0.0 {
            self.dt / (self.d_filter + self.dt)
        } else {
            1.0
        };
        self.d_state += alpha * (raw_d - self.d_state);
        let unsat_without_i = self.bias + self.kp * e + self.kd * self.d_state;
        let candidate_i = self.integral + self.ki * e * self.dt;
        let u = unsat_without_i + candidate_i;
        // Conditional integration: do not integrate further into saturation.
        let saturating_high = u > self.out_max && e > 0.0;
        let saturating_low = u < self.out_min && e < 0.0;
        if !(saturating_high || saturating_low) {
            self.integral = candidate_i;
        }
        (unsat_without_i + self.integral).clamp(self.out_min, self.out_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pi_drives_first_order_plant_to_setpoint() {
        // Plant: tau dy/dt = -y + K u, tau = 10 s, K = 2, dt = 0.1 s (exact discretisation).
        let (tau, k, dt) = (10.0, 2.0, 0.1);
        let a = libm::exp(-dt / tau);
        let mut pid = Pid::new(2.0, 0.4, 0.0, dt).with_limits(-5.0, 5.0);
        let mut y = 0.0;
        for _ in 0..2000 {
            let u = pid.update(1.0, y);
            y = a * y + (1.0 - a) * k * u;
        }
        assert!((y - 1.0).abs() < 1e-6, "y = {y}");
    }

    #[test]
    fn anti_windup_limits_integral() {
        let mut pid = Pid::new(1.0, 1.0, 0.0, 1.0).with_limits(0.0, 1.0);
        for _ in 0..1000 {
            assert!(pid.update(100.0, 0.0) <= 1.0);
        }
        assert!(
            pid.integral() < 2.0,
            "integral wound up: {}",
            pid.integral()
        );
    }
}
