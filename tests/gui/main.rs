//! UI tests of the workbench with egui_kittest, rendering with wgpu (lavapipe on a machine without
//! a GPU; `.ci/run` installs it). The model runs on the CPU backend: the pretrained MobileFaceNet
//! with seeded random FROM heads (whose mask reacts to edits), so the tests do not depend on
//! training.

mod bad_input;
#[path = "../common/mod.rs"]
mod common;
mod researcher;
mod tools_and_layout;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eframe::egui::{self, Event, Key, Modifiers, PointerButton, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use image::{Rgb, RgbImage, RgbaImage};
use maskscope::app::analysis::similarities;
use maskscope::app::command::Command;
use maskscope::app::document::Op;
use maskscope::app::engine::ModelChoice;
use maskscope::app::heatmap_gpu::{self, HeatmapCallback};
use maskscope::app::messages::DialogKind;
use maskscope::app::samples;
use maskscope::app::settings::Tool;
use maskscope::app::{AppOptions, Workbench};
use maskscope::device::ComputeDevice;
use maskscope::heatmap::Plane;
use maskscope::heatmap::colormap::Colormap;

const SIZE: egui::Vec2 = egui::vec2(1480.0, 920.0);

fn options(files: Vec<PathBuf>, samples: bool) -> AppOptions {
    let mut options = AppOptions::new(ComputeDevice::cpu());
    options.model = Some(ModelChoice::RandomHeads);
    options.files = files;
    options.samples = samples;
    options.persist = false;
    options
}

fn harness(options: AppOptions) -> Harness<'static, Workbench> {
    Harness::builder().with_size(SIZE).wgpu().build_eframe(move |cc| Workbench::new(cc, options))
}

/// Steps the app until the workers are idle, then lets the UI settle.
fn settle(h: &mut Harness<'_, Workbench>) {
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut idle = 0;
    while idle < 2 {
        h.step();
        idle = if h.state().is_busy() { 0 } else { idle + 1 };
        assert!(Instant::now() < deadline, "the workbench did not settle");
        std::thread::sleep(Duration::from_millis(2));
    }
    h.run();
}

/// Presses, moves through `points` and releases the primary button.
fn drag(h: &mut Harness<'_, Workbench>, points: &[Pos2]) {
    let (first, last) = (points[0], *points.last().unwrap());
    h.hover_at(first);
    h.drag_at(first);
    for p in &points[1..] {
        h.hover_at(*p);
    }
    h.event(Event::PointerButton {
        pos: last,
        button: PointerButton::Primary,
        pressed: false,
        modifiers: Modifiers::NONE,
    });
    h.run_steps(1);
}

fn click(h: &mut Harness<'_, Workbench>, p: Pos2) {
    h.hover_at(p);
    h.drag_at(p);
    h.event(Event::PointerButton {
        pos: p,
        button: PointerButton::Primary,
        pressed: false,
        modifiers: Modifiers::NONE,
    });
    h.run_steps(1);
}

fn canvas_rect(h: &Harness<'_, Workbench>) -> egui::Rect {
    h.get_by_label("Face canvas").rect()
}

fn crop(image: &RgbaImage, rect: egui::Rect, ppp: f32) -> RgbaImage {
    let r = rect.shrink(1.0);
    let (x, y) = ((r.min.x * ppp).round() as u32, (r.min.y * ppp).round() as u32);
    let (w, h) = ((r.width() * ppp).round() as u32, (r.height() * ppp).round() as u32);
    image::imageops::crop_imm(image, x, y, w, h).to_image()
}

fn mean_abs_diff(a: &RgbaImage, b: &RgbaImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let total: u64 = a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| u64::from(x.abs_diff(*y))).sum();
    total as f64 / a.as_raw().len() as f64
}

fn history_similarity(h: &Harness<'_, Workbench>) -> (f32, f32) {
    let state = &h.state().state;
    let probe = state.probe_embedding().expect("an inference");
    let sims = similarities(&probe, &state.reference_embeddings());
    let baseline = sims[0].baseline.expect("the baseline network embeds 112x112 faces");
    // The UI tests run random heads on the pretrained backbone: with its mask off, that model is
    // the baseline network, which the panel runs separately.
    assert!((baseline - sims[0].mask_off).abs() < 1e-4, "baseline {baseline} vs mask off {}", sims[0].mask_off);
    (sims[0].from, baseline)
}

#[test]
fn paint_stamp_undo_and_see_mask_patterns_and_similarity_update() {
    let mut h = harness(options(Vec::new(), true));
    settle(&mut h);
    {
        let state = &h.state().state;
        assert!(state.model.info.as_ref().is_some_and(|m| m.has_mask && m.input_size == [112, 112]));
        assert_eq!(state.faces.len(), samples::sample_paths().len());
        let probe = state.probe().expect("the first sample is opened for painting");
        assert!(samples::is_named(&probe.path, samples::FIRST_SAMPLE));
        assert_eq!(probe.aligned.as_ref().unwrap().image.dimensions(), (112, 112));
        assert_eq!(state.reference_embeddings().len(), 2, "both default references are embedded");
        assert!(state.current_inference().is_some() && state.heatmap.is_some());
        let laura = state.faces.iter().find(|f| samples::is_named(&f.path, "Laura_Bush_0004.jpg")).unwrap();
        assert!(laura.detections.len() > 1, "the group photo offers several faces");
    }
    // The panels show the top-5 patterns, the true pattern and both similarities.
    assert_eq!(h.query_all_by_label_contains(". #").count(), 5, "five predicted patterns are listed");
    assert!(h.query_by_label_contains("Painted occlusion: pattern #0").is_some());
    assert!(h.query_all_by_label_contains("FROM").count() >= 2);
    assert!(h.query_all_by_label_contains("baseline").count() >= 2);
    assert!(h.query_all_by_label_contains("mask off").count() >= 2);
    let heat0 = h.state().state.heatmap.as_ref().unwrap().generation;
    let sim0 = history_similarity(&h);
    let probs0 = h.state().state.current_inference().unwrap().outputs.pattern_probabilities.clone();
    let ppp = h.ctx.pixels_per_point();
    let before = crop(&h.render().unwrap(), canvas_rect(&h), ppp);

    // A brush stroke across the eyes.
    h.get_by_label("Brush").click();
    h.run();
    let r = canvas_rect(&h);
    let at = |x: f32, y: f32| r.min + egui::vec2(x, y) * r.width() / 112.0;
    drag(&mut h, &[at(25.0, 50.0), at(45.0, 50.0), at(65.0, 52.0), at(88.0, 50.0)]);
    settle(&mut h);
    {
        let state = &h.state().state;
        let probe = state.probe().unwrap();
        assert!(
            matches!(probe.doc.ops(), [Op::Brush { points, .. }] if points.len() >= 4 && (points[0][0] - 25.0).abs() < 1.0),
            "{:?}",
            probe.doc.ops()
        );
        let inference = state.current_inference().unwrap();
        assert_eq!(inference.key.doc_revision, probe.doc.revision(), "the newest edit was inferred");
        assert!(inference.painted.count() > 100, "the stroke is in the painted mask");
        assert!(state.heatmap.as_ref().unwrap().generation > heat0, "the heatmap was refreshed");
        assert_ne!(inference.outputs.pattern_probabilities, probs0, "the pattern probabilities moved");
    }
    assert!(h.query_by_label_contains("Painted occlusion: pattern #0").is_none(), "the true pattern follows the paint");
    let sim1 = history_similarity(&h);
    assert_ne!(sim0, sim1, "the similarities changed");
    assert!(sim1.1 < sim0.1, "covering the eyes lowers the baseline similarity to the same person");
    let after = crop(&h.render().unwrap(), r, ppp);
    assert!(mean_abs_diff(&before, &after) > 1.0, "the canvas shows the stroke and the new heatmap");

    // A stamp: the sunglasses are the default occluder.
    h.get_by_label("Stamp").click();
    h.run();
    assert_eq!(canvas_rect(&h), r, "the face stays put when the tool changes");
    click(&mut h, at(56.0, 90.0));
    settle(&mut h);
    let ops = h.state().state.probe().unwrap().doc.ops().to_vec();
    assert!(matches!(ops.as_slice(), [Op::Brush { .. }, Op::Stamp(s)] if (s.centre[1] - 90.0).abs() < 1.5), "{ops:?}");
    assert!(h.state().state.history.len() >= 3, "one history point per edit");

    // Undo (Ctrl+Z) takes the stamp off; redo (Ctrl+Shift+Z) puts it back; undo again.
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    settle(&mut h);
    assert_eq!(h.state().state.probe().unwrap().doc.ops().len(), 1);
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    settle(&mut h);
    assert_eq!(h.state().state.probe().unwrap().doc.ops().len(), 2);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    settle(&mut h);
    let state = &h.state().state;
    assert_eq!(state.probe().unwrap().doc.ops().len(), 1);
    assert_eq!(state.current_inference().unwrap().key.doc_revision, state.probe().unwrap().doc.revision());
    assert_eq!(h.state().state.settings.tool, Tool::Stamp);

    // The CPU fallback draws the same heatmap as the WGSL pipeline.
    assert!(h.state().gpu_heatmap_ready());
    assert!(h.state().cpu_heatmap_texture().is_none(), "the GPU path made no CPU texture");
    h.hover_at(Pos2::ZERO);
    h.run();
    let gpu = crop(&h.render().unwrap(), canvas_rect(&h), ppp);
    h.state_mut().state.settings.gpu_heatmap = false;
    h.run();
    assert!(h.state().cpu_heatmap_texture().is_some());
    let cpu = crop(&h.render().unwrap(), canvas_rect(&h), ppp);
    let diff = mean_abs_diff(&gpu, &cpu);
    assert!(diff < 3.0, "GPU and CPU overlays differ by {diff} on average");
}

#[test]
fn heatmap_shader_matches_the_cpu_path() {
    // A 7x7 ramp, drawn by the WGSL pipeline at opacity 1 and by the CPU fallback.
    let plane = Arc::new(Plane {
        width: 7,
        height: 7,
        values: (0..49).map(|i| (i % 7) as f32 / 6.0 * ((i / 7) as f32 / 6.0)).collect(),
    });
    let render_state = egui_kittest::wgpu::create_render_state(
        egui_kittest::wgpu::default_wgpu_setup(),
        eframe::egui_wgpu::RendererOptions::PREDICTABLE,
    );
    heatmap_gpu::install(&render_state).expect("the shader compiles");
    let side = 224.0;
    let drawn = plane.clone();
    let mut h = Harness::builder()
        .with_size(egui::vec2(side, side))
        .renderer(egui_kittest::wgpu::WgpuTestRenderer::from_render_state(render_state))
        .build_ui(move |ui| {
            let rect = egui::Rect::from_min_size(Pos2::ZERO, egui::vec2(side, side));
            let callback = HeatmapCallback {
                plane: drawn.clone(),
                generation: 1,
                colormap: Colormap::Viridis,
                range: (0.0, 1.0),
                opacity: 1.0,
            };
            callback.paint(ui.painter(), rect);
        });
    h.run();
    let gpu = h.render().unwrap();
    let cpu = plane.colourise(side as u32, side as u32, Colormap::Viridis, (0.0, 1.0), 1.0);
    let diff = mean_abs_diff(&gpu, &cpu);
    assert!(diff < 1.5, "GPU and CPU heatmaps differ by {diff} on average");
    egui_kittest::image_snapshot(&gpu, "heatmap_shader");
}

struct Dropped(PathBuf);

impl std::fmt::Debug for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.display())
    }
}

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

fn drop_files(h: &mut Harness<'_, Workbench>, paths: &[PathBuf]) {
    for p in paths {
        h.input_mut().dropped_files.push(Arc::new(Dropped(p.clone())));
    }
    h.step();
}

fn has_toast(h: &Harness<'_, Workbench>, needle: &str) -> bool {
    h.state().state.toasts.iter().any(|t| t.text.contains(needle))
}

#[test]
fn dropped_files_open_and_bad_input_only_toasts() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("broken.jpg");
    std::fs::write(&garbage, b"this is not a jpeg").unwrap();
    let bad_model = dir.path().join("model.bpk");
    std::fs::write(&bad_model, b"not a burnpack").unwrap();
    let faceless = dir.path().join("wall.png");
    // A smooth gradient: no face, but a crop that changes when the landmarks move.
    RgbImage::from_fn(200, 160, |x, y| Rgb([x as u8, y as u8, 128])).save(&faceless).unwrap();

    let mut h = harness(options(Vec::new(), false));
    settle(&mut h);
    assert!(h.state().state.faces.is_empty());
    assert!(h.query_by_label_contains("Open a face").is_some());

    let photo = samples::samples_dir().join(samples::FIRST_SAMPLE);
    drop_files(&mut h, std::slice::from_ref(&photo));
    settle(&mut h);
    assert!(h.state().state.probe().is_some_and(|p| p.is_ready() && p.path == photo));
    let generation = h.state().state.model.generation;

    drop_files(&mut h, &[garbage.clone(), bad_model]);
    settle(&mut h);
    assert!(has_toast(&h, "cannot decode"), "{:?}", h.state().state.toasts.iter().map(|t| &t.text).collect::<Vec<_>>());
    assert_eq!(h.state().state.model.generation, generation, "a broken model leaves the current one in place");
    assert!(h.state().state.model.info.is_some());
    let state = &h.state().state;
    assert!(state.toasts.iter().filter(|t| t.level == maskscope::app::toasts::Level::Error).count() >= 2);

    // A photo without a face: the five points are placed for the user to drag.
    drop_files(&mut h, std::slice::from_ref(&faceless));
    settle(&mut h);
    let probe = h.state().state.probe().unwrap();
    assert_eq!(probe.path, faceless);
    assert!(probe.detections.is_empty() && probe.hand_placed && probe.aligned.is_some());
    assert!(has_toast(&h, "no face found"));
    assert!(h.query_by_label_contains("No face was detected").is_some());

    // Dragging a landmark re-aligns the crop.
    let revision = probe.align_revision;
    let crop_before = probe.aligned.as_ref().unwrap().image.clone();
    let handle = h.get_by_label("landmark: left eye").rect().center();
    drag(&mut h, &[handle, handle + egui::vec2(6.0, 4.0), handle + egui::vec2(12.0, 8.0)]);
    settle(&mut h);
    let probe = h.state().state.probe().unwrap();
    assert!(probe.align_revision > revision);
    assert!(probe.aligned.as_ref().unwrap().image != crop_before, "the crop follows the landmark");
}

#[test]
fn presets_sensitivity_map_and_sessions() {
    let photo = samples::samples_dir().join(samples::FIRST_SAMPLE);
    let mut h = harness(options(vec![photo.clone()], false));
    settle(&mut h);
    // A region preset and a random Occ-LFW-2.0 occluder, as their buttons do.
    h.get_by_label("mouth").click();
    h.get_by_label("Random occluder (Occ-LFW-2.0)").click();
    settle(&mut h);
    let ops = h.state().state.probe().unwrap().doc.ops().to_vec();
    assert!(matches!(ops.as_slice(), [Op::Region { region, .. }, Op::Placed { .. }] if region == "mouth"), "{ops:?}");

    h.state_mut().state.settings.heatmap.visible = false;
    h.state_mut().state.settings.show_patterns = false;
    h.run();
    let ppp = h.ctx.pixels_per_point();
    let image = crop(&h.render().unwrap(), canvas_rect(&h), ppp);
    let small =
        image::imageops::resize(&image, image.width() / 2, image.height() / 2, image::imageops::FilterType::Triangle);
    egui_kittest::image_snapshot(&small, "painted_face");

    // The face's own clean version as the reference, then the sensitivity map against it.
    let id = h.state().state.probe.unwrap();
    h.state_mut().run_commands(vec![Command::SetReference(id, true)]);
    settle(&mut h);
    h.state_mut().state.settings.sensitivity_side = 32;
    h.state_mut().state.settings.sensitivity_stride = 16;
    h.state_mut().run_commands(vec![Command::RunSensitivity]);
    settle(&mut h);
    let map = h.state().state.sensitivity.result.clone().expect("a sensitivity map");
    assert_eq!((map.cols, map.rows), (7, 7));
    assert!(map.mask_off_drop.iter().any(|d| d.abs() > 1e-3), "occluding the face changes its similarity");

    // Save the session, change things, reopen it: faces, landmarks and edits come back.
    let dir = tempfile::tempdir().unwrap();
    let session = dir.path().join("session.json");
    let landmarks = h.state().state.probe().unwrap().landmarks;
    h.state_mut().run_commands(vec![Command::SaveSession(session.clone()), Command::Clear]);
    settle(&mut h);
    assert!(h.state().state.probe().unwrap().doc.ops().is_empty());
    h.state_mut().run_commands(vec![Command::OpenSession(session)]);
    settle(&mut h);
    let state = &h.state().state;
    assert_eq!(state.faces.len(), 1);
    let probe = state.probe().unwrap();
    assert_eq!(probe.doc.ops(), ops.as_slice());
    let (a, b) = (probe.landmarks.unwrap(), landmarks.unwrap());
    assert!(a.iter().flatten().zip(b.iter().flatten()).all(|(x, y)| (x - y).abs() < 1e-9), "{a:?} vs {b:?}");
    assert!(probe.is_reference);

    // Another preset replaces the mouth rather than piling up; with "eval's object" it is the
    // drawing `maskscope eval` puts over that region, and its button says so.
    h.state_mut().state.settings.region_fill = maskscope::app::settings::RegionFill::EvalObject;
    h.run();
    h.get_by_label("two eyes").click();
    settle(&mut h);
    let ops = h.state().state.probe().unwrap().doc.ops().to_vec();
    assert!(
        matches!(ops.as_slice(), [Op::Placed { .. }, Op::Region { region, occluder: Some(o), .. }]
            if region == "two_eyes" && o.class == "sunglasses" && o.name == "black_frame_front"),
        "{ops:?}"
    );
}

#[test]
fn region_sweep_on_sample_pairs_fills_the_bars_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = dir.path().join("pairs.csv");
    // The samples are three people with two photos each: 12 pairs, half of them genuine.
    let same = [
        ("Colin_Powell_0038.jpg", "Colin_Powell_0074.jpg"),
        ("Laura_Bush_0004.jpg", "Laura_Bush_0016.jpg"),
        ("Tony_Blair_0006.jpg", "Tony_Blair_0094.jpg"),
    ];
    let different = [
        ("Colin_Powell_0038.jpg", "Laura_Bush_0016.jpg"),
        ("Laura_Bush_0004.jpg", "Tony_Blair_0094.jpg"),
        ("Tony_Blair_0006.jpg", "Colin_Powell_0074.jpg"),
    ];
    let mut csv = String::from("path_a,path_b,same\n");
    for _ in 0..2 {
        same.iter().for_each(|(a, b)| csv += &format!("{a},{b},1\n"));
        different.iter().for_each(|(a, b)| csv += &format!("{a},{b},0\n"));
    }
    std::fs::write(&pairs, csv).unwrap();

    let mut h = harness(options(Vec::new(), false));
    settle(&mut h);
    // Its caches go to the test's folder, not the user's.
    h.state_mut().state.cache_dir = dir.path().join("cache");
    {
        let settings = &mut h.state_mut().state.settings;
        settings.sweep_pairs = pairs.display().to_string();
        settings.sweep_images = samples::samples_dir().display().to_string();
        settings.sweep_limit = 0;
    }
    h.state_mut().state.sweep.open = true;
    h.state_mut().run_commands(vec![Command::RunSweep]);
    settle(&mut h);
    let sweep = &h.state().state.sweep;
    assert!(sweep.running.is_none());
    let results = sweep.results.as_ref().expect("the sweep finished");
    assert_eq!(results.pairs.count, 12);
    assert_eq!(sweep.bars.len(), 9, "one bar pair per Figure-1 region");
    assert!(sweep.clean.is_some_and(|(b, f)| b > 50.0 && f > 50.0), "{:?}", sweep.clean);
    assert!(h.query_by_label_contains("12 pairs evaluated").is_some());

    let before = h.state().state.settings.threshold;
    h.state_mut().run_commands(vec![Command::UseSweepThreshold]);
    assert_ne!(h.state().state.settings.threshold, before);
    let mut commands = Vec::new();
    for format in ["png", "svg", "csv", "json"] {
        commands.push(Command::ExportSweep { path: dir.path().join(format!("sweep.{format}")), format });
    }
    h.state_mut().run_commands(commands);
    // Exports are written on a thread of their own: wait for them.
    settle(&mut h);
    for format in ["png", "svg", "csv", "json"] {
        let written = std::fs::metadata(dir.path().join(format!("sweep.{format}"))).map(|m| m.len()).unwrap_or(0);
        assert!(written > 100, "sweep.{format} is {written} bytes");
    }
}

/// Without a system file dialog (or with `MASKSCOPE_FILE_DIALOG=builtin`), Export opens
/// maskscope's own browser, in the folder of the last answer, and its Save writes the figure.
#[test]
fn the_builtin_file_browser_exports_the_sweep_figure() {
    let dir = tempfile::tempdir().unwrap();
    let mut builtin = options(Vec::new(), false);
    builtin.builtin_file_dialogs = true;
    // egui_file puts an emoji (U+1F4BE) before its window title, which egui's bundled fonts do
    // not have: the app draws a box there, and this harness would panic on it. Its path and
    // file-name fields carry no accessible name, which the harness would also refuse.
    let mut h = Harness::builder()
        .with_size(SIZE)
        .allow_missing_glyphs()
        .with_accessibility_check(false)
        .wgpu()
        .build_eframe(move |cc| Workbench::new(cc, builtin));
    settle(&mut h);
    // A finished sweep to export: the bars of two regions.
    h.state_mut().state.sweep.bars = vec![
        maskscope::eval::plots::RegionBar {
            name: "mouth".into(),
            occluded_area: Some(0.1),
            baseline: 97.0,
            from: 98.0,
        },
        maskscope::eval::plots::RegionBar {
            name: "nose".into(),
            occluded_area: Some(0.08),
            baseline: 96.0,
            from: 97.5,
        },
    ];
    h.state_mut().state.last_dialog_dir = Some(dir.path().to_path_buf());
    h.state_mut().run_commands(vec![Command::Dialog(DialogKind::ExportSweep("png"))]);
    settle(&mut h);
    assert!(h.query_by_label_contains("Export the region sweep").is_some(), "the browser is open");
    h.get_by_label("Save").click();
    settle(&mut h);
    let figure = dir.path().join("region_sweep.png");
    let written = std::fs::metadata(&figure).map(|m| m.len()).unwrap_or(0);
    assert!(written > 1000, "{} is {written} bytes", figure.display());
    assert!(h.query_by_label_contains("Export the region sweep").is_none(), "the browser closed");
}

#[test]
fn an_official_112x96_checkpoint_reshapes_the_panels() {
    let photo = samples::samples_dir().join(samples::FIRST_SAMPLE);
    let mut h = harness(options(vec![photo], false));
    settle(&mut h);
    let id = h.state().state.probe.unwrap();
    let stroke = Op::Brush { points: vec![[40.0, 60.0], [70.0, 60.0]], radius: 4.0, colour: [0, 0, 0] };
    h.state_mut().state.face_mut(id).unwrap().doc.push(stroke);
    settle(&mut h);

    // The official training code's .pth.tar layout (a tiny LResNet-FROM, 112x96 faces), dropped
    // on the window like any model file.
    let checkpoint = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/from/from_tiny.pth.tar");
    drop_files(&mut h, &[checkpoint]);
    settle(&mut h);
    let state = &h.state().state;
    let info = state.model.info.as_ref().unwrap();
    assert_eq!(info.input_size, [112, 96]);
    assert_eq!(info.patterns.as_ref().map(|p| (p.height(), p.width(), p.len())), Some((112, 96, 226)));
    let probe = state.probe().unwrap();
    assert_eq!(probe.aligned.as_ref().unwrap().image.dimensions(), (96, 112), "re-aligned to the 112x96 template");
    assert!(
        matches!(probe.doc.ops(), [Op::Brush { points, .. }] if points[0] == [32.0, 60.0]),
        "the stroke moved with the 8 px margin: {:?}",
        probe.doc.ops()
    );
    let heatmap = state.heatmap.as_ref().expect("a heatmap from the new model");
    assert_eq!((heatmap.plane.width, heatmap.plane.height), (6, 7));
    assert_eq!(canvas_rect(&h).width() / canvas_rect(&h).height(), 96.0 / 112.0);
    assert!(h.query_by_label_contains("Model: from_tiny.pth.tar (112x96, 226 patterns)").is_some());
}

/// The face choice beside the photo: the largest face first, then "central" from the combo box
/// re-picks the shown photo (Kate_Capshaw_0002: the largest face is the man behind her) and is
/// kept in the settings.
#[test]
fn the_face_choice_beside_the_photo_repicks_and_is_remembered() {
    use maskscope::face::{FacePick, pick_face};
    let photo =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lfw/images/Kate_Capshaw/Kate_Capshaw_0002.jpg");
    let mut h = harness(options(vec![photo], false));
    settle(&mut h);
    let expected = {
        let probe = h.state().state.probe().expect("the photo opened");
        assert_eq!(probe.chosen, Some(0), "the largest face by default");
        let photo = probe.photo.as_ref().unwrap();
        pick_face(&probe.detections, photo.width(), photo.height(), FacePick::Central).unwrap()
    };
    assert_ne!(expected, 0, "the fixture needs a centred face that is not the largest");
    h.get_by_label("face").click();
    h.run();
    h.get_by_label("central").click();
    settle(&mut h);
    let state = &h.state().state;
    assert_eq!(state.settings.face_pick, FacePick::Central);
    assert_eq!(state.probe().unwrap().chosen, Some(expected));
}

/// Ctrl+V of an image (a face copied from a browser) opens it as the face to paint, saved as a
/// PNG in the paste folder; Ctrl+V of a path opens that file.
#[test]
fn a_pasted_image_or_path_opens_as_the_face_to_paint() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(options(Vec::new(), false));
    settle(&mut h);
    h.state_mut().state.paste_dir = dir.path().to_path_buf();
    let photo = image::open(samples::samples_dir().join(samples::FIRST_SAMPLE)).unwrap().to_rgb8();
    let (w, h_px) = photo.dimensions();
    let pasted = egui::ColorImage::from_rgb([w as usize, h_px as usize], photo.as_raw());
    h.event(egui::Event::PasteImage(std::sync::Arc::new(pasted)));
    // The PNG is written on a helper thread, not a job the harness waits on: step until it opens.
    let deadline = Instant::now() + Duration::from_secs(60);
    while h.state().state.faces.is_empty() {
        h.step();
        assert!(Instant::now() < deadline, "the pasted image never opened");
        std::thread::sleep(Duration::from_millis(2));
    }
    settle(&mut h);
    let probe = h.state().state.probe().expect("the pasted image opened");
    assert!(probe.path.starts_with(dir.path()), "{}", probe.path.display());
    assert!(probe.is_ready() && !probe.detections.is_empty(), "the pasted face is found");
    let saved = image::open(&probe.path).unwrap().to_rgb8();
    assert_eq!(saved, photo, "the PNG holds the pasted pixels");

    let other = samples::samples_dir().join("Tony_Blair_0006.jpg");
    h.event(egui::Event::Paste(other.display().to_string()));
    settle(&mut h);
    assert_eq!(h.state().state.probe().unwrap().path, other);
}

/// File > Copy heatmap overlay puts the overlay, as Export writes it, on the clipboard.
#[test]
fn the_heatmap_overlay_can_be_copied_as_an_image() {
    let photo = samples::samples_dir().join(samples::FIRST_SAMPLE);
    let mut h = harness(options(vec![photo], false));
    settle(&mut h);
    assert!(h.state().state.heatmap.is_some());
    h.state_mut().run_commands(vec![Command::CopyOverlay]);
    // The image goes to egui at the end of the next frame.
    h.step();
    let copied = h.output().platform_output.commands.iter().find_map(|c| match c {
        egui::OutputCommand::CopyImage(image) => Some(image.size),
        _ => None,
    });
    let expected = 112 * maskscope::heatmap::EXPORT_SCALE as usize;
    assert_eq!(copied, Some([expected, expected]), "a 112x112 face, enlarged as exported");
}
