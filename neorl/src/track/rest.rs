//! A small blocking client for the MLflow tracking server's REST API
//! (`/api/2.0/mlflow/…`, documented at mlflow.org "REST API"), on `ureq`.
//!
//! Why not the `mlflow_rs` crate: its 0.1.11 sends one request per metric
//! (no `runs/log-batch`), takes `f32` values, uploads artifacts through the
//! UI's `ajax-api` endpoint, has no retry classification or durable
//! buffering, and pulls in reqwest 0.11 with tokio (a second async stack to
//! compile) plus a global Ctrl-C handler. The part of the API neorl needs is
//! a dozen JSON calls, written here.
//!
//! Calls used: `experiments/get-by-name`, `experiments/create`,
//! `runs/create`, `runs/search`, `runs/log-batch`, `runs/update`,
//! `metrics/get-history`, and the artifact proxy
//! `PUT /api/2.0/mlflow-artifacts/artifacts/<path>` that `mlflow server`
//! serves by default (`--serve-artifacts`). Authentication as MLflow's own
//! clients: `MLFLOW_TRACKING_TOKEN` (bearer) or `MLFLOW_TRACKING_USERNAME` /
//! `MLFLOW_TRACKING_PASSWORD` (basic).

use super::RunData;
use super::record::{Metric, Pair, Status};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// A failed call: `transient` ones (network, timeouts, 408, 429, 5xx) are
/// retried; the others are the server refusing the request.
#[derive(Debug, Clone)]
pub struct RestError {
    pub transient: bool,
    pub status: Option<u16>,
    /// MLflow's `error_code` (`RESOURCE_DOES_NOT_EXIST`, …) when it sent one.
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for RestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(s) => write!(f, "HTTP {s} {}: {}", self.code, self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

type R<T> = std::result::Result<T, RestError>;

/// A connection to one tracking server.
#[derive(Debug, Clone)]
pub struct RestClient {
    base: String,
    agent: ureq::Agent,
    auth: Option<String>,
}

impl RestClient {
    /// `uri` is the server's base URL (`http://host:5000`, a path prefix allowed).
    pub fn new(uri: &str) -> Self {
        let cfg = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_per_read(Some(Duration::from_secs(60)))
            .timeout_per_write(Some(Duration::from_secs(60)));
        #[cfg(feature = "https")]
        let cfg = cfg.tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                .build(),
        );
        let auth = if let Ok(t) = std::env::var("MLFLOW_TRACKING_TOKEN")
            && !t.is_empty()
        {
            Some(format!("Bearer {t}"))
        } else if let (Ok(u), Ok(p)) = (
            std::env::var("MLFLOW_TRACKING_USERNAME"),
            std::env::var("MLFLOW_TRACKING_PASSWORD"),
        ) {
            Some(format!("Basic {}", base64(format!("{u}:{p}").as_bytes())))
        } else {
            None
        };
        RestClient {
            base: uri.trim_end_matches('/').to_string(),
            agent: cfg.build().new_agent(),
            auth,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> R<Value> {
        let url = format!("{}/api/2.0/mlflow/{path}", self.base);
        let result = match body {
            Some(b) => {
                let mut req = if method == "PATCH" {
                    self.agent.patch(&url)
                } else {
                    self.agent.post(&url)
                };
                if let Some(a) = &self.auth {
                    req = req.header("Authorization", a);
                }
                req.content_type("application/json").send(b.to_string())
            }
            None => {
                let mut req = self.agent.get(&url);
                for (k, v) in query {
                    req = req.query(*k, *v);
                }
                if let Some(a) = &self.auth {
                    req = req.header("Authorization", a);
                }
                req.call()
            }
        };
        answer(result, &url)
    }

    /// Liveness (`GET /health`).
    pub fn health(&self) -> R<()> {
        let url = format!("{}/health", self.base);
        answer_raw(self.agent.get(&url).call(), &url).map(|_| ())
    }

    pub fn experiment_id(&self, name: &str) -> R<Option<String>> {
        match self.call(
            "GET",
            "experiments/get-by-name",
            &[("experiment_name", name)],
            None,
        ) {
            Ok(v) => Ok(v["experiment"]["experiment_id"].as_str().map(String::from)),
            Err(e) if e.code == "RESOURCE_DOES_NOT_EXIST" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Get experiment `name`, creating it when missing.
    pub fn ensure_experiment(&self, name: &str) -> R<String> {
        if let Some(id) = self.experiment_id(name)? {
            return Ok(id);
        }
        match self.call(
            "POST",
            "experiments/create",
            &[],
            Some(&json!({ "name": name })),
        ) {
            Ok(v) => v["experiment_id"]
                .as_str()
                .map(String::from)
                .ok_or_else(|| bad_answer("experiments/create", &v)),
            // Someone else created it in between.
            Err(e) if e.code == "RESOURCE_ALREADY_EXISTS" => self
                .experiment_id(name)?
                .ok_or_else(|| bad_answer("experiments/get-by-name", &Value::Null)),
            Err(e) => Err(e),
        }
    }

    /// Create a run; returns `(run_id, artifact_uri)`.
    pub fn create_run(
        &self,
        experiment_id: &str,
        run_name: &str,
        start_time: i64,
        user: &str,
        tags: &[Pair],
    ) -> R<(String, String)> {
        let body = json!({
            "experiment_id": experiment_id,
            "run_name": run_name,
            "start_time": start_time,
            "user_id": user,
            "tags": pairs(tags),
        });
        let v = self.call("POST", "runs/create", &[], Some(&body))?;
        run_ids(&v["run"]["info"]).ok_or_else(|| bad_answer("runs/create", &v))
    }

    /// The run of `experiment_id` whose tag `key` is `value`, if any.
    pub fn find_run_by_tag(
        &self,
        experiment_id: &str,
        key: &str,
        value: &str,
    ) -> R<Option<(String, String)>> {
        let body = json!({
            "experiment_ids": [experiment_id],
            "filter": format!("tags.`{key}` = '{}'", value.replace('\'', "\\'")),
            "max_results": 1,
        });
        let v = self.call("POST", "runs/search", &[], Some(&body))?;
        Ok(v["runs"]
            .as_array()
            .and_then(|r| r.first())
            .and_then(|r| run_ids(&r["info"])))
    }

    pub fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[Pair],
        tags: &[Pair],
    ) -> R<()> {
        // Finite values as JSON numbers (serde_json writes them exactly),
        // others as MLflow's "NaN", "Infinity", "-Infinity".
        let metrics: Vec<Value> = metrics
            .iter()
            .map(|m| {
                let value = if m.value.is_finite() {
                    json!(m.value)
                } else {
                    json!(super::record::float_or_name::name(m.value))
                };
                json!({"key": m.key, "value": value, "timestamp": m.timestamp, "step": m.step})
            })
            .collect();
        let body = json!({
            "run_id": run_id,
            "metrics": metrics,
            "params": pairs(params),
            "tags": pairs(tags),
        });
        self.call("POST", "runs/log-batch", &[], Some(&body))
            .map(|_| ())
    }

    pub fn update_run(&self, run_id: &str, status: Status, end_time: i64) -> R<()> {
        let body = json!({"run_id": run_id, "status": status.as_str(), "end_time": end_time});
        self.call("POST", "runs/update", &[], Some(&body))
            .map(|_| ())
    }

    /// Upload `file` to `dest` under the run's `artifact_uri`.
    ///
    /// `mlflow-artifacts:` roots go through the server's artifact proxy;
    /// `file:` roots on this machine are written directly (a server started
    /// with `--no-serve-artifacts` and a local folder); other stores
    /// (s3:, gs:, …) need MLflow's Python client and are refused.
    pub fn upload_artifact(&self, artifact_uri: &str, dest: &str, file: &Path) -> R<()> {
        if let Some(rest) = artifact_uri.strip_prefix("mlflow-artifacts:") {
            // `mlflow-artifacts:/1/<run>/artifacts` or `mlflow-artifacts://host:port/1/…`
            let path = match rest.strip_prefix("//") {
                Some(with_host) => with_host.split_once('/').map_or("", |x| x.1),
                None => rest.trim_start_matches('/'),
            };
            let url = format!(
                "{}/api/2.0/mlflow-artifacts/artifacts/{}/{}",
                self.base,
                encode_path(path.trim_end_matches('/')),
                encode_path(dest)
            );
            let f = std::fs::File::open(file).map_err(|e| RestError {
                transient: false,
                status: None,
                code: "LOCAL_FILE".into(),
                message: format!("{}: {e}", file.display()),
            })?;
            let mut req = self.agent.put(&url);
            if let Some(a) = &self.auth {
                req = req.header("Authorization", a);
            }
            return answer_raw(req.send(&f), &url).map(|_| ());
        }
        if let Some(p) = artifact_uri.strip_prefix("file://") {
            let to = Path::new(p).join(dest);
            let io = |e: std::io::Error| RestError {
                transient: false,
                status: None,
                code: "LOCAL_FILE".into(),
                message: format!("copying {} to {}: {e}", file.display(), to.display()),
            };
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            return std::fs::copy(file, &to).map(|_| ()).map_err(io);
        }
        Err(RestError {
            transient: false,
            status: None,
            code: "UNSUPPORTED_ARTIFACT_STORE".into(),
            message: format!(
                "the server stores this run's artifacts at {artifact_uri}, which neorl cannot write to; start the server with --serve-artifacts (the default) so artifacts go through it"
            ),
        })
    }

    /// Every point of a metric of a run.
    pub fn metric_history(&self, run_id: &str, key: &str) -> R<Vec<Metric>> {
        let mut out = vec![];
        let mut token = String::new();
        loop {
            let mut q = vec![
                ("run_id", run_id),
                ("metric_key", key),
                ("max_results", "25000"),
            ];
            if !token.is_empty() {
                q.push(("page_token", &token));
            }
            let v = self.call("GET", "metrics/get-history", &q, None)?;
            if let Some(ms) = v["metrics"].as_array() {
                for m in ms {
                    out.push(
                        serde_json::from_value(m.clone())
                            .map_err(|_| bad_answer("metrics/get-history", m))?,
                    );
                }
            }
            match v["next_page_token"].as_str() {
                Some(t) if !t.is_empty() => token = t.to_string(),
                _ => return Ok(out),
            }
        }
    }

    /// Every run of an experiment, newest first.
    pub fn runs(&self, experiment_id: &str) -> R<Vec<RunData>> {
        let mut out = vec![];
        let mut token = String::new();
        loop {
            let mut body = json!({"experiment_ids": [experiment_id], "max_results": 1000,
                "order_by": ["attributes.start_time DESC"]});
            if !token.is_empty() {
                body["page_token"] = json!(token);
            }
            let v = self.call("POST", "runs/search", &[], Some(&body))?;
            for r in v["runs"].as_array().into_iter().flatten() {
                out.push(run_data(r));
            }
            match v["next_page_token"].as_str() {
                Some(t) if !t.is_empty() => token = t.to_string(),
                _ => return Ok(out),
            }
        }
    }
}

fn run_ids(info: &Value) -> Option<(String, String)> {
    let id = info["run_id"].as_str().or(info["run_uuid"].as_str())?;
    Some((
        id.to_string(),
        info["artifact_uri"].as_str().unwrap_or("").to_string(),
    ))
}

fn run_data(r: &Value) -> RunData {
    let info = &r["info"];
    let kv = |arr: &Value| -> BTreeMap<String, String> {
        arr.as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                Some((
                    p["key"].as_str()?.to_string(),
                    p["value"].as_str()?.to_string(),
                ))
            })
            .collect()
    };
    let metrics = r["data"]["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let m: Metric = serde_json::from_value(m.clone()).ok()?;
            Some((m.key, m.value))
        })
        .collect();
    let int = |v: &Value| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    };
    RunData {
        run_id: run_ids(info).map(|x| x.0).unwrap_or_default(),
        run_name: info["run_name"].as_str().unwrap_or("").to_string(),
        experiment_id: info["experiment_id"].as_str().unwrap_or("").to_string(),
        status: info["status"].as_str().unwrap_or("UNKNOWN").to_string(),
        start_time: int(&info["start_time"]),
        end_time: int(&info["end_time"]),
        artifact_uri: info["artifact_uri"].as_str().unwrap_or("").to_string(),
        params: kv(&r["data"]["params"]),
        tags: kv(&r["data"]["tags"]),
        metrics,
    }
}

fn pairs(p: &[Pair]) -> Value {
    Value::Array(
        p.iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect(),
    )
}

fn answer(result: Result<http_response::Resp, ureq::Error>, url: &str) -> R<Value> {
    let text = answer_raw(result, url)?;
    if text.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_str(&text).map_err(|_| RestError {
        transient: true,
        status: None,
        code: "BAD_RESPONSE".into(),
        message: format!(
            "{url} answered with something that is not JSON: {}",
            clip(&text)
        ),
    })
}

mod http_response {
    pub type Resp = ureq::http::Response<ureq::Body>;
}

fn answer_raw(result: Result<http_response::Resp, ureq::Error>, url: &str) -> R<String> {
    let mut resp = result.map_err(|e| RestError {
        transient: true,
        status: None,
        code: "UNREACHABLE".into(),
        message: format!("{url}: {e}"),
    })?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .with_config()
        .limit(256 * 1024 * 1024)
        .read_to_string()
        .map_err(|e| RestError {
            transient: true,
            status: Some(status),
            code: "READ".into(),
            message: format!("{url}: reading the answer: {e}"),
        })?;
    if (200..300).contains(&status) {
        return Ok(text);
    }
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    Err(RestError {
        transient: status == 408 || status == 429 || status >= 500,
        status: Some(status),
        code: v["error_code"].as_str().unwrap_or("").to_string(),
        message: v["message"].as_str().map_or_else(
            || format!("{url}: {}", clip(&text)),
            |m| format!("{url}: {m}"),
        ),
    })
}

fn bad_answer(what: &str, v: &Value) -> RestError {
    RestError {
        transient: false,
        status: None,
        code: "BAD_RESPONSE".into(),
        message: format!("{what} answered {}", clip(&v.to_string())),
    }
}

fn clip(s: &str) -> String {
    s.chars().take(300).collect()
}

/// Percent-encode a `/`-separated path, keeping the slashes.
fn encode_path(p: &str) -> String {
    let mut out = String::new();
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Standard base64 (for HTTP basic authentication).
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(encode_path("a b/c%.txt"), "a%20b/c%25.txt");
    }

    #[test]
    fn unreachable_server_is_a_transient_error() {
        // A loopback port nothing listens on: bind one, note it, close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = RestClient::new(&format!("http://127.0.0.1:{port}"));
        let e = c.experiment_id("x").unwrap_err();
        assert!(e.transient, "{e}");
    }
}
