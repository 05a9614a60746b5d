//! Folding what the jobs report back into the state.

use std::path::Path;

use super::analysis::pattern_summary;
use super::command::Command;
use super::engine::ModelChoice;
use super::file_browser::FileBrowser;
use super::jobs::{SWEEP_BASELINE, SWEEP_FROM};
use super::messages::{DialogKind, DialogResult, Event};
use super::state::{FaceStatus, HistoryPoint, Inference};
use super::workbench::Workbench;
use crate::align::{FaceTemplate, Point};
use crate::eval::conditions::Condition;
use crate::eval::plots::RegionBar;
use crate::eval::results::ConditionResult;
use crate::face::pick_face;

/// History points kept for the plot.
const HISTORY_LIMIT: usize = 500;

/// Five points at a plausible spot in the middle of a photo without a detected face, for the
/// user to drag into place.
pub fn default_landmarks(width: u32, height: u32, template: FaceTemplate) -> [Point; 5] {
    let [th, tw] = template.size().map(|v| v as f64);
    let scale = 0.6 * f64::from(width.min(height)) / th;
    let (ox, oy) = ((f64::from(width) - tw * scale) / 2.0, (f64::from(height) - th * scale) / 2.0);
    template.landmarks().map(|[x, y]| [ox + x * scale, oy + y * scale])
}

/// Accuracy (percent) of the compared path named `label` under a condition.
fn accuracy(result: &ConditionResult, label: &str) -> Option<f64> {
    result.path(label).map(|r| 100.0 * r.ten_fold.mean)
}

/// The baseline and FROM accuracies of a condition; a plain model's one path stands for both.
pub fn condition_accuracies(result: &ConditionResult) -> Option<(f64, f64)> {
    match (accuracy(result, SWEEP_BASELINE), accuracy(result, SWEEP_FROM)) {
        (Some(b), Some(f)) => Some((b, f)),
        _ => {
            let only = 100.0 * result.paths.first()?.report.ten_fold.mean;
            Some((only, only))
        }
    }
}

impl Workbench {
    pub(super) fn handle_events(&mut self) {
        for event in self.jobs.poll() {
            self.handle_event(event);
        }
    }

    fn handle_event(&mut self, event: Event) {
        let state = &mut self.state;
        match event {
            Event::ModelLoaded { generation, info } => {
                let old = state.template();
                let new = info.template;
                if let Some(notice) = &info.notice {
                    state.toasts.info(notice.clone());
                }
                state.settings.model = info.choice.clone();
                state.model.info = Some(info);
                state.model.generation = generation;
                state.model.loading = false;
                state.shown_pattern = None;
                if old != new {
                    // Crop coordinates of the painted operations move with the template margin.
                    let dx = (new.x_offset() - old.x_offset()) as f32;
                    let mut errors = Vec::new();
                    for face in &mut state.faces {
                        face.doc.shift_x(dx);
                        if let Err(e) = face.realign(new) {
                            errors.push(e);
                        }
                    }
                    errors.into_iter().for_each(|e| state.toasts.error(e));
                }
            }
            Event::ModelFailed { choice, error } => {
                state.model.loading = false;
                state.toasts.error(error);
                // Starting without any model would leave every panel empty: fall back to the
                // bundled one (which itself falls back to fresh heads when it is missing).
                if state.model.info.is_none() && choice != ModelChoice::Bundled {
                    state.toasts.info("loading the bundled model instead");
                    self.dispatch(Command::LoadModel(ModelChoice::Bundled));
                }
            }
            Event::Library(Ok(library)) => state.library = Some(library),
            Event::Library(Err(error)) => state.toasts.error(error),
            Event::Detected { face, photo, detections, damage } => {
                if let Some(warning) = damage {
                    state.toasts.error(warning);
                }
                let template = state.template();
                let face_pick = state.settings.face_pick;
                let photos_aligned = state.settings.photos_aligned;
                let Some(entry) = state.face_mut(face) else { return };
                let (w, h) = photo.dimensions();
                entry.photo = Some(photo);
                entry.detections = detections;
                entry.status = FaceStatus::Ready;
                let mut notes = Vec::new();
                let restoring = entry.restore.is_some();
                if let Some(restore) = entry.restore.take() {
                    entry.landmarks = restore.landmarks.or_else(|| {
                        entry.detections.first().map(|d| d.landmarks.map(|[x, y]| [f64::from(x), f64::from(y)]))
                    });
                    entry.chosen = restore.chosen.filter(|&i| i < entry.detections.len());
                    entry.hand_placed = restore.hand_placed;
                    entry.is_reference = restore.is_reference;
                    entry.doc.replace(restore.ops);
                    entry.doc.shift_x((template.x_offset() - restore.template.x_offset()) as f32);
                } else if let Some(index) = pick_face(&entry.detections, w, h, face_pick) {
                    let chosen = entry.detections[index];
                    entry.chosen = Some(index);
                    entry.landmarks = Some(chosen.landmarks.map(|[x, y]| [f64::from(x), f64::from(y)]));
                    entry.hand_placed = false;
                    if entry.detections.len() > 1 {
                        notes.push(format!(
                            "{} faces in {}: the {} one is used; click another box to pick it",
                            entry.detections.len(),
                            entry.name,
                            face_pick.name()
                        ));
                    }
                } else {
                    entry.landmarks = Some(default_landmarks(w, h, template));
                    entry.hand_placed = true;
                    notes.push(format!(
                        "no face found in {}: drag the five points onto the eyes, nose tip and mouth corners",
                        entry.name
                    ));
                }
                if photos_aligned && !restoring {
                    // The detector's notes (several faces, none) do not apply to a given crop.
                    match entry.take_as_aligned() {
                        Ok(given) => {
                            notes = vec![format!(
                                "{} taken as an aligned {} crop: the template's points are used (untick \"aligned crop\" to detect)",
                                entry.name,
                                given.name()
                            )]
                        }
                        Err(why) => notes.push(why),
                    }
                }
                let aligned = entry.realign(template);
                notes.into_iter().for_each(|n| state.toasts.info(n));
                if let Err(e) = aligned {
                    state.toasts.error(e);
                }
            }
            Event::DetectFailed { face, error } => {
                // A file that cannot be read is dropped again: the toast says why, and the face
                // painted before stays in front.
                state.faces.retain(|f| f.id != face);
                state.toasts.error(error);
                if state.probe == Some(face) {
                    state.probe = None;
                    let next = state.faces.iter().rev().find(|f| !f.is_reference && f.is_ready()).map(|f| f.id);
                    if let Some(next) = next {
                        self.dispatch(Command::SelectProbe(next));
                    }
                }
            }
            Event::Embedded { face, align_revision, generation, embedding } => {
                if let Some(entry) = state.face_mut(face) {
                    entry.embedding = Some((align_revision, generation, embedding));
                }
                self.record_history();
            }
            Event::EmbedFailed { face, error } => {
                let name = state.face(face).map_or_else(String::new, |f| f.name.clone());
                state.toasts.error(format!("{name}: {error}"));
            }
            Event::Inferred { request, outputs, baseline, elapsed } => {
                if state.probe == Some(request.key.face) {
                    let patterns = state.model.info.as_ref().and_then(|m| m.patterns.as_ref());
                    let (top, truth) = pattern_summary(patterns, &outputs.pattern_probabilities, &request.painted);
                    state.inference = Some(Inference {
                        key: request.key,
                        outputs,
                        baseline,
                        elapsed,
                        painted: request.painted,
                        image: request.image,
                        top,
                        truth,
                        // Filled by `record_history` just below.
                        similarities: Vec::new(),
                    });
                    self.record_history();
                }
            }
            Event::InferFailed { key, error } => {
                state.toasts.error(format!("inference failed: {error}"));
                // Let the same edit be tried again after, e.g., a model change.
                if state.last_requested == Some(key) {
                    state.last_requested = None;
                }
            }
            Event::Progress(progress) => {
                if state.sweep.running.is_some() {
                    state.sweep.running = Some(progress);
                } else if state.sensitivity.running.is_some() {
                    state.sensitivity.running = Some(progress);
                }
            }
            Event::Sensitivity(map) => {
                state.sensitivity.running = None;
                match map {
                    Some(map) => {
                        state.sensitivity.result = Some(map);
                        state.sensitivity.generation += 1;
                    }
                    None => state.toasts.info("sensitivity map cancelled"),
                }
            }
            Event::SweepCondition(result) => match result.condition {
                Condition::Clean => state.sweep.clean = condition_accuracies(&result),
                _ => {
                    if let Some((baseline, from)) = condition_accuracies(&result) {
                        state.sweep.bars.push(RegionBar {
                            name: result.label.clone(),
                            occluded_area: Some(result.area_fraction),
                            baseline,
                            from,
                        });
                    }
                }
            },
            Event::SweepDone { results, thumbnails } => {
                state.sweep.running = None;
                let pairs = results.pairs.count;
                let missing = results.photos.without_face.len();
                state.sweep.message = Some(format!(
                    "{pairs} pairs evaluated in {:.0} s; {missing} photos without a face",
                    results.wall_time_s
                ));
                state.sweep.results = Some(*results);
                state.sweep.thumbnails = thumbnails;
            }
            Event::BatchFailed(error) => {
                let was_sweep = state.sweep.running.take().is_some();
                state.sensitivity.running = None;
                if error.starts_with("interrupted") {
                    state.toasts.info(if was_sweep { "region sweep cancelled" } else { "cancelled" });
                } else {
                    state.toasts.error(error);
                }
            }
            Event::Dialog(result) => self.dialog_answered(result),
            Event::PastedImageSaved(Ok(path)) => {
                self.dispatch(Command::OpenFiles { paths: vec![path], as_references: false })
            }
            Event::PastedImageSaved(Err(error)) => self.state.toasts.error(error),
            Event::DialogUnavailable { kind, start_dir, reason } => {
                if let Some(reason) = reason {
                    self.state.toasts.info(format!("{reason}: maskscope's own file browser is open instead"));
                }
                self.browser = Some(FileBrowser::new(kind, start_dir));
            }
            Event::Notice(text) => state.toasts.info(text),
            Event::Saved(Ok(path)) => state.toasts.info(format!("saved {}", path.display())),
            Event::Saved(Err(error)) => state.toasts.error(error),
        }
    }

    /// A history point for the current inference, once per edit, with whichever reference
    /// embeddings exist by then (a late reference updates the point of the same edit).
    fn record_history(&mut self) {
        let state = &mut self.state;
        let Some(doc_revision) = state.current_inference().map(|i| i.key.doc_revision) else { return };
        let Some(sims) = state.refresh_similarities() else { return };
        match state.history.last_mut() {
            Some(last) if state.last_history_revision == Some(doc_revision) => last.similarities = sims,
            _ => {
                state.edits += 1;
                state.last_history_revision = Some(doc_revision);
                state.history.push(HistoryPoint { edit: state.edits, similarities: sims });
                if state.history.len() > HISTORY_LIMIT {
                    state.history.remove(0);
                }
            }
        }
    }

    pub(super) fn dialog_answered(&mut self, result: DialogResult) {
        let Some(path) = result.paths.first().cloned() else { return };
        let folder = if result.kind == DialogKind::PickImages { Some(path.as_path()) } else { path.parent() };
        self.state.last_dialog_dir = folder.map(Path::to_path_buf);
        let command = match result.kind {
            DialogKind::OpenFaces => Command::OpenFiles { paths: result.paths, as_references: false },
            DialogKind::OpenReferences => Command::OpenFiles { paths: result.paths, as_references: true },
            DialogKind::OpenModel => Command::LoadModel(ModelChoice::File(path)),
            DialogKind::OpenSession => Command::OpenSession(path),
            DialogKind::SaveSession => Command::SaveSession(path),
            DialogKind::ExportOccluded => Command::ExportOccluded(path),
            DialogKind::ExportOverlay => Command::ExportOverlay(path),
            DialogKind::ExportSensitivity => Command::ExportSensitivity(path),
            DialogKind::LoadThreshold => Command::LoadThreshold(path),
            DialogKind::ExportSweep(format) => Command::ExportSweep { path, format },
            DialogKind::PickPairs => {
                self.state.settings.sweep_pairs = path.display().to_string();
                return;
            }
            DialogKind::PickImages => {
                self.state.settings.sweep_images = path.display().to_string();
                return;
            }
        };
        self.dispatch(command);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_landmarks_sit_inside_the_photo_in_template_order() {
        let points = default_landmarks(250, 200, FaceTemplate::Arc112x112);
        assert!(points.iter().all(|&[x, y]| (0.0..250.0).contains(&x) && (0.0..200.0).contains(&y)));
        assert!(points[0][0] < points[1][0], "left eye left of right eye");
        assert!(points[2][1] > points[0][1] && points[3][1] > points[2][1], "eyes, nose, mouth top to bottom");
    }
}
