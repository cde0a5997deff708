//! Real components the integration tests start and stop: an MLflow
//! tracking server and a single-node SLURM cluster.

pub mod mlflow;
#[allow(dead_code)]
pub mod slurm;
