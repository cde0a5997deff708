//! The constraint monitor: per-step evaluation of every constraint, margins
//! to each limit, rolling statistics and alarm levels with hysteresis.
//!
//! Alarm levels follow the smallest **normalised hard margin** `m` (margin
//! divided by the constraint's nominal clearance, see
//! [`super::constraints`]):
//!
//! | level            | entered when                         |
//! |------------------|--------------------------------------|
//! | `Normal`         | `m ≥ warning`                        |
//! | `Warning`        | `m < warning` or a soft limit crossed |
//! | `Alarm`          | `m < alarm`                          |
//! | `EmergencyStop`  | `m < emergency` (default 0: a hard limit crossed) |
//!
//! Escalation is immediate. De-escalation needs hysteresis: the level drops
//! only after `clear_steps` consecutive steps in which the margin is above
//! the entering threshold **plus** `hysteresis` (and no soft limit is
//! crossed), so a signal that hovers at a threshold does not make the alarm
//! chatter. `EmergencyStop` latches: only [`Monitor::clear_emergency`]
//! (called when the emergency stop is reset) leaves it.
//!
//! Rolling statistics (mean and minimum normalised margin and the violation
//! rate over the last `window` steps) live in a pre-allocated ring buffer:
//! [`Monitor::observe`] allocates nothing.

use super::constraints::{CheckSummary, ConstraintHierarchy, crossed};
use crate::error::{Error, Result};
use serde::Serialize;

/// How close to a hard limit the plant is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmLevel {
    Normal,
    Warning,
    Alarm,
    EmergencyStop,
}

impl AlarmLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmLevel::Normal => "normal",
            AlarmLevel::Warning => "warning",
            AlarmLevel::Alarm => "alarm",
            AlarmLevel::EmergencyStop => "emergency_stop",
        }
    }
}

/// Thresholds (on normalised hard margins) and statistics window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonitorConfig {
    /// Warning below this fraction of the nominal clearance.
    pub warning: f64,
    /// Alarm below this fraction.
    pub alarm: f64,
    /// Emergency stop below this fraction (0 = when a hard limit is crossed).
    pub emergency: f64,
    /// Extra clearance needed before a level is left.
    pub hysteresis: f64,
    /// Consecutive clear steps needed before a level is left.
    pub clear_steps: usize,
    /// Steps in the rolling statistics window.
    pub window: usize,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            warning: 0.5,
            alarm: 0.2,
            emergency: 0.0,
            hysteresis: 0.1,
            clear_steps: 3,
            window: 100,
        }
    }
}

impl MonitorConfig {
    /// Check the thresholds are ordered and finite.
    pub fn validate(&self) -> Result<()> {
        let ok = self.warning.is_finite()
            && self.alarm.is_finite()
            && self.emergency.is_finite()
            && self.warning >= self.alarm
            && self.alarm >= self.emergency
            && self.hysteresis.is_finite()
            && self.hysteresis >= 0.0
            && self.window >= 1;
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "monitor thresholds must be finite with warning ({}) >= alarm ({}) >= emergency ({}), hysteresis ({}) >= 0 and window ({}) >= 1",
                self.warning, self.alarm, self.emergency, self.hysteresis, self.window
            )))
        }
    }
}

/// What one [`Monitor::observe`] call found.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MonitorStep {
    pub level: AlarmLevel,
    pub previous: AlarmLevel,
    pub summary: CheckSummary,
}

impl MonitorStep {
    /// Whether the alarm level changed on this step.
    pub fn changed(&self) -> bool {
        self.level != self.previous
    }
}

/// Rolling and running statistics of one constraint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConstraintStats {
    pub name: String,
    pub level: super::constraints::Level,
    /// Latest margin, in the constraint's unit.
    pub margin: f64,
    /// Latest margin divided by the nominal clearance.
    pub normalised_margin: f64,
    /// Mean normalised margin over the window.
    pub window_mean: f64,
    /// Smallest normalised margin over the window.
    pub window_min: f64,
    /// Fraction of the window's steps on which the constraint was crossed.
    pub window_violation_rate: f64,
    /// Steps crossed since the monitor was created.
    pub violations: u64,
}

/// A snapshot of the monitor, for display.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonitorReport {
    pub env: String,
    pub level: AlarmLevel,
    pub steps: u64,
    /// Steps spent at each level: normal, warning, alarm, emergency_stop.
    pub steps_at_level: [u64; 4],
    /// Mean penalised objective per step (see [`super::constraints::Preferences`]).
    pub mean_objective: f64,
    pub constraints: Vec<ConstraintStats>,
}

/// Per-step constraint monitor for one environment.
#[derive(Debug, Clone)]
pub struct Monitor {
    hierarchy: ConstraintHierarchy,
    config: MonitorConfig,
    margins: Vec<f64>,
    normalised: Vec<f64>,
    level: AlarmLevel,
    clear_count: usize,
    /// `window × n` normalised margins, row `head` is the oldest.
    ring: Vec<f64>,
    head: usize,
    filled: usize,
    violations: Vec<u64>,
    steps: u64,
    steps_at_level: [u64; 4],
    objective_sum: f64,
    objective_steps: u64,
}

impl Monitor {
    pub fn new(hierarchy: ConstraintHierarchy, config: MonitorConfig) -> Result<Self> {
        config.validate()?;
        let n = hierarchy.len();
        Ok(Monitor {
            margins: vec![0.0; n],
            normalised: vec![0.0; n],
            ring: vec![0.0; n * config.window],
            violations: vec![0; n],
            hierarchy,
            config,
            level: AlarmLevel::Normal,
            clear_count: 0,
            head: 0,
            filled: 0,
            steps: 0,
            steps_at_level: [0; 4],
            objective_sum: 0.0,
            objective_steps: 0,
        })
    }

    pub fn hierarchy(&self) -> &ConstraintHierarchy {
        &self.hierarchy
    }
    pub fn config(&self) -> &MonitorConfig {
        &self.config
    }
    pub fn level(&self) -> AlarmLevel {
        self.level
    }
    /// Latest margins in each constraint's unit.
    pub fn margins(&self) -> &[f64] {
        &self.margins
    }
    /// Latest margins divided by the nominal clearances.
    pub fn normalised_margins(&self) -> &[f64] {
        &self.normalised
    }

    /// The level the margin `m` and soft violations call for, with the
    /// thresholds raised by `lift` (0 to enter, `hysteresis` to leave).
    fn target(&self, m: f64, soft_crossed: bool, lift: f64) -> AlarmLevel {
        let c = &self.config;
        if m < c.emergency + lift {
            AlarmLevel::EmergencyStop
        } else if m < c.alarm + lift {
            AlarmLevel::Alarm
        } else if m < c.warning + lift || soft_crossed {
            AlarmLevel::Warning
        } else {
            AlarmLevel::Normal
        }
    }

    /// Evaluate the constraint signals of one step (`values` in the order of
    /// `spec.constraints`) and update levels and statistics. Allocation-free.
    pub fn observe(&mut self, values: &[f64]) -> MonitorStep {
        let summary = self
            .hierarchy
            .check(values, &mut self.margins, &mut self.normalised);
        let previous = self.level;
        let m = summary.min_hard_margin;
        let soft = summary.soft_violations > 0;
        let enter = self.target(m, soft, 0.0);
        if enter >= self.level {
            self.level = enter;
            self.clear_count = 0;
        } else if self.level != AlarmLevel::EmergencyStop {
            let leave = self.target(m, soft, self.config.hysteresis);
            if leave < self.level {
                self.clear_count += 1;
                if self.clear_count >= self.config.clear_steps {
                    self.level = leave;
                    self.clear_count = 0;
                }
            } else {
                self.clear_count = 0;
            }
        }
        // Rolling window.
        let n = self.hierarchy.len();
        let row = if self.filled < self.config.window {
            self.filled += 1;
            (self.head + self.filled - 1) % self.config.window
        } else {
            let r = self.head;
            self.head = (self.head + 1) % self.config.window;
            r
        };
        self.ring[row * n..(row + 1) * n].copy_from_slice(&self.normalised);
        for (v, &mg) in self.violations.iter_mut().zip(&self.margins) {
            *v += crossed(mg) as u64;
        }
        self.steps += 1;
        self.steps_at_level[self.level as usize] += 1;
        MonitorStep {
            level: self.level,
            previous,
            summary,
        }
    }

    /// Add one step's reward and soft cost to the penalised objective.
    pub fn record_reward(&mut self, reward: f64, soft_cost: f64) {
        self.objective_sum += self.hierarchy.objective(reward, soft_cost);
        self.objective_steps += 1;
    }

    /// Leave the latched `EmergencyStop` level (the emergency stop was
    /// reset): the level restarts at `Normal` and is re-evaluated on the
    /// next [`Monitor::observe`].
    pub fn clear_emergency(&mut self) {
        if self.level == AlarmLevel::EmergencyStop {
            self.level = AlarmLevel::Normal;
            self.clear_count = 0;
        }
    }

    /// Start a new episode: the level and the rolling window restart, the
    /// running totals are kept.
    pub fn reset_episode(&mut self) {
        self.level = AlarmLevel::Normal;
        self.clear_count = 0;
        self.head = 0;
        self.filled = 0;
    }

    /// A snapshot of levels and statistics (allocates; not for the hot path).
    pub fn report(&self) -> MonitorReport {
        let n = self.hierarchy.len();
        let w = self.filled.max(1) as f64;
        let constraints = (0..n)
            .map(|i| {
                let col = (0..self.filled)
                    .map(|k| self.ring[((self.head + k) % self.config.window) * n + i]);
                let (mut sum, mut min, mut crossed) = (0.0, f64::INFINITY, 0usize);
                for v in col {
                    sum += v;
                    min = min.min(v);
                    crossed += super::constraints::crossed(v) as usize;
                }
                ConstraintStats {
                    name: self.hierarchy.name(i).to_string(),
                    level: self.hierarchy.level(i),
                    margin: self.margins[i],
                    normalised_margin: self.normalised[i],
                    window_mean: sum / w,
                    window_min: min,
                    window_violation_rate: crossed as f64 / w,
                    violations: self.violations[i],
                }
            })
            .collect();
        MonitorReport {
            env: self.hierarchy.env().to_string(),
            level: self.level,
            steps: self.steps,
            steps_at_level: self.steps_at_level,
            mean_objective: self.objective_sum / self.objective_steps.max(1) as f64,
            constraints,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::testing::Tank;
    use crate::env::{EnvOptions, Model};

    fn monitor() -> Monitor {
        let tank = Tank::new(EnvOptions::deterministic());
        let mut h = ConstraintHierarchy::from_model(&tank);
        h.set_scale("level_max", 1.0).unwrap();
        Monitor::new(h, MonitorConfig::default()).unwrap()
    }

    /// Feed a level (m); the hard margin is `2 − level` with scale 1.
    fn feed(m: &mut Monitor, level: f64) -> AlarmLevel {
        m.observe(&[level, level]).level
    }

    #[test]
    fn escalates_at_once_and_de_escalates_with_hysteresis() {
        let mut m = monitor();
        assert_eq!(feed(&mut m, 1.0), AlarmLevel::Normal); // margin 1.0
        assert_eq!(feed(&mut m, 1.6), AlarmLevel::Warning); // margin 0.4
        assert_eq!(feed(&mut m, 1.9), AlarmLevel::Alarm); // margin 0.1
        // Back to margin 0.25: above the alarm threshold (0.2) but not above
        // 0.2 + hysteresis 0.1, so the alarm stays.
        for _ in 0..10 {
            assert_eq!(feed(&mut m, 1.75), AlarmLevel::Alarm);
        }
        // Margin 0.35 > 0.3: needs 3 consecutive clear steps.
        assert_eq!(feed(&mut m, 1.65), AlarmLevel::Alarm);
        assert_eq!(feed(&mut m, 1.65), AlarmLevel::Alarm);
        // An interruption restarts the count.
        assert_eq!(feed(&mut m, 1.75), AlarmLevel::Alarm);
        assert_eq!(feed(&mut m, 1.65), AlarmLevel::Alarm);
        assert_eq!(feed(&mut m, 1.65), AlarmLevel::Alarm);
        let s = m.observe(&[1.65, 1.65]);
        assert_eq!(s.level, AlarmLevel::Warning);
        assert!(s.changed());
        for _ in 0..3 {
            feed(&mut m, 1.0);
        }
        assert_eq!(m.level(), AlarmLevel::Normal);
        // A soft violation alone is a warning.
        assert_eq!(feed(&mut m, 0.3), AlarmLevel::Warning);
    }

    #[test]
    fn emergency_latches_until_cleared() {
        let mut m = monitor();
        assert_eq!(feed(&mut m, 2.1), AlarmLevel::EmergencyStop);
        for _ in 0..20 {
            assert_eq!(feed(&mut m, 1.0), AlarmLevel::EmergencyStop);
        }
        m.clear_emergency();
        assert_eq!(feed(&mut m, 1.0), AlarmLevel::Normal);
        let r = m.report();
        assert_eq!(r.constraints[0].violations, 1);
        assert_eq!(r.steps, 22);
        assert_eq!(r.steps_at_level[AlarmLevel::EmergencyStop as usize], 21);
    }

    #[test]
    fn rolling_window_statistics() {
        let tank = Tank::new(EnvOptions::deterministic());
        let mut h = ConstraintHierarchy::from_model(&tank);
        h.set_scale("level_max", 1.0).unwrap();
        let cfg = MonitorConfig {
            window: 4,
            ..MonitorConfig::default()
        };
        let mut m = Monitor::new(h, cfg).unwrap();
        for level in [0.0, 0.0, 1.0, 1.5, 1.0, 2.5] {
            m.observe(&[level, level]);
        }
        // Window holds levels 1.0, 1.5, 1.0, 2.5 → margins 1, 0.5, 1, −0.5.
        let r = m.report();
        let c = &r.constraints[0];
        assert!((c.window_mean - 0.5).abs() < 1e-12, "{c:?}");
        assert_eq!(c.window_min, -0.5);
        assert_eq!(c.window_violation_rate, 0.25);
        assert_eq!(c.margin, -0.5);
        m.record_reward(-1.0, 1.0);
        assert_eq!(m.report().mean_objective, -2.0);
        assert!(tank.spec().n_constraints() == 2);
    }

    #[test]
    fn bad_thresholds_are_rejected() {
        let tank = Tank::new(EnvOptions::deterministic());
        let h = ConstraintHierarchy::from_model(&tank);
        let cfg = MonitorConfig {
            warning: 0.1,
            alarm: 0.2,
            ..MonitorConfig::default()
        };
        assert!(Monitor::new(h, cfg).is_err());
    }
}
