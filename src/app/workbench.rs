//! The eframe app: one frame is "take in what the jobs sent, read input, draw the panels (which
//! emit commands), carry out the commands, then ask the jobs for whatever is now out of date".

use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui;

use super::command::Command;
use super::dialogs::Dialogs;
use super::document::{self, Rendered};
use super::engine::ModelChoice;
use super::file_browser::FileBrowser;
use super::ids::{FaceId, InferKey};
use super::jobs::Jobs;
use super::messages::{InferRequest, Notify, Task};
use super::panels;
use super::samples;
use super::settings::{SETTINGS_KEY, Settings};
use super::stamp::StampCache;
use super::state::{AppState, HeatmapView};
use super::textures::Textures;
use crate::device::ComputeDevice;
use crate::heatmap::Plane;
use crate::model::config::MaskDecoderKind;

/// How the app starts.
pub struct AppOptions {
    pub device: ComputeDevice,
    /// Overrides the model remembered in the settings.
    pub model: Option<ModelChoice>,
    /// Photos to open; the bundled samples when empty and `samples` is set.
    pub files: Vec<PathBuf>,
    pub samples: bool,
    /// Read and write eframe's settings storage (off in tests, which must not see a user's).
    pub persist: bool,
    /// maskscope's own file browser instead of the system's dialogs (`MASKSCOPE_FILE_DIALOG=builtin`).
    pub builtin_file_dialogs: bool,
}

impl AppOptions {
    pub fn new(device: ComputeDevice) -> Self {
        let builtin_file_dialogs = super::dialogs::builtin_requested();
        Self { device, model: None, files: Vec::new(), samples: true, persist: true, builtin_file_dialogs }
    }
}

/// The occluded face of the face being painted, re-rendered when its crop or edits change.
#[derive(Default)]
pub(super) struct RenderCache {
    pub key: Option<(FaceId, u64, u64)>,
    pub rendered: Option<Rendered>,
    pub stamps: StampCache,
}

pub struct Workbench {
    pub state: AppState,
    pub(super) jobs: Jobs,
    pub(super) dialogs: Dialogs,
    /// An image for the clipboard, handed to egui at the end of the frame.
    pub(super) clipboard_image: Option<egui::ColorImage>,
    /// maskscope's own file browser, while one is open.
    pub(super) browser: Option<FileBrowser>,
    pub(super) textures: Textures,
    pub(super) render: RenderCache,
    /// The heatmap pipeline is installed on egui's wgpu device.
    pub(super) gpu_ready: bool,
    /// What the heatmap view was computed from.
    heatmap_key: Option<(InferKey, crate::heatmap::HeatmapStyle)>,
    persist: bool,
}

impl Workbench {
    pub fn new(cc: &eframe::CreationContext<'_>, options: AppOptions) -> Self {
        let stored = if options.persist {
            cc.storage.and_then(|s| eframe::get_value::<Settings>(s, SETTINGS_KEY))
        } else {
            None
        };
        let mut settings = stored.unwrap_or_default().sanitised();
        if let Some(model) = options.model.clone() {
            settings.model = model;
        }
        let mut state = AppState::new(settings);
        state.device = options.device.info.short();
        if let Some(render_state) = &cc.wgpu_render_state {
            let adapter = render_state.adapter.get_info();
            state.renderer = format!("{} ({:?})", adapter.name, adapter.backend);
        }

        let mut gpu_ready = false;
        if let Some(render_state) = &cc.wgpu_render_state {
            match super::heatmap_gpu::install(render_state) {
                Ok(()) => gpu_ready = true,
                Err(e) => state.toasts.error(format!("{e}; the heatmap is drawn on the CPU")),
            }
        }

        let ctx = cc.egui_ctx.clone();
        let notify: Notify = Arc::new(move || ctx.request_repaint());
        let jobs = Jobs::start(options.device.clone(), state.settings.model.clone(), notify);
        state.model.loading = true;

        let mut app = Self {
            state,
            jobs,
            dialogs: Dialogs::new(options.builtin_file_dialogs),
            browser: None,
            clipboard_image: None,
            textures: Textures::default(),
            render: RenderCache::default(),
            gpu_ready,
            heatmap_key: None,
            persist: options.persist,
        };
        let files = if options.files.is_empty() && options.samples { samples::sample_paths() } else { options.files };
        if !files.is_empty() {
            app.open_initial(files);
        }
        app
    }

    /// Opens the start-up photos; with the samples, two of them become references.
    fn open_initial(&mut self, files: Vec<PathBuf>) {
        self.run_commands(vec![Command::OpenFiles { paths: files.clone(), as_references: false }]);
        let refs: Vec<FaceId> = self
            .state
            .faces
            .iter()
            .filter(|f| samples::DEFAULT_REFERENCES.iter().any(|n| samples::is_named(&f.path, n)))
            .map(|f| f.id)
            .collect();
        for id in &refs {
            if let Some(face) = self.state.face_mut(*id) {
                face.is_reference = true;
            }
        }
        self.state.focus_reference = refs.first().copied();
    }

    /// Live work queued or a long job running (the tests wait on this).
    pub fn is_busy(&self) -> bool {
        self.jobs.is_busy()
            || self.state.model.loading
            || self.state.faces.iter().any(|f| f.status == super::state::FaceStatus::Detecting)
    }

    /// Whether the WGSL heatmap pipeline is in use.
    pub fn gpu_heatmap_ready(&self) -> bool {
        self.gpu_ready
    }

    /// The CPU heatmap texture, once the CPU path has drawn one.
    pub fn cpu_heatmap_texture(&self) -> Option<&egui::TextureHandle> {
        self.textures.peek("heatmap")
    }

    /// Runs commands as if a panel had emitted them (the tests and the start-up use it).
    pub fn run_commands(&mut self, commands: Vec<Command>) {
        if commands.is_empty() {
            return;
        }
        for command in commands {
            self.dispatch(command);
        }
        // A reference added or removed changes what the similarity panel shows.
        self.state.refresh_similarities();
    }

    /// The occluded face being painted, rendered for the current crop and edits.
    pub(super) fn refresh_render(&mut self) -> Option<&Rendered> {
        let probe = self.state.probe()?;
        let aligned = probe.aligned.as_ref()?;
        let key = (probe.id, probe.align_revision, probe.doc.revision());
        if self.render.key != Some(key) {
            let library = self.state.library.as_deref();
            let rendered = document::render(probe.doc.visible_ops(), &aligned.image, library, &mut self.render.stamps);
            self.render.key = Some(key);
            self.render.rendered = Some(rendered);
        }
        self.render.rendered.as_ref()
    }

    /// Asks the jobs for what the current state lacks: the live inference of the newest edit and
    /// the references' embeddings.
    fn schedule(&mut self) {
        let generation = self.state.model.generation;
        if self.state.model.info.is_none() {
            return;
        }
        let mut embed = Vec::new();
        for face in &mut self.state.faces {
            let wanted = (face.align_revision, generation);
            if face.is_reference
                && face.is_ready()
                && face.current_embedding(generation).is_none()
                && face.embedding_requested != Some(wanted)
            {
                face.embedding_requested = Some(wanted);
                if let Some(aligned) = &face.aligned {
                    embed.push(Task::Embed {
                        face: face.id,
                        align_revision: face.align_revision,
                        image: aligned.image.clone(),
                    });
                }
            }
        }
        for task in embed {
            self.jobs.submit(task);
        }
        let Some(probe) = self.state.probe().filter(|p| p.is_ready()) else { return };
        let key = InferKey {
            face: probe.id,
            align_revision: probe.align_revision,
            doc_revision: probe.doc.revision(),
            model_generation: generation,
        };
        if self.state.last_requested == Some(key) {
            return;
        }
        if let Some(rendered) = self.refresh_render() {
            let request = InferRequest { key, image: rendered.image.clone(), painted: rendered.mask.clone() };
            self.jobs.infer(request);
            self.state.last_requested = Some(key);
        }
    }

    /// Recomputes the heatmap plane when the inference or the style changed.
    fn refresh_heatmap(&mut self) {
        let style = self.state.settings.heatmap;
        let Some(inference) = self.state.current_inference() else {
            self.state.heatmap = None;
            self.heatmap_key = None;
            return;
        };
        let key = (inference.key, style);
        if self.heatmap_key == Some(key) {
            return;
        }
        let spatial = self.state.model.info.as_ref().is_some_and(|m| m.mask_kind != Some(MaskDecoderKind::Embedding));
        let Some(mask) = inference.outputs.mask.as_ref().filter(|_| spatial) else {
            // No mask, or one on the embedding: nothing to lay over the face.
            self.state.heatmap = None;
            self.heatmap_key = Some(key);
            return;
        };
        let plane = Plane::from_mask(mask, &style);
        let range = plane.range(style.range);
        let generation = self.state.heatmap.as_ref().map_or(1, |h| h.generation + 1);
        self.state.heatmap = Some(HeatmapView { plane: Arc::new(plane), range, generation });
        self.heatmap_key = Some(key);
    }

    fn frame(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.handle_events();
        let mut commands = Vec::new();
        super::input::handle(&ctx, &mut self.state, &mut commands);
        self.refresh_heatmap();
        let busy = panels::Busy {
            live: self.jobs.live_busy(),
            batch: self.jobs.batch_running(),
            dialog: self.dialogs.is_open() || self.browser.is_some(),
        };
        let rendered = self.refresh_render().cloned();
        let gpu_heatmap = self.gpu_ready && self.state.settings.gpu_heatmap;
        let mut view = panels::View {
            state: &mut self.state,
            commands: &mut commands,
            textures: &mut self.textures,
            occluded: rendered.as_ref(),
            gpu_heatmap,
            busy,
        };
        panels::show(ui, &mut view);
        if let Some(browser) = &mut self.browser
            && let Some(answer) = browser.show(&ctx)
        {
            self.browser = None;
            self.dialog_answered(answer);
        }
        self.state.toasts.show(&ctx);
        self.run_commands(commands);
        if let Some(image) = self.clipboard_image.take() {
            ctx.copy_image(image);
        }
        self.schedule();
    }
}

impl eframe::App for Workbench {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.frame(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        if self.persist {
            eframe::set_value(storage, SETTINGS_KEY, &self.state.settings);
        }
    }
}
