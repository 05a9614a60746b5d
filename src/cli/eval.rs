//! `eval`: verification of a pairs file under every occlusion condition (clean, the Figure-1
//! regions, Occ-LFW-2.0, a square-size sweep) for FROM against the clean-trained baseline network
//! (and FROM's own unmasked path), written as results.json, results.csv, three figures and
//! report.md.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;

use super::Cli;
use super::progress::Progress;
use crate::assets;
use crate::eval::conditions::{Condition, RegionFill, SQUARE_SEED, SQUARE_SIDES, SquareFillKind, parse_protocol};
use crate::eval::output_set::{self, OutputSet};
use crate::eval::pairs::read_pairs_any;
use crate::eval::partial::{PARTIAL_FILE, PARTIAL_FORMAT, PartialSweep, Shard, thumbnail_file};
use crate::eval::plots::write_atomic;
use crate::eval::report::{OUTPUT_NAMES, write_outputs};
use crate::eval::results::{ConditionResult, SweepResults};
use crate::eval::roc::TarRule;
use crate::eval::sweep::{SweepModel, SweepObserver, SweepSetup, SweepSpec, SweepStage, run_sweep};
use crate::face::cache::{default_cache_root, file_sha256};
use crate::face::from_model::bundled_model_path;
use crate::face::{FaceFinder, FacePick};
use crate::occlusion::{OCC_LFW20_SEED, OccluderLibrary, PasteBackground};

/// The most models one run compares besides the baseline (the figures pair them up).
const MAX_MODELS: usize = 2;
/// Labels of the default comparison.
const BASELINE_LABEL: &str = "baseline";
const FROM_LABEL: &str = "FROM";

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Pairs to score: the LFW pairs.txt layout, or CSV `path_a,path_b,same`.
    #[arg(long)]
    pub pairs: PathBuf,
    /// Image root (LFW: `Name/Name_NNNN.jpg`; CSV: base of relative paths). Default: the pairs
    /// file's folder.
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// Conditions, comma-separated: all, clean, regions (the nine Figure-1 regions in
    /// --region-fill) or a region by name, grey-regions (the nine as grey boxes, whatever
    /// --region-fill says) or grey-<region>, occ-lfw-2.0 (occluders alpha-composited),
    /// occ-lfw-2.0-pasted (the same occluders pasted as opaque rectangles, as the authors build
    /// it), random-sizes (a square of each --sizes side), square-N.
    #[arg(long, default_value = "clean,regions,occ-lfw-2.0,occ-lfw-2.0-pasted,random-sizes")]
    pub protocol: String,
    /// How TAR at FAR is read: `roc` (the best TAR at a ROC point with FAR <= the target; "not
    /// enough impostor pairs" when the target is below 1/impostors) or `authors` (the official
    /// FROM code's `tar_far`, to compare with published numbers).
    #[arg(long, value_enum, default_value_t = TarRule::Roc)]
    pub tar_rule: TarRule,
    /// Output folder (created): results.json, results.csv, figure1/roc/area .png + .svg, report.md.
    /// With --shard: partial.json and its example faces, for `maskscope merge`.
    #[arg(long)]
    pub out: PathBuf,
    /// Measure only shard I of N (1-based): a contiguous slice of the pairs, for array jobs
    /// (Slurm, Kubernetes). Each shard writes a part; `maskscope merge` combines the N parts into
    /// the results one run gives.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    #[command(flatten)]
    pub sweep: SweepArgs,
}

/// The models, faces and occlusions of a sweep: what `eval` and `identify` share.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Model to evaluate (maskscope record or official FROM checkpoint); give it twice to compare
    /// two models. Default: the bundled FROM model. A FROM model is scored masked ("FROM") and
    /// with its mask off ("FROM, mask off").
    #[arg(long = "model")]
    pub models: Vec<PathBuf>,
    /// The clean-trained network FROM is compared with, scored first as "baseline". Default:
    /// the bundled pretrained MobileFaceNet (the backbone the FROM model was fine-tuned from).
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Compare the models only, without a baseline network.
    #[arg(long, conflicts_with = "baseline")]
    pub no_baseline: bool,
    /// Square sides (pixels of the aligned face) of random-sizes.
    #[arg(long, value_delimiter = ',', default_values_t = SQUARE_SIDES)]
    pub sizes: Vec<u32>,
    /// What covers a region: a fixed everyday object per region (as the paper's Fig. 1),
    /// alpha-composited or pasted as an opaque box, or a grey box.
    #[arg(long, value_enum, default_value_t = RegionFill::Occluder)]
    pub region_fill: RegionFill,
    /// What shows through the transparent parts of pasted occluders (`--region-fill pasted`,
    /// occ-lfw-2.0-pasted).
    #[arg(long, value_enum, default_value_t = PasteBackground::Grey)]
    pub paste_background: PasteBackground,
    /// What fills a sweep square: grey, or a library occluder fitted into it.
    #[arg(long, value_enum, default_value_t = SquareFillKind::Grey)]
    pub square_fill: SquareFillKind,
    /// Cache of aligned faces and embeddings (default: $MASKSCOPE_CACHE or ~/.cache/maskscope).
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Compute everything afresh and store nothing.
    #[arg(long, conflicts_with = "cache")]
    pub no_cache: bool,
    /// Which face of a photo with several (LFW centres the labelled person).
    #[arg(long, value_enum, default_value_t = FacePick::Central)]
    pub face: FacePick,
    #[command(flatten)]
    pub aligned: super::faces::AlignedArg,
    /// Stop at a photo whose data is damaged (a truncated or corrupt JPEG, which decodes with the
    /// lost parts filled in) instead of listing it in the results.
    #[arg(long)]
    pub strict: bool,
    /// Occluder library, a folder per class (default: the bundled one).
    #[arg(long)]
    pub occluders: Option<PathBuf>,
    /// Seed of Occ-LFW-2.0 (default: the standard one).
    #[arg(long, default_value_t = OCC_LFW20_SEED)]
    pub occ_lfw_seed: u64,
    /// Seed of the square positions.
    #[arg(long, default_value_t = SQUARE_SEED)]
    pub square_seed: u64,
}

/// What [`SweepArgs::load`] sets up.
pub(super) struct Loaded {
    pub picked: crate::device::ComputeDevice,
    pub models: Vec<SweepModel>,
    pub library: OccluderLibrary,
    pub finder: FaceFinder,
}

impl SweepArgs {
    /// The device, the baseline and the models, the occluder library and the face finder.
    pub(super) fn load(&self, cli: &Cli) -> anyhow::Result<Loaded> {
        let picked = cli.compute_device()?;
        let device = picked.device.clone();
        let baseline = (!self.no_baseline).then(|| self.baseline.clone().unwrap_or_else(assets::mobilefacenet_record));
        let models = load_models(baseline.as_deref(), &self.models, &device)?;
        let library = match &self.occluders {
            Some(dir) => OccluderLibrary::load(dir)?,
            None => OccluderLibrary::bundled()?,
        };
        let mut finder = FaceFinder::load(&assets::mtcnn_dir(), models[0].model.template(), &device)?;
        finder.strict = self.strict;
        Ok(Loaded { picked, models, library, finder })
    }

    /// How the sweep finds, caches and occludes faces.
    pub(super) fn setup(&self) -> SweepSetup {
        SweepSetup {
            region_fill: self.region_fill,
            square_fill: self.square_fill,
            paste_background: self.paste_background,
            occ_lfw_seed: self.occ_lfw_seed,
            square_seed: self.square_seed,
            face_pick: self.face,
            pre_aligned: self.aligned.aligned,
            cache_root: (!self.no_cache).then(|| self.cache.clone().unwrap_or_else(default_cache_root)),
        }
    }
}

/// One progress bar per stage, showing the condition being embedded.
#[derive(Default)]
pub(super) struct Bars {
    bar: Option<Progress>,
}

impl SweepObserver for Bars {
    fn stage(&mut self, stage: SweepStage, total: usize) {
        let what = match stage {
            SweepStage::Align => "align",
            SweepStage::Embed => "embed",
        };
        self.bar = Some(Progress::new(total, what));
    }

    fn advance(&mut self, units: usize) {
        if let Some(bar) = &mut self.bar {
            (0..units).for_each(|_| bar.inc());
        }
    }

    fn condition_started(&mut self, condition: Condition) {
        if let Some(bar) = &mut self.bar {
            bar.set_message(condition.label());
        }
    }
}

/// The baseline network (unless `baseline` is `None`), then the models named on the command line
/// or the bundled FROM model. The default models are labelled "baseline" and "FROM".
pub(super) fn load_models(
    baseline: Option<&Path>,
    paths: &[PathBuf],
    device: &burn::tensor::Device,
) -> anyhow::Result<Vec<SweepModel>> {
    if paths.len() > MAX_MODELS {
        bail!("--model given {} times; eval compares at most {MAX_MODELS} models", paths.len());
    }
    let mut models = Vec::new();
    if let Some(path) = baseline {
        let mut model = SweepModel::load(path, device).context("loading the baseline network")?;
        model.label = BASELINE_LABEL.into();
        models.push(model);
    }
    let default = paths.is_empty();
    let paths = if default {
        let bundled = bundled_model_path();
        if !bundled.is_file() {
            bail!(
                "the bundled FROM model {} is missing: train it with `maskscope train` (or pass --model MODEL)",
                bundled.display()
            );
        }
        vec![bundled]
    } else {
        paths.to_vec()
    };
    let first = models.len();
    for path in &paths {
        let mut model = SweepModel::load(path, device)?;
        if default {
            model.label = FROM_LABEL.into();
        } else if model.label == BASELINE_LABEL {
            model.label = format!("{BASELINE_LABEL} (model)");
        }
        models.push(model);
    }
    // Two files with the same name need names of their own in tables and legends.
    if models.len() == first + 2 && models[first].label == models[first + 1].label {
        for (i, model) in models[first..].iter_mut().enumerate() {
            model.label = format!("{} #{}", model.label, i + 1);
        }
    }
    Ok(models)
}

/// Sets a flag on the first Ctrl-C (the sweep stops after its current batch, writing nothing)
/// and exits at once on the second.
pub(super) fn cancel_on_ctrl_c() -> anyhow::Result<Arc<AtomicBool>> {
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("\ninterrupted again: quitting now");
            // Waits for outputs being moved into place (microseconds), so they land whole.
            output_set::remove_staging_folders();
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: stopping after the current batch (Ctrl-C again quits at once)");
    })
    .context("installing the Ctrl-C handler")?;
    Ok(cancel)
}

pub fn run(cli: &Cli, args: &EvalArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    let sweep = &args.sweep;
    let conditions = parse_protocol(&args.protocol, &sweep.sizes).context("--protocol")?;
    let pairs = read_pairs_any(&args.pairs, args.images.as_deref())?;
    let images_root = args.images.clone().or_else(|| args.pairs.parent().map(Path::to_path_buf));
    // Before the slow work: an --out that cannot take the outputs fails now, not after the sweep.
    let outputs = OutputSet::prepare(&args.out)?;
    let Loaded { picked, models, library, mut finder } = sweep.load(cli)?;
    let mut spec = SweepSpec::new(args.pairs.clone(), pairs, images_root, conditions);
    spec.setup = sweep.setup();
    spec.tar_rule = args.tar_rule;
    spec.mask_contrast = true;
    spec.shard = args.shard;
    let cancel = cancel_on_ctrl_c()?;
    eprintln!(
        "eval: {} pairs{}, {} conditions, {} on {}",
        spec.pairs.pairs.len(),
        args.shard.map_or(String::new(), |s| {
            let r = s.range(spec.pairs.pairs.len());
            format!(" (shard {}/{}: pairs {}..{})", s.index + 1, s.count, r.start + 1, r.end)
        }),
        spec.conditions.len(),
        models.iter().map(|m| m.label.as_str()).collect::<Vec<_>>().join(" and "),
        picked.info.short()
    );
    let mut outcome = run_sweep(&spec, &models, &mut finder, &library, &mut Bars::default(), &cancel)
        .with_context(|| format!("evaluating {}", args.pairs.display()))?;
    let thumbnails = std::mem::take(&mut outcome.thumbnails);
    if let Some(shard) = args.shard {
        let raw = std::mem::take(&mut outcome.raw);
        let photo_paths = std::mem::take(&mut outcome.photo_paths);
        let same = spec.pairs.pairs.iter().map(|p| p.same).collect();
        let results = outcome.into_results(&spec, &models, picked.info.to_string(), start.elapsed().as_secs_f64());
        let part = PartialSweep {
            format: PARTIAL_FORMAT.into(),
            shard,
            pairs_sha256: file_sha256(&args.pairs)?,
            same,
            photo_paths,
            results,
            raw,
            thumbnails: thumbnails.iter().map(|(c, _)| *c).collect(),
        };
        write_atomic(&outputs.staging().join(PARTIAL_FILE), serde_json::to_string(&part)?.as_bytes())?;
        for (condition, face) in &thumbnails {
            crate::app::export::save_png(face, &outputs.staging().join(thumbnail_file(*condition)))?;
        }
        let mut names = vec![PARTIAL_FILE.to_string()];
        names.extend(spec.conditions.iter().map(|&c| thumbnail_file(c)));
        let written = outputs.commit(&names.iter().map(String::as_str).collect::<Vec<_>>())?;
        let pairs = shard.range(spec.pairs.pairs.len());
        println!(
            "shard {}/{}: {} of {} pairs measured; wrote {} files to {} (maskscope merge combines the {} parts)",
            shard.index + 1,
            shard.count,
            pairs.len(),
            spec.pairs.pairs.len(),
            written.len(),
            args.out.display(),
            shard.count
        );
        return Ok(());
    }
    let results = outcome.into_results(&spec, &models, picked.info.to_string(), start.elapsed().as_secs_f64());
    write_outputs(&results, &thumbnails, outputs.staging())?;
    let written = outputs.commit(OUTPUT_NAMES)?;
    print_summary(&results);
    println!("wrote {} files to {}", written.len(), args.out.display());
    Ok(())
}

/// The accuracy table on stdout.
pub(super) fn print_summary(results: &SweepResults) {
    let mut header = format!("{:<16} {:>7}", "condition", "area");
    for path in &results.paths {
        header.push_str(&format!(" {:>18}", path.label));
    }
    println!("{header}");
    for c in &results.conditions {
        println!("{}", summary_row(results, c));
    }
    if let Some(model) = results
        .conditions
        .iter()
        .find_map(|c| c.mask_contrast.map(|_| ()))
        .and_then(|_| results.models.iter().find(|m| m.has_mask))
    {
        println!(
            "mask contrast of {}: mean 1 - mask over cells at least half occluded / over cells not occluded",
            model.label
        );
        for c in &results.conditions {
            if let Some(m) = &c.mask_contrast {
                println!(
                    "{:<16} {:>7.3} / {:.3}  ({} faces)",
                    c.label, m.covered_removed, m.uncovered_removed, m.faces
                );
            }
        }
    }
    let p = &results.photos;
    if !p.damaged.is_empty() {
        println!(
            "{} photos with damaged data, decoded with parts filled in (listed in results.json; --strict stops at them)",
            p.damaged.len()
        );
    }
    println!(
        "{} photos ({} without a face, {} pairs scored as different); {} aligned, {} cached; {} embedded, {} cached{}; {:.0} s",
        p.distinct,
        p.without_face.len(),
        p.pairs_with_missing_face,
        results.cache.aligned_fresh,
        results.cache.aligned_cached,
        results.cache.embedded_fresh,
        results.cache.embedded_cached,
        match results.cache.damaged_recomputed {
            0 => String::new(),
            n => format!(" ({n} damaged cache entries recomputed)"),
        },
        results.wall_time_s,
    );
}

fn summary_row(results: &SweepResults, c: &ConditionResult) -> String {
    let mut row = format!("{:<16} {:>6.1}%", c.label, 100.0 * c.area_fraction);
    for path in &results.paths {
        match c.path(&path.label) {
            Some(r) => row.push_str(&format!(" {:>10.2}% ± {:>4.2}", 100.0 * r.ten_fold.mean, 100.0 * r.ten_fold.std)),
            None => row.push_str(&format!(" {:>18}", "")),
        }
    }
    row
}
