//! Policy inference on the plant side: a trained agent's deterministic
//! policy, read from its checkpoint and run on the CPU without the learning
//! stack.
//!
//! Training (the `neorl` crate, on burn) writes a checkpoint folder
//! (`DIR/agent.ckpt`); a plant-side program — the shielded policy server,
//! an edge controller — needs only three things from it: the observation
//! standardisation, the actor's weights and the action bounds. This module
//! reads them and nothing else:
//!
//! - [`file`]: the checkpoint container (magic, version, JSON header,
//!   tensor blob, SHA-256 digest), read and verified; the `neorl` crate
//!   writes and reads the same container through it.
//! - [`Normalizer`]: observation standardisation and the map between the
//!   policy's `[-1, 1]` actions and the plant's units.
//! - [`HostMlp`]: one multi-layer perceptron evaluated with plain loops
//!   (a few microseconds per observation, bit-identical on every machine).
//! - [`AgentPolicy`]: normalise → actor → tanh → action bounds, as a
//!   [`Policy`](crate::policy::Policy); [`AgentPolicy::from_checkpoint`]
//!   builds it from a checkpoint folder of any of neorl's algorithms.

pub mod agent_policy;
pub mod file;
pub mod mlp;
pub mod normalizer;

pub use agent_policy::AgentPolicy;
pub use mlp::HostMlp;
pub use normalizer::Normalizer;
