//! The one error type of the library.
//!
//! Every message says what was wrong and what to do about it: these errors are
//! read by people in notebooks, not by programs.

use std::path::PathBuf;

/// Everything that can go wrong in neorl.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An environment id that is not in the registry.
    #[error(
        "unknown environment '{id}'; known environments: {known} (run `neorl envs` to list them)"
    )]
    UnknownEnv { id: String, known: String },

    /// A policy kind that has no controller for this environment.
    #[error("unknown policy '{name}'; choose one of: {known}")]
    UnknownPolicy { name: String, known: String },

    /// An action of the wrong length.
    #[error(
        "{env}: the action has {got} values but the environment expects {expected} ({names}); pass one value per action dimension"
    )]
    ActionShape {
        env: String,
        got: usize,
        expected: usize,
        names: String,
    },

    /// An action with NaN or ±Inf in it.
    #[error(
        "{env}: action[{index}] ({name}) is {value}; actions must be finite numbers (the state was left unchanged)"
    )]
    NonFiniteAction {
        env: String,
        index: usize,
        name: String,
        value: f32,
    },

    /// An observation buffer or other array of the wrong length.
    #[error("{what}: expected {expected} values, got {got}")]
    Shape {
        what: String,
        expected: usize,
        got: usize,
    },

    /// `step` after the episode ended.
    #[error("{env}: the episode is over (terminated or truncated); call reset() before step()")]
    EpisodeOver { env: String },

    /// `step` before the first `reset`.
    #[error("{env}: the environment has not been reset; call reset(seed) before step()")]
    NotReset { env: String },

    /// A bad argument from the user, with what would be valid.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// A policy failed while choosing an action.
    #[error("policy '{policy}' failed: {reason}")]
    Policy { policy: String, reason: String },

    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A size (from an argument, a setting or a file) that needs more memory
    /// than the machine has: refused before anything is allocated.
    #[error("{what} needs at least {needs} of memory, but there is {available}; {fix}")]
    TooLarge {
        what: String,
        needs: String,
        available: String,
        fix: String,
    },

    /// A file longer than anything of its kind can be (a device such as
    /// `/dev/zero`, or the wrong file).
    #[error("{path}: longer than {limit}, so it cannot be {what}; check the path")]
    FileTooLarge {
        path: PathBuf,
        what: String,
        limit: String,
    },

    /// A dataset file that cannot be used: not HDF5, truncated, corrupt, a
    /// missing key, a wrong dtype or shape, mismatched lengths.
    #[error("dataset file {path}: {problem}")]
    DataFile { path: PathBuf, problem: String },

    /// A dataset whose content does not hash to the SHA-256 it should have.
    #[error(
        "{what}: content SHA-256 is {actual} but {expected} was expected ({source_of_expected}); {fix}"
    )]
    Checksum {
        what: String,
        expected: String,
        actual: String,
        source_of_expected: String,
        fix: String,
    },

    /// A dataset file whose metadata (root attributes: ids, names,
    /// reference scores, recipe) does not hash to its `metadata_sha256`.
    #[error(
        "dataset file {path}: its metadata (dataset_id, env_id, observation_names and the other root attributes) hashes to {actual} but its metadata_sha256 attribute says {expected}: the attributes were modified or are corrupt; delete the file and generate it again (`neorl datasets generate ID`)"
    )]
    MetadataChecksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },

    /// A dataset id that is not in the registry.
    #[error(
        "unknown dataset '{id}'; known datasets: {known} (run `neorl datasets list` to list them)"
    )]
    UnknownDataset { id: String, known: String },

    /// The dataset registry (datasets/registry.toml or an override) is malformed.
    #[error("dataset registry {path}: {problem}")]
    Registry { path: String, problem: String },

    /// A DataFrame or Parquet operation failed.
    #[error("{context}: {message}")]
    Frame { context: String, message: String },

    /// A compute device that cannot be used.
    #[error("device: {0}")]
    Device(String),

    /// Training that cannot go on (divergence, bad data).
    #[error("training failed: {0}")]
    Training(String),

    /// A checkpoint that cannot be read or does not match.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint { path: PathBuf, reason: String },

    /// A safety state machine was asked for a transition it does not allow
    /// (reset an armed emergency stop, hand back without a take-over, ...).
    #[error("safety: {0}")]
    SafetyState(String),

    /// The audit log could not be opened or appended to.
    #[error("audit log {path}: {reason}")]
    AuditLog { path: PathBuf, reason: String },

    /// Experiment tracking (MLflow store or server) cannot go on.
    #[error("tracking: {0}")]
    Tracking(String),

    /// JSON that could not be produced or parsed.
    #[error("JSON error in {context}: {source}")]
    Json {
        context: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A problem with a dataset file.
    pub fn data_file(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        Error::DataFile {
            path: path.into(),
            problem: problem.into(),
        }
    }

    /// Wrap an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
