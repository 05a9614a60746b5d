//! Forward-pass timing of the FROM network. Timings belong here, not in tests: the machines are
//! shared and noisy, so this prints medians for a person to read.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use burn::tensor::{Distribution, Tensor};
use clap::{Args, ValueEnum};

use super::Cli;
use crate::checkpoint;
use crate::cpu::{self, FromProgram, Nhwc};
use crate::model::{FromNet, FromNetConfig, normalize_pixels};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BenchTarget {
    /// The full LResNet50E-IR-FROM forward pass (all four outputs).
    From,
    /// The face front end: MTCNN on a 250x250 LFW photo, and the bundled MobileFaceNet embedding
    /// aligned faces at each `--batch`.
    Faces,
    /// The evaluation sweep on `--pairs`: images/s through align + embed, with an empty cache
    /// and again with the cache it filled.
    Sweep,
    /// The workbench's live path on the CPU backend: one edit to the updated heatmap, pattern
    /// list and similarities (median over `--runs` edits).
    Gui,
    /// `maskscope train`'s optimiser step at each `--batch` of 2 or more (default 64), for the
    /// heads, after-c3 and all trainable settings: faces per second.
    Train,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// What to time: from (the FROM network's forward pass), faces (MTCNN and the embedder), sweep
    /// (`eval` throughput), gui (one workbench edit), train (the training step); see --help.
    #[arg(value_enum, default_value = "from")]
    pub target: BenchTarget,
    /// Batch sizes to time.
    #[arg(long, value_delimiter = ',', default_value = "1,32")]
    pub batch: Vec<usize>,
    /// Timed runs per batch size (after one warm-up run).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// `from`: weights to load, random by default (the timing does not depend on them); `gui`: the
    /// model the workbench runs (a FROM record or official checkpoint), the bundled one by default.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// `sweep`: the pairs file (LFW layout or CSV).
    #[arg(long)]
    pub pairs: Option<PathBuf>,
    /// `sweep`: the image root.
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// `sweep`: use this many pairs (half same, half different, in file order); 0 = all.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// `sweep`: the conditions (default: the 11 the LFW View 2 time target is set for: clean,
    /// the nine regions and Occ-LFW-2.0).
    #[arg(long, default_value = "clean,regions,occ-lfw-2.0")]
    pub protocol: String,
}

pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let n = samples.len();
    if n % 2 == 1 { samples[n / 2] } else { (samples[n / 2 - 1] + samples[n / 2]) / 2 }
}

/// Median, min and max of `runs` timings of `f` after one warm-up call.
/// One thing to time.
type Timed<'a> = Box<dyn FnMut() -> anyhow::Result<()> + 'a>;

/// Median, min and max of `runs` timings of each of `paths`, taken in turns (one warm-up each).
fn time_alternating(
    runs: usize,
    paths: &mut [(&str, Timed<'_>)],
) -> anyhow::Result<Vec<(Duration, Duration, Duration)>> {
    let mut samples = vec![Vec::with_capacity(runs); paths.len()];
    for round in 0..=runs {
        for ((_, f), samples) in paths.iter_mut().zip(&mut samples) {
            let start = Instant::now();
            f()?;
            if round > 0 {
                samples.push(start.elapsed());
            }
        }
    }
    Ok(samples
        .into_iter()
        .map(|s| {
            let (min, max) = (*s.iter().min().unwrap(), *s.iter().max().unwrap());
            (median(s), min, max)
        })
        .collect())
}

fn time_runs(runs: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<(Duration, Duration, Duration)> {
    f()?;
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        f()?;
        samples.push(start.elapsed());
    }
    let (min, max) = (*samples.iter().min().unwrap(), *samples.iter().max().unwrap());
    Ok((median(samples), min, max))
}

/// The system load, to print beside figures taken on a shared machine.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub fn run_faces(cli: &Cli, args: &BenchArgs) -> anyhow::Result<()> {
    use crate::face::embedder::EMBEDDER_TEMPLATE;
    use crate::face::{Embedder, FaceFinder, read_rgb};

    let picked = cli.compute_device()?;
    let device = picked.device;
    let finder = FaceFinder::load(&crate::assets::mtcnn_dir(), EMBEDDER_TEMPLATE, &device)?;
    let embedder = Embedder::load(&crate::assets::mobilefacenet_record(), &device)?;
    let photo_path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mobilefacenet/faces/AJ_Cook_0001.png");
    let face = read_rgb(&photo_path)?;
    // A 250x250 photo like LFW's: the aligned face pasted into a larger grey frame.
    let mut photo = image::RgbImage::from_pixel(250, 250, image::Rgb([120, 120, 120]));
    image::imageops::overlay(&mut photo, &face, 69, 69);
    println!("face front end on {}", picked.info.short());
    let (med, min, max) = time_runs(args.runs, || {
        finder.find(&photo, &photo_path)?;
        Ok(())
    })?;
    println!("MTCNN + align, 250x250: median {:.1} ms (min {:.1}, max {:.1})", ms(med), ms(min), ms(max));
    for &batch in &args.batch {
        let faces: Vec<&image::RgbImage> = std::iter::repeat_n(&face, batch).collect();
        let (med, min, max) = time_runs(args.runs, || {
            embedder.embed(&faces)?;
            Ok(())
        })?;
        println!(
            "MobileFaceNet embed, batch {batch}: median {:.1} ms (min {:.1}, max {:.1}), {:.1} faces/s",
            ms(med),
            ms(min),
            ms(max),
            batch as f64 / med.as_secs_f64()
        );
    }
    Ok(())
}

impl BenchArgs {
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.runs > 0, "--runs must be at least 1");
        Ok(())
    }
}

/// `bench gui`: the workbench's live path.
pub fn run_gui(cli: &Cli, args: &BenchArgs) -> anyhow::Result<()> {
    // The live path is specified on the CPU backend; `--device gpu` times the GPU instead.
    let device = match cli.device {
        crate::device::DeviceRequest::Gpu => cli.compute_device()?,
        _ => crate::device::ComputeDevice::cpu(),
    };
    let choice = match &args.model {
        Some(path) => crate::app::engine::ModelChoice::File(path.clone()),
        None => crate::app::engine::ModelChoice::Bundled,
    };
    print!("{}", crate::app::bench::run(args.runs, device, choice)?);
    Ok(())
}

/// `bench from`: the FROM network's forward pass at each batch size; on the CPU, maskscope's CPU
/// path and burn's own forward (flex) side by side, alternating run by run so that both see the
/// same load.
pub fn run_from(cli: &Cli, args: &BenchArgs) -> anyhow::Result<()> {
    let picked = cli.compute_device()?;
    let device = picked.device;
    let (net, config): (FromNet, FromNetConfig) = match &args.model {
        Some(path) => {
            let loaded = checkpoint::load_from_net(path, &device)?;
            (loaded.net, loaded.config)
        }
        None => {
            let config = FromNetConfig::new();
            (config.init(&device), config)
        }
    };
    let [h, w] = config.input_size;
    let cpu_path = if cpu::suits(&device) { Some(FromProgram::new(&net, config.input_size)?) } else { None };
    println!(
        "FROM forward ({:?} widths, {:?} blocks, input {h}x{w}) on {}, all four outputs; load {}",
        config.widths,
        config.blocks,
        picked.info.short(),
        load_average()
    );
    println!("{:>6} {:>14} {:>12} {:>12} {:>12} {:>14}", "batch", "path", "median", "min", "max", "faces/s");
    for &batch in &args.batch {
        anyhow::ensure!(batch > 0, "batch sizes must be at least 1");
        let input = Tensor::<4>::random([batch, 3, h, w], Distribution::Uniform(0.0, 255.0), &device);
        let burn_run = || -> anyhow::Result<()> {
            let out = net.forward(normalize_pixels(input.clone()));
            // Reading the results back waits for the device to finish.
            let _ = out.masked_embedding.into_data();
            let _ = out.pattern_logits.into_data();
            let _ = out.unmasked_embedding.into_data();
            let _ = out.mask.into_data();
            Ok(())
        };
        let mut paths: Vec<(&str, Timed<'_>)> = Vec::new();
        if let Some(cpu_path) = &cpu_path {
            let maps = Nhwc::from_planar(
                &input.clone().into_data().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?,
                batch,
                3,
                h,
                w,
            );
            paths.push((
                "cpu path",
                Box::new(move || {
                    cpu_path.forward_maps(&maps, true);
                    Ok(())
                }),
            ));
        }
        paths.push((if cpu_path.is_some() { "burn (flex)" } else { "burn" }, Box::new(burn_run)));
        let times = time_alternating(args.runs, &mut paths)?;
        for ((name, _), (med, min, max)) in paths.iter().zip(&times) {
            println!(
                "{batch:>6} {name:>14} {:>10.1}ms {:>10.1}ms {:>10.1}ms {:>14.1}",
                ms(*med),
                ms(*min),
                ms(*max),
                batch as f64 / med.as_secs_f64()
            );
        }
        if times.len() == 2 {
            println!("{batch:>6} {:>14} {:>11.2}x", "cpu / burn", times[0].0.as_secs_f64() / times[1].0.as_secs_f64());
        }
    }
    println!("load after: {}", load_average());
    Ok(())
}
