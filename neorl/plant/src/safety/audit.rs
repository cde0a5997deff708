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
//! A log found unsealed when reopened (the previous writer crashed, or its
//! tail was cut) is continued, and the new `open` record says
//! `"previous_sealed": false`, so the gap stays on record.
//!
//! A record is at most [`MAX_RECORD_BYTES`] long: the writer refuses a
//! longer one and the verifier stops at the first line that runs past it,
//! so `verify` of a device like `/dev/zero` or of the wrong (huge) file ends
//! at once with a clear reason, and reads the log as a stream in constant
//! memory.
//!
//! ## Trust model: what the file proves, and the anchor
//!
//! SHA-256 has no secret: anyone who can write the file can compute a
//! valid chain. So the chain alone proves that the file is internally
//! consistent, not who wrote it. Undetectable by the file alone:
//!
//! - rewriting the whole file, or its tail from some record on, with every
//!   hash recomputed;
//! - appending a forged, correctly chained `open` … `seal` session after the
//!   last seal (the log stays sealed, only the head hash changes);
//! - cutting the log exactly after an earlier session's `seal`.
//!
//! All three change the **head** (the SHA-256 of the last line) or the
//! record count. The defence is an **anchor** kept where the writer of the
//! log cannot edit it: when a session seals, keep its [`Anchor`] (record
//! count and head) elsewhere — `neorl rollout|eval --audit LOG
//! --audit-anchor FILE` writes it to a file (put that file on another
//! machine, in a ticket, or in version control), and `neorl eval` also
//! records the head in its MLflow run (tag `neorl.audit_head`). Then
//! `neorl audit verify LOG --anchor FILE` (or `--expect-head HASH`) checks
//! that the log ends exactly at the anchored head: a rewritten log does not
//! contain the anchored head at all, and a log with records after it is
//! reported with the first record the anchor does not cover. A legitimate
//! later session appends to the log too, so keep the anchor of the latest
//! seal: each anchor vouches for the log up to its own seal.
//!
//! The anchor is only as trustworthy as the place it is kept: someone who
//! can edit both the log and the anchor can forge both.

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
use crate::limits::{check_replaceable, format_bytes, read_text_at_most};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

/// `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The longest record (one line, without its newline), in bytes. The
/// records neorl writes are a few hundred bytes; the limit bounds what the
/// verifier reads before it gives up on a line.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// What the verifier reads at most for one line: a record and its newline.
const LINE_LIMIT: u64 = MAX_RECORD_BYTES as u64 + 1;

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
    /// Open `path` for appending (created if missing, with its folder) and
    /// write an `open` record. An existing log is verified first and continued; a broken one
    /// is refused (it is evidence: move it away, never repair it in place).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, None, false)
    }

    /// As [`AuditLog::open`], with an explicit run id (default: time and
    /// process id) and `sync` (fsync after every record).
    pub fn open_with(path: impl AsRef<Path>, run: Option<&str>, sync: bool) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let existing = match File::open(&path) {
            Ok(f) => verify_reader(BufReader::new(f), None).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        };
        let (seq, prev, previous_sealed) = match existing.map_err(|e| Error::io(&path, e))? {
            None => (0, GENESIS.to_string(), true),
            Some(r) if r.records == 0 && r.empty => (0, GENESIS.to_string(), true),
            Some(r) => {
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
        };
        // A new log in a folder that does not exist yet (`runs/audit.jsonl`
        // in a fresh directory) gets its folder, as checkpoints do.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
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
        if line.len() > MAX_RECORD_BYTES {
            return Err(Error::AuditLog {
                path: self.path.clone(),
                reason: format!(
                    "the '{event}' record would be {} long, more than the {} a record may have (nothing was written); log a summary of the payload instead",
                    format_bytes(line.len() as u128),
                    format_bytes(MAX_RECORD_BYTES as u128)
                ),
            });
        }
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
    /// The chain is intact, the log is sealed, and it ends at the anchor
    /// when one was given.
    pub ok: bool,
    /// Records read (up to the first bad one, or all when ok).
    pub records: u64,
    /// Index (0-based line = `seq`) of the first bad record; for an unsealed
    /// log, the index where the seal is missing; for a log that goes on
    /// after its anchor, the first record the anchor does not cover.
    pub first_bad: Option<u64>,
    /// What is wrong (`null` when ok).
    pub reason: Option<String>,
    /// The last record is a valid `seal` with the right count.
    pub sealed: bool,
    /// SHA-256 of the last valid line: anchor it elsewhere.
    pub head: Option<String>,
    /// The check against an anchor kept outside the log (only when one was
    /// given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anchor: Option<AnchorCheck>,
    #[serde(skip)]
    last_line_hash: Option<String>,
    /// The chain is intact but unsealed (only the seal is missing), which
    /// is fine for a writer that continues it.
    #[serde(skip)]
    sealed_prefix_ok: Option<bool>,
    /// The file holds no bytes at all (a writer starts a new log there).
    #[serde(skip)]
    empty: bool,
}

/// What an operator keeps outside the log, where its writer cannot edit it:
/// the number of records and the head hash (SHA-256 of the last line) right
/// after a seal. Written as one JSON line (`{"records":…,"head":"…"}`); see
/// the module's trust model. `records` is `None` for a head alone
/// (`neorl audit verify --expect-head HASH`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anchor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<u64>,
    pub head: String,
}

impl Anchor {
    /// Write the anchor to `path` (replacing the file as a whole: a new
    /// file next to it, then renamed over it).
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let text = serde_json::to_string(self).map_err(|source| Error::Json {
            context: "audit-log anchor".into(),
            source,
        })? + "\n";
        check_replaceable(path)?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(path, e)
        })
    }

    /// An anchor of a head hash alone (checked: 64 hex digits).
    pub fn head(head: &str) -> Result<Self> {
        check_head_hex(head).map_err(Error::InvalidArgument)?;
        Ok(Anchor {
            records: None,
            head: head.to_ascii_lowercase(),
        })
    }

    /// Read an anchor written by [`Anchor::write`].
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = read_text_at_most(path, 4096, "an audit-log anchor")?;
        let bad = |why: String| Error::AuditLog {
            path: path.to_path_buf(),
            reason: format!(
                "not an anchor ({why}); an anchor is the line {{\"records\":N,\"head\":\"<64 hex>\"}} that `--audit-anchor` writes"
            ),
        };
        let a: Anchor = serde_json::from_str(text.trim()).map_err(|e| bad(e.to_string()))?;
        check_head_hex(&a.head).map_err(bad)?;
        Ok(a)
    }
}

/// `head` is a SHA-256 in hex (64 digits).
pub fn check_head_hex(head: &str) -> std::result::Result<(), String> {
    if head.len() == 64 && head.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(format!(
            "'{head}' is not a head hash: expected 64 hex digits, as `neorl audit verify` prints"
        ))
    }
}

/// How a log compares with its anchor (in [`VerifyReport::anchor`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnchorCheck {
    /// The anchored head hash.
    pub head: String,
    /// The anchored record count, when the anchor has one.
    pub records: Option<u64>,
    /// The log ends exactly at the anchored head.
    pub ok: bool,
    /// The record whose line hashes to the anchored head (`null`: none).
    pub found_at: Option<u64>,
}

/// Verify the log at `path`. Never panics; unreadable files give a report
/// with the reason (use [`verify_file`] to get those as errors).
pub fn verify(path: impl AsRef<Path>) -> VerifyReport {
    verify_file(path, None).unwrap_or_else(|e| VerifyReport::unreadable(&e))
}

impl VerifyReport {
    /// The report on a log that could not be read (`e` from [`verify_file`]).
    pub fn unreadable(e: &Error) -> Self {
        bad(0, 0, format!("cannot read {e}"), None)
    }
}

/// Verify the log at `path`, and that it ends at `anchor` when given.
/// A report for anything the file holds; an error only when it cannot be
/// read (missing, a directory, no permission), naming the path.
pub fn verify_file(path: impl AsRef<Path>, anchor: Option<&Anchor>) -> Result<VerifyReport> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    verify_reader(BufReader::new(file), anchor).map_err(|e| Error::io(path, e))
}

/// Verify a log held in memory.
pub fn verify_bytes(bytes: &[u8]) -> VerifyReport {
    verify_reader(bytes, None).unwrap_or_else(|e| bad(0, 0, e.to_string(), None))
}

fn bad(records: u64, first_bad: u64, reason: String, head: Option<String>) -> VerifyReport {
    VerifyReport {
        ok: false,
        records,
        first_bad: Some(first_bad),
        reason: Some(reason),
        sealed: false,
        head: head.clone(),
        anchor: None,
        last_line_hash: head,
        sealed_prefix_ok: None,
        empty: false,
    }
}

/// Verify a log read as a stream, one line (at most [`MAX_RECORD_BYTES`])
/// at a time; I/O errors are the reader's.
#[deny(clippy::arithmetic_side_effects)]
pub fn verify_reader(
    mut reader: impl BufRead,
    anchor: Option<&Anchor>,
) -> std::io::Result<VerifyReport> {
    let mut prev = GENESIS.to_string();
    let mut n = 0u64;
    let mut last: Option<Record> = None;
    let mut found_at = None;
    let mut line = Vec::new();
    let report = loop {
        line.clear();
        if (&mut reader)
            .take(LINE_LIMIT)
            .read_until(b'\n', &mut line)?
            == 0
        {
            break None;
        }
        if line.pop() != Some(b'\n') {
            let why = if line.len() >= MAX_RECORD_BYTES {
                format!(
                    "record {n} runs past {} without a newline, far longer than any record: this is not an audit log (or it is corrupt)",
                    format_bytes(MAX_RECORD_BYTES as u128)
                )
            } else {
                format!(
                    "record {n} is not terminated by a newline (cut off or appended to by hand)"
                )
            };
            break Some(bad(n, n, why, Some(prev.clone())));
        }
        if let Err(why) = check_line(&line, n, &prev, last.as_ref()) {
            break Some(bad(n, n, format!("record {n}: {why}"), Some(prev.clone())));
        }
        // check_line parsed it; parse again to keep it (cheap, records are small).
        last = serde_json::from_slice(&line).ok();
        prev = sha256_hex(&line);
        if anchor.is_some_and(|a| a.head.eq_ignore_ascii_case(&prev)) {
            found_at = Some(n);
        }
        n = n.saturating_add(1);
    };
    let mut r = report.unwrap_or_else(|| chain_verdict(n, last.as_ref(), prev));
    if let Some(a) = anchor {
        check_anchor(&mut r, a, found_at);
    }
    Ok(r)
}

/// The verdict on a chain of `n` records that all verified, `last` the
/// final one and `head` its line's hash.
fn chain_verdict(n: u64, last: Option<&Record>, head: String) -> VerifyReport {
    if n == 0 {
        let mut r = bad(
            0,
            0,
            "the file is empty: no records, not even the 'open' record".into(),
            None,
        );
        r.empty = true;
        return r;
    }
    if last.is_none_or(|r| r.event != "seal") {
        let mut r = bad(
            n,
            n,
            format!(
                "the log is not sealed: its {n} records chain correctly but the final 'seal' record is missing — the writer is still running or crashed, or the tail was cut off"
            ),
            Some(head),
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
        head: Some(head.clone()),
        anchor: None,
        last_line_hash: Some(head),
        sealed_prefix_ok: Some(true),
        empty: false,
    }
}

/// Compare a verified (or failed) chain with its anchor: it must end at the
/// anchored head, with the anchored number of records.
#[deny(clippy::arithmetic_side_effects)]
fn check_anchor(r: &mut VerifyReport, a: &Anchor, found_at: Option<u64>) {
    let ends_there = r.ok
        && found_at.is_some_and(|k| k.checked_add(1) == Some(r.records))
        && a.records.is_none_or(|n| n == r.records);
    r.anchor = Some(AnchorCheck {
        head: a.head.to_ascii_lowercase(),
        records: a.records,
        ok: ends_there,
        found_at,
    });
    if ends_there || !r.ok {
        // Intact and at the anchor; or already broken (that reason stays first).
        return;
    }
    r.ok = false;
    match found_at {
        Some(k) => {
            let next = k.saturating_add(1);
            r.first_bad = Some(next);
            r.reason = Some(format!(
                "the log goes on after the anchored head (record {k}): records {next} to {} are not covered by the anchor — a later session appended them (check the log against that session's anchor) or they were forged",
                r.records.saturating_sub(1)
            ));
        }
        None => {
            r.first_bad = None;
            r.reason = Some(format!(
                "the anchored head {} is not the hash of any record of this log: the log was rewritten (its hashes recomputed) or the anchor belongs to another log",
                a.head
            ));
        }
    }
}

/// Check one line as record number `n` following a line with hash `prev`.
#[deny(clippy::arithmetic_side_effects)]
fn check_line(
    line: &[u8],
    n: u64,
    prev: &str,
    last: Option<&Record>,
) -> std::result::Result<(), String> {
    let cut = line.len().checked_sub(SUFFIX_LEN).filter(|&at| at >= 2);
    let Some((body, suffix)) = cut.and_then(|at| line.split_at_checked(at)) else {
        return Err("too short to be a record".into());
    };
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
        let records = n.saturating_add(1);
        if count != Some(records) {
            return Err(format!(
                "the seal counts {count:?} records but it is record {records}"
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

    /// `AuditLog::open("runs/audit.jsonl")` in a fresh directory: the
    /// folders are made, and the log verifies.
    #[test]
    fn a_new_log_gets_its_folders() {
        let dir = std::env::temp_dir().join(format!("neorl-audit-dirs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let p = dir.join("runs").join("nested").join("audit.jsonl");
        let log = AuditLog::open(&p).unwrap();
        log.close().unwrap();
        assert!(verify(&p).ok);
        std::fs::remove_dir_all(&dir).unwrap();
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

    /// A line longer than any record ends the verification at once, in
    /// memory and on a device that never ends.
    #[test]
    fn an_overlong_line_is_not_read_to_its_end() {
        let long = vec![b'x'; MAX_RECORD_BYTES + 10];
        let r = verify_bytes(&long);
        assert!(!r.ok);
        assert!(r.reason.unwrap().contains("runs past 1.0 MiB"));
        if cfg!(target_os = "linux") {
            let r = verify_file("/dev/zero", None).unwrap();
            assert!(!r.ok && r.reason.unwrap().contains("not an audit log"));
            let e = AuditLog::open("/dev/zero").unwrap_err().to_string();
            assert!(e.contains("does not verify"), "{e}");
        }
        // The writer keeps to the same limit.
        let p = tmp("overlong");
        let mut log = AuditLog::open_with(&p, Some("t"), false).unwrap();
        let big = serde_json::json!({ "x": "y".repeat(MAX_RECORD_BYTES) });
        let e = log.append(None, None, "note", big).unwrap_err().to_string();
        assert!(e.contains("more than the 1.0 MiB a record may have"), "{e}");
        log.close().unwrap();
        assert!(verify(&p).ok, "a refused record leaves the log intact");
        std::fs::remove_file(p).unwrap();
    }

    #[test]
    fn a_missing_file_is_an_error_naming_the_path_once() {
        let e = verify_file("/nonexistent/neorl/audit.jsonl", None)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e.matches("/nonexistent/neorl/audit.jsonl").count(),
            1,
            "{e}"
        );
    }

    /// The attack of issue 17: a forged, correctly chained `open` … `seal`
    /// session appended to a sealed log verifies on its own; against the
    /// anchor of the real seal it does not.
    #[test]
    fn the_anchor_catches_an_appended_session_and_a_rewrite() {
        let (p, b) = small_log("anchor", 2);
        let r = verify(&p);
        let anchor = Anchor {
            records: Some(r.records),
            head: r.head.clone().unwrap(),
        };
        let a_path = tmp("anchor-file");
        anchor.write(&a_path).unwrap();
        let anchor = Anchor::read(&a_path).unwrap();
        assert!(verify_file(&p, Some(&anchor)).unwrap().ok);
        assert!(
            verify_file(&p, Some(&Anchor::head(&anchor.head).unwrap()))
                .unwrap()
                .ok
        );

        // The forger appends a session of their own, correctly chained.
        let mut forged = AuditLog::open_with(&p, Some("forger"), false).unwrap();
        forged
            .append(None, None, "note", serde_json::json!({"all": "fine"}))
            .unwrap();
        forged.close().unwrap();
        assert!(verify(&p).ok, "without an anchor the chain alone passes");
        let r = verify_file(&p, Some(&anchor)).unwrap();
        assert!(!r.ok);
        assert_eq!(r.first_bad, Some(anchor.records.unwrap()));
        assert!(
            r.reason
                .unwrap()
                .contains("goes on after the anchored head")
        );
        assert_eq!(
            r.anchor.unwrap().found_at,
            Some(anchor.records.unwrap() - 1)
        );

        // A rewrite from scratch (every hash recomputed) loses the head.
        std::fs::remove_file(&p).unwrap();
        let mut log = AuditLog::open_with(&p, Some("test-run"), false).unwrap();
        log.append(Some(0), Some(0), "intervention", serde_json::json!({}))
            .unwrap();
        log.close().unwrap();
        let r = verify_file(&p, Some(&anchor)).unwrap();
        assert!(!r.ok && r.first_bad.is_none());
        assert!(r.reason.unwrap().contains("is not the hash of any record"));
        // JSON keeps its fields, and shows the anchor only when asked.
        let v = serde_json::to_value(verify(&p)).unwrap();
        assert!(v.get("anchor").is_none());
        assert!(b.len() > 10);
        std::fs::remove_file(p).unwrap();
        std::fs::remove_file(a_path).unwrap();
    }

    #[test]
    fn anchors_that_are_not_anchors_are_refused() {
        assert!(Anchor::head("abc").is_err());
        assert!(Anchor::head(&"g".repeat(64)).is_err());
        assert_eq!(
            Anchor::head(&"AB".repeat(32)).unwrap().head,
            "ab".repeat(32)
        );
        let p = tmp("bad-anchor");
        std::fs::write(&p, "{\"head\": 3}").unwrap();
        let e = Anchor::read(&p).unwrap_err().to_string();
        assert!(e.contains("not an anchor"), "{e}");
        if cfg!(target_os = "linux") {
            let e = Anchor::read("/dev/zero").unwrap_err().to_string();
            assert!(e.contains("longer than"), "{e}");
        }
        std::fs::remove_file(p).unwrap();
    }
}
