//! `neorl bench serve`: the policy server's decision rate and latency per
//! process, with the full safety layer in the request path, measured two
//! ways in the same run:
//!
//! 1. **in process**: `Engine::act` alone — state estimate, monitor,
//!    policy, shield, audit — the cost of a decision without a transport;
//! 2. **over HTTP on loopback**: the real server (hyper, axum, the router's
//!    auth, limits, metrics and JSON log line per request) answering
//!    `POST /v1/act` to `clients` keep-alive clients at once.
//!
//! The ratio of the two is the transport's share. The policy is a TD3+BC
//! actor of the paper's size (256×256, untrained: its cost is that of a
//! trained one); the observations replay an expert trajectory of the
//! process with noise and disturbances on. A server decides for one plant
//! at a time (one engine behind a mutex), so more clients add queueing, not
//! throughput; the latency percentiles include that wait. Audit records
//! are fsync'ed before the answer (the server's default): they are written
//! on events (interventions, alarms, trips), not on plain policy steps. The
//! per-request JSON log line is off here (it would be this command's
//! output); metrics are on.

use crate::agents::{self, Device};
use crate::control::{PolicyKind, make_policy};
use crate::env::{EnvOptions, make_with};
use crate::error::{Error, Result};
use crate::inference::agent_policy::PolicyInfo;
use neorl_serve::auth::{hash_token, new_token};
use neorl_serve::config::TokenEntry;
use neorl_serve::engine::Engine;
use neorl_serve::http::Shared;
use neorl_serve::server::{Background, Limits};
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

/// One process's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct ServeBench {
    pub id: String,
    /// Decisions per second of `Engine::act` (one thread).
    pub in_process_per_s: f64,
    pub in_process_p50_us: f64,
    pub in_process_p99_us: f64,
    /// Requests per second over HTTP with `clients` clients.
    pub http_per_s: f64,
    pub http_p50_us: f64,
    pub http_p99_us: f64,
    pub http_p999_us: f64,
    pub clients: usize,
    pub requests: usize,
    /// Fraction of decisions the shield changed.
    pub intervention_rate: f64,
    /// HTTP throughput over in-process throughput.
    pub http_over_in_process: f64,
}

fn quantile(sorted: &[f64], p: f64) -> f64 {
    sorted
        .get(((sorted.len().saturating_sub(1)) as f64 * p) as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

/// An expert trajectory's observations (noise and disturbances on).
fn observations(id: &str, n: usize) -> Result<Vec<Vec<f32>>> {
    let mut env = make_with(id, EnvOptions::default())?;
    let mut expert = make_policy(env.spec(), PolicyKind::Expert)?;
    let mut out = Vec::with_capacity(n);
    let mut obs = env.reset(1);
    expert.reset(1);
    let mut action = vec![0f32; env.spec().act_dim()];
    let mut seed = 1;
    while out.len() < n {
        out.push(obs.clone());
        expert.act(&obs, &mut action)?;
        let s = env.step(&action)?;
        obs = s.obs;
        if s.terminated || s.truncated {
            seed += 1;
            obs = env.reset(seed);
            expert.reset(seed);
        }
    }
    Ok(out)
}

fn engine(id: &str, dir: &std::path::Path) -> Result<Engine> {
    let env = make_with(id, EnvOptions::default())?;
    let agent = agents::build("td3bc", env.spec(), 0, &Device::cpu())?;
    let policy = agent.policy();
    let info = PolicyInfo {
        algo: "td3bc".into(),
        env_id: id.into(),
        step: 0,
        format_version: 0,
        sizes: policy.net.sizes.clone(),
        trained: false,
    };
    Engine::with_policy(
        policy,
        info,
        "bench (untrained 256×256 TD3+BC actor)",
        dir,
        true,
        true,
    )
}

/// Benchmark every process in `ids`: `requests` decisions in process, and
/// `requests` HTTP requests spread over `clients` clients.
pub fn run(ids: &[&str], requests: usize, clients: usize) -> Result<Vec<ServeBench>> {
    ids.iter().map(|id| one(id, requests, clients)).collect()
}

fn one(id: &str, requests: usize, clients: usize) -> Result<ServeBench> {
    let root = std::env::temp_dir().join(format!("neorl-bench-serve-{}-{id}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let trajectory = observations(id, requests.min(5000))?;
    let refuse = |e: neorl_serve::engine::Refusal| Error::InvalidArgument(format!("{e:?}"));

    // 1. In process.
    let mut e = engine(id, &root.join("in-process"))?;
    let mut times = Vec::with_capacity(requests);
    let mut interventions = 0usize;
    let start = Instant::now();
    for i in 0..requests {
        let obs = &trajectory[i % trajectory.len()];
        let t = Instant::now();
        let d = e.act(obs).map_err(refuse)?;
        times.push(t.elapsed().as_secs_f64() * 1e6);
        interventions += (d.decision != "none") as usize;
        if d.shutdown || i % trajectory.len() == trajectory.len() - 1 {
            e.begin(
                &trajectory[(i + 1) % trajectory.len()],
                Some(("bench", true)),
            )
            .map_err(refuse)?;
        }
    }
    let in_process_per_s = requests as f64 / start.elapsed().as_secs_f64();
    e.close()?;
    times.sort_by(|a, b| a.total_cmp(b));
    let (ip50, ip99) = (quantile(&times, 0.5), quantile(&times, 0.99));

    // 2. Over HTTP on loopback.
    let token = new_token().map_err(|e| Error::InvalidArgument(e.to_string()))?;
    let tokens = vec![TokenEntry {
        name: "bench".into(),
        role: neorl_serve::auth::Role::Client,
        sha256: hash_token(&token),
    }];
    let shared = Arc::new(Shared::new(engine(id, &root.join("http"))?, tokens));
    shared
        .log_requests
        .store(false, std::sync::atomic::Ordering::Relaxed);
    let limits = Limits {
        max_body_bytes: 1 << 20,
        max_in_flight: clients.max(1) * 2,
    };
    let server = Background::start(shared.clone(), "127.0.0.1:0", limits)
        .map_err(|e| Error::InvalidArgument(format!("{e:#}")))?;
    let addr = server.addr();
    let url = format!("http://{addr}/v1/act");
    let per_client = requests.div_ceil(clients.max(1));
    let bodies: Arc<Vec<String>> = Arc::new(
        trajectory
            .iter()
            .map(|o| serde_json::json!({ "observation": o }).to_string())
            .collect(),
    );
    let start = Instant::now();
    let handles: Vec<_> = (0..clients.max(1))
        .map(|c| {
            let (url, token, bodies) = (url.clone(), token.clone(), bodies.clone());
            std::thread::spawn(move || -> std::result::Result<Vec<f64>, String> {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                let auth = format!("Bearer {token}");
                let mut t = Vec::with_capacity(per_client);
                for i in 0..per_client {
                    let body = &bodies[(c * 7919 + i) % bodies.len()];
                    let t0 = Instant::now();
                    let mut r = agent
                        .post(&url)
                        .header("authorization", &auth)
                        .send(body.as_str())
                        .map_err(|e| e.to_string())?;
                    let _ = r.body_mut().read_to_string();
                    if r.status().as_u16() != 200 {
                        return Err(format!("HTTP {}", r.status()));
                    }
                    t.push(t0.elapsed().as_secs_f64() * 1e6);
                }
                Ok(t)
            })
        })
        .collect();
    let mut http = Vec::with_capacity(requests);
    for h in handles {
        let t = h
            .join()
            .map_err(|_| Error::InvalidArgument("a bench client panicked".into()))?
            .map_err(|e| Error::InvalidArgument(format!("bench client: {e}")))?;
        http.extend(t);
    }
    let http_per_s = http.len() as f64 / start.elapsed().as_secs_f64();
    server
        .stop()
        .map_err(|e| Error::InvalidArgument(format!("{e:#}")))?;
    if let Ok(s) = Arc::try_unwrap(shared) {
        let _ = s.engine.into_inner().map(|e| e.close());
    }
    let _ = std::fs::remove_dir_all(&root);
    http.sort_by(|a, b| a.total_cmp(b));
    Ok(ServeBench {
        id: id.into(),
        in_process_per_s,
        in_process_p50_us: ip50,
        in_process_p99_us: ip99,
        http_per_s,
        http_p50_us: quantile(&http, 0.5),
        http_p99_us: quantile(&http, 0.99),
        http_p999_us: quantile(&http, 0.999),
        clients: clients.max(1),
        requests: http.len(),
        intervention_rate: interventions as f64 / requests.max(1) as f64,
        http_over_in_process: http_per_s / in_process_per_s,
    })
}
