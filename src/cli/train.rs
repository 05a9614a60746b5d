//! `train`: FROM heads (and the backbone) on the bundled MobileFaceNet, from folder-per-identity
//! datasets.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::Cli;
use super::progress::Progress;
use crate::assets;
use crate::face::cache::{AlignedCache, default_cache_root};
use crate::face::embedder::EMBEDDER_TEMPLATE;
use crate::face::{Embedder, FaceFinder, FacePick};
use crate::occlusion::{OccluderLibrary, OcclusionStyle};
use crate::train::config::{EmbeddingLoss, OptimizerKind, Trainable};
use crate::train::data::load_face_set;
use crate::train::{TrainConfig, TrainEvent, TrainInputs, train};

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Training photos, one folder per identity (e.g. ../shared/data/celeba-299/images); give it
    /// several times (or comma-separated) to train on several roots. Folders of the same name are
    /// one identity; a photo whose file name an earlier one had is dropped as a duplicate.
    #[arg(long, required = true, value_delimiter = ',')]
    pub data: Vec<PathBuf>,
    /// Run folder: checkpoints, metrics.csv, config.json and the final model.bpk.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the run in `--out` from its last finished epoch.
    #[arg(long)]
    pub resume: bool,
    /// A JSON training configuration (as written to a run's config.json); flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// What trains the masked embedding (default distill; the pattern loss is always on).
    #[arg(long, value_enum)]
    pub loss: Option<EmbeddingLoss>,
    /// Which parts learn (default heads).
    #[arg(long, value_enum)]
    pub trainable: Option<Trainable>,
    /// Optimiser (default adam).
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerKind>,
    /// Epochs to train (default 3); on --resume, a larger number extends the run.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Faces per step (default 64).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Initial learning rate (default 0.001), decayed at the configuration's lr_steps.
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// Epochs (0-based) from which the learning rate is multiplied by lr_decay, comma-separated;
    /// on --resume, steps on epochs not yet trained continue a run at a decayed rate.
    #[arg(long, value_delimiter = ',')]
    pub lr_steps: Option<Vec<usize>>,
    /// Seed of the split, the shuffles and the occlusions (default 20211).
    #[arg(long)]
    pub seed: Option<u64>,
    /// How training occluders are put on, comma-separated, one drawn per occluded face: alpha,
    /// pasted-grey, pasted-black, pasted-white, grey-box (default alpha).
    #[arg(long, value_delimiter = ',')]
    pub occlusion_styles: Option<Vec<OcclusionStyle>>,
    /// Occluder library, a folder per class of RGBA images (default: the bundled one).
    #[arg(long)]
    pub occluders: Option<PathBuf>,
    /// Pretrained MobileFaceNet record (default: the bundled one).
    #[arg(long)]
    pub backbone: Option<PathBuf>,
    /// Where aligned faces are cached (default: $MASKSCOPE_CACHE or ~/.cache/maskscope).
    #[arg(long)]
    pub cache: Option<PathBuf>,
    #[command(flatten)]
    pub aligned: super::faces::AlignedArg,
}

impl TrainArgs {
    fn config(&self) -> anyhow::Result<TrainConfig> {
        let saved = self.out.join("config.json");
        let file = match &self.config {
            Some(path) => Some(path.clone()),
            None if self.resume && saved.exists() => Some(saved),
            None => None,
        };
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
                TrainConfig::from_json(&text)
                    .with_context(|| format!("{}: not a training configuration", path.display()))?
            }
            None => TrainConfig::new(),
        };
        if let Some(v) = self.loss {
            config.loss = v;
        }
        if let Some(v) = self.trainable {
            config.trainable = v;
        }
        if let Some(v) = self.optimizer {
            config.optimizer = v;
        }
        if let Some(v) = self.epochs {
            config.epochs = v;
        }
        if let Some(v) = self.batch_size {
            config.batch_size = v;
        }
        if let Some(v) = self.learning_rate {
            config.learning_rate = v;
        }
        if let Some(v) = &self.lr_steps {
            config.lr_steps = v.clone();
        }
        if let Some(v) = self.seed {
            config.seed = v;
        }
        if let Some(v) = &self.occlusion_styles {
            config.occlusion_styles = v.clone();
        }
        Ok(config)
    }
}

pub fn run(cli: &Cli, args: &TrainArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    config.validate().map_err(|why| anyhow::anyhow!("invalid training configuration: {why}"))?;
    let compute = cli.compute_device()?;
    eprintln!("device: {}", compute.info.short());
    let device = compute.device;

    let occluder_dir = args.occluders.clone().unwrap_or_else(assets::occluders_dir);
    let occluders = OccluderLibrary::load(&occluder_dir)?;
    let backbone_path = args.backbone.clone().unwrap_or_else(assets::mobilefacenet_record);
    let backbone = Embedder::load(&backbone_path, &device).context("loading the pretrained backbone")?.net;

    let mut finder = FaceFinder::load(&assets::mtcnn_dir(), EMBEDDER_TEMPLATE, &device)?;
    finder.pick = FacePick::Largest;
    args.aligned.apply(&mut finder);
    let cache_root = args.cache.clone().unwrap_or_else(default_cache_root);
    let cache = AlignedCache::open(&cache_root, EMBEDDER_TEMPLATE, &finder.mode_name())?;
    let mut bar: Option<Progress> = None;
    let (faces, dropped) = load_face_set(&args.data, &finder, &cache, |done, total| {
        bar.get_or_insert_with(|| Progress::new(total, "align")).inc();
        let _ = done;
    })?;
    eprintln!(
        "{} photos, {} faces of {} identities; {} duplicate file names and {} without a face dropped{}",
        dropped.photos,
        faces.samples.len(),
        faces.identities.len(),
        dropped.duplicates.len(),
        dropped.no_face.len(),
        if dropped.no_face.is_empty() && dropped.duplicates.is_empty() {
            String::new()
        } else {
            format!(", listed in {}", args.out.join("dropped.txt").display())
        }
    );
    if cache.damaged() > 0 {
        eprintln!("{} damaged entries of the aligned-face cache were recomputed", cache.damaged());
    }
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let list: String = (dropped.no_face.iter().map(|p| format!("no face\t{}\n", p.display())))
        .chain(dropped.duplicates.iter().map(|p| format!("duplicate\t{}\n", p.display())))
        .collect();
    std::fs::write(args.out.join("dropped.txt"), list).with_context(|| format!("writing {}", args.out.display()))?;

    let (train_set, validation) = faces.split_identities(config.validation_fraction, config.seed);
    eprintln!(
        "training on {} faces of {} identities; validating on {} faces of {} held-out identities",
        train_set.samples.len(),
        train_set.identities.len(),
        validation.samples.len(),
        validation.identities.len()
    );
    let inputs = TrainInputs {
        train: &train_set,
        validation: &validation,
        backbone,
        occluders: &occluders,
        device: device.autodiff(),
    };
    let mut bar: Option<Progress> = None;
    let started = std::time::Instant::now();
    let mut on_event = |event: TrainEvent| match event {
        TrainEvent::Step(step) => {
            let bar = bar.get_or_insert_with(|| Progress::new(step.steps, &format!("epoch {}", step.epoch + 1)));
            bar.set_message(format!("loss {:.4}, {:.1} faces/s", step.loss, step.faces_per_second));
            bar.inc();
        }
        TrainEvent::Epoch(m) => {
            bar = None;
            eprintln!(
                "epoch {}: lr {:.2e} loss {:.4} (embedding {:.4}, pattern {:.4}, pattern acc {:.1}%) | validation: FROM {:.2}%, mask off {:.2}%, pretrained {:.2}%, pattern {:.1}%, mask mean {:.3}, 1 - mask covered {:.3} / uncovered {:.3} | {:.0} s",
                m.epoch,
                m.learning_rate,
                m.loss,
                m.embedding_loss,
                m.pattern_loss,
                100.0 * m.pattern_accuracy,
                100.0 * m.val_from_accuracy,
                100.0 * m.val_mask_off_accuracy,
                100.0 * m.val_pretrained_accuracy,
                100.0 * m.val_pattern_accuracy,
                m.val_mask_mean,
                m.val_mask_removed_covered,
                m.val_mask_removed_uncovered,
                m.seconds
            );
        }
    };
    train(&config, inputs, &args.out, args.resume, &mut on_event)?;
    eprintln!(
        "done in {:.1} min; model: {}",
        started.elapsed().as_secs_f64() / 60.0,
        args.out.join("model.bpk").display()
    );
    Ok(())
}
