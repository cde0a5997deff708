//! What a run records, as plain data: [`Record`]s (the unit of the durable
//! spool and of the local store), [`Metric`] points, run [`Status`], and the
//! limits MLflow puts on keys, values and batches.
//!
//! Limits are MLflow's own (`mlflow/utils/validation.py`): at most 1000
//! metrics, 100 params and 100 tags per `log-batch` (1000 entities in all),
//! keys of at most 250 characters made of letters, digits, `_ - . / :` and
//! spaces, param values of at most 6000 characters, tag values of at most
//! 8000.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Metrics per `log-batch` request (MLflow's `MAX_METRICS_PER_BATCH`).
pub const MAX_METRICS_PER_BATCH: usize = 1000;
/// Params or tags per `log-batch` request (`MAX_PARAMS_TAGS_PER_BATCH`).
pub const MAX_PARAMS_TAGS_PER_BATCH: usize = 100;
/// Entities of all kinds per request (`MAX_ENTITIES_PER_BATCH`).
pub const MAX_ENTITIES_PER_BATCH: usize = 1000;
/// Longest key (`MAX_ENTITY_KEY_LENGTH`).
pub const MAX_KEY_LENGTH: usize = 250;
/// Longest param value (`MAX_PARAM_VAL_LENGTH`).
pub const MAX_PARAM_VALUE_LENGTH: usize = 6000;
/// Longest tag value (`MAX_TAG_VAL_LENGTH`).
pub const MAX_TAG_VALUE_LENGTH: usize = 8000;

/// Life-cycle state of a run, with MLflow's names and numeric codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Running,
    Scheduled,
    Finished,
    Failed,
    Killed,
}

impl Status {
    /// MLflow's `RunStatus` name (`"FINISHED"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "RUNNING",
            Status::Scheduled => "SCHEDULED",
            Status::Finished => "FINISHED",
            Status::Failed => "FAILED",
            Status::Killed => "KILLED",
        }
    }

    /// The integer the file store writes in `meta.yaml` (`RunStatus` proto).
    pub fn code(self) -> u8 {
        match self {
            Status::Running => 1,
            Status::Scheduled => 2,
            Status::Finished => 3,
            Status::Failed => 4,
            Status::Killed => 5,
        }
    }

    pub fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            1 => Status::Running,
            2 => Status::Scheduled,
            3 => Status::Finished,
            4 => Status::Failed,
            5 => Status::Killed,
            _ => return None,
        })
    }

    pub fn parse(name: &str) -> Option<Self> {
        [
            Status::Running,
            Status::Scheduled,
            Status::Finished,
            Status::Failed,
            Status::Killed,
        ]
        .into_iter()
        .find(|s| s.as_str().eq_ignore_ascii_case(name))
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One metric point: MLflow's `(key, value, timestamp, step)`.
///
/// The timestamp is taken when the point is logged and never changed, so a
/// point re-sent after an outage is the identical tuple (see `spool`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub key: String,
    /// NaN and ±∞ are kept (sent to servers as `"NaN"`, `"Infinity"`).
    #[serde(with = "float_or_name")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    pub step: i64,
}

/// A key/value pair (param or tag).
pub type Pair = (String, String);

/// One durable record of a run, in the order it was logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Record {
    /// The run starts (creates the experiment too when it is missing).
    Create {
        experiment: String,
        run_name: String,
        /// Milliseconds since the Unix epoch.
        start_time: i64,
        user: String,
        tags: Vec<Pair>,
    },
    /// Metrics, params and tags, each list within MLflow's batch limits.
    Batch {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        metrics: Vec<Metric>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        params: Vec<Pair>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tags: Vec<Pair>,
    },
    /// A file to store at `dest` (a `/`-separated path under the run's
    /// artifact root); `file` is the copy kept with the record.
    Artifact { file: String, dest: String },
    /// The run ends.
    End { status: Status, end_time: i64 },
}

impl Record {
    /// Entities this record adds to a `log-batch` request (0 for non-batches).
    pub fn entities(&self) -> (usize, usize, usize) {
        match self {
            Record::Batch {
                metrics,
                params,
                tags,
            } => (metrics.len(), params.len(), tags.len()),
            _ => (0, 0, 0),
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Check a metric, param or tag key against MLflow's rules.
pub fn check_key(what: &str, key: &str) -> Result<()> {
    let ok_chars = key
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':' | ' '));
    let bad = if key.is_empty() {
        Some("it is empty")
    } else if key.chars().count() > MAX_KEY_LENGTH {
        Some("it is longer than 250 characters")
    } else if !ok_chars {
        Some("MLflow allows only letters, digits, '_', '-', '.', '/', ':' and spaces")
    } else if key.starts_with('/') || key.split('/').any(|p| p == ".." || p == ".") {
        Some("it must be a relative path without '.' or '..' parts")
    } else {
        None
    };
    match bad {
        Some(why) => Err(Error::InvalidArgument(format!(
            "{what} key '{key}' cannot be tracked: {why}; rename it"
        ))),
        None => Ok(()),
    }
}

/// A param value MLflow accepts: longer ones are cut to 6000 characters
/// with a marker (the full value belongs in an artifact).
pub fn param_value(v: &str) -> String {
    truncate(v, MAX_PARAM_VALUE_LENGTH)
}

/// A tag value MLflow accepts (cut to 8000 characters).
pub fn tag_value(v: &str) -> String {
    truncate(v, MAX_TAG_VALUE_LENGTH)
}

fn truncate(v: &str, max: usize) -> String {
    if v.chars().count() <= max {
        return v.to_string();
    }
    const MARK: &str = "...[truncated]";
    let keep = max - MARK.len();
    let mut s: String = v.chars().take(keep).collect();
    s.push_str(MARK);
    s
}

/// Flatten a JSON value into `(key, value)` params: objects by `.`-joined
/// keys (`agent.hidden`), scalars as text, arrays as compact JSON
/// (`[256,256]`), null as `None`. Keys with characters MLflow rejects have
/// them replaced by `_`.
pub fn flatten_params(prefix: &str, v: &serde_json::Value, out: &mut Vec<Pair>) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                let key = if prefix.is_empty() {
                    sanitize_key(k)
                } else {
                    format!("{prefix}.{}", sanitize_key(k))
                };
                flatten_params(&key, x, out);
            }
        }
        Value::String(s) => out.push((prefix.to_string(), param_value(s))),
        Value::Null => out.push((prefix.to_string(), "None".into())),
        other => out.push((prefix.to_string(), param_value(&other.to_string()))),
    }
}

/// Replace characters MLflow does not allow in keys by `_`.
pub fn sanitize_key(k: &str) -> String {
    k.chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Split params and tags into [`Record::Batch`]es within MLflow's limits.
pub fn batches(params: Vec<Pair>, tags: Vec<Pair>) -> Vec<Record> {
    let mut out = vec![];
    let mut p = params.into_iter().peekable();
    let mut t = tags.into_iter().peekable();
    while p.peek().is_some() || t.peek().is_some() {
        out.push(Record::Batch {
            metrics: vec![],
            params: p.by_ref().take(MAX_PARAMS_TAGS_PER_BATCH).collect(),
            tags: t.by_ref().take(MAX_PARAMS_TAGS_PER_BATCH).collect(),
        });
    }
    out
}

/// Serde for metric values in the journal: the shortest text that reads
/// back to the same `f64` (`"0.1"`, `"NaN"`, `"-Infinity"`), as a string,
/// because serde_json's default number parser may be off by one unit in the
/// last place and a re-sent point must be the identical tuple. Numbers are
/// read too (MLflow's answers).
pub(crate) mod float_or_name {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&name(*v))
    }

    /// MLflow's JSON names for non-finite values, else Rust's exact `{:?}`.
    pub fn name(v: f64) -> String {
        if v.is_nan() {
            "NaN".into()
        } else if v == f64::INFINITY {
            "Infinity".into()
        } else if v == f64::NEG_INFINITY {
            "-Infinity".into()
        } else {
            format!("{v:?}")
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum F {
            N(f64),
            S(String),
        }
        match F::deserialize(d)? {
            F::N(x) => Ok(x),
            F::S(s) => match s.as_str() {
                "NaN" | "nan" => Ok(f64::NAN),
                "Infinity" | "inf" => Ok(f64::INFINITY),
                "-Infinity" | "-inf" => Ok(f64::NEG_INFINITY),
                other => other.parse().map_err(serde::de::Error::custom),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_mlflow_rules() {
        assert!(check_key("metric", "critic_loss").is_ok());
        assert!(check_key("metric", "eval/normalized score:1").is_ok());
        assert!(check_key("metric", "").is_err());
        assert!(check_key("metric", "a\"b").is_err());
        assert!(check_key("metric", "../x").is_err());
        assert!(check_key("metric", &"k".repeat(251)).is_err());
    }

    #[test]
    fn params_flatten_and_split() {
        let v =
            serde_json::json!({"hidden": [256, 256], "lr": 3e-4, "name": "x", "n": {"a b": null}});
        let mut out = vec![];
        flatten_params("agent", &v, &mut out);
        assert!(out.contains(&("agent.hidden".into(), "[256,256]".into())));
        assert!(out.contains(&("agent.lr".into(), "0.0003".into())));
        assert!(out.contains(&("agent.name".into(), "x".into())));
        assert!(out.contains(&("agent.n.a b".into(), "None".into())));
        let many: Vec<Pair> = (0..250).map(|i| (format!("p{i}"), i.to_string())).collect();
        let b = batches(many, vec![("t".into(), "v".into())]);
        assert_eq!(b.len(), 3);
        assert!(
            b.iter()
                .all(|r| r.entities().1 <= MAX_PARAMS_TAGS_PER_BATCH)
        );
        assert_eq!(b.iter().map(|r| r.entities().1).sum::<usize>(), 250);
        assert_eq!(param_value(&"x".repeat(7000)).chars().count(), 6000);
    }

    #[test]
    fn records_round_trip_with_non_finite_values() {
        let r = Record::Batch {
            metrics: vec![
                Metric {
                    key: "a".into(),
                    value: f64::NAN,
                    timestamp: 1,
                    step: 0,
                },
                Metric {
                    key: "a".into(),
                    value: f64::NEG_INFINITY,
                    timestamp: 2,
                    step: 1,
                },
                Metric {
                    key: "a".into(),
                    value: 0.25,
                    timestamp: 3,
                    step: 2,
                },
            ],
            params: vec![],
            tags: vec![],
        };
        let line = serde_json::to_string(&r).unwrap();
        assert!(line.contains("\"NaN\"") && line.contains("\"-Infinity\""));
        // Exact round trip where serde_json's own float parser is off by an ulp.
        let x = 14f64.sqrt();
        let m = Metric {
            key: "a".into(),
            value: x,
            timestamp: 0,
            step: 0,
        };
        let back: Metric = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back.value.to_bits(), x.to_bits());
        let back: Record = serde_json::from_str(&line).unwrap();
        let Record::Batch { metrics, .. } = back else {
            panic!()
        };
        assert!(metrics[0].value.is_nan());
        assert_eq!(metrics[1].value, f64::NEG_INFINITY);
        assert_eq!(metrics[2].value, 0.25);
        for s in [Status::Finished, Status::Killed] {
            assert_eq!(Status::from_code(s.code() as i64), Some(s));
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
    }
}
