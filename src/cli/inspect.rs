//! `inspect`: FROM's view of a folder of photos, as data and pictures. Per photo one JSON line
//! (the face box and landmarks, the mask's mean map, the top-k occlusion patterns, optionally the
//! embeddings), and with `--overlay` the mask heatmap over the aligned face with its colour bar,
//! as the workbench shows it. `--occlude` puts an evaluation condition on each face first.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use image::RgbImage;
use rayon::prelude::*;
use serde_json::{Value, json};

use super::Cli;
use super::faces::{AlignedArg, face_json};
use super::progress::Progress;
use crate::assets;
use crate::eval::conditions::{
    Condition, Occluders, RegionFill, SQUARE_SEED, SquareFillKind, face_area_fraction, parse_protocol,
};
use crate::eval::identification::IMAGE_EXTENSIONS;
use crate::face::from_model::{FaceModel, FaceOutputs, MODEL_BATCH, bundled_model_path};
use crate::face::{FaceFinder, FacePick, FoundFace, PHOTOS_PER_ROUND, damage_warning};
use crate::heatmap::{HeatmapStyle, Plane, ValueRange, describe, overlay_with_colour_bar};
use crate::occlusion::{OCC_LFW20_SEED, OccluderLibrary, image_key};
use crate::patterns::top_patterns;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Photos, or folders searched (recursively) for photos.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// The FROM model (default: the bundled one).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Write each face's heatmap of 1 - mask (what FROM removes, 0-1, mean over channels) over
    /// the aligned face, with its colour bar, to this folder as PNG.
    #[arg(long, value_name = "DIR")]
    pub overlay: Option<PathBuf>,
    /// Put one evaluation condition on each aligned face first (as `eval --protocol` names
    /// them: a region, grey-<region>, occ-lfw-2.0, occ-lfw-2.0-pasted, square-N).
    #[arg(long, value_name = "CONDITION")]
    pub occlude: Option<String>,
    /// What covers a region (`--occlude` with a region name).
    #[arg(long, value_enum, default_value_t = RegionFill::Occluder)]
    pub region_fill: RegionFill,
    /// Most probable occlusion patterns listed per face.
    #[arg(long, default_value_t = 5)]
    pub top_k: usize,
    /// Also print the embeddings: masked (FROM) and unmasked (FROM, mask off).
    #[arg(long)]
    pub embeddings: bool,
    /// Which face of a photo with several.
    #[arg(long, value_enum, default_value_t = FacePick::Largest)]
    pub face: FacePick,
    #[command(flatten)]
    pub aligned: AlignedArg,
    /// Stop at the first photo that cannot be read, has damaged data or shows no face (by default
    /// it gets a line with an "error" and the rest go on).
    #[arg(long)]
    pub strict: bool,
}

/// Photos under `inputs`: files as given, folders searched recursively, image extensions only,
/// in sorted order. Each comes with its occlusion key (its path under the folder given).
fn collect_photos(inputs: &[PathBuf]) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let mut photos = Vec::new();
    for input in inputs {
        if !input.is_dir() {
            let name = input.file_name().map_or_else(|| input.display().to_string(), |n| n.to_string_lossy().into());
            photos.push((input.clone(), name));
            continue;
        }
        let mut found = Vec::new();
        for entry in walkdir::WalkDir::new(input).sort_by_file_name() {
            let entry = entry.with_context(|| format!("reading {}", input.display()))?;
            let is_image = entry
                .path()
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)));
            if entry.file_type().is_file() && is_image {
                let key = image_key(entry.path().strip_prefix(input).unwrap_or(entry.path()));
                found.push((entry.into_path(), key));
            }
        }
        if found.is_empty() {
            bail!("{}: no photos ({}) in this folder", input.display(), IMAGE_EXTENSIONS.join(", "));
        }
        photos.extend(found);
    }
    Ok(photos)
}

/// One photo's face, occluded as asked, with what the occlusion covers.
struct Prepared {
    found: FoundFace,
    face: RgbImage,
    occluded_area: Option<f64>,
    true_pattern: Option<usize>,
}

pub fn run(cli: &Cli, args: &InspectArgs) -> anyhow::Result<()> {
    let photos = collect_photos(&args.inputs)?;
    let condition = match &args.occlude {
        None => None,
        Some(text) => match parse_protocol(text, &[]).with_context(|| format!("--occlude {text}"))?.as_slice() {
            [one] => Some(*one),
            many => bail!("--occlude takes one condition, '{text}' names {}", many.len()),
        },
    };
    if let Some(dir) = &args.overlay {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let device = cli.compute_device()?.device;
    let model_path = args.model.clone().unwrap_or_else(bundled_model_path);
    let model = FaceModel::load(&model_path, &device).with_context(|| format!("loading {}", model_path.display()))?;
    if args.overlay.is_some() && !model.has_spatial_mask() {
        bail!(
            "--overlay: {} has no mask over the face to draw (no FROM heads, or LResNet_Occ_FC's mask on the embedding)",
            model_path.display()
        );
    }
    let mut finder = FaceFinder::load(&assets::mtcnn_dir(), model.template(), &device)?;
    finder.pick = args.face;
    finder.strict = args.strict;
    args.aligned.apply(&mut finder);
    let library = OccluderLibrary::bundled()?;
    let occluders = Occluders::new(&library, args.region_fill, SquareFillKind::Grey, OCC_LFW20_SEED, SQUARE_SEED)?;
    let style = HeatmapStyle { range: ValueRange::Unit, ..HeatmapStyle::default() };

    let patterns = model.patterns();
    let mut bar = Progress::new(photos.len(), "inspect");
    let (mut inspected, mut failed) = (0, 0);
    for batch in photos.chunks(MODEL_BATCH.max(PHOTOS_PER_ROUND)) {
        let prepared: Vec<anyhow::Result<Prepared>> = batch
            .par_iter()
            .map(|(path, key)| {
                let found = finder.find_in_file(path)?;
                let mut face = found.aligned.image.clone();
                let occlusion = match condition {
                    Some(c) => occluders.apply(c, &mut face, key).with_context(|| format!("occluding {key}"))?,
                    None => None,
                };
                let true_pattern = match (&occlusion, patterns) {
                    (Some(o), Some(set)) => set.label_for_mask(&o.mask).ok(),
                    (None, Some(_)) if condition.is_some() => Some(0),
                    _ => None,
                };
                let occluded_area = occlusion.as_ref().map(|o| face_area_fraction(&o.mask));
                Ok(Prepared { found, face, occluded_area, true_pattern })
            })
            .collect();
        let faces: Vec<&RgbImage> = prepared.iter().filter_map(|p| p.as_ref().ok()).map(|p| &p.face).collect();
        let mut outputs = model.analyze(&faces)?.into_iter();
        for ((path, key), prepared) in batch.iter().zip(&prepared) {
            bar.inc();
            let p = match prepared {
                Ok(p) => p,
                Err(e) if args.strict => return Err(anyhow::anyhow!("{e:#}")),
                Err(e) => {
                    failed += 1;
                    println!("{}", json!({ "image": path.to_string_lossy(), "error": format!("{e:#}") }));
                    continue;
                }
            };
            let out = outputs.next().expect("one output per prepared face");
            if let Some(why) = &p.found.damage {
                bar.println(&format!("{} (--strict makes this an error)", damage_warning(path, why)));
            }
            let mut line = face_json(path, &p.found, finder.pre_aligned);
            add_outputs(&mut line, &model, &out, args, condition, p);
            println!("{line}");
            if let (Some(dir), Some(mask), true) = (&args.overlay, &out.mask, model.has_spatial_mask()) {
                let plane = Plane::from_mask(mask, &style);
                let caption = match condition {
                    Some(c) => format!("{}: {} ({})", key, describe(&style), c.label()),
                    None => format!("{}: {}", key, describe(&style)),
                };
                let picture = overlay_with_colour_bar(&p.face, &plane, (0.0, 1.0), &style, &caption)?;
                crate::app::export::save_png(&picture, &overlay_file(dir, key))?;
            }
            inspected += 1;
        }
    }
    drop(bar);
    eprintln!(
        "{inspected} faces inspected{}{}",
        if failed > 0 {
            format!(", {failed} photos without a usable face (their lines say why)")
        } else {
            String::new()
        },
        args.overlay.as_ref().map_or(String::new(), |d| format!("; overlays in {}", d.display()))
    );
    Ok(())
}

/// The model's view of one face, added to its JSON line.
fn add_outputs(
    line: &mut Value,
    model: &FaceModel,
    out: &FaceOutputs,
    args: &InspectArgs,
    condition: Option<Condition>,
    p: &Prepared,
) {
    line["occlusion"] = json!(condition.map(|c| c.label()));
    line["occluded_area"] = json!(p.occluded_area);
    line["true_pattern"] = json!(p.true_pattern);
    line["mask"] = match &out.mask {
        Some(mask) if model.has_spatial_mask() => {
            let mean = mask.channel_mean();
            let rows: Vec<&[f32]> = mean.chunks(mask.width).collect();
            json!({ "kind": "spatial", "height": mask.height, "width": mask.width, "channels": mask.channels, "mean": rows })
        }
        // LResNet_Occ_FC: one value per embedding dimension, not a map over the face.
        Some(mask) => json!({ "kind": "embedding", "values": mask.values }),
        None => Value::Null,
    };
    line["patterns"] = match model.patterns() {
        Some(set) => top_patterns(&out.pattern_probabilities, set, args.top_k)
            .into_iter()
            .map(|g| {
                json!({
                    "index": g.index,
                    "probability": g.probability,
                    "pixels": g.rect.map(|r| json!({ "rows": [r.y0, r.y1], "cols": [r.x0, r.x1] })),
                })
            })
            .collect(),
        None => Value::Null,
    };
    if args.embeddings {
        line["embedding_masked"] = json!(out.masked);
        line["embedding_unmasked"] = json!(out.unmasked);
    }
}

/// Where `inspect` writes a photo's overlay, for tests and messages.
pub fn overlay_file(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("{}.png", key.replace(['/', '\\'], "__")))
}
