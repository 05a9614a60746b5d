//! `bench train`: faces per second through `maskscope train`'s own optimiser step (CosFace,
//! distillation and the pattern loss, backward, Adam) for each trainable setting, on the bundled
//! sample faces occluded by the training protocol's mixed styles.

use std::time::Instant;

use anyhow::Context;
use burn::module::Module;
use image::RgbImage;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::Cli;
use super::bench::{BenchArgs, load_average, median, ms};
use crate::app::samples::sample_paths;
use crate::assets;
use crate::face::embedder::EMBEDDER_TEMPLATE;
use crate::face::{Embedder, FaceFinder, read_rgb};
use crate::model::mobilefacenet::MOBILEFACENET_EMBEDDING;
use crate::occlusion::{OccluderLibrary, OcclusionStyle, PasteBackground, RandomOcclusion};
use crate::train::TrainConfig;
use crate::train::config::{EmbeddingLoss, Trainable};
use crate::train::losses::CosFaceHead;
use crate::train::run::{model_config, optimizer};
use crate::train::step::{StepBatch, TrainNet, freeze, step};

/// The batch `maskscope train` uses by default, timed when `--batch` names none of 2 or more.
const DEFAULT_BATCH: usize = 64;

pub fn run(cli: &Cli, args: &BenchArgs) -> anyhow::Result<()> {
    let compute = cli.compute_device()?;
    let inner = compute.device.clone();
    let device = inner.clone().autodiff();
    let backbone =
        Embedder::load(&assets::mobilefacenet_record(), &inner).context("loading the pretrained backbone")?;
    let finder = FaceFinder::load(&assets::mtcnn_dir(), EMBEDDER_TEMPLATE, &inner)?;
    let mut faces: Vec<RgbImage> = Vec::new();
    for path in sample_paths() {
        faces.push(finder.find(&read_rgb(&path)?, &path)?.aligned.image);
    }
    anyhow::ensure!(!faces.is_empty(), "no sample faces in {}", crate::app::samples::samples_dir().display());
    let teacher = backbone.embed(&faces.iter().collect::<Vec<_>>())?;
    let flipped: Vec<RgbImage> = faces.iter().map(image::imageops::flip_horizontal).collect();
    let teacher_flipped = backbone.embed(&flipped.iter().collect::<Vec<_>>())?;
    let library = OccluderLibrary::bundled()?;
    let styles = vec![OcclusionStyle::Alpha, OcclusionStyle::Pasted(PasteBackground::Grey), OcclusionStyle::GreyBox];
    let protocol = RandomOcclusion::with_styles(&library, styles.clone());

    let mut batches: Vec<usize> = args.batch.iter().copied().filter(|&b| b >= 2).collect();
    if batches.is_empty() {
        batches.push(DEFAULT_BATCH);
    }
    println!(
        "training step (CosFace + distillation + pattern CE, Adam) on {}, {} sample faces, load {}",
        compute.info.short(),
        faces.len(),
        load_average()
    );
    println!("{:>9} {:>6} {:>12} {:>12} {:>12} {:>10}", "trainable", "batch", "median", "min", "max", "faces/s");
    for &batch_size in &batches {
        for trainable in [Trainable::Heads, Trainable::AfterC3, Trainable::All] {
            let config = TrainConfig::new()
                .with_loss(EmbeddingLoss::Both)
                .with_trainable(trainable)
                .with_batch_size(batch_size)
                .with_occlusion_styles(styles.clone());
            let mut net = TrainNet {
                from: model_config(&config).init_with(backbone.net.clone().train().fork(&device), &device),
                cosface: Some(CosFaceHead::new(faces.len(), MOBILEFACENET_EMBEDDING, &device)),
            };
            let prefix = freeze(trainable, &mut net.from, &backbone.net, &inner)?;
            let mut optim = optimizer(&config);
            let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
            let mut samples = Vec::with_capacity(args.runs);
            // One warm-up step, then the timed ones.
            for run in 0..=args.runs {
                let mut batch = StepBatch::default();
                for i in 0..batch_size {
                    let index = (run * batch_size + i) % faces.len();
                    let mut face = faces[index].clone();
                    let occlusion = protocol.apply(&mut face, &mut rng);
                    let target = if occlusion.flipped { &teacher_flipped[index] } else { &teacher[index] };
                    batch.faces.push(face);
                    batch.labels.push(occlusion.label);
                    batch.identities.push(index);
                    batch.targets.extend_from_slice(target);
                }
                let start = Instant::now();
                let (trained, _) = step(&config, &prefix, net, &mut optim, &batch, config.learning_rate, &device);
                net = trained;
                if run > 0 {
                    samples.push(start.elapsed());
                }
            }
            let (min, max) = (*samples.iter().min().expect("runs >= 1"), *samples.iter().max().expect("runs >= 1"));
            let med = median(samples);
            let name = serde_json::to_value(trainable)?.as_str().unwrap_or("?").to_string();
            println!(
                "{name:>9} {batch_size:>6} {:>10.0}ms {:>10.0}ms {:>10.0}ms {:>10.1}",
                ms(med),
                ms(min),
                ms(max),
                batch_size as f64 / med.as_secs_f64()
            );
        }
    }
    println!("load after: {}", load_average());
    Ok(())
}
