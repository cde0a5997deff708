//! The [`Supervisor`]: the safety layer assembled — shield, monitor,
//! emergency stop, human override and audit log — between any
//! [`Policy`] and any [`Env`].
//!
//! Priority on every step, highest first:
//!
//! 1. **Emergency stop** (tripped): the plant's emergency shutdown where it
//!    has one ([`crate::env::Model::shutdown`]: the reactor's feed cut-off
//!    and quench), which ends the episode; else the model's safe action,
//!    nothing else (recomputed every step, or latched at the trip when the
//!    shield's backup law is [`BackupLaw::Latch`]).
//! 2. **Operator** (manual mode): the operator's action, through the shield
//!    unless `shield_operator` is off.
//! 3. **Policy**: the policy's action, through the shield.
//!
//! After the plant steps, the monitor evaluates every constraint; a hard
//! breach (or the shield finding no safe action, or the monitor reaching its
//! emergency level) trips the emergency stop. Everything that is not a
//! plain policy step — each intervention, alarm change, trip, reset,
//! hand-over, breach, episode start and end — is written to the audit log
//! when one is attached. Without an audit log a supervised step allocates
//! nothing itself (only a trip, which records its cause by name, does).

use super::audit::AuditLog;
use super::constraints::ConstraintHierarchy;
use super::estop::{EmergencyStop, TripCause};
use super::human_override::{HumanOverride, OverrideSource};
use super::monitor::{AlarmLevel, Monitor, MonitorConfig};
use super::shield::{BackupLaw, Decision, InterventionKind, Shield, ShieldConfig};
use crate::env::{Env, EnvOptions, Model, StepOutcome};
use crate::error::{Error, Result};
use crate::policy::Policy;
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;

/// Settings of the whole safety layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SafetyConfig {
    /// The shield; `None` runs the monitor, emergency stop and audit log only.
    pub shield: Option<ShieldConfig>,
    pub monitor: MonitorConfig,
    /// Pass the operator's actions through the shield too.
    pub shield_operator: bool,
}

impl Default for SafetyConfig {
    fn default() -> Self {
        SafetyConfig {
            shield: Some(ShieldConfig::default()),
            monitor: MonitorConfig::default(),
            shield_operator: true,
        }
    }
}

impl SafetyConfig {
    /// No shield: monitor, emergency stop and audit log only.
    pub fn monitor_only() -> Self {
        SafetyConfig {
            shield: None,
            ..Self::default()
        }
    }
}

/// Who chose the applied action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionSource {
    Policy,
    Operator,
    EmergencyStop,
}

/// What one supervised step did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SupervisedStep {
    pub outcome: StepOutcome,
    pub source: ActionSource,
    /// The shield's decision (`None` when it was not consulted).
    pub decision: Option<Decision>,
    pub level: AlarmLevel,
    /// The emergency stop tripped on this step.
    pub tripped: bool,
}

impl SupervisedStep {
    pub fn done(&self) -> bool {
        self.outcome.terminated || self.outcome.truncated
    }
    /// The shield changed the action on this step.
    pub fn intervened(&self) -> bool {
        self.decision.is_some_and(|d| d.intervention.is_some())
    }
}

/// What one decision of [`Supervisor::serve`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServedStep {
    pub source: ActionSource,
    /// The shield's decision (`None` when it was not consulted).
    pub decision: Option<Decision>,
    pub level: AlarmLevel,
    /// The emergency stop tripped on this decision.
    pub tripped: bool,
    /// The plant must fire its emergency shutdown now.
    pub shutdown: bool,
    /// A hard limit was crossed in the reported (estimated) state.
    pub hard_violation: bool,
}

impl ServedStep {
    /// The shield changed the action.
    pub fn intervened(&self) -> bool {
        self.decision.is_some_and(|d| d.intervention.is_some())
    }
}

/// Counters over everything the supervisor saw.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct SafetyTotals {
    pub episodes: u64,
    pub steps: u64,
    pub interventions: u64,
    /// Per [`InterventionKind`], in the order of `InterventionKind::ALL`.
    pub interventions_by_kind: [u64; 6],
    /// Emergency-stop trips.
    pub emergency_stops: u64,
    /// Trips that fired the plant's emergency shutdown
    /// ([`crate::env::Model::shutdown`]) and ended the episode.
    pub shutdowns: u64,
    /// Steps on which the emergency stop drove the plant.
    pub estop_steps: u64,
    /// Steps after which a hard constraint was crossed (real breaches).
    pub hard_violations: u64,
    /// Steps under manual control.
    pub operator_steps: u64,
    pub handovers: u64,
}

/// The safety layer of one plant.
#[derive(Debug)]
pub struct Supervisor {
    model: Arc<dyn Model>,
    shield: Option<Shield>,
    monitor: Monitor,
    estop: EmergencyStop,
    human: HumanOverride,
    audit: Option<AuditLog>,
    config: SafetyConfig,
    obs: Vec<f32>,
    proposed: Vec<f32>,
    applied: Vec<f32>,
    safe: Vec<f64>,
    /// Constraint values of an estimated state ([`Supervisor::serve`]).
    values: Vec<f64>,
    correlation_id: Option<String>,
    audit_write_times: Vec<std::time::Duration>,
    estop_latched: bool,
    episode: Option<u64>,
    step: u64,
    episode_return: f64,
    episode_cost: f64,
    episode_interventions: u64,
    totals: SafetyTotals,
}

impl Supervisor {
    /// The safety layer for `env` (any environment: the shield's nominal
    /// model is the registry's deterministic copy when the id is registered).
    pub fn new(env: &Env, config: SafetyConfig) -> Result<Self> {
        let model = env.model().clone();
        let shield = match &config.shield {
            Some(c) => Some(Shield::for_env(env, c.clone())?),
            None => None,
        };
        let hierarchy = match &shield {
            Some(s) => s.hierarchy().clone(),
            None => {
                let nominal = crate::env::model(&model.spec().id, EnvOptions::deterministic())
                    .unwrap_or_else(|_| model.clone());
                ConstraintHierarchy::from_model(nominal.as_ref())
            }
        };
        let spec = model.spec();
        let (od, ad) = (spec.obs_dim(), spec.act_dim());
        Ok(Supervisor {
            monitor: Monitor::new(hierarchy, config.monitor.clone())?,
            estop: EmergencyStop::new(),
            human: HumanOverride::new(spec),
            audit: None,
            obs: vec![0.0; od],
            proposed: vec![0.0; ad],
            applied: vec![0.0; ad],
            safe: vec![0.0; ad],
            values: Vec::new(),
            correlation_id: None,
            audit_write_times: Vec::new(),
            estop_latched: false,
            episode: None,
            step: 0,
            episode_return: 0.0,
            episode_cost: 0.0,
            episode_interventions: 0,
            totals: SafetyTotals::default(),
            shield,
            config,
            model,
        })
    }

    /// Replace the shield (e.g. one with an explicit nominal model or expert).
    pub fn set_shield(&mut self, shield: Option<Shield>) {
        if let Some(s) = &shield {
            self.config.shield = Some(s.config().clone());
        } else {
            self.config.shield = None;
        }
        self.shield = shield;
    }

    /// Attach an audit log: every safety event from now on is written to it.
    pub fn set_audit(&mut self, log: AuditLog) {
        self.audit = Some(log);
    }

    pub fn config(&self) -> &SafetyConfig {
        &self.config
    }
    pub fn shield(&self) -> Option<&Shield> {
        self.shield.as_ref()
    }
    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }
    pub fn estop(&self) -> &EmergencyStop {
        &self.estop
    }
    pub fn human(&self) -> &HumanOverride {
        &self.human
    }
    pub fn audit(&self) -> Option<&AuditLog> {
        self.audit.as_ref()
    }
    pub fn totals(&self) -> SafetyTotals {
        self.totals
    }
    /// Constraint values of the state the latest [`Supervisor::serve`]
    /// decided on (the order of `spec.constraints`).
    pub fn served_constraint_values(&self) -> &[f64] {
        &self.values
    }
    /// The action applied on the latest step.
    pub fn applied(&self) -> &[f32] {
        &self.applied
    }
    /// The action proposed on the latest step (by the policy or operator).
    pub fn proposed(&self) -> &[f32] {
        &self.proposed
    }

    /// Write a record of an event outside the supervisor's own (the policy
    /// server's operator calls and refused requests) to the audit log, if
    /// one is attached.
    pub fn record(&mut self, event: &str, payload: serde_json::Value) -> Result<()> {
        self.log(event, payload)
    }

    /// A correlation id added to every audit record from now on (a policy
    /// server sets the request's before deciding; `None` clears it).
    pub fn set_correlation_id(&mut self, id: Option<String>) {
        self.correlation_id = id;
    }

    /// How long each audit record written since the last call took
    /// (append, and fsync when the log syncs), oldest first; at most the
    /// latest 4096 are kept.
    pub fn take_audit_write_times(&mut self) -> Vec<std::time::Duration> {
        std::mem::take(&mut self.audit_write_times)
    }

    fn log(&mut self, event: &str, mut payload: serde_json::Value) -> Result<()> {
        if let Some(a) = self.audit.as_mut() {
            if let (Some(id), Some(p)) = (&self.correlation_id, payload.as_object_mut()) {
                p.insert("correlation_id".into(), id.clone().into());
            }
            let t = std::time::Instant::now();
            a.append(self.episode, Some(self.step), event, payload)?;
            if self.audit_write_times.len() >= 4096 {
                self.audit_write_times.remove(0);
            }
            self.audit_write_times.push(t.elapsed());
        }
        Ok(())
    }

    fn constraint_name(&self, i: Option<usize>) -> Option<String> {
        i.map(|i| self.model.spec().constraints[i].name.clone())
    }

    /// Call after `env.reset(seed)` (and the policy's reset): a new plant
    /// run. A tripped emergency stop is reset (logged), the monitor's level
    /// and window restart, the shield forgets the previous action.
    pub fn begin_episode(&mut self, env: &Env, seed: u64) -> Result<()> {
        self.begin_at(env.constraint_values(), seed)
    }

    /// As [`Supervisor::begin_episode`], for a plant this supervisor does
    /// not step (the policy server): `values` are the constraint values of
    /// its first (estimated) state.
    pub fn begin_at(&mut self, values: &[f64], seed: u64) -> Result<()> {
        let e = self.episode.map_or(0, |e| e + 1);
        self.episode = Some(e);
        self.step = 0;
        self.episode_return = 0.0;
        self.episode_cost = 0.0;
        self.episode_interventions = 0;
        self.totals.episodes += 1;
        self.estop_latched = false;
        if self.estop.is_tripped() {
            let cause = self.estop.reset("supervisor (new episode)", true)?;
            self.log(
                "estop_reset",
                json!({"operator": "supervisor (new episode)", "reason": "a new episode is a new plant run", "cause": cause}),
            )?;
        }
        self.monitor.reset_episode();
        if let Some(s) = self.shield.as_mut() {
            s.reset(seed);
        }
        let m = self.monitor.observe(values);
        self.log(
            "episode_start",
            json!({"env": self.model.spec().id, "seed": seed, "level": m.level, "min_hard_margin": m.summary.min_hard_margin}),
        )
    }

    /// One step: ask `policy`, filter, apply, monitor, log.
    pub fn step(&mut self, env: &mut Env, policy: &mut dyn Policy) -> Result<SupervisedStep> {
        self.obs.copy_from_slice(env.observation());
        let mut proposed = std::mem::take(&mut self.proposed);
        let r = policy.act(&self.obs, &mut proposed);
        self.proposed = proposed;
        r?;
        self.step_proposed(env)
    }

    /// One step with an action chosen outside a [`Policy`] (e.g. a
    /// privileged adversary that reads the state).
    pub fn step_action(&mut self, env: &mut Env, proposed: &[f32]) -> Result<SupervisedStep> {
        if proposed.len() != self.proposed.len() {
            return Err(Error::Shape {
                what: format!("{}: proposed action", env.spec().id),
                expected: self.proposed.len(),
                got: proposed.len(),
            });
        }
        self.obs.copy_from_slice(env.observation());
        self.proposed.copy_from_slice(proposed);
        self.step_proposed(env)
    }

    fn step_proposed(&mut self, env: &mut Env) -> Result<SupervisedStep> {
        self.check_started()?;
        let (mut source, decision, mut tripped, shutdown) = self.decide(env.state())?;
        let outcome = if shutdown {
            source = ActionSource::EmergencyStop;
            env.shut_down()?
        } else {
            env.step_in_place(&self.applied)?
        };
        self.step += 1;
        if shutdown {
            self.totals.shutdowns += 1;
            if self.audit.is_some() {
                let spec = env.spec();
                let peak: Vec<_> = spec
                    .constraints
                    .iter()
                    .zip(env.constraint_values())
                    .filter(|(c, _)| c.kind == crate::env::ConstraintKind::Hard)
                    .map(
                        |(c, v)| json!({"constraint": c.name, "most_adverse": v, "limit": c.limit}),
                    )
                    .collect();
                let name = self.model.shutdown().map(|s| s.name.clone());
                self.log(
                    "shutdown",
                    json!({"shutdown": name, "hard_limits": peak, "hard_violation": outcome.hard_violation, "reward": outcome.reward}),
                )?;
            }
        }
        self.totals.steps += 1;
        self.episode_return += outcome.reward;
        self.episode_cost += outcome.cost;
        self.monitor.record_reward(outcome.reward, outcome.cost);
        let (level, watched) =
            self.watch(env.constraint_values(), outcome.hard_violation, source)?;
        tripped |= watched;
        if (outcome.terminated || outcome.truncated) && self.audit.is_some() {
            let payload = json!({
                "steps": self.step,
                "return": self.episode_return,
                "cost": self.episode_cost,
                "terminated": outcome.terminated,
                "truncated": outcome.truncated,
                "hard_violation": outcome.hard_violation,
                "interventions": self.episode_interventions,
            });
            self.log("episode_end", payload)?;
        }
        Ok(SupervisedStep {
            outcome,
            source,
            decision,
            level,
            tripped,
        })
    }

    fn check_started(&self) -> Result<()> {
        match self.episode {
            Some(_) => Ok(()),
            None => Err(Error::SafetyState(
                "call begin_episode(env, seed) after env.reset(seed) before stepping through the supervisor".into(),
            )),
        }
    }

    /// The action to apply for the proposal in `self.proposed`, given the
    /// plant's `state`: operator, emergency stop, shield, in that order of
    /// priority (module doc). Returns who chose it, the shield's decision,
    /// whether the stop tripped, and whether the plant's emergency shutdown
    /// must fire instead of a step.
    fn decide(&mut self, state: &[f64]) -> Result<(ActionSource, Option<Decision>, bool, bool)> {
        let mut source = ActionSource::Policy;
        let mut proposed = std::mem::take(&mut self.proposed);
        let manual = self.human.act(&self.obs, &mut proposed);
        self.proposed = proposed;
        if manual? {
            source = ActionSource::Operator;
            self.totals.operator_steps += 1;
        }
        let mut decision = None;
        let mut tripped = false;
        if self.estop.is_tripped() {
            // The shield's backup law decides whether the safe action is a
            // state feedback (recomputed) or a one-shot setting (latched).
            if !self.estop_latched {
                self.model.safe_action(state, &mut self.safe);
                self.estop_latched = self
                    .shield
                    .as_ref()
                    .is_some_and(|s| s.backup_law() == BackupLaw::Latch);
            }
            for (a, &s) in self.applied.iter_mut().zip(&self.safe) {
                *a = s as f32;
            }
            source = ActionSource::EmergencyStop;
            self.totals.estop_steps += 1;
            if let Some(s) = self.shield.as_mut() {
                s.note_applied(&self.applied);
            }
        } else if let Some(shield) = self
            .shield
            .as_mut()
            .filter(|_| source == ActionSource::Policy || self.config.shield_operator)
        {
            let d = shield.decide(state, &self.obs, &self.proposed, &mut self.applied)?;
            decision = Some(d);
            if let Some(kind) = d.intervention {
                self.totals.interventions += 1;
                self.totals.interventions_by_kind[kind as usize] += 1;
                self.episode_interventions += 1;
                if self.audit.is_some() {
                    let payload = json!({
                    "source": source,
                    "kind": kind.as_str(),
                    "constraint": self.constraint_name(d.constraint),
                    "applied_constraint": self.constraint_name(d.applied_constraint),
                    "proposed": self.proposed,
                    "applied": self.applied,
                    "proposed_margin": d.proposed_margin,
                    "applied_margin": d.applied_margin,
                    "blend": d.blend,
                    "correction": d.correction,
                    });
                    self.log("intervention", payload)?;
                }
                if kind == InterventionKind::Emergency {
                    let cause = TripCause::NoSafeAction {
                        constraint: self.constraint_name(d.applied_constraint),
                    };
                    tripped |= self.trip(cause)?;
                }
            }
        } else {
            self.applied.copy_from_slice(&self.proposed);
        }
        // A tripped stop on a plant with an emergency shutdown fires it: its
        // transient replaces the step and ends the episode.
        let shutdown = self.estop.is_tripped() && self.model.shutdown().is_some();
        Ok((source, decision, tripped, shutdown))
    }

    /// Watch the plant's constraint `values`: the monitor's level (an alarm
    /// change is logged), a hard breach (logged, trips the stop) or the
    /// monitor's emergency level (trips the stop). Returns the level and
    /// whether the stop tripped.
    fn watch(
        &mut self,
        values: &[f64],
        hard_violation: bool,
        source: ActionSource,
    ) -> Result<(AlarmLevel, bool)> {
        let m = self.monitor.observe(values);
        if m.changed() && self.audit.is_some() {
            let payload = json!({
                "from": m.previous,
                "to": m.level,
                "constraint": self.constraint_name(m.summary.binding),
                "min_hard_margin": m.summary.min_hard_margin,
            });
            self.log("alarm", payload)?;
        }
        let mut tripped = false;
        if hard_violation {
            self.totals.hard_violations += 1;
            let spec = self.model.spec();
            let crossed: Vec<_> = spec
                .constraints
                .iter()
                .zip(values)
                .filter(|(c, v)| c.kind == crate::env::ConstraintKind::Hard && c.violated(**v))
                .map(|(c, v)| json!({"constraint": c.name, "value": v, "limit": c.limit}))
                .collect();
            let first = crossed
                .first()
                .and_then(|c| c["constraint"].as_str())
                .unwrap_or("?")
                .to_string();
            self.log(
                "hard_violation",
                json!({ "crossed": crossed, "source": source }),
            )?;
            tripped |= self.trip(TripCause::HardViolation { constraint: first })?;
        } else if m.level == AlarmLevel::EmergencyStop && !self.estop.is_tripped() {
            let cause = TripCause::Monitor {
                constraint: self.constraint_name(m.summary.binding),
                margin: m.summary.min_hard_margin,
            };
            tripped |= self.trip(cause)?;
        }
        Ok((m.level, tripped))
    }

    /// One decision for a plant this supervisor cannot step itself (the
    /// policy server): the plant reports `obs`, and `state` is its state as
    /// estimated from the observations (`crate::estimate`). The monitor
    /// first watches the constraints of that state — the outcome of the
    /// previous action — (alarms, breaches and trips as after a simulated
    /// step), then the policy proposes and the action is decided as in
    /// [`Supervisor::step`]. When the decision is the plant's emergency
    /// shutdown, [`ServedStep::shutdown`] says so: the plant's safety
    /// instrumented function must fire it (the applied action is then the
    /// safe action, for plants that act on it while the shutdown runs).
    pub fn serve(
        &mut self,
        state: &[f64],
        obs: &[f32],
        policy: &mut dyn Policy,
    ) -> Result<ServedStep> {
        self.check_started()?;
        let spec = self.model.spec();
        for (what, got, expected) in [
            ("observation", obs.len(), self.obs.len()),
            ("estimated state", state.len(), self.model.state_dim()),
        ] {
            if got != expected {
                return Err(Error::Shape {
                    what: format!("{}: {what}", spec.id),
                    expected,
                    got,
                });
            }
        }
        let mut values = std::mem::take(&mut self.values);
        values.resize(spec.constraints.len(), 0.0);
        self.model.constraints(state, &mut values);
        let hard_violation = spec
            .constraints
            .iter()
            .zip(&values)
            .any(|(c, v)| c.kind == crate::env::ConstraintKind::Hard && c.violated(*v));
        let watched = self.watch(&values, hard_violation, ActionSource::Policy);
        self.values = values;
        let (level, tripped_watching) = watched?;
        self.obs.copy_from_slice(obs);
        let mut proposed = std::mem::take(&mut self.proposed);
        let r = policy.act(&self.obs, &mut proposed);
        self.proposed = proposed;
        r?;
        let (source, decision, tripped, shutdown) = self.decide(state)?;
        if shutdown {
            self.totals.shutdowns += 1;
            let name = self.model.shutdown().map(|s| s.name.clone());
            self.log("shutdown", json!({"shutdown": name, "by": "server"}))?;
        }
        self.step += 1;
        self.totals.steps += 1;
        Ok(ServedStep {
            source: if shutdown {
                ActionSource::EmergencyStop
            } else {
                source
            },
            decision,
            level,
            tripped: tripped || tripped_watching,
            shutdown,
            hard_violation,
        })
    }

    fn trip(&mut self, cause: TripCause) -> Result<bool> {
        let payload = json!({ "cause": cause });
        if self.estop.trip(cause) {
            self.totals.emergency_stops += 1;
            self.log("estop_trip", payload)?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// The operator presses the emergency-stop button.
    pub fn press_estop(&mut self, operator: &str, reason: &str) -> Result<bool> {
        self.trip(TripCause::Operator {
            operator: operator.to_string(),
            reason: reason.to_string(),
        })
    }

    /// The operator resets a tripped emergency stop; refused while a hard
    /// constraint of `env` is crossed.
    pub fn reset_estop(&mut self, env: &Env, operator: &str, reason: &str) -> Result<()> {
        self.reset_estop_at(env.constraint_values(), operator, reason)
    }

    /// As [`Supervisor::reset_estop`], for the constraint `values` of the
    /// plant's latest (estimated) state.
    pub fn reset_estop_at(&mut self, values: &[f64], operator: &str, reason: &str) -> Result<()> {
        let spec = self.model.spec();
        let safe = spec
            .constraints
            .iter()
            .zip(values)
            .all(|(c, v)| c.kind != crate::env::ConstraintKind::Hard || !c.violated(*v));
        let cause = self.estop.reset(operator, safe)?;
        self.estop_latched = false;
        self.monitor.clear_emergency();
        self.log(
            "estop_reset",
            json!({"operator": operator, "reason": reason, "cause": cause}),
        )
    }

    /// An operator takes the plant over.
    pub fn take_over(
        &mut self,
        operator: &str,
        source: OverrideSource,
        reason: &str,
    ) -> Result<()> {
        let what = source.describe();
        self.human
            .take_over(operator, source, self.episode.unwrap_or(0))?;
        self.totals.handovers += 1;
        self.log(
            "override_take",
            json!({"operator": operator, "source": what, "reason": reason}),
        )
    }

    /// The operator hands the plant back to the policy.
    pub fn hand_back(&mut self, operator: &str, reason: &str) -> Result<()> {
        let source = self.human.hand_back(operator)?;
        self.totals.handovers += 1;
        self.log(
            "override_hand_back",
            json!({"operator": operator, "source": source.describe(), "reason": reason}),
        )
    }

    /// Write a `summary` record, seal the audit log (if any) and return its
    /// record count and head hash.
    pub fn close(mut self) -> Result<Option<(u64, String)>> {
        let Some(mut a) = self.audit.take() else {
            return Ok(None);
        };
        let shield = self.shield.as_ref().map(|s| s.stats());
        a.append(
            self.episode,
            None,
            "summary",
            json!({"totals": self.totals, "shield": shield}),
        )?;
        let records = a.records() + 1;
        a.close().map(|head| Some((records, head)))
    }
}
