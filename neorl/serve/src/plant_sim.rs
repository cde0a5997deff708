//! `neorl plant-sim`: a simulated plant that uses the server as a PLC
//! would — over Modbus TCP, one request write and two reads per control
//! interval — for hardware-in-the-loop checks of a deployment before the
//! real plant is connected.
//!
//! Each step: the process's observation is written as a request (command
//! 2 on a run's first step, 1 after), the result registers and the
//! applied action are read back, and the simulator steps with that action
//! — or fires its emergency shutdown when the server's flag says so. The
//! episodes are the process's own (noise and disturbances on, seeds
//! `seed`, `seed + 1`, …), so a run can be compared with an in-process
//! evaluation of the same policy on the same seeds.

use crate::modbus::{APPLIED, CMD_ACT, CMD_NEW_RUN, REQUEST, f32_to_words, words_to_f32};
use anyhow::{Context, Result, bail};
use neorl_plant::env::ConstraintKind;
use serde::Serialize;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio_modbus::client::sync::{self, Reader, Writer};

/// What the simulated plant saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlantSimReport {
    pub env: String,
    pub episodes: usize,
    pub returns: Vec<f64>,
    /// D4RL normalized score of each return.
    pub normalized_scores: Vec<f64>,
    pub mean_normalized_score: f64,
    pub steps: u64,
    /// Steps after which a hard limit was crossed.
    pub hard_breaches: u64,
    /// Emergency shutdowns the server ordered.
    pub shutdowns: u64,
    /// Decisions the shield changed.
    pub interventions: u64,
    /// Mean round trip of one control interval (write + two reads).
    pub mean_round_trip_us: f64,
}

/// The plant's operator: the server's HTTP address and an operator token.
#[derive(Debug, Clone)]
pub struct Operator {
    pub http: SocketAddr,
    pub token: String,
}

impl Operator {
    /// `POST /v1/episode` with `obs`, as this operator.
    fn new_run(&self, obs: &[f32]) -> Result<()> {
        use std::io::{Read, Write};
        let body = serde_json::json!({ "observation": obs }).to_string();
        let mut s = std::net::TcpStream::connect_timeout(&self.http, Duration::from_secs(10))
            .with_context(|| {
                format!("connecting to the server's HTTP interface at {}", self.http)
            })?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            s,
            "POST /v1/episode HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.http,
            self.token,
            body.len()
        )?;
        let mut answer = String::new();
        s.read_to_string(&mut answer)?;
        if !answer.starts_with("HTTP/1.1 200") {
            bail!(
                "the server refused the operator's new run: {}",
                answer.lines().last().unwrap_or("")
            );
        }
        Ok(())
    }
}

/// Run `episodes` of `env` against the server's Modbus interface at `addr`;
/// with an `operator`, each episode is started by the operator over HTTP.
pub fn run(
    env: &str,
    addr: SocketAddr,
    episodes: usize,
    seed: u64,
    operator: Option<&Operator>,
) -> Result<PlantSimReport> {
    let mut plant = neorl_plant::make(env)?;
    let spec = plant.spec().clone();
    let mut ctx = sync::tcp::connect_with_timeout(addr, Some(Duration::from_secs(10)))
        .with_context(|| format!("connecting to the server's Modbus interface at {addr}"))?;
    let head = ctx
        .read_holding_registers(0, 3)
        .context("reading the register map's header")?
        .map_err(|e| anyhow::anyhow!("the server refused the header read: {e:?}"))?;
    if head != [1, spec.obs_dim() as u16, spec.act_dim() as u16] {
        bail!(
            "the server's register map (version {}, {} observations, {} actions) does not match {env} (version 1, {}, {}): is it serving a policy of another process?",
            head[0],
            head[1],
            head[2],
            spec.obs_dim(),
            spec.act_dim()
        );
    }
    let mut report = PlantSimReport {
        env: env.into(),
        episodes,
        returns: vec![],
        normalized_scores: vec![],
        mean_normalized_score: 0.0,
        steps: 0,
        hard_breaches: 0,
        shutdowns: 0,
        interventions: 0,
        mean_round_trip_us: 0.0,
    };
    let mut seq = 0u16;
    let mut round_trips = 0.0;
    for e in 0..episodes {
        let mut obs = plant.reset(seed + e as u64);
        let mut ret = 0.0;
        for t in 0.. {
            seq = seq.wrapping_add(1);
            let cmd = match (t, operator) {
                (0, Some(op)) => {
                    op.new_run(&obs)?;
                    CMD_ACT
                }
                (0, None) => CMD_NEW_RUN,
                _ => CMD_ACT,
            };
            let mut req = vec![cmd, seq];
            req.extend(obs.iter().flat_map(|&x| f32_to_words(x)));
            let t0 = Instant::now();
            let status = ctx.write_multiple_registers(REQUEST, &req)?;
            let regs = ctx
                .read_holding_registers(0, 10)?
                .map_err(|e| anyhow::anyhow!("reading the result registers: {e:?}"))?;
            if let Err(exc) = status {
                if regs[3] == 2 && t == 0 {
                    bail!(
                        "the server refused a new run (episode {e}): its emergency stop is tripped; an operator must reset it, or pass --http and --operator-token so this plant starts each run as its operator"
                    );
                }
                bail!(
                    "the server refused step {t} of episode {e} ({exc:?}, result register {}); see its log",
                    regs[3]
                );
            }
            let a = ctx
                .read_holding_registers(APPLIED, 2 * spec.act_dim() as u16)?
                .map_err(|e| anyhow::anyhow!("reading the action: {e:?}"))?;
            round_trips += t0.elapsed().as_secs_f64() * 1e6;
            let action: Vec<f32> = a
                .chunks_exact(2)
                .map(|w| words_to_f32(w[0], w[1]))
                .collect();
            report.steps += 1;
            report.interventions += (regs[5] != 0) as u64;
            let (reward, done) = if regs[7] & 4 != 0 {
                report.shutdowns += 1;
                let o = plant.shut_down()?;
                report.hard_breaches += o.hard_violation as u64;
                (o.reward, true)
            } else {
                let s = plant.step(&action)?;
                let breach = s
                    .info
                    .violations
                    .iter()
                    .zip(&spec.constraints)
                    .any(|(v, c)| *v && c.kind == ConstraintKind::Hard);
                report.hard_breaches += breach as u64;
                obs = s.obs;
                (s.reward, s.terminated || s.truncated)
            };
            ret += reward;
            if done {
                break;
            }
        }
        report.returns.push(ret);
        report.normalized_scores.push(spec.normalized_score(ret));
    }
    report.mean_normalized_score =
        report.normalized_scores.iter().sum::<f64>() / episodes.max(1) as f64;
    report.mean_round_trip_us = round_trips / report.steps.max(1) as f64;
    Ok(report)
}
