//! Files a sweep writes that others read while it runs: whole or not at all.

use crate::error::{Error, Result};
use serde::Serialize;
use std::path::Path;

/// Write `bytes` to `path` through a temporary file and a rename, so a
/// reader sees the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// [`write_atomic`] of a value as pretty JSON.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|source| Error::Json {
        context: path.display().to_string(),
        source,
    })?;
    write_atomic(path, text.as_bytes())
}
