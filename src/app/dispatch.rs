//! Carrying out commands. Everything that can fail on user input reports through a toast.

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::command::Command;
use super::document::{OccluderRef, Op};
use super::engine::ModelChoice;
use super::events::default_landmarks;
use super::export;
use super::ids::FaceId;
use super::messages::{BatchJob, DialogKind, Event, Progress, Task};
use super::sensitivity::SensitivitySpec;
use super::session::Session;
use super::settings::RegionFill;
use super::state::FaceStatus;
use super::workbench::Workbench;
use crate::eval::conditions::region_occluder;
use crate::eval::plots::{RegionBars, render_region_bars_png_bytes, render_region_bars_svg_string};
use crate::eval::report::region_bars;
use crate::eval::results::SweepResults;
use crate::occlusion::{OCC_LFW20_SEED, OccLfw20};

const MODEL_EXTENSIONS: [&str; 6] = ["bpk", "burnpack", "mpk", "tar", "pth", "safetensors"];

/// What a dropped or pasted file is, by its extension.
enum FileKind {
    Photo,
    Model,
    Session,
}

fn file_kind(path: &Path) -> FileKind {
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    if ext == "json" {
        FileKind::Session
    } else if MODEL_EXTENSIONS.contains(&ext.as_str()) {
        FileKind::Model
    } else {
        // Anything else is tried as a photo: the decoder gives the clearest error.
        FileKind::Photo
    }
}

impl Workbench {
    pub(super) fn dispatch(&mut self, command: Command) {
        if let Err(e) = self.try_dispatch(command) {
            self.state.toasts.error(crate::error_text::error_message(&e));
        }
    }

    fn try_dispatch(&mut self, command: Command) -> anyhow::Result<()> {
        match command {
            Command::OpenAny { paths, as_references } => {
                let mut photos = Vec::new();
                for path in paths {
                    match file_kind(&path) {
                        FileKind::Photo => photos.push(path),
                        FileKind::Model => self.dispatch(Command::LoadModel(ModelChoice::File(path))),
                        FileKind::Session => self.dispatch(Command::OpenSession(path)),
                    }
                }
                if !photos.is_empty() {
                    self.dispatch(Command::OpenFiles { paths: photos, as_references });
                }
            }
            Command::OpenPastedImage(image) => {
                // Encoding and writing the PNG happen off the UI thread; the saved file comes
                // back as an event and opens like any photo.
                let (events, notify) = self.jobs.sender();
                let dir = self.state.paste_dir.clone();
                let spawned = std::thread::Builder::new().name("maskscope-paste".into()).spawn(move || {
                    let saved = export::save_pasted_image(&image, &dir).map_err(|e| {
                        format!("the pasted image could not be saved: {}", crate::error_text::error_message(&e))
                    });
                    let event = Event::PastedImageSaved(saved);
                    let _ = events.send(event);
                    notify();
                });
                spawned.map_err(|e| anyhow::anyhow!("no thread to save the pasted image: {e}"))?;
            }
            Command::OpenFiles { paths, as_references } => {
                let mut first = None;
                for path in paths {
                    let id = self.state.add_face(path.clone());
                    if let Some(face) = self.state.face_mut(id) {
                        face.is_reference = as_references;
                    }
                    first.get_or_insert(id);
                    self.jobs.submit(Task::Detect { face: id, path });
                }
                if let (false, Some(id)) = (as_references, first) {
                    self.select_probe(id);
                }
            }
            Command::SelectProbe(id) => self.select_probe(id),
            Command::RemoveFace(id) => {
                self.state.faces.retain(|f| f.id != id);
                self.textures.forget(&format!("face-{}-", id.0));
                if self.state.probe == Some(id) {
                    let next =
                        self.state.faces.iter().find(|f| !f.is_reference).or(self.state.faces.first()).map(|f| f.id);
                    self.state.probe = None;
                    if let Some(next) = next {
                        self.select_probe(next);
                    }
                }
                if self.state.focus_reference == Some(id) {
                    let first = self.state.references().next().map(|f| f.id);
                    self.state.focus_reference = first;
                }
            }
            Command::SetReference(id, on) => {
                if let Some(face) = self.state.face_mut(id) {
                    face.is_reference = on;
                }
                if on && self.state.focus_reference.is_none() {
                    self.state.focus_reference = Some(id);
                }
            }
            Command::PickDetection(id, index) => self.edit_face(id, |face| {
                let detection =
                    face.detections.get(index).ok_or_else(|| anyhow::anyhow!("no face {index} in this photo"))?;
                face.landmarks = Some(detection.landmarks.map(|[x, y]| [f64::from(x), f64::from(y)]));
                face.chosen = Some(index);
                face.hand_placed = false;
                Ok(())
            })?,
            Command::MoveLandmark { face, index, to } => self.edit_face(face, |face| {
                let landmarks =
                    face.landmarks.as_mut().ok_or_else(|| anyhow::anyhow!("this photo has no landmarks yet"))?;
                anyhow::ensure!(index < 5 && to.iter().all(|v| v.is_finite()), "invalid landmark");
                landmarks[index] = to;
                face.hand_placed = true;
                Ok(())
            })?,
            Command::ResetLandmarks(id) => self.edit_face(id, |face| {
                let index = face.chosen.unwrap_or(0);
                let detection =
                    face.detections.get(index).ok_or_else(|| anyhow::anyhow!("the detector found no face here"))?;
                face.landmarks = Some(detection.landmarks.map(|[x, y]| [f64::from(x), f64::from(y)]));
                face.hand_placed = false;
                Ok(())
            })?,
            Command::PlaceLandmarksByHand(id) => {
                let template = self.state.template();
                self.edit_face(id, |face| {
                    let photo = face.photo.as_ref().ok_or_else(|| anyhow::anyhow!("the photo is not loaded"))?;
                    face.landmarks = Some(default_landmarks(photo.width(), photo.height(), template));
                    face.hand_placed = true;
                    Ok(())
                })?
            }
            Command::TakeAsAligned(id, true) => {
                self.edit_face(id, |face| face.take_as_aligned().map(drop).map_err(anyhow::Error::msg))?
            }
            Command::TakeAsAligned(id, false) => {
                let template = self.state.template();
                self.edit_face(id, |face| {
                    match face.detections.get(face.chosen.unwrap_or(0)) {
                        Some(detection) => {
                            face.landmarks = Some(detection.landmarks.map(|[x, y]| [f64::from(x), f64::from(y)]));
                            face.hand_placed = false;
                        }
                        None => {
                            let photo =
                                face.photo.as_ref().ok_or_else(|| anyhow::anyhow!("the photo is not loaded"))?;
                            face.landmarks = Some(default_landmarks(photo.width(), photo.height(), template));
                            face.hand_placed = true;
                        }
                    }
                    Ok(())
                })?
            }
            Command::Undo => self.with_probe_doc(|doc| {
                doc.undo();
            }),
            Command::Redo => self.with_probe_doc(|doc| {
                doc.redo();
            }),
            Command::Clear => self.with_probe_doc(|doc| doc.clear()),
            Command::ApplyRegion(region) => {
                let settings = &self.state.settings;
                let occluder = match settings.region_fill {
                    RegionFill::Occluder => {
                        Some(self.state.selected_stamp().ok_or_else(|| anyhow::anyhow!("pick an occluder first"))?)
                    }
                    RegionFill::EvalObject => {
                        let (class, name) = region_occluder(region);
                        Some(OccluderRef { class: class.into(), name: name.into() })
                    }
                    RegionFill::Colour => None,
                };
                let op = Op::Region { region: region.name().into(), occluder, colour: settings.colour };
                self.with_probe_doc(|doc| doc.push_replacing_regions(op));
            }
            Command::Canvas(edit) => super::canvas_edit::apply(&mut self.state, edit)?,
            Command::RandomOcclusion => {
                let library =
                    self.state.library.clone().ok_or_else(|| anyhow::anyhow!("the occluder library is not loaded"))?;
                let (w, h) = self.probe_size().ok_or_else(|| anyhow::anyhow!("open a face first"))?;
                let draw = self.state.settings.random_draws;
                self.state.settings.random_draws += 1;
                let mut rng = ChaCha8Rng::seed_from_u64(OCC_LFW20_SEED ^ draw.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let placement = OccLfw20::new(&library).sample(w, h, &mut rng);
                let occluder =
                    library.get(placement.occluder).ok_or_else(|| anyhow::anyhow!("occluder out of range"))?;
                let op = Op::Placed {
                    occluder: OccluderRef { class: occluder.class.clone(), name: occluder.name.clone() },
                    left: placement.left(),
                    top: placement.top(),
                    width: placement.width,
                    height: placement.height,
                };
                self.with_probe_doc(|doc| doc.push(op));
            }
            Command::LoadModel(choice) => {
                self.state.model.loading = true;
                self.jobs.submit(Task::LoadModel(choice));
            }
            Command::Dialog(kind) => {
                let start = self.dialog_start_dir(&kind);
                let (events, notify) = self.jobs.sender();
                self.dialogs.open(kind, start, events, notify);
            }
            Command::SaveSession(path) => {
                let session = self.state.to_session();
                self.jobs.write(path, move || session.to_json())?;
            }
            Command::OpenSession(path) => self.open_session(&path)?,
            Command::ExportOccluded(path) => {
                let rendered = self.refresh_render().ok_or_else(|| anyhow::anyhow!("no face to export"))?;
                let image = rendered.image.clone();
                self.jobs.write(path, move || export::png_bytes(&image))?;
            }
            Command::ExportOverlay(path) => {
                let overlay = self.current_overlay()?;
                self.jobs.write(path, move || export::png_bytes(&overlay))?;
            }
            Command::CopyOverlay => {
                let overlay = self.current_overlay()?;
                let size = [overlay.width() as usize, overlay.height() as usize];
                self.clipboard_image = Some(eframe::egui::ColorImage::from_rgb(size, overlay.as_raw()));
                self.state.toasts.info("heatmap overlay copied to the clipboard");
            }
            Command::ExportSensitivity(path) => {
                let map =
                    self.state.sensitivity.result.as_ref().ok_or_else(|| anyhow::anyhow!("no sensitivity map yet"))?;
                let strip = export::sensitivity_strip(map);
                self.jobs.write(path, move || export::png_bytes(&strip))?;
            }
            Command::ExportSweep { path, format } => self.export_sweep(&path, format)?,
            Command::LoadThreshold(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                let results: SweepResults = serde_json::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("{}: not a results.json: {e}", path.display()))?;
                let threshold = clean_threshold(&results)
                    .ok_or_else(|| anyhow::anyhow!("{}: has no clean condition", path.display()))?;
                self.state.settings.threshold = threshold;
                self.state.toasts.info(format!("threshold {threshold:.3} from {}", path.display()));
            }
            Command::UseSweepThreshold => {
                let threshold = self.state.sweep.results.as_ref().and_then(clean_threshold);
                let threshold =
                    threshold.ok_or_else(|| anyhow::anyhow!("run the sweep with its clean condition first"))?;
                self.state.settings.threshold = threshold;
            }
            Command::RunSensitivity => {
                anyhow::ensure!(!self.jobs.batch_running(), "a long job is already running");
                let generation = self.state.model.generation;
                let reference = self
                    .state
                    .focus_reference
                    .and_then(|id| self.state.face(id))
                    .or_else(|| self.state.references().next())
                    .ok_or_else(|| anyhow::anyhow!("add a reference face first"))?;
                let embedding = reference
                    .current_embedding(generation)
                    .cloned()
                    .ok_or_else(|| anyhow::anyhow!("the reference is still being embedded"))?;
                let spec = SensitivitySpec {
                    side: self.state.settings.sensitivity_side,
                    stride: self.state.settings.sensitivity_stride,
                };
                let face = self.refresh_render().ok_or_else(|| anyhow::anyhow!("open a face first"))?.image.clone();
                self.state.sensitivity.running = Some(Progress { stage: "starting".into(), done: 0, total: 1 });
                self.jobs.run_batch(BatchJob::Sensitivity { face, reference: embedding, spec });
            }
            Command::RunSweep => {
                anyhow::ensure!(!self.jobs.batch_running(), "a long job is already running");
                let settings = &self.state.settings;
                let pairs = PathBuf::from(settings.sweep_pairs.trim());
                let images = PathBuf::from(settings.sweep_images.trim());
                anyhow::ensure!(pairs.is_file(), "choose a pairs file (LFW pairs.txt or CSV)");
                anyhow::ensure!(images.is_dir(), "choose the folder of the pairs' images");
                let from = self.state.model.info.as_ref().map_or_else(|| "FROM".into(), |m| m.name.clone());
                let sweep = &mut self.state.sweep;
                sweep.legend = ("baseline (pretrained MobileFaceNet)".into(), format!("FROM ({from}, masked)"));
                sweep.bars.clear();
                sweep.clean = None;
                sweep.results = None;
                sweep.message = None;
                sweep.running = Some(Progress { stage: "starting".into(), done: 0, total: 1 });
                let cache = self.state.cache_dir.clone();
                self.jobs.run_batch(BatchJob::Sweep { pairs, images, limit: settings.sweep_limit, cache });
            }
            Command::CancelBatch => self.jobs.cancel_batch(),
        }
        Ok(())
    }

    fn select_probe(&mut self, id: FaceId) {
        if self.state.probe == Some(id) {
            return;
        }
        self.state.probe = Some(id);
        self.state.shown_pattern = None;
        self.state.history.clear();
        self.state.edits = 0;
        self.state.last_history_revision = None;
        self.state.canvas = Default::default();
    }

    /// Changes a face's landmarks with `f` and re-aligns it.
    fn edit_face(
        &mut self,
        id: FaceId,
        f: impl FnOnce(&mut super::state::FaceEntry) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let template = self.state.template();
        let face = self.state.face_mut(id).ok_or_else(|| anyhow::anyhow!("that face was removed"))?;
        anyhow::ensure!(face.status == FaceStatus::Ready, "{} is not loaded", face.name);
        // Any change of the points leaves the template's, unless the edit itself takes them.
        face.given_template = None;
        f(face)?;
        face.realign(template).map_err(anyhow::Error::msg)
    }

    fn with_probe_doc(&mut self, f: impl FnOnce(&mut super::document::Document)) {
        if let Some(probe) = self.state.probe_mut() {
            f(&mut probe.doc);
        }
    }

    fn probe_size(&self) -> Option<(u32, u32)> {
        self.state.probe()?.aligned.as_ref().map(|a| a.image.dimensions())
    }

    /// The face with the heatmap over it, as Export and Copy give it.
    fn current_overlay(&mut self) -> anyhow::Result<image::RgbImage> {
        let style = self.state.settings.heatmap;
        let heatmap = self.state.heatmap.clone().ok_or_else(|| anyhow::anyhow!("no heatmap yet"))?;
        let rendered = self.refresh_render().ok_or_else(|| anyhow::anyhow!("no face shown"))?;
        Ok(crate::heatmap::overlay(&rendered.image, &heatmap.plane, heatmap.range, &style))
    }

    fn dialog_start_dir(&self, kind: &DialogKind) -> Option<PathBuf> {
        match kind {
            DialogKind::OpenFaces | DialogKind::OpenReferences => self
                .state
                .probe()
                .and_then(|p| p.path.parent().map(Path::to_path_buf))
                .or_else(|| Some(super::samples::samples_dir())),
            _ => self.state.last_dialog_dir.clone(),
        }
    }

    fn open_session(&mut self, path: &Path) -> anyhow::Result<()> {
        let session = Session::read(path)?;
        let model_changed = session.settings.model != self.state.settings.model;
        self.state.faces.clear();
        self.state.probe = None;
        self.state.inference = None;
        self.state.last_requested = None;
        self.state.settings = session.settings;
        let mut ids = Vec::new();
        for face in session.faces {
            let id = self.state.add_face(face.path.clone());
            let path = face.path.clone();
            if let Some(entry) = self.state.face_mut(id) {
                entry.is_reference = face.is_reference;
                entry.restore = Some(face);
            }
            self.jobs.submit(Task::Detect { face: id, path });
            ids.push(id);
        }
        if let Some(id) = session.probe.and_then(|i| ids.get(i)) {
            self.select_probe(*id);
        }
        let first = self.state.references().next().map(|f| f.id);
        self.state.focus_reference = first;
        if model_changed {
            self.dispatch(Command::LoadModel(self.state.settings.model.clone()));
        }
        self.state.toasts.info(format!("opened {}", path.display()));
        Ok(())
    }

    /// The sweep's figure as it stands (complete with thumbnails once the sweep is done).
    pub(super) fn sweep_figure(&self) -> Option<RegionBars> {
        let sweep = &self.state.sweep;
        if let Some(results) = &sweep.results {
            return region_bars(results, &sweep.thumbnails);
        }
        if sweep.bars.is_empty() {
            return None;
        }
        let mut fig = RegionBars::new("Verification accuracy by occluded region (partial)", sweep.bars.clone());
        fig.clean = sweep.clean;
        Some(fig)
    }

    fn export_sweep(&mut self, path: &Path, format: &str) -> anyhow::Result<()> {
        let figure = self.sweep_figure().ok_or_else(|| anyhow::anyhow!("no sweep results yet"))?;
        let results = self.state.sweep.results.clone();
        let format = format.to_string();
        self.jobs.write(path.to_path_buf(), move || sweep_export_bytes(&figure, results.as_ref(), &format))
    }
}

/// The region sweep in one of the export formats.
fn sweep_export_bytes(figure: &RegionBars, results: Option<&SweepResults>, format: &str) -> anyhow::Result<Vec<u8>> {
    Ok(match (format, results) {
        ("png", _) => render_region_bars_png_bytes(figure)?,
        ("svg", _) => render_region_bars_svg_string(figure)?.into_bytes(),
        ("json", Some(results)) => results.to_json()?.into_bytes(),
        ("csv", Some(results)) => results.to_csv()?.into_bytes(),
        ("json", None) => serde_json::to_string_pretty(figure)?.into_bytes(),
        ("csv", None) => {
            let mut out = String::from("region,occluded_area,baseline,from\n");
            for bar in &figure.regions {
                out +=
                    &format!("{},{},{},{}\n", bar.name, bar.occluded_area.unwrap_or(f64::NAN), bar.baseline, bar.from);
            }
            out.into_bytes()
        }
        (other, _) => anyhow::bail!("unknown export format {other}"),
    })
}

/// FROM's (else the first path's) mean 10-fold threshold on the clean pairs.
fn clean_threshold(results: &SweepResults) -> Option<f32> {
    let clean = results.condition(crate::eval::conditions::Condition::Clean)?;
    let report = clean.path(super::jobs::SWEEP_FROM).or_else(|| clean.paths.first().map(|p| &p.report))?;
    Some(report.ten_fold.mean_threshold as f32)
}
