//! The former home of the transition types, which now live in
//! [`crate::data::batch`]: the old paths still resolve. `Buffer` is now
//! [`Dataset`](crate::data::Dataset) (make one from a controller with
//! [`Dataset::from_controller`](crate::data::Dataset::from_controller)),
//! and `TransitionBatch` is [`crate::data::Batch`].

#[doc(hidden)]
pub use crate::data::{Batch as TransitionBatch, BatchSource, Dataset as Buffer};
