//! Forward-pass timing of the FROM network. Timings belong here, not in tests: the machines are
//! shared and noisy, so this prints medians for a person to read.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use burn::tensor::{Distribution, Tensor};
use clap::{Args, ValueEnum};

use super::Cli;
use crate::checkpoint;
use crate::model::{FromNet, FromNetConfig, normalize_pixels};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BenchTarget {
    /// The full LResNet50E-IR-FROM forward pass (all four outputs).
    From,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[arg(value_enum, default_value = "from")]
    pub target: BenchTarget,
    /// Batch sizes to time.
    #[arg(long, value_delimiter = ',', default_value = "1,32")]
    pub batch: Vec<usize>,
    /// Timed runs per batch size (after one warm-up run).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Weights to load; random weights by default (the timing does not depend on them).
    #[arg(long)]
    pub model: Option<PathBuf>,
}

pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let n = samples.len();
    if n % 2 == 1 { samples[n / 2] } else { (samples[n / 2 - 1] + samples[n / 2]) / 2 }
}

pub fn run(cli: &Cli, args: &BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.runs > 0, "--runs must be at least 1");
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
    println!("FROM forward ({:?} widths, {:?} blocks, input {h}x{w}) on {}", config.widths, config.blocks, picked.info.short());
    println!("{:>6} {:>12} {:>12} {:>12} {:>14}", "batch", "median", "min", "max", "faces/s");
    for &batch in &args.batch {
        anyhow::ensure!(batch > 0, "batch sizes must be at least 1");
        let input = Tensor::<4>::random([batch, 3, h, w], Distribution::Uniform(0.0, 255.0), &device);
        let time_once = || {
            let start = Instant::now();
            let out = net.forward(normalize_pixels(input.clone()));
            // Reading the results back waits for the device to finish.
            let _ = out.masked_embedding.into_data();
            let _ = out.pattern_logits.into_data();
            let _ = out.unmasked_embedding.into_data();
            start.elapsed()
        };
        time_once();
        let samples: Vec<Duration> = (0..args.runs).map(|_| time_once()).collect();
        let (min, max) = (*samples.iter().min().unwrap(), *samples.iter().max().unwrap());
        let med = median(samples);
        println!(
            "{batch:>6} {:>10.1}ms {:>10.1}ms {:>10.1}ms {:>14.1}",
            med.as_secs_f64() * 1e3,
            min.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3,
            batch as f64 / med.as_secs_f64()
        );
    }
    Ok(())
}
