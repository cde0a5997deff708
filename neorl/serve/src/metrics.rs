//! Prometheus metrics (`GET /metrics`, text exposition format), through
//! the `prometheus-client` crate.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `neorl_request_duration_seconds` | histogram | `interface` (http, modbus), `endpoint` |
//! | `neorl_requests_total` | counter | `interface`, `endpoint`, `status` |
//! | `neorl_decisions_total` | counter | `source` (policy, operator, emergency_stop), `kind` (none or the shield's intervention) |
//! | `neorl_interventions_total` | counter | `kind` |
//! | `neorl_emergency_stops_total` | counter | |
//! | `neorl_shutdowns_total` | counter | |
//! | `neorl_estop_tripped` | gauge | |
//! | `neorl_alarm_level` | gauge | 0 normal, 1 warning, 2 alarm, 3 emergency stop |
//! | `neorl_constraint_margin` | gauge | `constraint`, `kind` (hard, soft): normalised margin of the estimated state |
//! | `neorl_audit_write_seconds` | histogram | |
//! | `neorl_auth_failures_total` | counter | `status` (401, 403) |

use crate::engine::{Decided, Engine};
use neorl_plant::safety::InterventionKind;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

type Labels = Vec<(String, String)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn latency_histogram() -> Histogram {
    // 10 µs … ~1.3 s, factor 2.
    Histogram::new(exponential_buckets(1e-5, 2.0, 18))
}

/// Every metric of the server.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    request_duration: Family<Labels, Histogram>,
    requests: Family<Labels, Counter>,
    decisions: Family<Labels, Counter>,
    interventions: Family<Labels, Counter>,
    estops: Counter,
    shutdowns: Counter,
    estop_tripped: Gauge,
    alarm_level: Gauge,
    margins: Family<Labels, Gauge<f64, AtomicU64>>,
    audit_write: Histogram,
    auth_failures: Family<Labels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let request_duration =
            Family::<Labels, Histogram>::new_with_constructor(latency_histogram as fn() -> _);
        let m = Metrics {
            request_duration: request_duration.clone(),
            requests: Family::default(),
            decisions: Family::default(),
            interventions: Family::default(),
            estops: Counter::default(),
            shutdowns: Counter::default(),
            estop_tripped: Gauge::default(),
            alarm_level: Gauge::default(),
            margins: Family::default(),
            audit_write: latency_histogram(),
            auth_failures: Family::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            "neorl_request_duration_seconds",
            "Time to answer a request, by interface and endpoint",
            m.request_duration.clone(),
        );
        r.register(
            "neorl_requests",
            "Requests answered, by interface, endpoint and status",
            m.requests.clone(),
        );
        r.register(
            "neorl_decisions",
            "Actions decided, by source and shield decision",
            m.decisions.clone(),
        );
        r.register(
            "neorl_interventions",
            "Shield interventions by kind",
            m.interventions.clone(),
        );
        r.register(
            "neorl_emergency_stops",
            "Emergency-stop trips",
            m.estops.clone(),
        );
        r.register(
            "neorl_shutdowns",
            "Emergency shutdowns the plant was told to fire",
            m.shutdowns.clone(),
        );
        r.register(
            "neorl_estop_tripped",
            "1 while the emergency stop is tripped",
            m.estop_tripped.clone(),
        );
        r.register(
            "neorl_alarm_level",
            "Monitor alarm level: 0 normal, 1 warning, 2 alarm, 3 emergency stop",
            m.alarm_level.clone(),
        );
        r.register(
            "neorl_constraint_margin",
            "Normalised margin of each constraint in the estimated state (negative: crossed)",
            m.margins.clone(),
        );
        r.register(
            "neorl_audit_write_seconds",
            "Time to append one record to the audit log (including fsync when on)",
            m.audit_write.clone(),
        );
        r.register(
            "neorl_auth_failures",
            "Requests refused for a missing, unknown or under-privileged token",
            m.auth_failures.clone(),
        );
        // Every known label value starts at zero, so `rate()` and the
        // dashboard see a series before its first event.
        let kinds = InterventionKind::ALL.map(|k| k.as_str());
        for kind in kinds {
            drop(m.interventions.get_or_create(&labels(&[("kind", kind)])));
        }
        for source in ["policy", "operator", "emergency_stop"] {
            for kind in std::iter::once("none").chain(kinds) {
                drop(
                    m.decisions
                        .get_or_create(&labels(&[("source", source), ("kind", kind)])),
                );
            }
        }
        for status in ["401", "403"] {
            drop(
                m.auth_failures
                    .get_or_create(&labels(&[("status", status)])),
            );
        }
        Metrics { registry, ..m }
    }

    /// A request answered.
    pub fn request(&self, interface: &str, endpoint: &str, status: u16, took: Duration) {
        let status = status.to_string();
        self.requests
            .get_or_create(&labels(&[
                ("interface", interface),
                ("endpoint", endpoint),
                ("status", &status),
            ]))
            .inc();
        self.request_duration
            .get_or_create(&labels(&[("interface", interface), ("endpoint", endpoint)]))
            .observe(took.as_secs_f64());
    }

    pub fn auth_failure(&self, status: u16) {
        self.auth_failures
            .get_or_create(&labels(&[("status", &status.to_string())]))
            .inc();
    }

    /// A decision, and the engine's state after it.
    pub fn decided(&self, d: &Decided, engine: &mut Engine) {
        let source = serde_json::to_value(d.source)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        self.decisions
            .get_or_create(&labels(&[("source", &source), ("kind", d.decision)]))
            .inc();
        if d.decision != "none" {
            self.interventions
                .get_or_create(&labels(&[("kind", d.decision)]))
                .inc();
        }
        if d.tripped {
            self.estops.inc();
        }
        if d.shutdown {
            self.shutdowns.inc();
        }
        self.observe_engine(engine);
    }

    /// Gauges from the engine, and its audit write times.
    pub fn observe_engine(&self, engine: &mut Engine) {
        self.estop_tripped.set(engine.estop_tripped() as i64);
        // Declared in the order of the codes: normal 0 … emergency stop 3.
        self.alarm_level
            .set(engine.supervisor().monitor().level() as i64);
        for (name, hard, m) in engine.margins() {
            let kind = if hard { "hard" } else { "soft" };
            self.margins
                .get_or_create(&labels(&[("constraint", &name), ("kind", kind)]))
                .set(m);
        }
        for w in engine.take_audit_writes() {
            self.audit_write.observe(w.as_secs_f64());
        }
    }

    /// A trip by an operator.
    pub fn estop_pressed(&self) {
        self.estops.inc();
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
