//! What an agent is made of, declared once: each agent lists its networks,
//! tensors and optimisers by checkpoint name ([`Parts`]; the built-in
//! agents through the crate's `declare_parts!`), and [`save`], [`load`]
//! and [`parameters`] walk that list. The checkpoint names are the field
//! names, as they always were, so checkpoints written before the list
//! existed load unchanged.
//!
//! ```ignore
//! declare_parts!(Td3Bc {
//!     actor: Net, critic: Net, actor_target: Target, critic_target: Target,
//!     actor_opt: Adam, critic_opt: Adam,
//! });
//! ```
//!
//! Two more macros write what every built-in agent has in common:
//! `agent_constructors!` its `new` and `load`, `agent_basics!` the
//! bookkeeping methods of its `Agent` impl (name, state, deployable policy,
//! config, `save`). An algorithm's file then holds its config, its networks
//! and its update.

use super::agent::{Agent, TrainState};
use super::checkpoint::Checkpoint;
use super::device::Device;
use super::memory;
use super::nets::{Adam, Mlp, T3, to_vec};
use crate::error::{Error, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;

/// One part of an agent, as written to a checkpoint.
pub enum Part<'a> {
    /// A trained network: `name/0`, `name/1`, … (weights and biases).
    Net(&'a Mlp),
    /// A network without autodiff (a Polyak-averaged target), named as a `Net`.
    Target(&'a Mlp),
    /// One trained tensor: `name`.
    Tensor(&'a T3),
    /// Trained tensors: `name/0`, `name/1`, …
    Tensors(&'a [T3]),
    /// An optimiser: its step count `name/t` and moments `name/m/i`, `name/v/i`.
    Adam(&'a Adam),
    /// Another list of parts, under their own names.
    Nested(&'a dyn Parts),
}

/// One part of an agent, to be read back from a checkpoint (see [`Part`]).
pub enum PartMut<'a> {
    Net(&'a mut Mlp),
    Target(&'a mut Mlp),
    Tensor(&'a mut T3),
    Tensors(&'a mut [T3]),
    Adam(&'a mut Adam),
    Nested(&'a mut dyn Parts),
}

/// The parts of an agent by checkpoint name, in a fixed order.
pub trait Parts {
    fn parts(&self) -> Vec<(&'static str, Part<'_>)>;
    /// The same list as [`Parts::parts`], mutably.
    fn parts_mut(&mut self) -> Vec<(&'static str, PartMut<'_>)>;
    /// Write state that is not a part (COMBO's model buffer). Nothing by default.
    fn put_extra(&self, ck: &mut Checkpoint) {
        let _ = ck;
    }
    /// Read back what [`Parts::put_extra`] wrote. Nothing by default.
    fn get_extra(&mut self, ck: &Checkpoint, device: &Device) -> Result<()> {
        let _ = (ck, device);
        Ok(())
    }
}

/// Write every part of `p` into `ck`.
pub fn put_parts(ck: &mut Checkpoint, p: &dyn Parts) {
    for (name, part) in p.parts() {
        match part {
            Part::Net(net) | Part::Target(net) => ck.put_tensors(name, &net.params),
            Part::Tensor(t) => ck.put_tensor(name, t),
            Part::Tensors(ts) => ck.put_tensors(name, ts),
            Part::Adam(opt) => ck.put_adam(name, opt),
            Part::Nested(inner) => put_parts(ck, inner),
        }
    }
    p.put_extra(ck);
}

/// Read every part of `p` back from `ck`, checking each shape against the
/// part's own (which the config determines).
pub fn get_parts(ck: &Checkpoint, p: &mut dyn Parts, device: &Device) -> Result<()> {
    for (name, part) in p.parts_mut() {
        match part {
            PartMut::Net(net) => ck.load_tensors(name, &mut net.params, device, true)?,
            PartMut::Target(net) => ck.load_tensors(name, &mut net.params, device, false)?,
            PartMut::Tensor(t) => *t = ck.tensor(name, t.dims(), device.autodiff())?.require_grad(),
            PartMut::Tensors(ts) => ck.load_tensors(name, ts, device, true)?,
            PartMut::Adam(opt) => ck.load_adam(name, opt, device)?,
            PartMut::Nested(inner) => get_parts(ck, inner, device)?,
        }
    }
    p.get_extra(ck, device)
}

/// Every network and tensor of `p` (not the optimisers' moments), in the
/// order of its list, on the host: for tests and inspection.
pub fn parameters(p: &dyn Parts) -> Vec<Vec<f32>> {
    let mut out = vec![];
    for (_, part) in p.parts() {
        match part {
            Part::Net(net) | Part::Target(net) => out.extend(net.params.iter().map(to_vec)),
            Part::Tensor(t) => out.push(to_vec(t)),
            Part::Tensors(ts) => out.extend(ts.iter().map(to_vec)),
            Part::Adam(_) => {}
            Part::Nested(inner) => out.extend(parameters(inner)),
        }
    }
    out
}

/// Write a checkpoint of agent `algo` (its config, training state and
/// parts) to `dir`, atomically.
pub fn save(
    dir: &Path,
    algo: &str,
    config: &impl Serialize,
    state: &TrainState,
    p: &dyn Parts,
) -> Result<()> {
    let mut ck = Checkpoint::new(algo, config, state)?;
    put_parts(&mut ck, p);
    ck.write(dir)?;
    Ok(())
}

/// Load an agent of `algo` written by [`save`]: `build` makes a fresh agent
/// from the checkpoint's config and training state (so every part has its
/// shape), then the training state and every part are read back.
pub fn load<A, C>(
    dir: &Path,
    algo: &str,
    device: &Device,
    build: impl FnOnce(TrainState, C, &Device) -> A,
) -> Result<A>
where
    A: Agent + Parts,
    C: DeserializeOwned + Serialize,
{
    let ck = Checkpoint::read(dir)?;
    let config: C = ck.config(algo)?;
    let state = ck.train_state()?;
    // The header's sizes are the file's word: check them before building.
    memory::check(algo, &state, &config).map_err(|e| Error::Checkpoint {
        path: dir.to_path_buf(),
        reason: format!("{e} (the checkpoint asks for this: it is corrupt, or was written on a machine with more memory)"),
    })?;
    let mut agent = build(state.clone(), config, device);
    *agent.state_mut() = state;
    get_parts(&ck, &mut agent, device)?;
    Ok(agent)
}

/// Implement [`Parts`] for a struct from the list of its part fields, each
/// with its kind (a [`Part`] variant); the field names are the checkpoint
/// names. An optional `extra: (put, get)` names the struct's own methods
/// for state that is not a part ([`Parts::put_extra`], [`Parts::get_extra`]).
macro_rules! declare_parts {
    ($ty:ty { $($field:ident: $kind:ident),* $(,)? } $(, extra: ($put:ident, $get:ident))?) => {
        impl $crate::agents::parts::Parts for $ty {
            fn parts(&self) -> Vec<(&'static str, $crate::agents::parts::Part<'_>)> {
                vec![$((stringify!($field), $crate::agents::parts::Part::$kind(&self.$field))),*]
            }
            fn parts_mut(&mut self) -> Vec<(&'static str, $crate::agents::parts::PartMut<'_>)> {
                vec![$((stringify!($field), $crate::agents::parts::PartMut::$kind(&mut self.$field))),*]
            }
            $(
                fn put_extra(&self, ck: &mut $crate::agents::Checkpoint) {
                    self.$put(ck)
                }
                fn get_extra(
                    &mut self,
                    ck: &$crate::agents::Checkpoint,
                    device: &$crate::agents::Device,
                ) -> $crate::Result<()> {
                    self.$get(ck, device)
                }
            )?
        }
    };
}
pub(crate) use declare_parts;

/// The constructors every built-in agent has, inside its inherent `impl`:
/// `new` (a fresh agent from its config, through the agent's own `build`,
/// once the config's `validate` and the memory check pass) and `load` (a
/// checkpoint, through [`load`], its config validated too). With `normalize_reward`,
/// the config's field of that name says whether rewards are scaled.
macro_rules! agent_constructors {
    (@flag $config:ident) => {
        false
    };
    (@flag $config:ident, normalize_reward) => {
        $config.normalize_reward
    };
    ($config:ty $(, $flag:ident)?) => {
        /// A fresh agent for the environment `spec`, its weights drawn from
        /// `config.seed`.
        pub fn new(
            spec: &$crate::env::EnvSpec,
            config: $config,
            device: &$crate::agents::Device,
        ) -> $crate::Result<Self> {
            config.validate()?;
            let normalize_reward =
                $crate::agents::parts::agent_constructors!(@flag config $(, $flag)?);
            let state = $crate::agents::TrainState::new(
                spec,
                config.batch_size,
                config.seed,
                normalize_reward,
            );
            $crate::agents::memory::check(ALGO, &state, &config)?;
            Ok(Self::build(state, config, device))
        }

        /// Load a checkpoint written by `save` to continue training or deploy.
        pub fn load(
            dir: impl AsRef<std::path::Path>,
            device: &$crate::agents::Device,
        ) -> $crate::Result<Self> {
            let agent: Self =
                $crate::agents::parts::load(dir.as_ref(), ALGO, device, Self::build)?;
            agent.config.validate().map_err(|e| $crate::Error::Checkpoint {
                path: dir.as_ref().to_path_buf(),
                reason: format!("its config is out of range ({e})"),
            })?;
            Ok(agent)
        }
    };
}
pub(crate) use agent_constructors;

/// The [`Agent`] methods every built-in agent shares, inside its `impl
/// Agent`: `algo` (the file's `ALGO`), `state` and `state_mut` (its
/// `state` field), `policy` (the mean action of the network at the given
/// field path, on the CPU), `config_json` (its `config` field) and `save`
/// (config, state and [`Parts`]).
macro_rules! agent_basics {
    ($($actor:ident).+) => {
        fn algo(&self) -> &str {
            ALGO
        }
        fn state(&self) -> &$crate::agents::TrainState {
            &self.state
        }
        fn state_mut(&mut self) -> &mut $crate::agents::TrainState {
            &mut self.state
        }
        fn compute_device(&self) -> Option<&$crate::agents::Device> {
            Some(&self.device)
        }
        fn policy(&self) -> $crate::agents::AgentPolicy {
            $crate::agents::AgentPolicy::new(ALGO, self.$($actor).+.host(0), self.state.normalizer())
        }
        fn config_json(&self) -> serde_json::Value {
            serde_json::to_value(&self.config).unwrap_or_default()
        }
        fn save_checkpoint(&self, dir: &std::path::Path) -> $crate::Result<()> {
            $crate::agents::parts::save(dir, ALGO, &self.config, &self.state, self)
        }
    };
}
pub(crate) use agent_basics;
