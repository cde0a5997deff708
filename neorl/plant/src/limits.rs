//! What a program may take from the machine and from a file: the memory
//! available to this process, the check that a size fits before anything is
//! allocated, reads of user-named files that stop at a size limit, and the
//! check that a file about to be replaced is a file.
//!
//! A failed allocation aborts a Rust process (no error, no message), and a
//! read of `/dev/zero` or a multi-gigabyte file passed by mistake never
//! ends. So every size that comes from a user or a file is checked here
//! first, with an error that says how much was asked for and how much there
//! is, and files named by users are read with a limit.

// A reader of untrusted bytes: no panic on any input (issue 17). Unwraps,
// panics and unchecked indexing are errors here; arithmetic on counts and
// lengths read from a file is checked where it happens.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// The memory this process can still allocate, in bytes: on Linux the
/// smaller of the kernel's `MemAvailable` and what the process's cgroup
/// (container) limit leaves; `None` where neither can be read (other
/// systems), in which case [`check_memory`] only refuses sizes no address
/// space can hold.
pub fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| mem_available_kib(&t))
        .map(|kib| kib.saturating_mul(1024));
    let cgroup = cgroup_headroom();
    match (meminfo, cgroup) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// `MemAvailable` of `/proc/meminfo`, in KiB.
fn mem_available_kib(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// What the cgroup's memory limit leaves (v2, then v1); `None` without a limit.
fn cgroup_headroom() -> Option<u64> {
    let read = |p: &str| -> Option<u64> { std::fs::read_to_string(p).ok()?.trim().parse().ok() };
    let (limit, usage) = match read("/sys/fs/cgroup/memory.max") {
        Some(l) => (l, read("/sys/fs/cgroup/memory.current")?),
        None => (
            read("/sys/fs/cgroup/memory/memory.limit_in_bytes")?,
            read("/sys/fs/cgroup/memory/memory.usage_in_bytes")?,
        ),
    };
    // v1 reports "no limit" as a number near 2^63.
    (limit < 1 << 60).then(|| limit.saturating_sub(usage))
}

/// Refuse `bytes` of memory for `what` when this machine cannot give them
/// ([`available_memory`]), or when no address space could hold them.
/// `fix` says what to change (e.g. "pass a smaller --size").
pub fn check_memory(what: &str, bytes: u128, fix: &str) -> Result<()> {
    check_memory_against(what, bytes, available_memory(), fix)
}

/// [`check_memory`] against an explicit amount of available memory.
pub fn check_memory_against(
    what: &str,
    bytes: u128,
    available: Option<u64>,
    fix: &str,
) -> Result<()> {
    let addressable = isize::MAX as u128;
    let (limit, of) = match available {
        Some(a) => (u128::from(a).min(addressable), "available on this machine"),
        None => (addressable, "addressable"),
    };
    if bytes <= limit {
        return Ok(());
    }
    Err(Error::TooLarge {
        what: what.to_string(),
        needs: format_bytes(bytes),
        available: format!("{} {of}", format_bytes(limit)),
        fix: fix.to_string(),
    })
}

/// `n × per_item` bytes, without overflow (sizes from users can be anything).
pub fn bytes_for(n: u128, per_item: u128) -> u128 {
    n.saturating_mul(per_item)
}

/// Bytes for people: `512 B`, `1.5 KiB`, `20.0 GiB`, `3.2e6 TiB`.
pub fn format_bytes(bytes: u128) -> String {
    let mut v = bytes as f64;
    let mut unit = "B";
    for next in ["KiB", "MiB", "GiB", "TiB"] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = next;
    }
    match unit {
        "B" => format!("{bytes} B"),
        _ if v >= 1e5 => format!("{v:.1e} {unit}"),
        _ => format!("{v:.1} {unit}"),
    }
}

/// The bytes of the file at `path`, refusing one longer than `max_bytes`
/// (`what` names what the file should be, for the message). Reads at most
/// `max_bytes + 1` bytes, so a device like `/dev/zero` or a huge file
/// passed by mistake ends with an error at once.
pub fn read_at_most(path: &Path, max_bytes: u64, what: &str) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::new();
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > max_bytes {
        return Err(Error::FileTooLarge {
            path: path.to_path_buf(),
            what: what.to_string(),
            limit: format_bytes(u128::from(max_bytes)),
        });
    }
    Ok(bytes)
}

/// As [`read_at_most`], as UTF-8 text.
pub fn read_text_at_most(path: &Path, max_bytes: u64, what: &str) -> Result<String> {
    String::from_utf8(read_at_most(path, max_bytes, what)?).map_err(|e| {
        Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not UTF-8 text ({e}); expected {what}"),
            ),
        )
    })
}

/// `path` may be replaced by a new file (written next to it and renamed
/// over it): it does not exist yet, or it is a regular file (or a link to
/// one). A device, a pipe, a socket or a folder is refused — renaming over
/// `/dev/null` would replace the device itself for everyone.
pub fn check_replaceable(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => Err(Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file (a device, pipe, socket or folder), so it is not replaced; name a file",
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_beyond_memory_or_address_space_are_refused_with_both_numbers() {
        let gib = 1u64 << 30;
        assert!(check_memory_against("x", 1 << 20, Some(gib), "smaller").is_ok());
        let e = check_memory_against("a dataset", 1 << 40, Some(gib), "pass a smaller --size")
            .unwrap_err()
            .to_string();
        assert!(e.contains("a dataset needs at least 1.0 TiB"), "{e}");
        assert!(e.contains("1.0 GiB available"), "{e}");
        assert!(e.contains("pass a smaller --size"), "{e}");
        let e = check_memory_against("x", u128::MAX, None, "smaller")
            .unwrap_err()
            .to_string();
        assert!(e.contains("addressable"), "{e}");
        assert_eq!(bytes_for(u128::MAX, 2), u128::MAX);
    }

    #[test]
    fn bytes_read_as_people_say_them() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(20 << 30), "20.0 GiB");
        assert!(format_bytes(u128::MAX).ends_with("TiB"));
    }

    #[test]
    fn meminfo_and_a_bounded_read() {
        let m = "MemTotal:       32000000 kB\nMemAvailable:   23190080 kB\n";
        assert_eq!(mem_available_kib(m), Some(23_190_080));
        assert_eq!(mem_available_kib("nothing"), None);
        if cfg!(target_os = "linux") {
            assert!(available_memory().is_some());
            let e = read_at_most(Path::new("/dev/zero"), 1024, "a registry")
                .unwrap_err()
                .to_string();
            assert!(e.contains("/dev/zero") && e.contains("1.0 KiB"), "{e}");
        }
        if cfg!(unix) {
            let e = check_replaceable(Path::new("/dev/null")).unwrap_err();
            assert!(e.to_string().contains("not a regular file"), "{e}");
        }
        assert!(check_replaceable(Path::new("/nonexistent/neorl")).is_ok());
        let e = read_at_most(Path::new("/nonexistent/neorl"), 10, "x").unwrap_err();
        assert_eq!(
            e.to_string().matches("/nonexistent/neorl").count(),
            1,
            "{e}"
        );
    }
}
