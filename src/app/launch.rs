//! Opening the window: `maskscope` with no subcommand (or `maskscope gui`). eframe renders with
//! wgpu on the device burn created, so a GPU is shared between the model and the UI instead of
//! being opened twice; without a usable GPU the model runs on the CPU and eframe opens whatever
//! adapter there is (lavapipe on a machine without a GPU).

use std::path::PathBuf;

use clap::Args;
use eframe::egui;

use super::engine::ModelChoice;
use super::workbench::{AppOptions, Workbench};
use crate::device::ComputeDevice;

#[derive(Debug, Clone, Default, Args)]
pub struct GuiArgs {
    /// Face model to start with instead of the remembered one: a path, `bundled`, `untrained`
    /// (MobileFaceNet with fresh FROM heads) or `random` (random FROM heads, a demo of the plumbing).
    #[arg(long)]
    pub model: Option<String>,
    /// Do not open the bundled sample faces.
    #[arg(long)]
    pub no_samples: bool,
    /// Photos to open (the first is the face to paint).
    pub photos: Vec<PathBuf>,
}

impl GuiArgs {
    fn model_choice(&self) -> Option<ModelChoice> {
        self.model.as_deref().map(|m| match m {
            "bundled" => ModelChoice::Bundled,
            "untrained" => ModelChoice::UntrainedHeads,
            "random" => ModelChoice::RandomHeads,
            path => ModelChoice::File(PathBuf::from(path)),
        })
    }
}

/// eframe's options: the window, and the wgpu setup shared with burn where one exists.
pub fn native_options(device: &ComputeDevice) -> eframe::NativeOptions {
    let viewport = egui::ViewportBuilder::default()
        .with_title("maskscope: occluded face recognition workbench")
        .with_inner_size([1480.0, 920.0])
        .with_min_inner_size([960.0, 600.0])
        .with_drag_and_drop(true);
    let mut options = eframe::NativeOptions { viewport, renderer: eframe::Renderer::Wgpu, ..Default::default() };
    share_burn_device(&mut options, device);
    options
}

#[cfg(feature = "wgpu")]
fn share_burn_device(options: &mut eframe::NativeOptions, _device: &ComputeDevice) {
    use eframe::egui_wgpu::{WgpuSetup, WgpuSetupExisting};
    // burn's device has the features its kernels need (eframe's default device lacks some, and
    // burn cannot adopt it), so eframe adopts burn's. On a software adapter the model still runs
    // on the CPU backend; the UI renders on the adapter either way.
    if let Ok(runtime) = crate::device::gpu_runtime() {
        let setup = &runtime.setup;
        options.wgpu_options.wgpu_setup = WgpuSetup::Existing(WgpuSetupExisting {
            instance: setup.instance.clone(),
            adapter: setup.adapter.clone(),
            device: setup.device.clone(),
            queue: setup.queue.clone(),
        });
    }
}

#[cfg(not(feature = "wgpu"))]
fn share_burn_device(_options: &mut eframe::NativeOptions, _device: &ComputeDevice) {}

/// Opens the workbench and returns when its window closes.
pub fn launch(device: ComputeDevice, args: &GuiArgs) -> anyhow::Result<()> {
    let native = native_options(&device);
    let mut app = AppOptions::new(device);
    app.model = args.model_choice();
    app.files = args.photos.clone();
    app.samples = !args.no_samples;
    eframe::run_native("maskscope", native, Box::new(move |cc| Ok(Box::new(Workbench::new(cc, app)))))
        .map_err(|e| anyhow::anyhow!("the window could not be opened: {e}"))
}
