//! `bench sweep`: throughput of the evaluation sweep (align + occlude + embed + score), first
//! with an empty cache, then again with the cache that run filled, and what that means for the
//! issue's target (LFW View 2: 7,701 photos x 11 conditions).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use super::Cli;
use super::bench::BenchArgs;
use super::eval::{Bars, cancel_on_ctrl_c};
use crate::assets;
use crate::checkpoint::record::save_from_mobilefacenet;
use crate::eval::conditions::{SQUARE_SIDES, parse_protocol};
use crate::eval::pairs::{ImagePair, read_pairs_any};
use crate::eval::sweep::{SweepModel, SweepOutcome, SweepSpec, run_sweep};
use crate::face::from_model::bundled_model_path;
use crate::face::{Embedder, FaceFinder};
use crate::model::from_mobilefacenet::FromMobileFaceNetConfig;
use crate::occlusion::OccluderLibrary;

/// LFW View 2: distinct photos in pairs.txt, and the 11 conditions its time target is set for
/// (clean, the nine regions, Occ-LFW-2.0: 10 minutes for the whole sweep).
const VIEW2_PHOTOS: f64 = 7701.0;
const VIEW2_CONDITIONS: f64 = 11.0;

/// Removes the bench's scratch folder (temporary cache and model) however the bench ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The first `limit / 2` same-person and `limit - limit / 2` different-people pairs in file
/// order: LFW files list a fold's same pairs first, so a plain prefix would be one class only.
fn balanced_subset(pairs: &[ImagePair], limit: usize) -> Vec<ImagePair> {
    let genuine = pairs.iter().filter(|p| p.same).take(limit / 2);
    let impostor = pairs.iter().filter(|p| !p.same).take(limit - limit / 2);
    genuine.chain(impostor).cloned().collect()
}

/// `--model`, else the bundled FROM model, else FROM heads with random weights around the
/// bundled MobileFaceNet, saved to the scratch folder (the timing does not depend on weights).
fn model_path(
    args: &BenchArgs,
    scratch: &Path,
    device: &burn::tensor::Device,
) -> anyhow::Result<(PathBuf, &'static str)> {
    if let Some(path) = &args.model {
        return Ok((path.clone(), "given"));
    }
    let bundled = bundled_model_path();
    if bundled.is_file() {
        return Ok((bundled, "bundled"));
    }
    let config = FromMobileFaceNetConfig::new();
    let backbone = Embedder::load(&assets::mobilefacenet_record(), device)?.net;
    let path = scratch.join("from_random_heads.bpk");
    save_from_mobilefacenet(&config.init_with(backbone, device), &config, &path)?;
    Ok((path, "random FROM heads on the bundled MobileFaceNet"))
}

pub fn run(cli: &Cli, args: &BenchArgs) -> anyhow::Result<()> {
    let pairs_path = args.pairs.as_ref().context("bench sweep needs --pairs (and --images)")?;
    let picked = cli.compute_device()?;
    let device = picked.device.clone();
    let mut pairs = read_pairs_any(pairs_path, args.images.as_deref())?;
    if args.limit > 0 {
        pairs.pairs = balanced_subset(&pairs.pairs, args.limit);
    }
    let conditions = parse_protocol(&args.protocol, &SQUARE_SIDES).context("--protocol")?;
    let scratch = Scratch(std::env::temp_dir().join(format!("maskscope-bench-sweep-{}", std::process::id())));
    std::fs::create_dir_all(&scratch.0).with_context(|| format!("creating {}", scratch.0.display()))?;
    let (path, origin) = model_path(args, &scratch.0, &device)?;
    let models = vec![SweepModel::load(&path, &device)?];
    let library = OccluderLibrary::bundled()?;
    let mut finder = FaceFinder::load(&assets::mtcnn_dir(), models[0].model.template(), &device)?;
    let images_root = args.images.clone().or_else(|| pairs_path.parent().map(Path::to_path_buf));
    let mut spec = SweepSpec::new(pairs_path.clone(), pairs, images_root, conditions);
    spec.setup.cache_root = Some(scratch.0.join("cache"));
    let cancel = cancel_on_ctrl_c()?;
    println!(
        "sweep bench on {}: {} pairs, {} conditions, model {} ({origin})",
        picked.info.short(),
        spec.pairs.pairs.len(),
        spec.conditions.len(),
        models[0].label
    );
    let mut uncached = None;
    for name in ["uncached", "cached"] {
        let start = Instant::now();
        let outcome = run_sweep(&spec, &models, &mut finder, &library, &mut Bars::default(), &cancel)?;
        let total = start.elapsed().as_secs_f64();
        let line = describe(name, &outcome, spec.conditions.len(), total);
        println!("{line}");
        if uncached.is_none() {
            uncached = Some((outcome, total));
        }
    }
    if let Some((outcome, total)) = uncached {
        for line in view2_estimate(&outcome, spec.conditions.len(), total) {
            println!("{line}");
        }
    }
    Ok(())
}

/// What the uncached run means for LFW View 2: at its rate of image-conditions (the protocol's
/// own work: every photo embedded clean once, each occluded condition embedding the pairs'
/// second photos), and the upper bound where every photo is embedded under every condition.
fn view2_estimate(outcome: &SweepOutcome, conditions: usize, total: f64) -> [String; 2] {
    let image_conditions = (outcome.photos.distinct * conditions).max(1) as f64;
    let c = &outcome.cache;
    let embedded = (c.embedded_fresh + c.embedded_cached) as f64;
    let at_rate = VIEW2_PHOTOS * VIEW2_CONDITIONS * total / image_conditions;
    let (align_s, embed_s) = per_unit(outcome);
    let align = VIEW2_PHOTOS * align_s;
    let embed = VIEW2_PHOTOS * VIEW2_CONDITIONS * embed_s;
    [
        format!(
            "LFW View 2 ({VIEW2_PHOTOS} photos x {VIEW2_CONDITIONS} conditions) at this run's uncached rate: {:.1} min \
             (target: 10 min); this pairs file needed {embedded} embeddings for {image_conditions} image-conditions ({:.0}%)",
            at_rate / 60.0,
            100.0 * embedded / image_conditions
        ),
        format!(
            "upper bound, every photo embedded under every condition: align {:.1} min + embed {:.1} min = {:.1} min",
            align / 60.0,
            embed / 60.0,
            (align + embed) / 60.0
        ),
    ]
}

/// Seconds per aligned photo and per embedded face (cache reads and scoring included).
fn per_unit(outcome: &SweepOutcome) -> (f64, f64) {
    let c = &outcome.cache;
    let photos = (c.aligned_fresh + c.aligned_cached).max(1) as f64;
    let faces = (c.embedded_fresh + c.embedded_cached).max(1) as f64;
    (outcome.timings.align_s / photos, outcome.timings.embed_s / faces)
}

fn describe(name: &str, outcome: &SweepOutcome, conditions: usize, total: f64) -> String {
    let c = &outcome.cache;
    let (align_s, embed_s) = per_unit(outcome);
    let image_conditions = outcome.photos.distinct * conditions;
    format!(
        "{name:>9}: {total:.1} s; align {} photos in {:.1} s ({:.1} ms each, {} from cache); embed {} faces in {:.1} s ({:.1} ms \
         each, {} from cache); {image_conditions} image-conditions at {:.1}/s",
        c.aligned_fresh + c.aligned_cached,
        outcome.timings.align_s,
        1e3 * align_s,
        c.aligned_cached,
        c.embedded_fresh + c.embedded_cached,
        outcome.timings.embed_s,
        1e3 * embed_s,
        c.embedded_cached,
        image_conditions as f64 / total.max(1e-9)
    )
}
