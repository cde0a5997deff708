//! The HTTP/JSON interface.
//!
//! | method and path | role | body → answer |
//! |---|---|---|
//! | `POST /v1/act` | client | `{"observation": [...]}` → the applied action, what was proposed, who chose it, the shield's decision, alarm level, e-stop and shutdown flags, correlation id |
//! | `POST /v1/episode` | client, operator | `{"observation": [...]}`: a new plant run (resets the state estimator); an operator's also resets a tripped stop |
//! | `POST /v1/operator/override` | operator | `{"action": [...], "reason": "…"}`: manual mode with a fixed action (still shielded) |
//! | `POST /v1/operator/hand-back` | operator | `{"reason": "…"}` |
//! | `POST /v1/operator/estop` | operator | `{"reason": "…"}`: press the emergency stop |
//! | `POST /v1/operator/estop/reset` | operator | `{"reason": "…"}`: refused (409) while the estimated state crosses a hard limit |
//! | `GET /v1/status` | any | policy, run, e-stop, alarm level, margins, totals, state estimator, audit head |
//! | `GET /metrics` | any | Prometheus text format |
//! | `GET /healthz` | none | 200 while the process serves |
//! | `GET /readyz` | none | 200 when ready for decisions, 503 while draining |
//!
//! Tokens go in `Authorization: Bearer …`. A correlation id is taken from
//! the `x-correlation-id` header (letters, digits, `._-`, at most 64) or
//! made, returned in the same header and the body, and written to the log
//! line and any audit record of the request. Errors are JSON
//! `{"error": "…", "correlation_id": "…"}`: malformed JSON or wrong lengths
//! 400, NaN/Inf 422 (JSON has no NaN, so a literal `NaN` is malformed
//! JSON: 400), a body over `max_body_bytes` 413, no or unknown token 401,
//! the wrong role 403, a state conflict 409, more than `max_in_flight`
//! requests at once 503.

use crate::auth::{Caller, Permission, authenticate, new_id};
use crate::config::TokenEntry;
use crate::engine::{Engine, Refusal};
use crate::metrics::Metrics;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What every handler shares.
#[derive(Debug)]
pub struct Shared {
    pub engine: Mutex<Engine>,
    pub tokens: Vec<TokenEntry>,
    pub metrics: Metrics,
    /// Set on SIGTERM: `/readyz` answers 503, in-flight requests finish.
    pub draining: AtomicBool,
    /// One JSON log line per request on stdout (on by default; benchmarks
    /// turn it off to keep their own output readable).
    pub log_requests: AtomicBool,
}

impl Shared {
    /// The state of a server for `engine`, accepting `tokens`.
    pub fn new(engine: Engine, tokens: Vec<TokenEntry>) -> Self {
        Shared {
            engine: Mutex::new(engine),
            tokens,
            metrics: Metrics::new(),
            draining: AtomicBool::new(false),
            log_requests: AtomicBool::new(true),
        }
    }

    /// The engine, even if a previous holder panicked (the engine's state
    /// is updated only after each decision succeeds).
    pub fn engine(&self) -> std::sync::MutexGuard<'_, Engine> {
        self.engine.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One JSON log line on stdout.
pub fn log_line(fields: serde_json::Value) {
    let mut line = json!({"ts": neorl_plant::safety::audit::now_rfc3339()});
    if let (Some(l), Some(f)) = (line.as_object_mut(), fields.as_object()) {
        l.extend(f.clone());
    }
    println!("{line}");
}

fn correlation_id(headers: &HeaderMap) -> String {
    headers
        .get("x-correlation-id")
        .and_then(|v| v.to_str().ok())
        .filter(|s| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        })
        .map(String::from)
        .unwrap_or_else(new_id)
}

/// A finished request: JSON body, status, correlation id header, metrics
/// and a log line.
struct Reply<'a> {
    shared: &'a Shared,
    endpoint: &'static str,
    id: String,
    start: Instant,
    caller: Option<String>,
}

impl Reply<'_> {
    fn send(self, status: StatusCode, mut body: serde_json::Value) -> Response {
        if let Some(o) = body.as_object_mut() {
            o.insert("correlation_id".into(), self.id.clone().into());
        }
        let took = self.start.elapsed();
        self.shared
            .metrics
            .request("http", self.endpoint, status.as_u16(), took);
        if !self.shared.log_requests.load(Ordering::Relaxed) {
            return with_id(status, body, &self.id);
        }
        log_line(json!({
            "level": if status.is_server_error() { "error" } else if status.is_client_error() { "warn" } else { "info" },
            "interface": "http",
            "endpoint": self.endpoint,
            "status": status.as_u16(),
            "latency_us": took.as_micros() as u64,
            "caller": self.caller,
            "correlation_id": self.id,
            "error": body.get("error"),
        }));
        with_id(status, body, &self.id)
    }

    fn error(self, status: StatusCode, message: impl Into<String>) -> Response {
        self.send(status, json!({"error": message.into()}))
    }

    fn refusal(self, r: Refusal) -> Response {
        match r {
            Refusal::Bad(m) => self.error(StatusCode::BAD_REQUEST, m),
            Refusal::Conflict(m) => self.error(StatusCode::CONFLICT, m),
            Refusal::Internal(m) => self.error(StatusCode::INTERNAL_SERVER_ERROR, m),
        }
    }
}

/// A JSON answer with the correlation id header.
fn with_id(status: StatusCode, body: serde_json::Value, id: &str) -> Response {
    let mut r = (status, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(id) {
        r.headers_mut().insert("x-correlation-id", v);
    }
    r
}

/// The caller of a request with the right to `perm`, or the 401/403 reply
/// (audited: who, which endpoint, never the token).
fn authorize<'a>(
    shared: &'a Shared,
    headers: &HeaderMap,
    perm: Permission,
    endpoint: &'static str,
) -> Result<(Caller, Reply<'a>), Box<Response>> {
    let mut reply = Reply {
        shared,
        endpoint,
        id: correlation_id(headers),
        start: Instant::now(),
        caller: None,
    };
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let caller = authenticate(&shared.tokens, auth);
    let (status, who) = match &caller {
        None => (StatusCode::UNAUTHORIZED, None),
        Some(c) if !c.role.may(perm) => (StatusCode::FORBIDDEN, Some(c.name.clone())),
        Some(c) => {
            reply.caller = Some(c.name.clone());
            return Ok((c.clone(), reply));
        }
    };
    shared.metrics.auth_failure(status.as_u16());
    let payload = json!({"endpoint": endpoint, "status": status.as_u16(), "caller": who});
    let audited = {
        let mut e = shared.engine();
        e.set_correlation_id(Some(&reply.id));
        let r = e.record("auth_denied", payload);
        e.set_correlation_id(None);
        shared.metrics.observe_engine(&mut e);
        r
    };
    reply.caller = who;
    Err(Box::new(match (audited, status) {
        (Err(e), _) => reply.error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the audit log cannot be written: {e}"),
        ),
        (Ok(()), StatusCode::UNAUTHORIZED) => reply.error(
            status,
            "missing or unknown bearer token (Authorization: Bearer …)",
        ),
        (Ok(()), _) => reply.error(status, "this token's role may not do this"),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ObservationBody {
    observation: Vec<f32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    #[serde(default)]
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideBody {
    action: Vec<f32>,
    #[serde(default)]
    reason: String,
}

fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, String> {
    if body.is_empty() {
        return Err("empty body: send a JSON object".into());
    }
    serde_json::from_slice(body).map_err(|e| format!("malformed JSON body: {e}"))
}

async fn act(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let (_, reply) = match authorize(&s, &headers, Permission::Act, "act") {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let b: ObservationBody = match parse(&body) {
        Ok(b) => b,
        Err(m) => return reply.error(StatusCode::BAD_REQUEST, m),
    };
    if b.observation.iter().any(|x| !x.is_finite()) {
        return reply.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "observation holds a value outside f32's range (it became infinite)",
        );
    }
    let decided = {
        let mut e = s.engine();
        e.set_correlation_id(Some(&reply.id));
        let d = e.act(&b.observation);
        e.set_correlation_id(None);
        if let Ok(d) = &d {
            s.metrics.decided(d, &mut e);
        }
        d
    };
    match decided {
        Ok(d) => reply.send(StatusCode::OK, serde_json::to_value(&d).unwrap_or_default()),
        Err(r) => reply.refusal(r),
    }
}

async fn episode(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let (caller, reply) = match authorize(&s, &headers, Permission::Begin, "episode") {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let operator = caller.role.may(Permission::Operate);
    let b: ObservationBody = match parse(&body) {
        Ok(b) => b,
        Err(m) => return reply.error(StatusCode::BAD_REQUEST, m),
    };
    let r = {
        let mut e = s.engine();
        e.set_correlation_id(Some(&reply.id));
        let r = e.begin(&b.observation, Some((&caller.name, operator)));
        e.set_correlation_id(None);
        s.metrics.observe_engine(&mut e);
        r
    };
    match r {
        Ok(()) => reply.send(StatusCode::OK, json!({"started": true})),
        Err(r) => reply.refusal(r),
    }
}

/// An operator call: authorised, body parsed, `f` run on the engine.
fn operate<T: for<'de> Deserialize<'de>>(
    s: &Shared,
    headers: &HeaderMap,
    body: &Bytes,
    endpoint: &'static str,
    f: impl FnOnce(&mut Engine, &str, T) -> neorl_plant::Result<serde_json::Value>,
) -> Response {
    let (caller, reply) = match authorize(s, headers, Permission::Operate, endpoint) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let b: T = match parse(body) {
        Ok(b) => b,
        Err(m) => return reply.error(StatusCode::BAD_REQUEST, m),
    };
    let r = {
        let mut e = s.engine();
        e.set_correlation_id(Some(&reply.id));
        let r = f(&mut e, &caller.name, b);
        e.set_correlation_id(None);
        s.metrics.observe_engine(&mut e);
        r
    };
    match r {
        Ok(v) => reply.send(StatusCode::OK, v),
        Err(e) => reply.refusal(e.into()),
    }
}

async fn take_over(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    operate(
        &s,
        &headers,
        &body,
        "override",
        |e, who, b: OverrideBody| {
            e.take_over(who, b.action, &b.reason)
                .map(|()| json!({"manual": true}))
        },
    )
}

async fn hand_back(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    operate(&s, &headers, &body, "hand_back", |e, who, b: ReasonBody| {
        e.hand_back(who, &b.reason)
            .map(|()| json!({"manual": false}))
    })
}

async fn estop(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let pressed = &s.metrics;
    operate(&s, &headers, &body, "estop", |e, who, b: ReasonBody| {
        let tripped = e.press_estop(who, &b.reason)?;
        if tripped {
            pressed.estop_pressed();
        }
        Ok(json!({"tripped": true, "newly_tripped": tripped}))
    })
}

async fn estop_reset(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    operate(
        &s,
        &headers,
        &body,
        "estop_reset",
        |e, who, b: ReasonBody| {
            e.reset_estop(who, &b.reason)
                .map(|()| json!({"tripped": false}))
        },
    )
}

async fn status(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let (_, reply) = match authorize(&s, &headers, Permission::Read, "status") {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let body = s.engine().status();
    reply.send(StatusCode::OK, body)
}

async fn metrics(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let (_, reply) = match authorize(&s, &headers, Permission::Read, "metrics") {
        Ok(c) => c,
        Err(r) => return *r,
    };
    {
        let mut e = s.engine();
        s.metrics.observe_engine(&mut e);
    }
    let text = s.metrics.encode();
    let took = reply.start.elapsed();
    s.metrics.request("http", "metrics", 200, took);
    (
        StatusCode::OK,
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn healthz() -> Response {
    (StatusCode::OK, axum::Json(json!({"ok": true}))).into_response()
}

async fn readyz(State(s): State<Arc<Shared>>) -> Response {
    match s.draining.load(Ordering::SeqCst) {
        true => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"ready": false, "error": "draining: the server is shutting down"})),
        )
            .into_response(),
        false => (StatusCode::OK, axum::Json(json!({"ready": true}))).into_response(),
    }
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"error": "no such endpoint; see GET /v1/status and the server's documentation (neorl serve --help)"})),
    )
        .into_response()
}

/// The router, with the body limit and the overload guard: at most
/// `max_in_flight` requests are handled at once; one more is answered 503
/// at once (no unbounded queue).
pub fn router(shared: Arc<Shared>, max_body_bytes: usize, max_in_flight: usize) -> Router {
    use axum::error_handling::HandleErrorLayer;
    use tower::ServiceBuilder;
    let overload = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(
                    json!({"error": "overloaded: too many requests in flight; retry shortly"}),
                ),
            )
        }))
        .load_shed()
        .concurrency_limit(max_in_flight);
    Router::new()
        .route("/v1/act", post(act))
        .route("/v1/episode", post(episode))
        .route("/v1/operator/override", post(take_over))
        .route("/v1/operator/hand-back", post(hand_back))
        .route("/v1/operator/estop", post(estop))
        .route("/v1/operator/estop/reset", post(estop_reset))
        .route("/v1/status", get(status))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(overload)
        .with_state(shared)
}
