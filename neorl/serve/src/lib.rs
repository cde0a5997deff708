//! # neorl-serve — a trained policy on the plant floor, behind its safety layer
//!
//! The inference pipeline of neorl's design: the plant reports an
//! observation; the server estimates the plant's state from it
//! (`neorl_plant::estimate`), the monitor watches the constraints of that
//! state, the policy proposes an action, the operator's override, the
//! emergency stop and the shield decide what is applied
//! (`neorl_plant::safety::Supervisor`), and the answer goes back — with the
//! hash-chained audit log beside every step that is not a plain policy step.
//!
//! - [`engine`]: that decision path for one plant, and the latched e-stop
//!   that survives a restart.
//! - [`http`]: HTTP/JSON (`POST /v1/act`, operator endpoints, status,
//!   health, readiness, metrics), bearer tokens with roles ([`auth`]).
//! - [`modbus`]: Modbus TCP holding registers (its register map).
//! - [`metrics`]: Prometheus metrics.
//! - [`server`]: listeners, TLS (rustls), SIGTERM draining.
//! - [`config`]: `serve.toml`; [`cli`]: `neorl serve`.
//! - [`plant_sim`]: `neorl plant-sim`, a simulated plant that talks to the
//!   server over Modbus TCP as a PLC would (hardware-in-the-loop checks).
//!
//! It depends on the plant crate and what serving needs, never on the
//! learning stack: `neorl-serve` builds without burn, polars, HDF5 or
//! plotly (`scripts/check_architecture.sh` checks it).

pub mod auth;
pub mod cli;
pub mod config;
pub mod engine;
pub mod http;
pub mod metrics;
pub mod modbus;
pub mod plant_sim;
pub mod server;
