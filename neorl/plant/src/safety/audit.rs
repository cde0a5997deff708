//! The tamper-evident audit log: append-only JSON Lines with a SHA-256 hash
//! chain.
//!
//! ## Format
//!
//! One record per line, fields in this order, no whitespace:
//!
//! ```text
//! {"seq":0,"ts":"2026-01-02T03:04:05.678Z","run":"…","episode":null,"step":null,
//!  "event":"open","payload":{…},"prev":"<64 hex>","hash":"<64 hex>"}
//! ```
//!
//! - `seq` counts records from 0 with no gaps;
//! - `ts` is the wall-clock time of writing, RFC 3339 UTC with milliseconds;
//! - `run`, `episode`, `step` correlate the record with a run (one writer
//!   session), an episode and a step within it (`null` where not applicable);
//! - `event` names what happened (`open`, `episode_start`, `intervention`,
//!   `estop_trip`, `estop_reset`, `override_take`, `override_hand_back`,
//!   `alarm`, `hard_violation`, `episode_end`, `seal`) and `payload` holds its details;
//! - `prev` is the SHA-256 (lowercase hex) of the previous record's exact
//!   line bytes (without the newline); the first record has 64 zeros;
//! - `hash` is the SHA-256 of this line's bytes up to, not including, the
//!   `,"hash":"…` suffix, so the last record is protected too.
//!
//! The writer opens the file in append mode, writes each record with one
//! `write` call on an unbuffered file (the record reaches the operating
//! system before the call returns; set `sync` to also `fsync`), and never
//! rewrites or truncates: reopening an existing log first verifies its chain
//! and then continues it. [`AuditLog::close`] (or drop) writes a final `seal`
//! record whose payload holds the number of records, so a log whose tail was
//! cut off is reported as unsealed.
//!
//! ## What [`verify`] detects
//!
//! Any change of any byte (the record's own hash or the next record's `prev`
//! no longer matches), deleting a record (`seq` gap and `prev` mismatch),
//! inserting one (`seq` and `prev` mismatch), reordering, a record cut in
//! the middle, and cutting off the tail (no `seal` as the last record, or a
//! seal whose count disagrees). A log still being written is unsealed too:
//! `verify` reports it as not ok with `sealed: false` and says so.
//!
//! Not detectable by the chain alone: someone who rewrites the whole file
//! (or its tail from some point) and recomputes every hash — SHA-256 has no
//! secret. Anchor the `head` hash that `neorl audit verify` prints somewhere
//! the writer cannot edit (a ticket, a second machine) to close that gap.
//! A log found unsealed when reopened (the previous writer crashed, or its
//! tail was cut) is continued, and the new `open` record says
//! `"previous_sealed": false`, so the gap stays on record. Truncation
//! exactly at an earlier session's `seal` (when a log was
//! reopened and continued) is indistinguishable from a log that was never
//! continued.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const HASH_KEY: &str = ",\"hash\":\"";
/// Bytes of `,"hash":"` + 64 hex + `"}`.
const SUFFIX_LEN: usize = HASH_KEY.len() + 64 + 2;

/// The record as written, without its hash.
#[derive(Serialize)]
struct RecordOut<'a> {
    seq: u64,
    ts: &'a str,
    run: &'a str,
    episode: Option<u64>,
    step: Option<u64>,
    event: &'a str,
    payload: &'a serde_json::Value,
    prev: &'a str,
}

/// A record as read back.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub seq: u64,
    pub ts: String,
    pub run: String,
    pub episode: Option<u64>,
    pub step: Option<u64>,
    pub event: String,
    pub payload: serde_json::Value,
    pub prev: String,
    pub hash: String,
}

fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in d {
        s.push(char::from_digit((b >> 4) as u32, 16).unwrap_or('0'));
        s.push(char::from_digit((b & 15) as u32, 16).unwrap_or('0'));
    }
    s
}

/// RFC 3339 UTC timestamp with milliseconds of the current time.
pub fn now_rfc3339() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    rfc3339_from_unix_ms(ms)
}

/// RFC 3339 UTC from Unix milliseconds (proleptic Gregorian calendar).
pub fn rfc3339_from_unix_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

/// An open, append-only audit log.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Option<File>,
    run: String,
    seq: u64,
    prev: String,
    sync: bool,
}

impl AuditLog {
    /// Open `path` for appending (created if missing) and write an `open`
    /// record. An existing log is verified first and continued; a broken one
    /// is refused (it is evidence: move it away, never repair it in place).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, None, false)
    }

    /// As [`AuditLog::open`], with an explicit run id (default: time and
    /// process id) and `sync` (fsync after every record).
    pub fn open_with(path: impl AsRef<Path>, run: Option<&str>, sync: bool) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let (seq, prev, previous_sealed) = match std::fs::read(&path) {
            Ok(bytes) if bytes.is_empty() => (0, GENESIS.to_string(), true),
            Ok(bytes) => {
                let r = verify_bytes(&bytes);
                if r.first_bad.is_some() && r.sealed_prefix_ok != Some(true) {
                    return Err(Error::AuditLog {
                        path: path.clone(),
                        reason: format!(
                            "the existing log does not verify ({}); refusing to append to it — move it away and start a new log",
                            r.reason.unwrap_or_default()
                        ),
                    });
                }
                (
                    r.records,
                    r.last_line_hash.unwrap_or_else(|| GENESIS.to_string()),
                    r.sealed,
                )
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (0, GENESIS.to_string(), true),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let run = match run {
            Some(r) => r.to_string(),
            None => {
                let ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or(0);
                format!("{ms:x}-{:x}", std::process::id())
            }
        };
        let mut log = AuditLog {
            path,
            file: Some(file),
            run,
            seq,
            prev,
            sync,
        };
        log.append(
            None,
            None,
            "open",
            serde_json::json!({
                "writer": concat!("neorl ", env!("CARGO_PKG_VERSION")),
                "continues": seq,
                // false: the log was left unsealed (crash, or cut tail) before this session.
                "previous_sealed": previous_sealed,
            }),
        )?;
        Ok(log)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn run(&self) -> &str {
        &self.run
    }
    /// Records in the file so far (this session's and earlier ones).
    pub fn records(&self) -> u64 {
        self.seq
    }
    /// SHA-256 of the last line written (what the next record's `prev` will be).
    pub fn head(&self) -> &str {
        &self.prev
    }

    /// Append one record; returns its `seq`.
    pub fn append(
        &mut self,
        episode: Option<u64>,
        step: Option<u64>,
        event: &str,
        payload: serde_json::Value,
    ) -> Result<u64> {
        let file = self.file.as_mut().ok_or_else(|| Error::AuditLog {
            path: self.path.clone(),
            reason: "the log is sealed; open it again to append".into(),
        })?;
        let ts = now_rfc3339();
        let rec = RecordOut {
            seq: self.seq,
            ts: &ts,
            run: &self.run,
            episode,
            step,
            event,
            payload: &payload,
            prev: &self.prev,
        };
        let mut line = serde_json::to_string(&rec).map_err(|e| Error::Json {
            context: format!("audit record '{event}'"),
            source: e,
        })?;
        // Serialised structs end in '}': replace it with the hash field.
        line.pop();
        let own = sha256_hex(line.as_bytes());
        line.push_str(HASH_KEY);
        line.push_str(&own);
        line.push_str("\"}");
        let line_hash = sha256_hex(line.as_bytes());
        line.push('\n');
        file.write_all(line.as_bytes())
            .map_err(|e| Error::io(&self.path, e))?;
        if self.sync {
            file.sync_data().map_err(|e| Error::io(&self.path, e))?;
        }
        self.prev = line_hash;
        let seq = self.seq;
        self.seq += 1;
        Ok(seq)
    }

    /// Write the `seal` record and close the file; returns the head hash
    /// (anchor it elsewhere to detect a full rewrite).
    pub fn close(mut self) -> Result<String> {
        self.seal()?;
        Ok(self.prev.clone())
    }

    fn seal(&mut self) -> Result<()> {
        if self.file.is_none() {
            return Ok(());
        }
        let n = self.seq + 1;
        self.append(None, None, "seal", serde_json::json!({ "records": n }))?;
        if let Some(f) = self.file.take() {
            f.sync_all().map_err(|e| Error::io(&self.path, e))?;
        }
        Ok(())
    }
}

impl Drop for AuditLog {
    /// Seal on drop (best effort: an I/O error here cannot be reported; call
    /// [`AuditLog::close`] to see it).
    fn drop(&mut self) {
        let _ = self.seal();
    }
}

/// The verdict of [`verify`], as printed by `neorl audit verify --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport {
    /// The chain is intact and the log is sealed.
    pub ok: bool,
    /// Records read (up to the first bad one, or all when ok).
    pub records: u64,
    /// Index (0-based line = `seq`) of the first bad record; for an unsealed
    /// log, the index where the seal is missing.
    pub first_bad: Option<u64>,
    /// What is wrong (`null` when ok).
    pub reason: Option<String>,
    /// The last record is a valid `seal` with the right count.
    pub sealed: bool,
    /// SHA-256 of the last valid line: anchor it elsewhere.
    pub head: Option<String>,
    #[serde(skip)]
    last_line_hash: Option<String>,
    /// The chain is intact but unsealed (only the seal is missing), which
    /// is fine for a writer that continues it.
    #[serde(skip)]
    sealed_prefix_ok: Option<bool>,
}

/// Verify the log at `path`. Never panics; unreadable files give a report
/// with the reason.
pub fn verify(path: impl AsRef<Path>) -> VerifyReport {
    match std::fs::read(path.as_ref()) {
        Ok(b) => verify_bytes(&b),
        Err(e) => bad(
            0,
            0,
            format!("cannot read {}: {e}", path.as_ref().display()),
            None,
        ),
    }
}

fn bad(records: u64, first_bad: u64, reason: String, head: Option<String>) -> VerifyReport {
    VerifyReport {
        ok: false,
        records,
        first_bad: Some(first_bad),
        reason: Some(reason),
        sealed: false,
        head: head.clone(),
        last_line_hash: head,
        sealed_prefix_ok: None,
    }
}

/// Verify a log held in memory.
pub fn verify_bytes(bytes: &[u8]) -> VerifyReport {
    if bytes.is_empty() {
        return bad(
            0,
            0,
            "the file is empty: no records, not even the 'open' record".into(),
            None,
        );
    }
    let mut prev = GENESIS.to_string();
    let mut n = 0u64;
    let mut last: Option<Record> = None;
    let mut rest = bytes;
    while !rest.is_empty() {
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            return bad(
                n,
                n,
                format!(
                    "record {n} is not terminated by a newline (cut off or appended to by hand)"
                ),
                Some(prev),
            );
        };
        let line = &rest[..end];
        rest = &rest[end + 1..];
        if let Err(why) = check_line(line, n, &prev, last.as_ref()) {
            return bad(n, n, format!("record {n}: {why}"), Some(prev));
        }
        // check_line parsed it; parse again to keep it (cheap, logs are small).
        last = serde_json::from_slice(line).ok();
        prev = sha256_hex(line);
        n += 1;
    }
    let sealed = last.as_ref().is_some_and(|r| r.event == "seal");
    if !sealed {
        let mut r = bad(
            n,
            n,
            format!(
                "the log is not sealed: its {n} records chain correctly but the final 'seal' record is missing — the writer is still running or crashed, or the tail was cut off"
            ),
            Some(prev),
        );
        r.sealed_prefix_ok = Some(true);
        return r;
    }
    VerifyReport {
        ok: true,
        records: n,
        first_bad: None,
        reason: None,
        sealed: true,
        head: Some(prev.clone()),
        last_line_hash: Some(prev),
        sealed_prefix_ok: Some(true),
    }
}

/// Check one line as record number `n` following a line with hash `prev`.
fn check_line(
    line: &[u8],
    n: u64,
    prev: &str,
    last: Option<&Record>,
) -> std::result::Result<(), String> {
    if line.len() < SUFFIX_LEN + 2 {
        return Err("too short to be a record".into());
    }
    let (body, suffix) = line.split_at(line.len() - SUFFIX_LEN);
    let Some(hex) = suffix
        .strip_prefix(HASH_KEY.as_bytes())
        .and_then(|s| s.strip_suffix(b"\"}"))
    else {
        return Err("does not end with its \"hash\" field".into());
    };
    if sha256_hex(body).as_bytes() != hex {
        return Err("its hash does not match its content (the record was edited)".into());
    }
    let rec: Record =
        serde_json::from_slice(line).map_err(|e| format!("not a valid record: {e}"))?;
    if rec.seq != n {
        return Err(format!(
            "seq is {} but {n} was expected (a record was deleted, inserted or moved)",
            rec.seq
        ));
    }
    if rec.prev != prev {
        return Err(
            "prev does not match the SHA-256 of the previous line (a record before it was edited, deleted, inserted or moved)"
                .into(),
        );
    }
    if last.is_some_and(|l| l.event == "seal") && rec.event != "open" {
        return Err("a record follows a seal without a new 'open' record".into());
    }
    if rec.event == "seal" {
        let count = rec.payload.get("records").and_then(|v| v.as_u64());
        if count != Some(n + 1) {
            return Err(format!(
                "the seal counts {count:?} records but it is record {}",
                n + 1
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let p =
            std::env::temp_dir().join(format!("neorl-audit-{}-{name}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    /// A small sealed log of `k` event records (plus open and seal).
    fn small_log(name: &str, k: u64) -> (PathBuf, Vec<u8>) {
        let p = tmp(name);
        let mut log = AuditLog::open_with(&p, Some("test-run"), false).unwrap();
        for i in 0..k {
            log.append(
                Some(0),
                Some(i),
                "intervention",
                serde_json::json!({"i": i, "a": [0.5, -1.0]}),
            )
            .unwrap();
        }
        log.close().unwrap();
        let b = std::fs::read(&p).unwrap();
        (p, b)
    }

    fn lines(b: &[u8]) -> Vec<Vec<u8>> {
        b.split_inclusive(|&c| c == b'\n')
            .map(|l| l.to_vec())
            .collect()
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339_from_unix_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_from_unix_ms(951_782_400_123),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(
            rfc3339_from_unix_ms(1_767_225_599_999),
            "2025-12-31T23:59:59.999Z"
        );
        assert_eq!(now_rfc3339().len(), 24);
    }

    #[test]
    fn a_fresh_log_verifies_and_records_have_the_documented_fields() {
        let (p, b) = small_log("fresh", 3);
        let r = verify(&p);
        assert!(r.ok, "{r:?}");
        assert_eq!(r.records, 5);
        assert!(r.sealed);
        let recs: Vec<Record> = lines(&b)
            .iter()
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(recs[0].event, "open");
        assert_eq!(recs[0].prev, GENESIS);
        assert_eq!(recs[2].step, Some(1));
        assert_eq!(recs[4].event, "seal");
        assert_eq!(recs[4].payload["records"], 5);
        assert_eq!(
            recs[1].prev,
            sha256_hex(&lines(&b)[0][..lines(&b)[0].len() - 1])
        );
        std::fs::remove_file(p).unwrap();
    }

    #[test]
    fn reopening_continues_the_chain_without_rewriting() {
        let (p, before) = small_log("reopen", 2);
        let mut log = AuditLog::open(&p).unwrap();
        log.append(None, None, "note", serde_json::json!({}))
            .unwrap();
        drop(log); // seals
        let after = std::fs::read(&p).unwrap();
        assert!(
            after.starts_with(&before),
            "old records are never rewritten"
        );
        let r = verify(&p);
        assert!(r.ok, "{r:?}");
        assert_eq!(r.records, 4 + 3);
        std::fs::remove_file(p).unwrap();
    }

    #[test]
    fn a_broken_log_is_not_continued() {
        let (p, mut b) = small_log("broken", 2);
        b[30] ^= 1;
        std::fs::write(&p, &b).unwrap();
        let e = AuditLog::open(&p).unwrap_err().to_string();
        assert!(e.contains("does not verify"), "{e}");
        assert_eq!(
            std::fs::read(&p).unwrap(),
            b,
            "the evidence is left as it was"
        );
        std::fs::remove_file(p).unwrap();
    }

    #[test]
    fn unsealed_empty_and_garbage_files_are_reported_not_panicked() {
        assert_eq!(verify_bytes(b"").first_bad, Some(0));
        assert!(!verify_bytes(b"not json\n").ok);
        assert!(!verify_bytes(b"\xff\xfe\x00garbage").ok);
        assert!(!verify_bytes(b"{}\n").ok);
        assert!(!verify_bytes(&[b'\n'; 3]).ok);
        let r = verify("/nonexistent/neorl/audit.jsonl");
        assert!(!r.ok && r.reason.unwrap().contains("cannot read"));
        // Unsealed: drop the seal.
        let (p, b) = small_log("unsealed", 2);
        let ls = lines(&b);
        let cut: Vec<u8> = ls[..ls.len() - 1].concat();
        let r = verify_bytes(&cut);
        assert!(!r.ok && !r.sealed);
        assert_eq!(r.first_bad, Some(ls.len() as u64 - 1));
        assert!(r.reason.unwrap().contains("not sealed"));
        std::fs::remove_file(p).unwrap();
    }

    /// The tamper sweep: every single-byte change, every deletion, every
    /// swap of neighbours, every insertion of a copied record, and every
    /// truncation is detected.
    #[test]
    fn tamper_sweep_detects_every_edit() {
        let (p, b) = small_log("sweep", 4);
        assert!(verify_bytes(&b).ok);
        // Flip every byte position, with three different flips.
        for i in 0..b.len() {
            for mask in [0x01u8, 0x20, 0xff] {
                let mut t = b.clone();
                t[i] ^= mask;
                let r = verify_bytes(&t);
                assert!(!r.ok, "flipping byte {i} with {mask:#x} went unnoticed");
                assert!(r.first_bad.is_some());
            }
        }
        let ls = lines(&b);
        // Delete each record.
        for i in 0..ls.len() {
            let mut t = ls.clone();
            t.remove(i);
            let r = verify_bytes(&t.concat());
            assert!(!r.ok, "deleting record {i} went unnoticed");
            assert_eq!(r.first_bad, Some(i as u64), "deleting {i}: {r:?}");
        }
        // Swap neighbours.
        for i in 0..ls.len() - 1 {
            let mut t = ls.clone();
            t.swap(i, i + 1);
            let r = verify_bytes(&t.concat());
            assert!(!r.ok, "swapping {i} and {} went unnoticed", i + 1);
            assert_eq!(r.first_bad, Some(i as u64));
        }
        // Insert a copy of each record at every other position.
        for src in 0..ls.len() {
            for at in 0..=ls.len() {
                let mut t = ls.clone();
                t.insert(at, ls[src].clone());
                assert!(
                    !verify_bytes(&t.concat()).ok,
                    "copy of {src} inserted at {at}"
                );
            }
        }
        // Truncate at every byte.
        for cut in 0..b.len() {
            assert!(!verify_bytes(&b[..cut]).ok, "truncation at byte {cut}");
        }
        // Append garbage.
        let mut t = b.clone();
        t.extend_from_slice(b"{}\n");
        assert!(!verify_bytes(&t).ok);
        std::fs::remove_file(p).unwrap();
    }
}
