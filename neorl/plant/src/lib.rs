//! # neorl-plant — the plant side of neorl
//!
//! Seven physics-based industrial processes with hard and soft safety
//! constraints ([`env`]), the plants' own controllers ([`control`]), the
//! safety layer that sits between any policy and any plant ([`safety`]),
//! the estimators of each plant's state from its observations that feed
//! that layer at a real plant ([`estimate`]),
//! the [`Policy`](policy::Policy) trait, a trained agent's policy read from
//! its checkpoint ([`inference`]), rollouts with normalized scores
//! ([`rollout`]) and the one error type ([`Error`]).
//!
//! It carries no learning stack (burn), no data frames (polars), no HDF5,
//! no plotting and no HTTP: a deployment tool — the shielded policy
//! server — builds on this crate alone. Everything here is re-exported by
//! the `neorl` crate under the same paths (`neorl::env`, `neorl::safety`,
//! `neorl::make`, …), which is how notebooks use it.
//!
//! ```no_run
//! use neorl_plant::control::{PolicyKind, make_policy};
//! use neorl_plant::rollout::rollout;
//! let mut env = neorl_plant::make("ChemicalReactor-v0")?;
//! let spec = env.spec().clone();
//! let mut expert = make_policy(&spec, PolicyKind::Expert)?;
//! let report = rollout(&mut env, expert.as_mut(), 10, 0)?;
//! println!("{report}");
//! # Ok::<(), neorl_plant::Error>(())
//! ```
//!
//! Layers, bottom to top (no module imports one above it): [`error`],
//! [`display`], [`limits`] → [`policy`] → [`env`], [`inference`] →
//! [`control`], [`estimate`] → [`safety`] → [`rollout`] → [`report`].

pub mod control;
pub mod display;
pub mod env;
pub mod error;
pub mod estimate;
pub mod inference;
pub mod limits;
pub mod paths;
pub mod policy;
pub mod report;
pub mod rollout;
pub mod safety;

pub use env::{make, make_with};
pub use error::{Error, Result};
