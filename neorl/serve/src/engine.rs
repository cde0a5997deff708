//! The decision path of one plant: observation → state estimate → safety
//! monitor → policy → operator / emergency stop / shield → applied action,
//! with the audit log beside it.
//!
//! One [`Engine`] serves one plant; requests are decided one at a time (a
//! plant has one actuator set), behind a mutex in [`crate::http`] and
//! [`crate::modbus`]. A *run* is one plant run (an episode): it starts on
//! the first observation, or explicitly with [`Engine::begin`], which also
//! resets the state estimator.
//!
//! **The emergency stop survives a restart.** Every trip and reset is
//! written to `STATE_DIR/estop.json` (atomically) besides the audit log; a
//! server started on a state folder whose stop is tripped re-trips it on
//! its first run, so only an operator's reset releases it. A new run
//! started by a client is refused while the stop is tripped; an operator
//! may start one (a plant restarted after a shutdown), which resets it and
//! is logged.

use neorl_plant::env::{ConstraintKind, EnvSpec, Model};
use neorl_plant::estimate::{StateEstimator, estimator};
use neorl_plant::inference::AgentPolicy;
use neorl_plant::inference::agent_policy::PolicyInfo;
use neorl_plant::safety::{
    ActionSource, AlarmLevel, AuditLog, InterventionKind, OverrideSource, SafetyConfig, ServedStep,
    Supervisor,
};
use neorl_plant::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// One decision, as the server answers it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decided {
    /// The action to apply, in the plant's units.
    pub action: Vec<f32>,
    /// What the policy (or the operator) proposed.
    pub proposed: Vec<f32>,
    pub source: ActionSource,
    /// The shield's intervention (`none` when it passed the proposal).
    pub decision: &'static str,
    /// The same, as the kind (for the Modbus registers).
    #[serde(skip)]
    pub intervention: Option<InterventionKind>,
    /// The constraint the shield acted on, if any.
    pub constraint: Option<String>,
    pub alarm_level: AlarmLevel,
    /// The emergency stop tripped on this decision.
    pub tripped: bool,
    /// The emergency stop is tripped (now).
    pub estop: bool,
    /// The plant must fire its emergency shutdown now (its SIF).
    pub shutdown: bool,
    /// The reported (estimated) state crossed a hard limit.
    pub hard_violation: bool,
    /// Smallest normalised hard margin of the estimated state.
    pub min_hard_margin: f64,
    /// Run (episode) and step within it.
    pub run: u64,
    pub step: u64,
}

/// The latched emergency stop on disk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct EstopFile {
    tripped: bool,
    cause: Option<String>,
    at: Option<String>,
}

/// A request the engine refuses: which HTTP status it deserves and why.
#[derive(Debug)]
pub enum Refusal {
    /// The request is malformed (400/422).
    Bad(String),
    /// Not now (409): e.g. a run while the stop is tripped.
    Conflict(String),
    /// The server failed (500): e.g. the audit log cannot be written.
    Internal(String),
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Self {
        match e {
            Error::Shape { .. } | Error::InvalidArgument(_) => Refusal::Bad(e.to_string()),
            Error::SafetyState(_) => Refusal::Conflict(e.to_string()),
            _ => Refusal::Internal(e.to_string()),
        }
    }
}

/// The decision path of one plant.
#[derive(Debug)]
pub struct Engine {
    spec: EnvSpec,
    model: Arc<dyn Model>,
    policy: AgentPolicy,
    info: PolicyInfo,
    estimator: Box<dyn StateEstimator>,
    supervisor: Supervisor,
    state: Vec<f64>,
    values: Vec<f64>,
    last_applied: Option<Vec<f32>>,
    running: bool,
    runs: u64,
    step: u64,
    estop_path: PathBuf,
    /// The cause of a trip restored from disk, re-applied on the next run.
    restored: Option<String>,
}

impl Engine {
    /// The engine for the checkpoint in `checkpoint` (its environment from
    /// the checkpoint), with its audit log and e-stop state in `state_dir`.
    pub fn open(checkpoint: &Path, state_dir: &Path, shield: bool, fsync: bool) -> Result<Self> {
        let (policy, info) = AgentPolicy::from_checkpoint(checkpoint)?;
        let source = checkpoint.display().to_string();
        Self::with_policy(policy, info, &source, state_dir, shield, fsync)
    }

    /// The engine for a policy already in memory (`source` names it in the
    /// audit log): benchmarks and tests.
    pub fn with_policy(
        policy: AgentPolicy,
        info: PolicyInfo,
        source: &str,
        state_dir: &Path,
        shield: bool,
        fsync: bool,
    ) -> Result<Self> {
        let env = neorl_plant::make(&info.env_id)?;
        let spec = env.spec().clone();
        if policy.obs_dim() != spec.obs_dim() || policy.act_dim() != spec.act_dim() {
            return Err(Error::InvalidArgument(format!(
                "the checkpoint's policy maps {} observations to {} actions, {} has {} and {}; the checkpoint is of another environment version",
                policy.obs_dim(),
                policy.act_dim(),
                spec.id,
                spec.obs_dim(),
                spec.act_dim()
            )));
        }
        let config = match shield {
            true => SafetyConfig::default(),
            false => SafetyConfig::monitor_only(),
        };
        let mut supervisor = Supervisor::new(&env, config)?;
        std::fs::create_dir_all(state_dir).map_err(|e| Error::io(state_dir, e))?;
        let audit = AuditLog::open_with(state_dir.join("audit.jsonl"), None, fsync)?;
        supervisor.set_audit(audit);
        let estop_path = state_dir.join("estop.json");
        let restored = match std::fs::read(&estop_path) {
            Ok(b) => {
                let f: EstopFile = serde_json::from_slice(&b).map_err(|e| {
                    Error::InvalidArgument(format!(
                        "{} is corrupt ({e}); it records whether the emergency stop is latched — check the plant, then remove it to start released",
                        estop_path.display()
                    ))
                })?;
                f.tripped
                    .then(|| f.cause.unwrap_or_else(|| "unknown".into()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(&estop_path, e)),
        };
        let model = env.model().clone();
        let estimator = estimator(&spec.id)?;
        let mut engine = Engine {
            state: vec![0.0; model.state_dim()],
            values: vec![0.0; spec.constraints.len()],
            spec,
            model,
            policy,
            info,
            estimator,
            supervisor,
            last_applied: None,
            running: false,
            runs: 0,
            step: 0,
            estop_path,
            restored,
        };
        let payload = json!({
            "checkpoint": source,
            "algo": engine.info.algo,
            "env": engine.spec.id,
            "shield": shield,
            "estop_restored": engine.restored,
        });
        engine.record("server_start", payload)?;
        Ok(engine)
    }

    pub fn spec(&self) -> &EnvSpec {
        &self.spec
    }
    pub fn info(&self) -> &PolicyInfo {
        &self.info
    }
    pub fn estimator(&self) -> &dyn StateEstimator {
        self.estimator.as_ref()
    }
    pub fn supervisor(&self) -> &Supervisor {
        &self.supervisor
    }
    /// Whether the emergency stop is tripped (or restored tripped).
    pub fn estop_tripped(&self) -> bool {
        self.supervisor.estop().is_tripped() || self.restored.is_some()
    }
    /// Audit write latencies since the last call (for the metrics).
    pub fn take_audit_writes(&mut self) -> Vec<Duration> {
        self.supervisor.take_audit_write_times()
    }

    /// The correlation id of the request being decided: every audit record
    /// written for it carries the id.
    pub fn set_correlation_id(&mut self, id: Option<&str>) {
        self.supervisor.set_correlation_id(id.map(String::from));
    }
    /// Constraint values of the latest estimated state (names in the spec).
    pub fn constraint_values(&self) -> &[f64] {
        &self.values
    }

    /// Write a server event to the audit log.
    pub fn record(&mut self, event: &str, payload: serde_json::Value) -> Result<()> {
        self.supervisor.record(event, payload)
    }

    fn save_estop(&self) -> Result<()> {
        let f = EstopFile {
            tripped: self.estop_tripped(),
            cause: self
                .supervisor
                .estop()
                .cause()
                .map(|c| format!("{c:?}"))
                .or_else(|| self.restored.clone()),
            at: Some(neorl_plant::safety::audit::now_rfc3339()),
        };
        let tmp = self.estop_path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(&f).unwrap_or_default();
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &self.estop_path)
        };
        write().map_err(|e| Error::io(&self.estop_path, e))
    }

    fn check_obs(&self, obs: &[f32]) -> std::result::Result<(), Refusal> {
        if obs.len() != self.spec.obs_dim() {
            return Err(Refusal::Bad(format!(
                "observation has {} values, {} expects {} ({})",
                obs.len(),
                self.spec.id,
                self.spec.obs_dim(),
                self.spec
                    .observations
                    .iter()
                    .map(|d| d.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if let Some(i) = obs.iter().position(|x| !x.is_finite()) {
            return Err(Refusal::Bad(format!(
                "observation value {i} ({}) is not a finite number; a sensor fault must be handled by the plant's own interlocks, not sent to the policy",
                self.spec.observations[i].name
            )));
        }
        Ok(())
    }

    /// Start a new plant run (episode) at `obs`. A client may not start one
    /// while the stop is tripped; an operator may (a plant restarted after a
    /// shutdown), which resets the stop.
    pub fn begin(
        &mut self,
        obs: &[f32],
        by: Option<(&str, bool)>,
    ) -> std::result::Result<(), Refusal> {
        self.check_obs(obs)?;
        let operator = by.is_some_and(|(_, op)| op);
        if let Some((who, op)) = by {
            let role = if op { "operator" } else { "client" };
            self.record(
                "run_start_request",
                json!({"by": who, "role": role, "estop_tripped": self.estop_tripped()}),
            )?;
        }
        // The first run of a server whose stop was restored tripped may
        // start (it re-trips below); any later one needs the operator.
        if self.estop_tripped() && !operator && (self.running || self.runs > 0) {
            return Err(Refusal::Conflict(
                "the emergency stop is tripped: an operator must reset it (POST /v1/operator/estop/reset) or start the new run".into(),
            ));
        }
        self.estimator.reset();
        self.estimator.update(obs, None, &mut self.state)?;
        self.model.constraints(&self.state, &mut self.values);
        self.supervisor.begin_at(&self.values, self.runs)?;
        if operator {
            if self.restored.take().is_some() {
                let who = by.map(|b| b.0).unwrap_or("operator");
                self.record(
                    "estop_reset",
                    json!({"operator": who, "reason": "new plant run", "cause": "restored at start"}),
                )?;
            }
        } else if let Some(cause) = self.restored.clone() {
            self.supervisor.press_estop(
                "server (restored)",
                &format!("latched before restart: {cause}"),
            )?;
        }
        self.save_estop()?;
        self.runs += 1;
        self.step = 0;
        self.running = true;
        self.last_applied = None;
        Ok(())
    }

    /// Decide the action for `obs`.
    pub fn act(&mut self, obs: &[f32]) -> std::result::Result<Decided, Refusal> {
        self.check_obs(obs)?;
        if !self.running {
            self.begin(obs, None)?;
        } else {
            self.estimator
                .update(obs, self.last_applied.as_deref(), &mut self.state)?;
        }
        let was_tripped = self.supervisor.estop().is_tripped();
        let s: ServedStep = self.supervisor.serve(&self.state, obs, &mut self.policy)?;
        // The supervisor evaluated the constraints of this state.
        self.values
            .copy_from_slice(self.supervisor.served_constraint_values());
        let applied = self.supervisor.applied().to_vec();
        self.last_applied = Some(applied.clone());
        if self.supervisor.estop().is_tripped() != was_tripped {
            self.save_estop()?;
        }
        if s.shutdown {
            // The plant's shutdown ends the run; the stop stays tripped.
            self.running = false;
        }
        let step = self.step;
        self.step += 1;
        let intervention = s.decision.and_then(|d| d.intervention);
        let constraint = s
            .decision
            .and_then(|d| d.intervention.and(d.constraint))
            .map(|i| self.spec.constraints[i].name.clone());
        Ok(Decided {
            action: applied,
            proposed: self.supervisor.proposed().to_vec(),
            source: s.source,
            decision: intervention.map_or("none", |k| k.as_str()),
            intervention,
            constraint,
            alarm_level: s.level,
            tripped: s.tripped,
            estop: self.estop_tripped(),
            shutdown: s.shutdown,
            hard_violation: s.hard_violation,
            min_hard_margin: self.min_hard_margin(),
            run: self.runs.saturating_sub(1),
            step,
        })
    }

    /// Smallest normalised hard margin of the latest estimated state.
    pub fn min_hard_margin(&self) -> f64 {
        self.spec
            .constraints
            .iter()
            .zip(&self.values)
            .filter(|(c, _)| c.kind == ConstraintKind::Hard)
            .map(|(c, &v)| c.margin(v))
            .fold(f64::INFINITY, f64::min)
    }

    /// Every constraint's normalised margin (positive: inside its limit),
    /// with its name and whether it is hard.
    pub fn margins(&self) -> Vec<(String, bool, f64)> {
        self.spec
            .constraints
            .iter()
            .zip(&self.values)
            .map(|(c, &v)| (c.name.clone(), c.kind == ConstraintKind::Hard, c.margin(v)))
            .collect()
    }

    /// The operator presses the emergency stop.
    pub fn press_estop(&mut self, operator: &str, reason: &str) -> Result<bool> {
        let tripped = self.supervisor.press_estop(operator, reason)?;
        self.save_estop()?;
        Ok(tripped)
    }

    /// The operator resets the stop; refused while the latest estimated
    /// state crosses a hard limit.
    pub fn reset_estop(&mut self, operator: &str, reason: &str) -> Result<()> {
        if let Some(cause) = self.restored.take() {
            self.record(
                "estop_reset",
                json!({"operator": operator, "reason": reason, "cause": format!("restored at start: {cause}")}),
            )?;
        }
        if self.supervisor.estop().is_tripped() {
            let values = self.values.clone();
            self.supervisor.reset_estop_at(&values, operator, reason)?;
        }
        self.save_estop()
    }

    /// An operator takes over with a fixed action.
    pub fn take_over(&mut self, operator: &str, action: Vec<f32>, reason: &str) -> Result<()> {
        if action.len() != self.spec.act_dim() || action.iter().any(|a| !a.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "the operator's action must be {} finite numbers ({})",
                self.spec.act_dim(),
                self.spec
                    .actions
                    .iter()
                    .map(|d| d.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        self.supervisor
            .take_over(operator, OverrideSource::Fixed(action), reason)
    }

    /// The operator hands the plant back to the policy.
    pub fn hand_back(&mut self, operator: &str, reason: &str) -> Result<()> {
        self.supervisor.hand_back(operator, reason)
    }

    /// Status for `GET /v1/status`.
    pub fn status(&self) -> serde_json::Value {
        let t = self.supervisor.totals();
        json!({
            "env": self.spec.id,
            "policy": self.info,
            "running": self.running,
            "run": self.runs.saturating_sub(1),
            "step": self.step,
            "estop": {"tripped": self.estop_tripped(), "cause": self.supervisor.estop().cause().map(|c| format!("{c:?}")).or_else(|| self.restored.clone())},
            "manual": self.supervisor.human().is_manual(),
            "alarm_level": self.supervisor.monitor().level(),
            "margins": self.margins().into_iter().map(|(n, h, m)| json!({"constraint": n, "hard": h, "margin": m})).collect::<Vec<_>>(),
            "totals": t,
            "shield": self.supervisor.shield().is_some(),
            "state_estimate": self.estimator.describe(),
            "audit": self.supervisor.audit().map(|a| json!({"path": a.path().display().to_string(), "records": a.records(), "head": a.head()})),
        })
    }

    /// Seal the audit log (on shutdown).
    pub fn close(self) -> Result<Option<(u64, String)>> {
        self.supervisor.close()
    }
}
