//! Durable buffering for a tracking server: every record of a run is first
//! appended to a journal on disk, then sent by a background thread, in
//! order, with retries and back-off; nothing is lost when the server is
//! down, slow or restarted, and training never waits for the network.
//!
//! Files of a run in the spool folder (`NEORL_SPOOL_DIR`, default
//! `.neorl/spool`):
//!
//! ```text
//! <id>.jsonl           the journal: one Record per line, append-only
//! <id>.state.json      what the server has confirmed: records acked, run id, artifact URI
//! <id>.lock            locked by the process writing or sending the run
//! <id>.files/          copies of the artifacts, deleted once uploaded
//! <id>.rejected.jsonl  records the server refused (4xx), with its answer; kept
//! ```
//!
//! **Exactly once.** The state file advances (atomically: write + rename)
//! only after the server answered 2xx, so a record is re-sent only when its
//! outcome is unknown (the process died, or the connection broke, after the
//! request left). Re-sends are idempotent: metric points keep the timestamp
//! they were logged with, and MLflow's SQL store ignores a point identical
//! in (key, value, timestamp, step) to one it has (its `metrics` primary
//! key); params re-logged with the same value are accepted; tags, artifact
//! uploads and run updates overwrite; and a `runs/create` that may have
//! reached the server is first looked up by its `neorl.client_run_id` tag.
//! (A server on MLflow's legacy file store does not deduplicate metric
//! points: there a request whose answer was lost can leave a duplicate.)
//!
//! **Killed runs.** The lock is an OS file lock, dropped when its process
//! dies however it dies. [`adopt_stale`] takes over the spools of dead
//! processes, appends `End(KILLED)` (end time: the journal's last write)
//! to a run that never ended, and sends the rest.

use super::record::{
    MAX_ENTITIES_PER_BATCH, MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH, Metric, Pair, Record,
    Status,
};
use super::rest::{RestClient, RestError};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Tag holding the client-side id of a run (makes `runs/create` retry-safe).
pub const CLIENT_RUN_ID_TAG: &str = "neorl.client_run_id";

/// What the server has confirmed for one spooled run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SpoolState {
    /// Records of the journal the server has acknowledged.
    pub acked: u64,
    /// Byte offset in the journal after those records.
    pub offset: u64,
    pub experiment_id: Option<String>,
    pub run_id: Option<String>,
    pub artifact_uri: Option<String>,
    /// Whether a `runs/create` was ever sent (its answer may have been lost).
    pub create_sent: bool,
    /// Records the server refused.
    pub rejected: u64,
}

/// Paths of one spooled run.
#[derive(Debug, Clone)]
pub struct SpoolFiles {
    pub id: String,
    pub journal: PathBuf,
    pub state: PathBuf,
    pub lock: PathBuf,
    pub files: PathBuf,
    pub rejected: PathBuf,
}

impl SpoolFiles {
    pub fn new(dir: &Path, id: &str) -> Self {
        SpoolFiles {
            id: id.to_string(),
            journal: dir.join(format!("{id}.jsonl")),
            state: dir.join(format!("{id}.state.json")),
            lock: dir.join(format!("{id}.lock")),
            files: dir.join(format!("{id}.files")),
            rejected: dir.join(format!("{id}.rejected.jsonl")),
        }
    }

    pub fn read_state(&self) -> SpoolState {
        fs::read_to_string(&self.state)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default()
    }

    fn write_state(&self, st: &SpoolState) -> Result<()> {
        let text = serde_json::to_string(st).map_err(|source| Error::Json {
            context: "spool state".into(),
            source,
        })?;
        super::filestore::write_atomic(&self.state, text.as_bytes())
    }

    /// Remove everything but the rejected records.
    fn remove(&self) {
        let _ = fs::remove_file(&self.journal);
        let _ = fs::remove_file(&self.state);
        let _ = fs::remove_dir_all(&self.files);
        let _ = fs::remove_file(&self.lock);
    }
}

/// Progress shared between a run's writer and its sender thread.
#[derive(Debug, Default)]
pub struct Progress {
    /// Records appended to the journal.
    pub written: u64,
    /// Records the server confirmed (or refused, see `rejected`).
    pub acked: u64,
    pub rejected: u64,
    pub run_id: Option<String>,
    pub experiment_id: Option<String>,
    /// The last transient failure, cleared on success.
    pub last_error: Option<String>,
    /// The writer will append no more (the run ended or was dropped).
    pub closed: bool,
    /// The sender thread returned.
    pub done: bool,
}

pub type Shared = Arc<(Mutex<Progress>, Condvar)>;

/// The writing end of a spooled run (owned by the run).
#[derive(Debug)]
pub struct Journal {
    pub files: SpoolFiles,
    file: File,
    pub shared: Shared,
    _lock: File,
}

impl Journal {
    /// Start a new spooled run and its sender thread.
    pub fn create(dir: &Path, id: &str, client: RestClient) -> Result<Self> {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let files = SpoolFiles::new(dir, id);
        let lock = super::filestore::create_locked(&files.lock, "")?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&files.journal)
            .map_err(|e| Error::io(&files.journal, e))?;
        let shared: Shared = Arc::default();
        let sender = Sender {
            files: files.clone(),
            client,
            shared: shared.clone(),
            ended: false,
        };
        std::thread::Builder::new()
            .name(format!("neorl-track-{id}"))
            .spawn(move || sender.run())
            .map_err(|e| Error::Tracking(format!("cannot start the sender thread: {e}")))?;
        Ok(Journal {
            files,
            file,
            shared,
            _lock: lock,
        })
    }

    /// Append records (one write per call; the OS keeps them if the process dies).
    pub fn append(&mut self, recs: &[Record]) -> Result<()> {
        let mut text = String::new();
        for r in recs {
            text.push_str(&serde_json::to_string(r).map_err(|source| Error::Json {
                context: "tracking record".into(),
                source,
            })?);
            text.push('\n');
        }
        self.file
            .write_all(text.as_bytes())
            .map_err(|e| Error::io(&self.files.journal, e))?;
        let (m, cv) = &*self.shared;
        let mut p = m.lock().unwrap_or_else(|e| e.into_inner());
        p.written += recs.len() as u64;
        cv.notify_all();
        Ok(())
    }

    /// Flush to the disk itself (at the end of a run).
    pub fn sync(&self) {
        let _ = self.file.sync_data();
    }

    /// Stop appending and wait until the server has everything, at most
    /// `timeout`. Returns what is still unsent.
    pub fn close(&mut self, timeout: Duration) -> Progress {
        self.sync();
        {
            let mut p = self.shared.0.lock().unwrap_or_else(|e| e.into_inner());
            p.closed = true;
            self.shared.1.notify_all();
        }
        // `done`: everything sent and the spool cleaned up (the sender ends
        // after the End record); a process exiting earlier could cut the
        // clean-up short.
        let p = wait_until(&self.shared, Instant::now() + timeout, |p| p.done);
        Progress {
            written: p.written,
            acked: p.acked,
            rejected: p.rejected,
            run_id: p.run_id.clone(),
            experiment_id: p.experiment_id.clone(),
            last_error: p.last_error.clone(),
            closed: true,
            done: p.done,
        }
    }
}

/// Wait until the run has a server id (at most `timeout`).
pub fn wait_for_run_id(shared: &Shared, timeout: Duration) -> (Option<String>, Option<String>) {
    let p = wait_until(shared, Instant::now() + timeout, |p| {
        p.run_id.is_some() || p.last_error.is_some() || p.done
    });
    (p.run_id.clone(), p.experiment_id.clone())
}

/// Wait until `ready` holds or `deadline` passes; the progress then.
fn wait_until(
    shared: &Shared,
    deadline: Instant,
    ready: impl Fn(&Progress) -> bool,
) -> std::sync::MutexGuard<'_, Progress> {
    let (m, cv) = &**shared;
    let mut p = m.lock().unwrap_or_else(|e| e.into_inner());
    while !ready(&p) {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        p = cv
            .wait_timeout(p, deadline - now)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    p
}

/// Take over the spools of processes that died and send each in a
/// background thread. Returns their ids and progress.
pub fn adopt_stale(dir: &Path, uri: &str) -> Vec<(String, Shared)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return vec![];
    };
    let mut adopted = vec![];
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(id) = name.strip_suffix(".lock") else {
            continue;
        };
        let files = SpoolFiles::new(dir, id);
        let Ok(lock) = OpenOptions::new().write(true).open(&files.lock) else {
            continue;
        };
        if lock.try_lock().is_err() {
            continue; // its process is alive
        }
        if !files.journal.exists() {
            // Its process died while cleaning up after sending everything.
            files.remove();
            continue;
        }
        if let Err(e) = end_if_unended(&files) {
            eprintln!("neorl tracking: spool {id}: {e}");
            continue;
        }
        let shared: Shared = Arc::default();
        {
            let mut p = shared.0.lock().unwrap_or_else(|e| e.into_inner());
            p.written = count_lines(&files.journal);
            p.closed = true;
        }
        let sender = Sender {
            files,
            client: RestClient::new(uri),
            shared: shared.clone(),
            // The journal ends with its End record now.
            ended: true,
        };
        let spawned = std::thread::Builder::new()
            .name(format!("neorl-track-{id}"))
            .spawn(move || {
                let _lock = lock;
                sender.run()
            });
        if spawned.is_ok() {
            adopted.push((id.to_string(), shared));
        }
    }
    adopted
}

/// Where an adopted spool stands.
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    /// neorl's id of the run (the spool's file name).
    pub client_run_id: String,
    pub run_id: Option<String>,
    pub records: u64,
    pub sent: u64,
    pub rejected: u64,
    /// Records still to send (0: everything is on the server, spool removed).
    pub pending: u64,
    pub last_error: Option<String>,
}

/// Wait (at most `timeout` in all) for adopted spools to be sent.
pub fn wait_all(adopted: &[(String, Shared)], timeout: Duration) -> Vec<SyncReport> {
    let deadline = Instant::now() + timeout;
    adopted
        .iter()
        .map(|(id, shared)| {
            let p = wait_until(shared, deadline, |p| p.done);
            SyncReport {
                client_run_id: id.clone(),
                run_id: p.run_id.clone(),
                records: p.written,
                sent: p.acked - p.rejected.min(p.acked),
                rejected: p.rejected,
                pending: p.written.saturating_sub(p.acked),
                last_error: p.last_error.clone(),
            }
        })
        .collect()
}

/// Append `End(KILLED)` to a journal whose run never ended.
fn end_if_unended(files: &SpoolFiles) -> Result<()> {
    let text = fs::read_to_string(&files.journal).unwrap_or_default();
    let mut last: Option<Record> = None;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        last = serde_json::from_str(line).ok().or(last);
    }
    if matches!(last, Some(Record::End { .. })) || text.is_empty() {
        return Ok(());
    }
    let end_time = fs::metadata(&files.journal)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or_else(super::record::now_ms, |d| d.as_millis() as i64);
    let mut f = OpenOptions::new()
        .append(true)
        .open(&files.journal)
        .map_err(|e| Error::io(&files.journal, e))?;
    // A line cut by the crash is closed first, so the End record stands alone.
    let sep = if text.ends_with('\n') { "" } else { "\n" };
    let rec = serde_json::to_string(&Record::End {
        status: Status::Killed,
        end_time,
    })
    .map_err(|source| Error::Json {
        context: "tracking record".into(),
        source,
    })?;
    f.write_all(format!("{sep}{rec}\n").as_bytes())
        .map_err(|e| Error::io(&files.journal, e))
}

fn count_lines(p: &Path) -> u64 {
    fs::read_to_string(p)
        .map(|t| t.lines().filter(|l| !l.trim().is_empty()).count() as u64)
        .unwrap_or(0)
}

/// The background thread that drains one journal into the server.
struct Sender {
    files: SpoolFiles,
    client: RestClient,
    shared: Shared,
    /// The journal holds its End record: once all is sent, clean up.
    ended: bool,
}

/// Back-off between retries: 0.25 s doubling to 5 s.
const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

impl Sender {
    fn run(self) {
        let mut st = self.files.read_state();
        {
            let mut p = self.lock();
            p.acked = st.acked;
            p.rejected = st.rejected;
            p.run_id = st.run_id.clone();
            p.experiment_id = st.experiment_id.clone();
        }
        let mut backoff = BACKOFF_START;
        let mut ended = self.ended;
        loop {
            let pending = self.read_pending(&st);
            if pending.is_empty() {
                if ended {
                    self.files.remove();
                    break;
                }
                // Wait for more records or the end of the writer.
                let (m, cv) = &*self.shared;
                let p = m.lock().unwrap_or_else(|e| e.into_inner());
                if p.closed && p.written <= st.acked {
                    drop(p);
                    // Closed without an End record: leave the spool for
                    // adoption by a later process (which ends it KILLED).
                    break;
                }
                let _ = cv.wait_timeout(p, Duration::from_millis(500));
                continue;
            }
            match self.send(&mut st, &pending) {
                Ok(n) => {
                    backoff = BACKOFF_START;
                    let last_is_end = pending[..n]
                        .iter()
                        .any(|(r, _)| matches!(r, Record::End { .. }));
                    ended |= last_is_end;
                    if let Err(e) = self.files.write_state(&st) {
                        eprintln!("neorl tracking: {e}");
                    }
                    let mut p = self.lock();
                    p.acked = st.acked;
                    p.rejected = st.rejected;
                    p.run_id = st.run_id.clone();
                    p.experiment_id = st.experiment_id.clone();
                    p.last_error = None;
                    self.shared.1.notify_all();
                }
                Err(e) => {
                    {
                        let mut p = self.lock();
                        p.last_error = Some(e.to_string());
                        self.shared.1.notify_all();
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
        let mut p = self.lock();
        p.done = true;
        self.shared.1.notify_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.shared.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Complete records after the acknowledged ones, with their end offsets
    /// (at most a few thousand, enough for one request).
    fn read_pending(&self, st: &SpoolState) -> Vec<(Record, u64)> {
        let Ok(mut f) = File::open(&self.files.journal) else {
            return vec![];
        };
        if f.seek(SeekFrom::Start(st.offset)).is_err() {
            return vec![];
        }
        let mut reader = BufReader::new(f);
        let mut out = vec![];
        let mut offset = st.offset;
        let mut line = String::new();
        while out.len() < 64 {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if !line.ends_with('\n') {
                        break; // being written
                    }
                    offset += n as u64;
                    if line.trim().is_empty() {
                        continue;
                    }
                    match serde_json::from_str::<Record>(&line) {
                        Ok(r) => out.push((r, offset)),
                        Err(e) => {
                            // A line cut by a crash: keep it with the rejected ones.
                            self.reject(line.trim(), &format!("unreadable journal line: {e}"));
                            out.push((
                                Record::Batch {
                                    metrics: vec![],
                                    params: vec![],
                                    tags: vec![],
                                },
                                offset,
                            ));
                        }
                    }
                }
            }
        }
        out
    }

    fn reject(&self, what: &str, why: &str) {
        eprintln!(
            "neorl tracking: the server refused a record of run {} ({why}); it is kept in {}",
            self.files.id,
            self.files.rejected.display()
        );
        if let Ok(mut f) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.files.rejected)
        {
            let _ = writeln!(f, "{}", serde_json::json!({"record": what, "error": why}));
        }
    }

    /// Send the first pending record(s); returns how many were consumed.
    fn send(
        &self,
        st: &mut SpoolState,
        pending: &[(Record, u64)],
    ) -> std::result::Result<usize, RestError> {
        let (first, _) = &pending[0];
        let result = match first {
            Record::Create { .. } => self.create(st, first).map(|_| 1),
            _ if st.run_id.is_none() => {
                // Journal without its Create (should not happen): nothing to attach to.
                Err(RestError {
                    transient: false,
                    status: None,
                    code: "NO_RUN".into(),
                    message: "record before the run was created".into(),
                })
                .map(|()| 1)
            }
            Record::Batch { .. } => self.batch(st, pending),
            Record::Artifact { file, dest } => {
                let run_uri = st.artifact_uri.clone().unwrap_or_default();
                self.client
                    .upload_artifact(&run_uri, dest, Path::new(file))
                    .map(|_| {
                        if Path::new(file).starts_with(&self.files.files) {
                            let _ = fs::remove_file(file);
                        }
                        1
                    })
            }
            Record::End { status, end_time } => self
                .client
                .update_run(st.run_id.as_deref().unwrap_or(""), *status, *end_time)
                .map(|_| 1),
        };
        match result {
            Ok(n) => {
                st.acked += n as u64;
                st.offset = pending[n - 1].1;
                Ok(n)
            }
            Err(e) if e.transient => Err(e),
            Err(e) => {
                // Refused: keep it aside and go on with the rest.
                let line = serde_json::to_string(first).unwrap_or_default();
                self.reject(&line, &e.to_string());
                st.rejected += 1;
                st.acked += 1;
                st.offset = pending[0].1;
                Ok(1)
            }
        }
    }

    fn create(&self, st: &mut SpoolState, rec: &Record) -> std::result::Result<(), RestError> {
        let Record::Create {
            experiment,
            run_name,
            start_time,
            user,
            tags,
        } = rec
        else {
            return Ok(());
        };
        let exp = self.client.ensure_experiment(experiment)?;
        st.experiment_id = Some(exp.clone());
        if st.create_sent
            && let Some((id, uri)) =
                self.client
                    .find_run_by_tag(&exp, CLIENT_RUN_ID_TAG, &self.files.id)?
        {
            st.run_id = Some(id);
            st.artifact_uri = Some(uri);
            return Ok(());
        }
        st.create_sent = true;
        let _ = self.files.write_state(st);
        let mut all = tags.clone();
        all.push((CLIENT_RUN_ID_TAG.into(), self.files.id.clone()));
        let (id, uri) = self
            .client
            .create_run(&exp, run_name, *start_time, user, &all)?;
        st.run_id = Some(id);
        st.artifact_uri = Some(uri);
        Ok(())
    }

    /// One `log-batch` of as many consecutive batch records as fit. When
    /// the server refuses the merged request, the records go one by one so
    /// that only the refused one is set aside. Returns the records consumed.
    fn batch(
        &self,
        st: &mut SpoolState,
        pending: &[(Record, u64)],
    ) -> std::result::Result<usize, RestError> {
        let run_id = st.run_id.clone().unwrap_or_default();
        let (mut metrics, mut params, mut tags): (Vec<Metric>, Vec<Pair>, Vec<Pair>) =
            (vec![], vec![], vec![]);
        let mut n = 0;
        for (r, _) in pending {
            let Record::Batch {
                metrics: m,
                params: p,
                tags: t,
            } = r
            else {
                break;
            };
            let fits = metrics.len() + m.len() <= MAX_METRICS_PER_BATCH
                && params.len() + p.len() <= MAX_PARAMS_TAGS_PER_BATCH
                && tags.len() + t.len() <= MAX_PARAMS_TAGS_PER_BATCH
                && metrics.len() + params.len() + tags.len() + m.len() + p.len() + t.len()
                    <= MAX_ENTITIES_PER_BATCH;
            if n > 0 && !fits {
                break;
            }
            metrics.extend(m.iter().cloned());
            params.extend(p.iter().cloned());
            tags.extend(t.iter().cloned());
            n += 1;
        }
        if metrics.is_empty() && params.is_empty() && tags.is_empty() {
            return Ok(n);
        }
        match self.client.log_batch(&run_id, &metrics, &params, &tags) {
            Ok(()) => Ok(n),
            Err(e) if e.transient || n == 1 => Err(e),
            Err(_) => {
                for (i, (r, _)) in pending[..n].iter().enumerate() {
                    let Record::Batch {
                        metrics: m,
                        params: p,
                        tags: t,
                    } = r
                    else {
                        continue;
                    };
                    match self.client.log_batch(&run_id, m, p, t) {
                        Ok(()) => {}
                        Err(e) if e.transient => {
                            return if i == 0 { Err(e) } else { Ok(i) };
                        }
                        Err(e) => {
                            self.reject(
                                &serde_json::to_string(r).unwrap_or_default(),
                                &e.to_string(),
                            );
                            st.rejected += 1;
                        }
                    }
                }
                Ok(n)
            }
        }
    }
}
