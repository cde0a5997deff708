//! Where agents compute: the CPU (burn's pure-Rust `flex` backend) or a CUDA
//! GPU (burn-cuda, behind neorl's `cuda` cargo feature).
//!
//! Everything runs on one concrete backend type, burn's [`Dispatch`], whose
//! device is chosen at run time; notebook users never spell a backend type.
//! Training uses the autodiff flavour of the same device.

use crate::error::{Error, Result};
use burn::DispatchDevice;

/// The one backend type of neorl's agents.
pub type B = burn::Dispatch;

/// A compute device for agents.
#[derive(Clone, PartialEq, Eq)]
pub struct Device {
    kind: DeviceKind,
    base: DispatchDevice,
    autodiff: DispatchDevice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeviceKind {
    Cpu,
    #[cfg(feature = "cuda")]
    Cuda(usize),
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
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
    /// The CPU, through burn's pure-Rust `flex` backend (single-threaded,
    /// deterministic: same seed, bit-identical parameters).
    pub fn cpu() -> Self {
        let base = DispatchDevice::Flex(burn::backend::flex::FlexDevice);
        Device {
            kind: DeviceKind::Cpu,
            autodiff: DispatchDevice::autodiff(base.clone()),
            base,
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
}
