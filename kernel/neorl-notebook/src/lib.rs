//! neorl, re-exported whole, for the evcxr kernel (see Cargo.toml for why
//! this crate exists). In a notebook `neorl::…` names this crate, so every
//! path of the library works unchanged.
pub use neorl::*;
