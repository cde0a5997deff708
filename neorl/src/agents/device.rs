//! Where agents compute: the CPU (burn's pure-Rust `flex` backend) or a CUDA
//! GPU (burn-cuda, behind neorl's `cuda` cargo feature).
//!
//! Everything runs on one concrete backend type, burn's [`Dispatch`], whose
//! device is chosen at run time; notebook users never spell a backend type.
//! Training uses the autodiff flavour of the same device.
//!
//! A CPU device also says how many threads its computations use
//! ([`Threads`]: all cores unless told otherwise, `NEORL_THREADS` in the
//! environment, `--threads` on the command line). The training loop runs
//! every update inside the device's own rayon pool ([`Device::run`]), where
//! burn-flex splits its large matrix products over the pool's threads, and
//! agents run the independent parts of an update beside each other
//! ([`Device::join`]: each twin critic's forward and backward pass beside
//! the other's, a target network's forward pass beside the online
//! network's, one optimiser's Adam step beside another network's forward
//! or backward pass, the tensors of one Adam step on two threads). The
//! setting belongs to the device value, not to the process: two devices
//! with different counts (two notebook cells, two jobs of a score table)
//! each keep theirs.
//!
//! Results do not depend on the thread count: gemm splits a product by
//! output tiles and keeps each entry's sum over k on one thread in a fixed
//! order, and burn-flex's other parallel kernels are element- or row-wise
//! (`agents::tests` trains every algorithm with 1 and 2 threads and compares
//! the parameters bit for bit). The one exception in burn-flex 0.21 is the
//! sum of a whole tensor of 4 M elements or more, which no update here takes.

use crate::error::{Error, Result};
use burn::DispatchDevice;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};

/// The one backend type of neorl's agents.
pub type B = burn::Dispatch;

/// How many threads a CPU device computes with (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "usize", into = "usize")]
pub struct Threads(usize);

impl Threads {
    /// More than this is refused as a mistake (thread pools of thousands of
    /// OS threads only thrash).
    pub const MAX: usize = 1024;
    /// The environment variable that sets the default ([`Threads::default`]).
    pub const ENV: &'static str = "NEORL_THREADS";

    /// `n` threads; 0 or more than [`Threads::MAX`] is an error.
    pub fn new(n: usize) -> Result<Self> {
        if n == 0 {
            return Err(Error::InvalidArgument(
                "0 threads: use at least 1 (or `all` for every core)".into(),
            ));
        }
        if n > Self::MAX {
            return Err(Error::InvalidArgument(format!(
                "{n} threads is more than the limit of {}; this machine has {} cores",
                Self::MAX,
                cores()
            )));
        }
        Ok(Threads(n))
    }

    /// One thread per core the process may run on (1 where that cannot be told).
    pub fn all() -> Self {
        Threads(cores())
    }

    /// One thread.
    pub fn one() -> Self {
        Threads(1)
    }

    /// `"all"` (or `"auto"`) for every core, else a count.
    pub fn parse(s: &str) -> Result<Self> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("all") || t.eq_ignore_ascii_case("auto") {
            return Ok(Self::all());
        }
        match t.parse::<usize>() {
            Ok(n) => Self::new(n),
            Err(_) => Err(Error::InvalidArgument(format!(
                "threads '{s}' is not a count; use a number from 1 to {} or `all`",
                Self::MAX
            ))),
        }
    }

    /// `NEORL_THREADS` when set (an error when it is not a valid count),
    /// else every core.
    pub fn from_env() -> Result<Self> {
        match std::env::var(Self::ENV) {
            Ok(v) => Self::parse(&v)
                .map_err(|e| Error::InvalidArgument(format!("{}={v:?}: {e}", Self::ENV))),
            Err(_) => Ok(Self::all()),
        }
    }

    pub fn get(self) -> usize {
        self.0
    }
}

impl Default for Threads {
    /// [`Threads::from_env`]; an invalid `NEORL_THREADS` is reported once on
    /// stderr and every core is used.
    fn default() -> Self {
        Self::from_env().unwrap_or_else(|e| {
            static NOTE: std::sync::Once = std::sync::Once::new();
            NOTE.call_once(|| eprintln!("neorl: {e}; using every core"));
            Self::all()
        })
    }
}

impl TryFrom<usize> for Threads {
    type Error = Error;
    fn try_from(n: usize) -> Result<Self> {
        Self::new(n)
    }
}

impl From<Threads> for usize {
    fn from(t: Threads) -> usize {
        t.0
    }
}

impl std::fmt::Display for Threads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Cores this process may run on.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A compute device for agents.
#[derive(Clone)]
pub struct Device {
    kind: DeviceKind,
    base: DispatchDevice,
    autodiff: DispatchDevice,
    threads: Threads,
    /// The CPU's rayon pool of `threads` threads, built on first use and
    /// shared by clones (so an agent and its copies use the same threads).
    pool: Arc<OnceLock<Option<rayon::ThreadPool>>>,
}

impl PartialEq for Device {
    /// The same hardware and thread count (pools are not compared).
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.threads == other.threads && self.base == other.base
    }
}

impl Eq for Device {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeviceKind {
    Cpu,
    #[cfg(feature = "cuda")]
    Cuda(usize),
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())?;
        if self.is_cpu() {
            write!(f, " ({} threads)", self.threads)?;
        }
        Ok(())
    }
}

impl Default for Device {
    /// CUDA GPU 0 when neorl was built with the `cuda` feature and a GPU is
    /// usable; the CPU otherwise (a build with `cuda` says once on stderr
    /// why it fell back).
    fn default() -> Self {
        #[cfg(feature = "cuda")]
        match Device::cuda(0) {
            Ok(d) => return d,
            Err(e) => {
                static NOTE: std::sync::Once = std::sync::Once::new();
                NOTE.call_once(|| eprintln!("neorl: using the CPU ({e})"));
            }
        }
        Device::cpu()
    }
}

impl Device {
    /// The CPU, through burn's pure-Rust `flex` backend, with
    /// [`Threads::default`] threads (`NEORL_THREADS`, else every core).
    /// Deterministic: same seed, bit-identical parameters, whatever the
    /// thread count.
    pub fn cpu() -> Self {
        Self::cpu_with(Threads::default())
    }

    /// The CPU with `threads` threads.
    pub fn cpu_with(threads: Threads) -> Self {
        let base = DispatchDevice::Flex(burn::backend::flex::FlexDevice);
        Device {
            kind: DeviceKind::Cpu,
            autodiff: DispatchDevice::autodiff(base.clone()),
            base,
            threads,
            pool: Arc::default(),
        }
    }

    /// This device with `threads` threads and a pool of its own (a GPU
    /// device is returned as it is: its threads are the GPU's).
    pub fn with_threads(&self, threads: Threads) -> Self {
        Device {
            threads,
            pool: Arc::default(),
            ..self.clone()
        }
    }

    /// Threads of CPU computations.
    pub fn threads(&self) -> Threads {
        self.threads
    }

    /// Run `f` on this device's threads: inside its rayon pool on the CPU
    /// (burn-flex's parallel kernels then use that pool's threads), as it
    /// is elsewhere. Where the pool cannot be made (the OS refuses threads)
    /// `f` runs on the caller's thread and rayon's global pool.
    pub fn run<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        if !self.is_cpu() {
            return f();
        }
        let pool = self.pool.get_or_init(|| {
            keep_freed_memory();
            let n = self.threads.get();
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .thread_name(move |i| format!("neorl-cpu-{i}/{n}"))
                .build()
                .map_err(|e| eprintln!("neorl: no pool of {n} threads ({e}); using rayon's"))
                .ok()
        });
        match pool {
            Some(p) => p.install(f),
            None => f(),
        }
    }

    /// `a` and `b`, at the same time on two of this device's threads when
    /// it has more than one (CPU), else one after the other. The results
    /// are the same either way: each closure's computations are its own.
    /// The two may not build or differentiate the same autodiff graph:
    /// either one computes on plain tensors, or each builds a graph of its
    /// own that shares no tracked tensor with the other's (each twin
    /// critic's step, from the networks' `Mlp::member_leaves`);
    /// burn keeps such graphs apart. So no graph, and no order in which its
    /// gradients add up, depends on timing.
    pub fn join<RA: Send, RB: Send>(
        &self,
        a: impl FnOnce() -> RA + Send,
        b: impl FnOnce() -> RB + Send,
    ) -> (RA, RB) {
        if self.is_cpu() && self.threads.get() > 1 {
            self.run(|| rayon::join(a, b))
        } else {
            (a(), b())
        }
    }

    /// CUDA GPU `index`. Errors when neorl was built without the `cuda`
    /// feature, or when no usable GPU or driver is found.
    pub fn cuda(index: usize) -> Result<Self> {
        #[cfg(feature = "cuda")]
        {
            if !cuda_probe(index) {
                return Err(Error::Device(format!(
                    "no usable CUDA GPU {index}: the NVIDIA driver (libcuda) or the GPU was not found; use --device cpu"
                )));
            }
            let base = DispatchDevice::Cuda(burn::backend::cuda::CudaDevice::new(index));
            Ok(Device {
                kind: DeviceKind::Cuda(index),
                autodiff: DispatchDevice::autodiff(base.clone()),
                base,
                threads: Threads::default(),
                pool: Arc::default(),
            })
        }
        #[cfg(not(feature = "cuda"))]
        {
            let _ = index;
            Err(Error::Device(
                "this neorl was built without CUDA; rebuild with `--features cuda` (no CUDA toolkit needed to build) or use --device cpu".into(),
            ))
        }
    }

    /// `"cpu"`, `"cuda"`, `"cuda:N"` or `"auto"` (the default device).
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "cpu" => Ok(Device::cpu()),
            "auto" | "default" => Ok(Device::default()),
            "cuda" | "gpu" => Device::cuda(0),
            _ => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(i)) => Device::cuda(i),
                _ => Err(Error::InvalidArgument(format!(
                    "unknown device '{s}'; use cpu, cuda, cuda:N or auto"
                ))),
            },
        }
    }

    /// `"cpu"` or `"cuda:N"`.
    pub fn name(&self) -> String {
        match self.kind {
            DeviceKind::Cpu => "cpu".into(),
            #[cfg(feature = "cuda")]
            DeviceKind::Cuda(i) => format!("cuda:{i}"),
        }
    }

    pub fn is_cpu(&self) -> bool {
        self.kind == DeviceKind::Cpu
    }

    /// The plain (inference) burn device.
    pub fn base(&self) -> &DispatchDevice {
        &self.base
    }

    /// The autodiff (training) burn device.
    pub fn autodiff(&self) -> &DispatchDevice {
        &self.autodiff
    }
}

/// Tune glibc's allocator for training, once per process.
///
/// An update allocates and frees activation buffers of megabytes (CQL's
/// critics see 7 680 rows: 7.9 MB per layer). glibc serves blocks above its
/// mmap threshold with a fresh `mmap` and gives the top of its heap back to
/// the OS past its trim threshold, so every update took its memory anew
/// from the kernel: page faults were 17 % of a CQL update (perf). Raising
/// the mmap threshold to 256 MiB, the trim threshold to 512 MiB and the top
/// pad to 64 MiB cut the page faults of `bench train --algo cql` about 5×
/// (RESULTS.md). Process-wide, but it changes only when freed memory goes
/// back to the OS (at most about half a GiB stays with the process); a
/// program with its own global allocator (the `neorl` binary with
/// `mimalloc`) does not use glibc's for Rust's allocations anyway.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only sets glibc's tuning parameters; the values
            // are within their documented ranges (positive, below 2^31).
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
                libc::mallopt(libc::M_TOP_PAD, 64 << 20);
            }
        });
    }
}

/// Whether CUDA GPU `index` can run a tiny computation. The driver is loaded
/// at run time, so a build with `cuda` runs on machines without one; burn
/// panics when it is missing, which is caught here (with the panic message
/// silenced).
#[cfg(feature = "cuda")]
fn cuda_probe(index: usize) -> bool {
    #[cfg(target_os = "linux")]
    if !std::path::Path::new("/dev/nvidiactl").exists()
        && !std::path::Path::new("/proc/driver/nvidia/version").exists()
    {
        return false;
    }
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let ok = std::panic::catch_unwind(|| {
        let d = DispatchDevice::Cuda(burn::backend::cuda::CudaDevice::new(index));
        let t = burn::tensor::Tensor::<B, 1>::from_floats([1.0f32, 2.0], &d);
        t.sum().into_scalar() == 3.0
    })
    .unwrap_or(false);
    std::panic::set_hook(hook);
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_names() {
        assert_eq!(Device::parse("cpu").unwrap().name(), "cpu");
        assert!(Device::parse("tpu").is_err());
        #[cfg(not(feature = "cuda"))]
        {
            let e = Device::parse("cuda").unwrap_err().to_string();
            assert!(e.contains("--features cuda"), "{e}");
            assert_eq!(Device::default().name(), "cpu");
        }
    }

    #[test]
    fn thread_counts_are_checked() {
        assert!(
            Threads::new(0)
                .unwrap_err()
                .to_string()
                .contains("at least 1")
        );
        let e = Threads::new(1 << 40).unwrap_err().to_string();
        assert!(e.contains("limit"), "{e}");
        assert!(Threads::parse("two").is_err());
        assert_eq!(Threads::parse(" 3 ").unwrap().get(), 3);
        assert_eq!(Threads::parse("all").unwrap(), Threads::all());
        assert!(Threads::all().get() >= 1);
        let t: std::result::Result<Threads, _> = serde_json::from_str("0");
        assert!(t.is_err());
        assert_eq!(
            serde_json::to_string(&Threads::new(2).unwrap()).unwrap(),
            "2"
        );
    }

    /// The device's work runs in a pool of exactly its thread count, and
    /// each device keeps its own count.
    #[test]
    fn run_uses_the_devices_threads() {
        let one = Device::cpu_with(Threads::one());
        let three = one.with_threads(Threads::new(3).unwrap());
        assert_eq!(one.run(rayon::current_num_threads), 1);
        assert_eq!(three.run(rayon::current_num_threads), 3);
        assert_eq!(one.threads().get(), 1);
        assert_ne!(one, three);
        assert_eq!(format!("{three:?}"), "cpu (3 threads)");
    }
}
