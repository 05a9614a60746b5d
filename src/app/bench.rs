//! `maskscope bench gui`: how long one edit takes to reach the screen on the CPU backend — the
//! occluded face re-rendered, the model run, the heatmap, top patterns, true pattern and
//! similarities recomputed. Measured twice: called directly, and through the live worker thread
//! the app uses (what a user waits for after a brush dab).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::analysis::{pattern_summary, similarities};
use super::document::{self, Document, Op};
use super::engine::{self, Embedding, ModelChoice};
use super::ids::{FaceId, InferKey};
use super::jobs::Jobs;
use super::messages::{Event, InferRequest};
use super::samples;
use super::stamp::StampCache;
use crate::device::ComputeDevice;
use crate::face::read_rgb;
use crate::heatmap::{CPU_HEATMAP_SIDE, HeatmapStyle, Plane};

/// Milliseconds: median, minimum, maximum.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

fn timing(mut samples: Vec<Duration>) -> Timing {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let n = samples.len();
    let median = if n % 2 == 1 { samples[n / 2] } else { (samples[n / 2 - 1] + samples[n / 2]) / 2 };
    Timing { median: ms(median), min: ms(samples[0]), max: ms(samples[n - 1]) }
}

pub struct GuiBench {
    pub model: String,
    pub device: String,
    pub runs: usize,
    pub render: Timing,
    pub model_forward: Timing,
    pub derive: Timing,
    /// Edit to everything updated, called directly.
    pub total: Timing,
    /// Edit to the result event from the live worker thread, plus deriving the panels' data.
    pub worker: Timing,
}

/// A brush dab at a position that moves with `i`, so that every edit changes the face.
fn dab(i: usize) -> Op {
    let x = 30.0 + (i * 7 % 50) as f32;
    let y = 40.0 + (i * 11 % 40) as f32;
    Op::Brush { points: vec![[x, y], [x + 6.0, y + 3.0]], radius: 6.0, colour: [30, 30, 30] }
}

/// Times `runs` edits of `choice`'s model on `device` (the CPU backend unless a GPU is asked
/// for).
pub fn run(runs: usize, device: ComputeDevice, choice: ModelChoice) -> anyhow::Result<GuiBench> {
    anyhow::ensure!(runs > 0, "--runs must be at least 1");
    let loaded = engine::load(&choice, &device)?;
    let model = &loaded.model;
    let finder = engine::face_finder(loaded.info.template, &device)?;
    let paths = samples::sample_paths();
    let probe_path =
        paths.first().ok_or_else(|| anyhow::anyhow!("no sample faces in {}", samples::samples_dir().display()))?;
    let reference_path = samples::samples_dir().join(samples::DEFAULT_REFERENCES[0]);
    let face = finder.find(&read_rgb(probe_path)?, probe_path)?.aligned.image;
    let reference_face = finder.find(&read_rgb(&reference_path)?, &reference_path)?.aligned.image;
    let baseline = engine::load_baseline(&device)?;
    let reference = engine::embed(model, Some(&baseline), &reference_face)?;
    let library = crate::occlusion::OccluderLibrary::bundled().ok();
    let patterns = loaded.info.patterns.clone();
    let style = HeatmapStyle::default();

    let derive = |outputs: &crate::face::from_model::FaceOutputs,
                  baseline: Option<Vec<f32>>,
                  painted: &crate::patterns::BinaryMask| {
        if let Some(mask) = &outputs.mask {
            let plane = Plane::from_mask(mask, &style);
            let range = plane.range(style.range);
            // The CPU fallback's texture; the GPU path only uploads the 7x7 plane.
            std::hint::black_box(plane.colourise(
                CPU_HEATMAP_SIDE,
                CPU_HEATMAP_SIDE,
                style.colormap,
                range,
                style.opacity,
            ));
        }
        std::hint::black_box(pattern_summary(patterns.as_ref(), &outputs.pattern_probabilities, painted));
        let probe = Embedding::from_outputs(outputs, baseline);
        std::hint::black_box(similarities(&probe, &[(FaceId(1), &reference)]));
    };

    let mut doc = Document::default();
    let mut cache = StampCache::default();
    let (mut render, mut forward, mut derived, mut total) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // One warm-up edit, then the timed ones.
    for i in 0..=runs {
        let start = Instant::now();
        doc.push(dab(i));
        let rendered = document::render(doc.visible_ops(), &face, library.as_ref(), &mut cache);
        let t_render = start.elapsed();
        let (outputs, _) = engine::analyze(model, &rendered.image)?;
        let baseline_embedding = engine::baseline_embedding(Some(&baseline), &rendered.image)?;
        let t_forward = start.elapsed();
        derive(&outputs, baseline_embedding, &rendered.mask);
        let t_total = start.elapsed();
        if i > 0 {
            render.push(t_render);
            forward.push(t_forward - t_render);
            derived.push(t_total - t_forward);
            total.push(t_total);
        }
    }

    let jobs = Jobs::start(device.clone(), choice, Arc::new(|| {}));
    let wait = |jobs: &Jobs, want: &dyn Fn(&Event) -> bool| -> anyhow::Result<Event> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(e) = jobs.poll().into_iter().find(|e| want(e)) {
                return Ok(e);
            }
            anyhow::ensure!(Instant::now() < deadline, "the worker did not answer");
            std::thread::sleep(Duration::from_micros(200));
        }
    };
    wait(&jobs, &|e| matches!(e, Event::ModelLoaded { .. }))?;
    let mut worker = Vec::new();
    for i in 0..=runs {
        let start = Instant::now();
        doc.push(dab(i + 1000));
        let rendered = document::render(doc.visible_ops(), &face, library.as_ref(), &mut cache);
        let key = InferKey { face: FaceId(1), align_revision: 1, doc_revision: doc.revision(), model_generation: 0 };
        jobs.infer(InferRequest { key, image: rendered.image, painted: rendered.mask });
        let event = wait(&jobs, &|e| matches!(e, Event::Inferred { .. } | Event::InferFailed { .. }))?;
        let Event::Inferred { outputs, request, baseline, .. } = event else {
            anyhow::bail!("inference failed in the worker")
        };
        derive(&outputs, baseline, &request.painted);
        if i > 0 {
            worker.push(start.elapsed());
        }
    }
    Ok(GuiBench {
        model: loaded.info.name.clone(),
        device: device.info.short(),
        runs,
        render: timing(render),
        model_forward: timing(forward),
        derive: timing(derived),
        total: timing(total),
        worker: timing(worker),
    })
}

impl std::fmt::Display for GuiBench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "edit -> heatmap + patterns + similarity, {} on {}, {} edits", self.model, self.device, self.runs)?;
        writeln!(f, "{:<34} {:>9} {:>9} {:>9}", "", "median", "min", "max")?;
        let row = |f: &mut std::fmt::Formatter<'_>, name: &str, t: &Timing| {
            writeln!(f, "{name:<34} {:>7.1}ms {:>7.1}ms {:>7.1}ms", t.median, t.min, t.max)
        };
        row(f, "render occluders", &self.render)?;
        row(f, "models (FROM: mask, patterns, emb.; baseline emb.)", &self.model_forward)?;
        row(f, "heatmap, top-5, true pattern, cos", &self.derive)?;
        row(f, "total, direct", &self.total)?;
        row(f, "total, through the live worker", &self.worker)
    }
}
