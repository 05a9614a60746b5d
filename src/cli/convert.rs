use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;

use super::Cli;
use crate::checkpoint::mobilefacenet_tfjs::mobilefacenet_from_tfjs;
use crate::checkpoint::tfjs::TfjsGraph;
use crate::checkpoint::{self, FileFormat, StateDict, record, torch_tensors};
use crate::face::Embedder;

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The checkpoint: official FROM `.pth.tar`, a bare state dict `.pth`, `.safetensors`, or
    /// the MobileFaceNet TF.js `model.json`.
    pub input: PathBuf,
    /// Where to write the maskscope record (burnpack).
    #[arg(short, long)]
    pub output: PathBuf,
}

/// Refuses an output that would destroy something: the input itself (also through a link), or a
/// path that is not a regular file (a device, a FIFO, a symlink, a folder), which the record's
/// write would replace with a regular file.
fn check_output(input: &Path, output: &Path) -> anyhow::Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(output) else { return Ok(()) };
    if !meta.file_type().is_file() {
        bail!("{}: exists and is not a regular file; give a new file or a regular file to replace", output.display());
    }
    if same_file::is_same_file(input, output).unwrap_or(false) {
        bail!("{} is the input; write the record to another file", output.display());
    }
    Ok(())
}

/// Removes the scratch files this process's record writes leave beside `output` (burn-pack
/// names them `<name>.<pid>-<n>.tmp` and deletes them itself on every path but a kill).
fn remove_scratch_files(output: &Path) {
    let Some(name) = output.file_name().map(|n| n.to_string_lossy().into_owned()) else { return };
    let prefix = format!("{name}.{}-", std::process::id());
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if file.starts_with(&prefix) && file.ends_with(".tmp") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

pub fn run(cli: &Cli, args: &ConvertArgs) -> anyhow::Result<()> {
    check_output(&args.input, &args.output)?;
    // Ctrl-C or SIGTERM in the middle of a write (a 190 MB record takes seconds) would leave a
    // scratch file of that size behind.
    let output = args.output.clone();
    ctrlc::set_handler(move || {
        remove_scratch_files(&output);
        eprintln!("\ninterrupted: {} not written", output.display());
        std::process::exit(130);
    })
    .context("installing the Ctrl-C handler")?;
    let device = cli.compute_device()?.device;
    if args.input.extension().is_some_and(|e| e == "json") {
        return convert_tfjs(args, &device);
    }
    let loaded = checkpoint::load_from_net(&args.input, &device)?;
    if loaded.format == FileFormat::Burnpack {
        bail!("{} is already a maskscope record", args.input.display());
    }
    let config = &loaded.config;
    println!(
        "read {} tensors from {} ({:?}): {}, widths {:?}, blocks {:?}, fpn {}, embedding {}, {} patterns (K={}), input {}x{}",
        loaded.applied,
        args.input.display(),
        loaded.format,
        config.decoder.official_name(),
        config.widths,
        config.blocks,
        config.fpn_channels,
        config.embedding_dim,
        config.pattern_count(),
        config.grid,
        config.input_size[0],
        config.input_size[1],
    );
    record::save_from_net(&loaded.net, config, &args.output)?;

    // Read the record back and compare every tensor with the source file, so a bad conversion
    // is caught here rather than as wrong embeddings later.
    let (reloaded, reloaded_config) = record::load_from_net(&args.output, &device)
        .with_context(|| format!("reading back {}", args.output.display()))?;
    if &reloaded_config != config {
        bail!("the record's configuration differs from the checkpoint's");
    }
    let source = StateDict::read(&args.input)?;
    let mut compared = 0;
    for (key, data) in torch_tensors(&reloaded, &reloaded.torch_renames()) {
        let original = source.tensors.get(&key).with_context(|| format!("{key} vanished"))?;
        let original = original.clone().convert::<f32>();
        let a = original.as_slice::<f32>().map_err(|e| anyhow::anyhow!("{key}: {e:?}"))?;
        let b = data.as_slice::<f32>().map_err(|e| anyhow::anyhow!("{key}: {e:?}"))?;
        if original.shape() != data.shape() || a != b {
            bail!("{key} differs after the round trip");
        }
        compared += 1;
    }
    println!("wrote {} and read it back: {compared} tensors identical", args.output.display());
    Ok(())
}

/// MobileFaceNet from its TF.js graph: written as a record, read back, and checked to give the
/// same embeddings as the freshly converted network.
fn convert_tfjs(args: &ConvertArgs, device: &burn::tensor::Device) -> anyhow::Result<()> {
    use burn::tensor::{Distribution, Tensor};

    let graph = TfjsGraph::read(&args.input)?;
    let (net, applied) = mobilefacenet_from_tfjs(&graph, device)?;
    record::check_finite(&net).map_err(|why| anyhow::anyhow!("{}: {why}", args.input.display()))?;
    println!("read {applied} tensors of MobileFaceNet from {}", args.input.display());
    Embedder::save(&net, &args.output)?;
    let reloaded = Embedder::load(&args.output, device)?;
    let probe = Tensor::<4>::random([2, 3, 112, 112], Distribution::Uniform(-1.0, 1.0), device);
    let a = net.forward(probe.clone()).into_data().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let b = reloaded.net.forward(probe).into_data().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    // NaN-aware: f32::max would skip a NaN difference and call it agreement.
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, |m, d| if m.is_nan() || d.is_nan() { f32::NAN } else { m.max(d) });
    if worst.is_nan() || worst > 1e-5 {
        bail!("the record gives different embeddings (max difference {worst:e})");
    }
    println!("wrote {} and read it back: embeddings agree (max difference {worst:.1e})", args.output.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_files_of_this_process_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("model.bpk");
        let pid = std::process::id();
        let ours = [format!("model.bpk.{pid}-0.tmp"), format!("model.bpk.{pid}-7.tmp")];
        let theirs = [format!("model.bpk.{}-0.tmp", pid + 1), "model.bpk".into(), format!("other.bpk.{pid}-0.tmp")];
        for name in ours.iter().chain(&theirs) {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        remove_scratch_files(&output);
        for name in &ours {
            assert!(!dir.path().join(name).exists(), "{name} removed");
        }
        for name in &theirs {
            assert!(dir.path().join(name).exists(), "{name} kept");
        }
    }
}
