//! Paths as text. A Unix path may be any bytes, while JSON strings and
//! reports are Unicode: serde refuses to serialize a `PathBuf` that is not
//! UTF-8, which would turn a successful run into a "JSON error". The
//! serializers here write a path's lossy form instead (each invalid byte
//! sequence becomes U+FFFD), which is what a person reading the output can
//! use; a UTF-8 path is written exactly as before. Use them with
//! `#[serde(serialize_with = "…")]` on every serialized path field.

use serde::Serializer;
use std::path::{Path, PathBuf};

/// Serialize `path` as its lossy UTF-8 text.
pub fn serialize<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

/// [`serialize`] for an optional path (`null` when absent).
pub fn serialize_opt<S: Serializer>(path: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
    match path {
        Some(p) => serialize(p, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use serde::Serialize;
    use std::path::PathBuf;

    #[derive(Serialize)]
    struct Out {
        #[serde(serialize_with = "super::serialize")]
        path: PathBuf,
        #[serde(serialize_with = "super::serialize_opt")]
        other: Option<PathBuf>,
    }

    #[test]
    fn utf8_paths_are_unchanged_and_others_are_lossy() {
        let out = Out {
            path: PathBuf::from("runs/a b.h5"),
            other: None,
        };
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            r#"{"path":"runs/a b.h5","other":null}"#
        );
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let odd = PathBuf::from(std::ffi::OsStr::from_bytes(b"runs/\xff.h5"));
            // serde alone refuses it; ours writes U+FFFD for the bad byte.
            assert!(serde_json::to_string(&odd).is_err());
            let out = Out {
                path: odd.clone(),
                other: Some(odd),
            };
            assert_eq!(
                serde_json::to_string(&out).unwrap(),
                "{\"path\":\"runs/\u{fffd}.h5\",\"other\":\"runs/\u{fffd}.h5\"}"
            );
        }
    }
}
