//! HDF5 reading and writing (hdf5-metno against the system libhdf5).
//!
//! neorl files use D4RL's flat layout (described in [`crate::data`]): every
//! array is a dataset in the root group, chunked along the transition axis
//! and compressed with shuffle + deflate (gzip), which every HDF5 reader
//! (h5py, MATLAB, HDFView, …) decodes without plug-ins. The same reader
//! opens D4RL files written by others; [`super::formats`] adds Minari's
//! per-episode layout.
//!
//! [`Reader`] reads lazily: it keeps only the episode index (built from the
//! `terminals` and `timeouts` flags) in memory and reads any row range,
//! chunk or episode on demand, so files larger than memory can be streamed.

// A reader of untrusted files: no panic on any input (issue 17). Unwraps,
// panics and unchecked indexing are errors here.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::checksum::{content_sha256, metadata_sha256};
use super::dataset::{Columns, ConstraintColumn, Dataset, Metadata, episode_starts};
use crate::error::{Error, Result};
use hdf5::types::{TypeDescriptor, VarLenUnicode};
use hdf5::{Hyperslab, Location, SliceOrIndex};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Value of the `format` root attribute of files neorl writes.
pub const FORMAT: &str = "neorl-d4rl/1";

/// Keys a D4RL-layout file must have.
pub const REQUIRED_KEYS: [&str; 6] = [
    "observations",
    "actions",
    "rewards",
    "next_observations",
    "terminals",
    "timeouts",
];

/// How datasets are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// Rows per chunk along the transition axis.
    pub chunk_rows: usize,
    /// Deflate (gzip) level, 0–9; 0 stores uncompressed chunks.
    pub deflate: u8,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            chunk_rows: 8192,
            deflate: 4,
        }
    }
}

fn h5(path: &Path, doing: &str) -> impl Fn(hdf5::Error) -> Error {
    let path = path.to_path_buf();
    let doing = doing.to_string();
    move |e| Error::data_file(&path, format!("{doing}: {e}"))
}

fn vlen(s: &str) -> VarLenUnicode {
    s.replace('\0', " ").parse().unwrap_or_default()
}

fn set_str(loc: &Location, name: &str, v: &str) -> hdf5::Result<()> {
    loc.new_attr::<VarLenUnicode>()
        .create(name)?
        .write_scalar(&vlen(v))
}

fn set_strs(loc: &Location, name: &str, v: &[String]) -> hdf5::Result<()> {
    let data: Vec<VarLenUnicode> = v.iter().map(|s| vlen(s)).collect();
    loc.new_attr::<VarLenUnicode>()
        .shape(data.len())
        .create(name)?
        .write_raw(&data)
}

fn set_num<T: hdf5::H5Type>(loc: &Location, name: &str, v: T) -> hdf5::Result<()> {
    loc.new_attr::<T>().create(name)?.write_scalar(&v)
}

/// A string attribute, if present and a string.
pub(crate) fn get_str(loc: &Location, name: &str) -> Option<String> {
    let a = loc.attr(name).ok()?;
    match a.dtype().ok()?.to_descriptor().ok()? {
        TypeDescriptor::VarLenUnicode => a
            .read_scalar::<VarLenUnicode>()
            .ok()
            .map(|s| s.as_str().to_string()),
        TypeDescriptor::VarLenAscii => a
            .read_scalar::<hdf5::types::VarLenAscii>()
            .ok()
            .map(|s| s.as_str().to_string()),
        TypeDescriptor::FixedAscii(_) | TypeDescriptor::FixedUnicode(_) => a
            .read_scalar::<hdf5::types::FixedUnicode<1024>>()
            .ok()
            .map(|s| s.as_str().to_string()),
        _ => None,
    }
}

/// A numeric attribute as f64, if present and numeric.
pub(crate) fn get_f64(loc: &Location, name: &str) -> Option<f64> {
    let a = loc.attr(name).ok()?;
    match a.dtype().ok()?.to_descriptor().ok()? {
        TypeDescriptor::Float(_) | TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => {
            a.read_scalar::<f64>().ok()
        }
        _ => None,
    }
}

fn get_u64(loc: &Location, name: &str) -> Option<u64> {
    let a = loc.attr(name).ok()?;
    match a.dtype().ok()?.to_descriptor().ok()? {
        TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => a.read_scalar::<u64>().ok(),
        _ => None,
    }
}

fn get_bool(loc: &Location, name: &str) -> Option<bool> {
    let a = loc.attr(name).ok()?;
    match a.dtype().ok()?.to_descriptor().ok()? {
        TypeDescriptor::Boolean => a.read_scalar::<bool>().ok(),
        TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => {
            a.read_scalar::<i64>().ok().map(|v| v != 0)
        }
        _ => None,
    }
}

fn get_strs(loc: &Location, name: &str) -> Vec<String> {
    let Ok(a) = loc.attr(name) else {
        return vec![];
    };
    match a.dtype().and_then(|d| d.to_descriptor()) {
        Ok(TypeDescriptor::VarLenUnicode) => a
            .read_raw::<VarLenUnicode>()
            .map(|v| v.iter().map(|s| s.as_str().to_string()).collect())
            .unwrap_or_default(),
        _ => vec![],
    }
}

/// Every root attribute rendered as text (for `neorl datasets info`).
pub fn attributes_as_text(path: impl AsRef<Path>) -> Result<Vec<(String, String)>> {
    let path = path.as_ref();
    let file = open_file(path)?;
    let names = file
        .attr_names()
        .map_err(h5(path, "could not list the attributes"))?;
    let mut out = vec![];
    for n in names {
        let v = if let Some(s) = get_str(&file, &n) {
            s
        } else if let Some(b) = get_bool(&file, &n).filter(|_| {
            matches!(
                file.attr(&n)
                    .and_then(|a| a.dtype())
                    .and_then(|d| d.to_descriptor()),
                Ok(TypeDescriptor::Boolean)
            )
        }) {
            b.to_string()
        } else if let Some(u) = get_u64(&file, &n) {
            u.to_string()
        } else if let Some(f) = get_f64(&file, &n) {
            f.to_string()
        } else {
            let s = get_strs(&file, &n);
            if s.is_empty() {
                "(unsupported type)".to_string()
            } else {
                s.join(", ")
            }
        };
        out.push((n, v));
    }
    Ok(out)
}

fn write_f32(
    g: &hdf5::Group,
    name: &str,
    data: &[f32],
    n: usize,
    dim: Option<usize>,
    o: &WriteOptions,
) -> hdf5::Result<()> {
    let rows = o.chunk_rows.clamp(1, n.max(1));
    let b = g.new_dataset::<f32>();
    let ds = match dim {
        Some(d) => {
            let b = b.shape((n, d)).chunk((rows, d.max(1)));
            let b = if o.deflate > 0 {
                b.shuffle().deflate(o.deflate)
            } else {
                b
            };
            b.create(name)?
        }
        None => {
            let b = b.shape(n).chunk(rows);
            let b = if o.deflate > 0 {
                b.shuffle().deflate(o.deflate)
            } else {
                b
            };
            b.create(name)?
        }
    };
    ds.write_raw(data)
}

fn write_bool(g: &hdf5::Group, name: &str, data: &[bool], o: &WriteOptions) -> hdf5::Result<()> {
    let n = data.len();
    let b = g
        .new_dataset::<bool>()
        .shape(n)
        .chunk(o.chunk_rows.clamp(1, n.max(1)));
    let b = if o.deflate > 0 {
        b.deflate(o.deflate)
    } else {
        b
    };
    b.create(name)?.write_raw(data)
}

/// Write `d` to `path` in the neorl/D4RL layout with default options.
/// The content SHA-256 is computed and stored in the `sha256` attribute.
/// The file is written next to `path` and renamed into place, so readers
/// never see a half-written file.
pub fn write(d: &Dataset, path: impl AsRef<Path>) -> Result<String> {
    write_with(d, path, &WriteOptions::default())
}

/// As [`write`], with explicit chunking and compression.
pub fn write_with(d: &Dataset, path: impl AsRef<Path>, o: &WriteOptions) -> Result<String> {
    let path = path.as_ref();
    if d.is_empty() {
        return Err(Error::data_file(
            path,
            "refusing to write a dataset with no transitions",
        ));
    }
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    crate::limits::check_replaceable(path)?;
    let sha = content_sha256(d);
    let tmp = partial_path(path);
    let result = write_file(d, &tmp, &sha, o).map_err(h5(path, "could not write the HDF5 file"));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    Ok(sha)
}

/// `<path>.partial-<pid>`: where a file is written before it is renamed.
pub(crate) fn partial_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(format!(".partial-{}", std::process::id()));
    PathBuf::from(s)
}

fn write_file(d: &Dataset, path: &Path, sha: &str, o: &WriteOptions) -> hdf5::Result<()> {
    let created = std::fs::File::create(path).map_err(|e| e.to_string())?;
    let name = Utf8Name::of(path, &created).map_err(|e| e.to_string())?;
    let file = hdf5::File::create(name.path())?;
    {
        let m = d.metadata();
        let (n, od, ad) = (d.len(), d.obs_dim(), d.act_dim());
        write_f32(&file, "observations", d.observations(), n, Some(od), o)?;
        write_f32(&file, "actions", d.actions(), n, Some(ad), o)?;
        write_f32(&file, "rewards", d.rewards(), n, None, o)?;
        write_f32(
            &file,
            "next_observations",
            d.next_observations(),
            n,
            Some(od),
            o,
        )?;
        write_bool(&file, "terminals", d.terminals(), o)?;
        write_bool(&file, "timeouts", d.timeouts(), o)?;
        write_f32(&file, "costs", d.costs(), n, None, o)?;
        let infos = file.create_group("infos")?;
        let viol = infos.create_group("violations")?;
        for c in d.constraints() {
            write_f32(&infos, &c.name, &c.values, n, None, o)?;
            write_bool(&viol, &c.name, &c.violations, o)?;
        }
        set_str(&file, "format", FORMAT)?;
        set_str(&file, "dataset_id", &m.dataset_id)?;
        set_str(&file, "env_id", &m.env_id)?;
        set_str(&file, "quality", &m.quality)?;
        if let Some(seed) = m.seed {
            set_num(&file, "seed", seed)?;
        }
        set_str(&file, "generator", &m.generator)?;
        set_str(&file, "neorl_version", &m.neorl_version)?;
        set_str(&file, "behavior_policy", &m.behavior_policy)?;
        if let Some(v) = m.ref_min_score {
            set_num(&file, "ref_min_score", v)?;
        }
        if let Some(v) = m.ref_max_score {
            set_num(&file, "ref_max_score", v)?;
        }
        if let Some(v) = m.sensor_noise {
            set_num(&file, "sensor_noise", v)?;
        }
        if let Some(v) = m.disturbances {
            set_num(&file, "disturbances", v)?;
        }
        set_strs(&file, "observation_names", &d.observation_names())?;
        set_strs(&file, "action_names", &d.action_names())?;
        let cn: Vec<String> = d.constraints().iter().map(|c| c.name.clone()).collect();
        set_strs(&file, "constraint_names", &cn)?;
        set_num(&file, "transitions", n as u64)?;
        set_num(&file, "episodes", d.num_episodes() as u64)?;
        set_str(&file, "sha256", sha)?;
        // Hashed as read back, so the digest is of exactly what readers see.
        let written = metadata_sha256(&read_metadata(&file, "neorl"), &cn);
        set_str(&file, "metadata_sha256", &written)?;
    }
    file.close()
}

/// The 8-byte signature every HDF5 file starts with (at offset 0, or at a
/// user-block boundary 512, 1024, 2048, …).
const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

fn has_hdf5_signature(path: &Path) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let mut off = 0u64;
    let mut buf = [0u8; 8];
    while off + 8 <= len {
        f.seek(SeekFrom::Start(off))?;
        f.read_exact(&mut buf)?;
        if &buf == SIGNATURE {
            return Ok(true);
        }
        off = if off == 0 { 512 } else { off * 2 };
    }
    Ok(false)
}

/// The name the HDF5 library is given for `path`. It takes file names as
/// UTF-8 text, while a Unix path may be any bytes (`neorl datasets generate
/// … --out $'\xff.h5'`): such a path is reached through this process's own
/// descriptor of the file, `/proc/self/fd/N` (Linux), which names the same
/// file in ASCII. `file` must be open on `path` (and stay open) while the
/// HDF5 library opens the name.
struct Utf8Name(PathBuf);

impl Utf8Name {
    fn of(path: &Path, file: &std::fs::File) -> std::io::Result<Self> {
        if path.to_str().is_some() {
            return Ok(Utf8Name(path.to_path_buf()));
        }
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let alias = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
            if alias.exists() {
                return Ok(Utf8Name(alias));
            }
        }
        let _ = file;
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the HDF5 library takes UTF-8 file names only, and this path is not UTF-8 (on Linux neorl goes through /proc/self/fd, which is not mounted here); rename the file or its folder",
        ))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

/// Open an HDF5 file for reading, with an error that says what is wrong.
pub(crate) fn open_file(path: &Path) -> Result<hdf5::File> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::data_file(path, "is a directory, not an HDF5 file"));
    }
    match has_hdf5_signature(path) {
        Ok(false) => {
            return Err(Error::data_file(
                path,
                format!(
                    "not an HDF5 file: no HDF5 signature in its {} bytes (expected a .h5/.hdf5 file in the neorl, D4RL or Minari layout)",
                    meta.len()
                ),
            ));
        }
        Err(e) => return Err(Error::io(path, e)),
        Ok(true) => {}
    }
    let opened = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let name = Utf8Name::of(path, &opened).map_err(|e| Error::io(path, e))?;
    hdf5::File::open(name.path()).map_err(|e| {
        let msg = e.to_string();
        if msg.contains("unable to lock file") {
            Error::data_file(
                path,
                format!(
                    "another process holds an HDF5 lock on it ({msg}); close the program that has it open, or set HDF5_USE_FILE_LOCKING=FALSE for read-only use"
                ),
            )
        } else {
            Error::data_file(
                path,
                format!(
                    "the HDF5 library cannot open it, so it is probably truncated or corrupt ({msg}); delete it and generate or download it again"
                ),
            )
        }
    })
}

/// Which on-disk layout a file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Flat arrays in the root group (neorl and D4RL).
    D4rl,
    /// One `episode_<id>` group per episode (Minari).
    Minari,
}

/// Detect the layout of an open file.
pub(crate) fn detect_layout(path: &Path, file: &hdf5::File) -> Result<Layout> {
    if file.link_exists("observations") {
        return Ok(Layout::D4rl);
    }
    let names = file
        .member_names()
        .map_err(h5(path, "could not list the root group"))?;
    if names.iter().any(|n| is_minari_episode(n)) {
        return Ok(Layout::Minari);
    }
    Err(Error::data_file(
        path,
        format!(
            "neither the D4RL layout (root datasets {}) nor the Minari layout (episode_<id> groups); the file has: [{}]",
            REQUIRED_KEYS.join(", "),
            names.join(", ")
        ),
    ))
}

pub(crate) fn is_minari_episode(name: &str) -> bool {
    name.strip_prefix("episode_")
        .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
}

/// A dataset that must be there, with a message naming it when it is not.
pub(crate) fn require(
    path: &Path,
    group: &hdf5::Group,
    key: &str,
    context: &str,
) -> Result<hdf5::Dataset> {
    if !group.link_exists(key) {
        let found = group.member_names().unwrap_or_default().join(", ");
        return Err(Error::data_file(
            path,
            format!("missing key '{key}'{context}; found: [{found}]"),
        ));
    }
    group.dataset(key).map_err(|e| {
        Error::data_file(
            path,
            format!("'{key}'{context} is not a dataset (a group?): {e}"),
        )
    })
}

/// Rows and width of a 1-D (`n`) or 2-D (`n × d`) dataset.
pub(crate) fn rows_and_width(path: &Path, ds: &hdf5::Dataset, key: &str) -> Result<(usize, usize)> {
    let shape = ds.shape();
    match shape.as_slice() {
        [n] => Ok((*n, 1)),
        [n, d] => Ok((*n, *d)),
        _ => Err(Error::data_file(
            path,
            format!("'{key}' has shape {shape:?}; expected one row per transition (1-D or 2-D)"),
        )),
    }
}

fn describe(td: &Result<TypeDescriptor, hdf5::Error>) -> String {
    match td {
        Ok(t) => t.to_string(),
        Err(e) => format!("unknown ({e})"),
    }
}

fn read_rows<T: hdf5::H5Type + Copy>(
    ds: &hdf5::Dataset,
    rows: Option<Range<usize>>,
) -> hdf5::Result<Vec<T>> {
    match rows {
        None => ds.read_raw::<T>(),
        Some(r) => {
            let mut sel = vec![SliceOrIndex::from(r)];
            if ds.ndim() == 2 {
                sel.push(SliceOrIndex::from(..));
                Ok(ds
                    .read_slice_2d::<T, _>(Hyperslab::from(sel))?
                    .into_raw_vec_and_offset()
                    .0)
            } else {
                Ok(ds
                    .read_slice_1d::<T, _>(Hyperslab::from(sel))?
                    .into_raw_vec_and_offset()
                    .0)
            }
        }
    }
}

/// Read a numeric dataset as f32 (f64 and integers are converted); other
/// dtypes are an error naming the key and its dtype.
pub(crate) fn read_f32(
    path: &Path,
    ds: &hdf5::Dataset,
    key: &str,
    rows: Option<Range<usize>>,
) -> Result<Vec<f32>> {
    let td = ds.dtype().and_then(|d| d.to_descriptor());
    match td {
        Ok(TypeDescriptor::Float(_) | TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_)) => {
            read_rows::<f32>(ds, rows).map_err(|e| {
                Error::data_file(
                    path,
                    format!("could not read '{key}' (corrupt or truncated data?): {e}"),
                )
            })
        }
        _ => Err(Error::data_file(
            path,
            format!(
                "'{key}' has dtype {}; expected a numeric array (float32 preferred)",
                describe(&td)
            ),
        )),
    }
}

/// Read a flag dataset (bool, or integers/floats that are all 0 or 1).
pub(crate) fn read_flags(
    path: &Path,
    ds: &hdf5::Dataset,
    key: &str,
    rows: Option<Range<usize>>,
) -> Result<Vec<bool>> {
    let td = ds.dtype().and_then(|d| d.to_descriptor());
    let bad = |e: hdf5::Error| {
        Error::data_file(
            path,
            format!("could not read '{key}' (corrupt or truncated data?): {e}"),
        )
    };
    match td {
        Ok(TypeDescriptor::Boolean) => read_rows::<bool>(ds, rows).map_err(bad),
        Ok(TypeDescriptor::Float(_) | TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_)) => {
            let v = read_rows::<f64>(ds, rows).map_err(bad)?;
            if let Some((i, x)) = v.iter().enumerate().find(|(_, x)| **x != 0.0 && **x != 1.0) {
                return Err(Error::data_file(
                    path,
                    format!("'{key}'[{i}] is {x}; flags must be booleans or 0/1"),
                ));
            }
            Ok(v.into_iter().map(|x| x != 0.0).collect())
        }
        _ => Err(Error::data_file(
            path,
            format!(
                "'{key}' has dtype {}; expected bool (or 0/1 integers)",
                describe(&td)
            ),
        )),
    }
}

/// A lazy reader of a neorl- or D4RL-layout file: the episode index is in
/// memory, everything else is read on demand.
#[derive(Debug)]
pub struct Reader {
    path: PathBuf,
    file: hdf5::File,
    meta: Metadata,
    n: usize,
    obs_dim: usize,
    act_dim: usize,
    constraint_names: Vec<String>,
    has_costs: bool,
    starts: Vec<usize>,
}

impl Reader {
    /// Open a D4RL-layout file (neorl's files are D4RL-layout files with
    /// extra keys) and build its episode index.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = open_file(path)?;
        if detect_layout(path, &file)? == Layout::Minari {
            return Err(Error::data_file(
                path,
                "is in the Minari layout (episode_<id> groups); read it whole with neorl::data::read",
            ));
        }
        Self::from_file(path, file)
    }

    pub(crate) fn from_file(path: &Path, file: hdf5::File) -> Result<Self> {
        let ctx = " (the D4RL layout needs observations, actions, rewards, next_observations, terminals, timeouts)";
        let mut shapes = vec![];
        for key in REQUIRED_KEYS {
            let ds = require(path, &file, key, ctx)?;
            shapes.push((key, rows_and_width(path, &ds, key)?));
        }
        // REQUIRED_KEYS starts with observations, actions, rewards,
        // next_observations: their (rows, width).
        let &[
            (_, (n, obs_dim)),
            (_, (_, act_dim)),
            _,
            (_, (_, next_width)),
            ..,
        ] = shapes.as_slice()
        else {
            return Err(Error::data_file(path, format!("missing keys{ctx}")));
        };
        for &(key, (rows, width)) in &shapes {
            if rows != n {
                return Err(Error::data_file(
                    path,
                    format!(
                        "'{key}' has {rows} rows but 'observations' has {n} (mismatched lengths)"
                    ),
                ));
            }
            if matches!(key, "rewards" | "terminals" | "timeouts") && width != 1 {
                return Err(Error::data_file(
                    path,
                    format!("'{key}' has {width} columns; expected one value per transition"),
                ));
            }
        }
        if next_width != obs_dim {
            return Err(Error::data_file(
                path,
                format!(
                    "'next_observations' has {next_width} columns but 'observations' has {obs_dim}"
                ),
            ));
        }
        let has_costs = file.link_exists("costs");
        if has_costs {
            let ds = require(path, &file, "costs", "")?;
            let (rows, width) = rows_and_width(path, &ds, "costs")?;
            if rows != n || width != 1 {
                return Err(Error::data_file(
                    path,
                    format!("'costs' has shape {:?}; expected ({n},)", ds.shape()),
                ));
            }
        }
        let constraint_names = get_strs(&file, "constraint_names");
        for c in &constraint_names {
            for key in [format!("infos/{c}"), format!("infos/violations/{c}")] {
                let ds = require(
                    path,
                    &file,
                    &key,
                    " (listed in the constraint_names attribute)",
                )?;
                let (rows, width) = rows_and_width(path, &ds, &key)?;
                if rows != n || width != 1 {
                    return Err(Error::data_file(
                        path,
                        format!("'{key}' has shape {:?}; expected ({n},)", ds.shape()),
                    ));
                }
            }
        }
        let terminals = read_flags(
            path,
            &file.dataset("terminals").map_err(h5(path, "terminals"))?,
            "terminals",
            None,
        )?;
        let timeouts = read_flags(
            path,
            &file.dataset("timeouts").map_err(h5(path, "timeouts"))?,
            "timeouts",
            None,
        )?;
        let starts = episode_starts(&terminals, &timeouts);
        let meta = read_metadata(
            &file,
            if get_str(&file, "format").is_some() {
                "neorl"
            } else {
                "d4rl"
            },
        );
        Ok(Reader {
            path: path.to_path_buf(),
            file,
            meta,
            n,
            obs_dim,
            act_dim,
            constraint_names,
            has_costs,
            starts,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn metadata(&self) -> &Metadata {
        &self.meta
    }
    /// Number of transitions in the file.
    pub fn len(&self) -> usize {
        self.n
    }
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }
    pub fn act_dim(&self) -> usize {
        self.act_dim
    }
    pub fn constraint_names(&self) -> &[String] {
        &self.constraint_names
    }
    pub fn num_episodes(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }
    /// Rows of episode `e` (empty for an episode the file does not have).
    pub fn episode_range(&self, e: usize) -> Range<usize> {
        match (
            self.starts.get(e),
            e.checked_add(1).and_then(|n| self.starts.get(n)),
        ) {
            (Some(&start), Some(&end)) => start..end,
            _ => 0..0,
        }
    }

    fn ds(&self, key: &str) -> Result<hdf5::Dataset> {
        self.file
            .dataset(key)
            .map_err(h5(&self.path, &format!("could not open '{key}'")))
    }

    /// Rows `range` as a dataset (`None`: the whole file).
    pub fn read_rows(&self, range: Option<Range<usize>>) -> Result<Dataset> {
        if let Some(r) = &range
            && (r.start > r.end || r.end > self.n)
        {
            return Err(Error::InvalidArgument(format!(
                "{}: rows {r:?} are outside the file's {} rows",
                self.path.display(),
                self.n
            )));
        }
        let p = &self.path;
        let rows = range.clone().map(|r| r.len()).unwrap_or(self.n);
        let f = |key: &str| read_f32(p, &self.ds(key)?, key, range.clone());
        let b = |key: &str| read_flags(p, &self.ds(key)?, key, range.clone());
        let cols = Columns {
            obs_dim: self.obs_dim,
            act_dim: self.act_dim,
            observations: f("observations")?,
            actions: f("actions")?,
            rewards: f("rewards")?,
            next_observations: f("next_observations")?,
            terminals: b("terminals")?,
            timeouts: b("timeouts")?,
            costs: if self.has_costs {
                f("costs")?
            } else {
                vec![0.0; rows]
            },
            constraints: self
                .constraint_names
                .iter()
                .map(|c| {
                    Ok(ConstraintColumn {
                        name: c.clone(),
                        values: f(&format!("infos/{c}"))?,
                        violations: b(&format!("infos/violations/{c}"))?,
                    })
                })
                .collect::<Result<_>>()?,
        };
        let mut meta = self.meta.clone();
        if range.is_some() {
            meta.sha256 = None;
        }
        Dataset::new(meta, cols).map_err(|e| Error::data_file(p, e.to_string()))
    }

    /// The whole file, checking the content against the `sha256` attribute
    /// when there is one.
    pub fn read_all(&self) -> Result<Dataset> {
        let d = self.read_rows(None)?;
        if let Some(expected) = &self.meta.sha256 {
            let actual = content_sha256(&d);
            if &actual != expected {
                return Err(Error::Checksum {
                    what: self.path.display().to_string(),
                    expected: expected.clone(),
                    actual,
                    source_of_expected: "the file's sha256 attribute".into(),
                    fix: "the file is corrupt or was modified; delete it and generate it again (`neorl datasets generate ID`)".into(),
                });
            }
        }
        if let Some(expected) = &self.meta.metadata_sha256 {
            let actual = metadata_sha256(&self.meta, &self.constraint_names);
            if &actual != expected {
                return Err(Error::MetadataChecksum {
                    path: self.path.clone(),
                    expected: expected.clone(),
                    actual,
                });
            }
        }
        Ok(d)
    }

    /// Episode `e` as a dataset.
    pub fn read_episode(&self, e: usize) -> Result<Dataset> {
        if e >= self.num_episodes() {
            return Err(Error::InvalidArgument(format!(
                "{}: episode {e} does not exist (the file has {})",
                self.path.display(),
                self.num_episodes()
            )));
        }
        self.read_rows(Some(self.episode_range(e)))
    }

    /// Consecutive blocks of at most `rows` transitions.
    pub fn chunks(&self, rows: usize) -> impl Iterator<Item = Result<Dataset>> + '_ {
        let rows = rows.max(1);
        (0..self.n.div_ceil(rows))
            .map(move |k| self.read_rows(Some(k * rows..((k + 1) * rows).min(self.n))))
    }

    /// Every episode in order, one at a time.
    pub fn episodes(&self) -> impl Iterator<Item = Result<Dataset>> + '_ {
        (0..self.num_episodes()).map(move |e| self.read_episode(e))
    }
}

/// Root attributes into [`Metadata`].
pub(crate) fn read_metadata(file: &hdf5::File, layout: &str) -> Metadata {
    Metadata {
        dataset_id: get_str(file, "dataset_id").unwrap_or_default(),
        env_id: get_str(file, "env_id").unwrap_or_default(),
        quality: get_str(file, "quality").unwrap_or_default(),
        seed: get_u64(file, "seed"),
        generator: get_str(file, "generator").unwrap_or_default(),
        neorl_version: get_str(file, "neorl_version").unwrap_or_default(),
        behavior_policy: get_str(file, "behavior_policy").unwrap_or_default(),
        ref_min_score: get_f64(file, "ref_min_score"),
        ref_max_score: get_f64(file, "ref_max_score"),
        sensor_noise: get_bool(file, "sensor_noise"),
        disturbances: get_bool(file, "disturbances"),
        observation_names: get_strs(file, "observation_names"),
        action_names: get_strs(file, "action_names"),
        layout: layout.to_string(),
        sha256: get_str(file, "sha256"),
        metadata_sha256: get_str(file, "metadata_sha256"),
    }
}
