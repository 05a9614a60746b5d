//! Where tensors live: burn's wgpu backend on a GPU when one exists, else burn's CPU backend
//! (`flex`).
//!
//! A software wgpu adapter (Mesa lavapipe, the only adapter on a machine without a GPU) runs
//! burn's kernels several times slower than `flex`, so `auto` treats it as "no GPU"; `gpu` still
//! accepts it, which lets CI exercise the wgpu path.

use std::fmt;
#[cfg(feature = "wgpu")]
use std::sync::OnceLock;

use burn::tensor::Device;

/// Environment variable that overrides the default `--device`.
pub const DEVICE_ENV: &str = "MASKSCOPE_DEVICE";

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceRequest {
    /// A hardware GPU through wgpu when there is one, else the CPU backend.
    #[default]
    Auto,
    /// The CPU: maskscope's CPU inference path for every network (inference), burn's flex backend
    /// for the rest (training, other tensor work).
    Cpu,
    /// burn's wgpu backend on any adapter, software adapters included; an error without one.
    Gpu,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum DeviceError {
    #[error("a GPU was requested but none is usable: {0}")]
    NoGpu(String),
}

/// Which burn backend runs the tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Flex,
    Wgpu,
}

/// The wgpu adapter, as wgpu reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AdapterSummary {
    pub name: String,
    /// Graphics API (Vulkan, Metal, Dx12, Gl, ...).
    pub api: String,
    /// DiscreteGpu, IntegratedGpu, VirtualGpu, Cpu or Other.
    pub device_type: String,
    pub driver: String,
    pub is_software: bool,
}

/// What was picked and why, for `maskscope info`, logs and the GUI's status bar.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceInfo {
    pub requested: DeviceRequest,
    pub backend: BackendKind,
    /// The adapter running the tensors (wgpu), or the adapter that was found and passed over.
    pub adapter: Option<AdapterSummary>,
    pub reason: String,
}

/// How the CPU device reads in reports: inference runs on maskscope's CPU path, the rest
/// (training, other tensor work) on burn's flex backend.
pub const CPU_DEVICE_NAME: &str = "cpu (maskscope CPU path, burn flex)";

impl DeviceInfo {
    /// One line, e.g. `wgpu on NVIDIA H200 (Vulkan, DiscreteGpu)` or [`CPU_DEVICE_NAME`].
    pub fn short(&self) -> String {
        match (self.backend, &self.adapter) {
            (BackendKind::Wgpu, Some(a)) => format!("wgpu on {} ({}, {})", a.name, a.api, a.device_type),
            (BackendKind::Wgpu, None) => "wgpu".to_string(),
            (BackendKind::Flex, _) => CPU_DEVICE_NAME.to_string(),
        }
    }
}

impl fmt::Display for DeviceInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.short(), self.reason)
    }
}

/// A device ready for tensors, with the description of how it was chosen.
#[derive(Debug, Clone)]
pub struct ComputeDevice {
    pub device: Device,
    pub info: DeviceInfo,
}

impl ComputeDevice {
    /// The CPU backend, without probing for a GPU.
    pub fn cpu() -> Self {
        Self {
            device: Device::flex(),
            info: DeviceInfo {
                requested: DeviceRequest::Cpu,
                backend: BackendKind::Flex,
                adapter: None,
                reason: "CPU requested".into(),
            },
        }
    }
}

/// Picks the device for `request`. Only an explicit `gpu` request can fail.
pub fn select(request: DeviceRequest) -> Result<ComputeDevice, DeviceError> {
    if request == DeviceRequest::Cpu {
        return Ok(ComputeDevice::cpu());
    }
    let probe = gpu::probe();
    let flex = |adapter: Option<AdapterSummary>, reason: String| ComputeDevice {
        device: Device::flex(),
        info: DeviceInfo { requested: request, backend: BackendKind::Flex, adapter, reason },
    };
    match (request, probe) {
        (DeviceRequest::Gpu, Ok(gpu)) => Ok(gpu.compute_device(request, "GPU requested")),
        (DeviceRequest::Gpu, Err(why)) => Err(DeviceError::NoGpu(why)),
        (_, Ok(gpu)) if gpu.adapter.is_software => {
            let reason = format!("only a software adapter ({}) was found; the CPU backend is faster", gpu.adapter.name);
            Ok(flex(Some(gpu.adapter), reason))
        }
        (_, Ok(gpu)) => Ok(gpu.compute_device(request, "GPU found")),
        (_, Err(why)) => Ok(flex(None, format!("no GPU: {why}"))),
    }
}

#[cfg(feature = "wgpu")]
mod gpu {
    use super::*;
    use burn::tensor::wgpu::{WgpuSetup, wgpu};

    /// burn's wgpu runtime can be initialised once per process; the outcome is kept here.
    static PROBE: OnceLock<Result<GpuRuntime, String>> = OnceLock::new();

    #[derive(Clone)]
    pub struct GpuRuntime {
        pub device: Device,
        pub adapter: AdapterSummary,
        /// The handles burn created, for a renderer (eframe) that must share burn's device.
        pub setup: std::sync::Arc<WgpuSetup>,
    }

    impl GpuRuntime {
        pub fn compute_device(&self, request: DeviceRequest, reason: &str) -> ComputeDevice {
            ComputeDevice {
                device: self.device.clone(),
                info: DeviceInfo {
                    requested: request,
                    backend: BackendKind::Wgpu,
                    adapter: Some(self.adapter.clone()),
                    reason: reason.to_string(),
                },
            }
        }
    }

    pub fn probe() -> Result<GpuRuntime, String> {
        PROBE
            .get_or_init(|| {
                // wgpu panics on some broken driver installs instead of returning an error.
                let init = std::panic::catch_unwind(|| Device::wgpu_options().init_with_setup());
                match init {
                    Ok(Ok((device, setup))) => {
                        let info = setup.adapter.get_info();
                        let adapter = AdapterSummary {
                            name: info.name.clone(),
                            api: format!("{:?}", info.backend),
                            device_type: format!("{:?}", info.device_type),
                            driver: format!("{} {}", info.driver, info.driver_info).trim().to_string(),
                            is_software: info.device_type == wgpu::DeviceType::Cpu,
                        };
                        Ok(GpuRuntime { device, adapter, setup: std::sync::Arc::new(setup) })
                    }
                    Ok(Err(err)) => Err(err.to_string()),
                    Err(_) => Err("the wgpu driver panicked while starting".to_string()),
                }
            })
            .clone()
    }
}

#[cfg(not(feature = "wgpu"))]
mod gpu {
    use super::*;

    pub struct GpuRuntime {
        pub adapter: AdapterSummary,
    }

    impl GpuRuntime {
        pub fn compute_device(&self, _: DeviceRequest, _: &str) -> ComputeDevice {
            unreachable!("no GpuRuntime exists without the wgpu feature")
        }
    }

    pub fn probe() -> Result<GpuRuntime, String> {
        Err("this build has no wgpu backend (built without the `wgpu` feature)".to_string())
    }
}

#[cfg(feature = "wgpu")]
pub use gpu::GpuRuntime;

/// The shared wgpu runtime, for a renderer that must use burn's device (the GUI).
#[cfg(feature = "wgpu")]
pub fn gpu_runtime() -> Result<GpuRuntime, String> {
    gpu::probe()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_request_never_probes_and_reports_flex() {
        let picked = select(DeviceRequest::Cpu).unwrap();
        assert_eq!(picked.info.backend, BackendKind::Flex);
        assert_eq!(picked.info.short(), CPU_DEVICE_NAME);
    }
}
