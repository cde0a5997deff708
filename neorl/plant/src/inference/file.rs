//! The checkpoint container: what `neorl train` and `agent.save` write to
//! `DIR/agent.ckpt`, read and verified without the learning stack.
//!
//! ```text
//! b"NEORLCK\0"  u32 format version  u64 header length   (little-endian)
//! header: JSON (algo, env, config, step, RNG state, normaliser, dataset,
//!         tensor index, checksum of the blob)
//! blob:   every tensor as little-endian f32, in index order
//! digest: SHA-256 of every byte before it (prefix, header and blob)
//! ```
//!
//! **Versions.** Version 2 appends the digest, so a changed byte anywhere —
//! a normalisation statistic, the step, the RNG state, the config, a weight
//! — makes the file fail to load as corrupt. Version-1 files (only the blob
//! was checksummed, with FNV-1a) still load, with one warning on stderr per
//! file and process. The `neorl` crate's `agents::Checkpoint` writes this
//! layout and reads it through [`read`], then interprets the header.
//!
//! [`read`] takes untrusted bytes: every length comes from the file, so each
//! is checked before it is used — the header against [`MAX_HEADER_BYTES`],
//! the tensor data against the memory available, every offset with checked
//! arithmetic. A device such as `/dev/zero` ends at its first bytes (wrong
//! magic). No input makes it panic.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::error::{Error, Result};
use crate::limits::check_memory;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The first eight bytes of every checkpoint.
pub const MAGIC: &[u8; 8] = b"NEORLCK\0";
/// The longest header a reader accepts (the header of a COMBO checkpoint
/// with its whole metric history is well under a megabyte).
pub const MAX_HEADER_BYTES: u64 = 64 << 20;
/// Version of the file layout written; bumped on incompatible changes.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest version read (version 1: no digest over the header).
pub const OLDEST_READ_VERSION: u32 = 1;
/// Bytes of the trailing SHA-256 digest (version 2 on).
const DIGEST_BYTES: u64 = 32;
/// File name inside a checkpoint folder.
pub const FILE_NAME: &str = "agent.ckpt";

/// One tensor of the blob: its name and shape (the header's index).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorEntry {
    pub name: String,
    pub shape: Vec<usize>,
}

/// The part of the header the container itself needs (the rest is the
/// writer's business; serde skips it here).
#[derive(Debug, Deserialize)]
struct Index {
    tensors: Vec<TensorEntry>,
    blob_len: u64,
    /// FNV-1a 64 of the blob, hex.
    blob_fnv1a: String,
}

/// A checkpoint file read and verified: its header's JSON bytes and its
/// tensors, in index order.
#[derive(Debug, Clone)]
pub struct Container {
    /// The file read (`DIR/agent.ckpt`).
    pub path: PathBuf,
    pub version: u32,
    /// The header, JSON, as written.
    pub header: Vec<u8>,
    pub tensors: Vec<TensorEntry>,
    /// One vector per entry of `tensors`.
    pub data: Vec<Vec<f32>>,
}

impl Container {
    /// The stored tensor `name`: its shape and its data.
    pub fn entry(&self, name: &str) -> Option<(&[usize], &[f32])> {
        self.tensors
            .iter()
            .zip(&self.data)
            .find(|(t, _)| t.name == name)
            .map(|(t, d)| (t.shape.as_slice(), d.as_slice()))
    }

    /// A checkpoint error about this file.
    pub fn error(&self, reason: impl Into<String>) -> Error {
        Error::Checkpoint {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }
}

/// The trailing digest of a version-2 file: SHA-256 of its prefix, header
/// and blob.
pub fn digest(prefix: &[u8], header: &[u8], blob: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prefix);
    h.update(header);
    h.update(blob);
    h.finalize().into()
}

/// FNV-1a (64-bit) of `bytes`: the blob checksum of the header.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The 20-byte prefix of a file whose header is `header_len` bytes long.
pub fn prefix(header_len: usize) -> Vec<u8> {
    let mut p = MAGIC.to_vec();
    p.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    p.extend_from_slice(&(header_len as u64).to_le_bytes());
    p
}

/// Where the checkpoint of `dir` is: `dir/agent.ckpt`, or `dir` itself if
/// it is a file.
pub fn path_in(dir: &Path) -> PathBuf {
    if dir.is_dir() {
        dir.join(FILE_NAME)
    } else {
        dir.to_path_buf()
    }
}

/// Read into `buf` until it is full or the file ends; the bytes read.
fn read_up_to(file: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while let Some(free) = buf.get_mut(filled..).filter(|f| !f.is_empty()) {
        match file.read(free)? {
            0 => break,
            n => filled = filled.saturating_add(n),
        }
    }
    Ok(filled)
}

/// Up to `n` bytes of `file` (fewer where it ends), read in pieces so that
/// a wrong length costs only what the file holds.
fn take_bytes(file: &mut impl Read, n: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.take(n).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Once per file and process: a version-1 file's header is unprotected.
fn warn_version_1(path: &Path) {
    static WARNED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let first = WARNED
        .lock()
        .is_ok_and(|mut w| match w.iter().any(|p| p == path) {
            true => false,
            false => {
                w.push(path.to_path_buf());
                true
            }
        });
    if first {
        eprintln!(
            "warning: {} is a version-1 checkpoint: its header (config, normalisation, step, RNG state, dataset) is not covered by a checksum, so a corrupt header would go unnoticed; save the loaded agent again to rewrite it as version {FORMAT_VERSION}",
            path.display()
        );
    }
}

/// Read and verify `dir/agent.ckpt` (or `dir` itself if it is a file):
/// magic, version, lengths, digest, blob checksum and every tensor's extent.
#[deny(clippy::arithmetic_side_effects)]
pub fn read(dir: impl AsRef<Path>) -> Result<Container> {
    let path = path_in(dir.as_ref());
    let bad = |reason: String| Error::Checkpoint {
        path: path.clone(),
        reason,
    };
    let mut file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    let mut prefix = [0u8; 20];
    let got = read_up_to(&mut file, &mut prefix).map_err(|e| Error::io(&path, e))?;
    let (magic, rest) = prefix.split_at(8);
    let (version, hlen) = rest.split_at(4);
    if got < prefix.len() || magic != MAGIC {
        return Err(bad("not a neorl checkpoint (wrong magic bytes); pass the folder written by `neorl train` or `agent.save`".into()));
    }
    let version = u32::from_le_bytes(version.try_into().unwrap_or_default());
    if !(OLDEST_READ_VERSION..=FORMAT_VERSION).contains(&version) {
        return Err(bad(format!(
            "format version {version}, this neorl reads versions {OLDEST_READ_VERSION} to {FORMAT_VERSION}; use the neorl version that wrote it"
        )));
    }
    let trailer = match version {
        1 => 0,
        _ => DIGEST_BYTES,
    };
    let hlen = u64::from_le_bytes(hlen.try_into().unwrap_or_default());
    if hlen > MAX_HEADER_BYTES {
        return Err(bad(format!(
            "its header length field says {hlen} bytes, more than any checkpoint header ({MAX_HEADER_BYTES} at most); the file is corrupt"
        )));
    }
    let header = take_bytes(&mut file, hlen).map_err(|e| Error::io(&path, e))?;
    if header.len() as u64 != hlen {
        return Err(bad(
            "truncated header; the file is incomplete or corrupt".into()
        ));
    }
    let index: Index =
        serde_json::from_slice(&header).map_err(|e| bad(format!("corrupt header ({e})")))?;
    check_memory(
        "its tensor data",
        u128::from(index.blob_len),
        "the header's length is corrupt, or the checkpoint was written on a machine with more memory",
    )
    .map_err(|e| bad(e.to_string()))?;
    let expected = index.blob_len.saturating_add(trailer);
    let mut blob =
        take_bytes(&mut file, expected.saturating_add(1)).map_err(|e| Error::io(&path, e))?;
    if blob.len() as u64 != expected {
        let got = match blob.len() as u64 > expected {
            true => "longer".to_string(),
            false => format!("{} bytes", blob.len()),
        };
        return Err(bad(format!(
            "tensor data and digest are {got}, the header says {expected}; the file is truncated or corrupt"
        )));
    }
    // The length check above makes this the blob / digest boundary.
    let stored = blob.split_off(blob.len().saturating_sub(trailer as usize));
    if version == 1 {
        warn_version_1(&path);
    } else if digest(&prefix, &header, &blob).as_slice() != stored.as_slice() {
        return Err(bad(
            "checksum mismatch: the file is corrupt (its header — config, normalisation statistics, step, RNG state, dataset — or its tensor data changed after it was written); restore it from a copy or train again".into(),
        ));
    }
    if format!("{:016x}", fnv1a(&blob)) != index.blob_fnv1a {
        return Err(bad(
            "checksum mismatch: the tensor data is corrupt; restore the file from a copy or train again".into(),
        ));
    }
    let mut data = Vec::with_capacity(index.tensors.len().min(blob.len()));
    let mut rest = blob.as_slice();
    for t in &index.tensors {
        let bytes = t
            .shape
            .iter()
            .try_fold(4usize, |n, &d| n.checked_mul(d))
            .filter(|&n| n <= rest.len())
            .ok_or_else(|| bad(format!("tensor '{}' runs past the end of the data", t.name)))?;
        let (this, next) = rest.split_at(bytes);
        data.push(
            this.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap_or_default()))
                .collect(),
        );
        rest = next;
    }
    Ok(Container {
        path,
        version,
        header,
        tensors: index.tensors,
        data,
    })
}
