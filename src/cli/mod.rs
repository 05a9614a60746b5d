//! The `maskscope` command line: argument parsing and dispatch. Each subcommand lives in its own
//! file and returns `anyhow::Result`; `main` prints an error once.

mod bench;
mod bench_sweep;
mod bench_train;
mod convert;
mod eval;
mod eval_pairs;
mod faces;
mod identify;
mod info;
mod inspect;
mod merge;
mod pairs;
mod patterns;
mod progress;
mod train;

use clap::{Parser, Subcommand};

use crate::device::{self, ComputeDevice, DEVICE_ENV, DeviceRequest};
use bench::BenchTarget;

#[derive(Debug, Parser)]
#[command(name = "maskscope", version, about = "Occluded face recognition workbench (FROM)")]
pub struct Cli {
    /// Where tensors run: auto picks a hardware GPU when there is one, else the CPU.
    #[arg(long, global = true, env = DEVICE_ENV, default_value = "auto", value_enum)]
    pub device: DeviceRequest,

    /// Without a subcommand the workbench GUI opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the version, the build's backends and the device that would be used.
    Info(info::InfoArgs),
    /// Convert a checkpoint to a maskscope record: a PyTorch (.pth.tar/.pth) or safetensors FROM
    /// network, or the MobileFaceNet TF.js graph (model.json).
    Convert(convert::ConvertArgs),
    /// Detect, align and embed faces; one JSON line per photo.
    Embed(faces::EmbedArgs),
    /// Cosine similarity of the faces in two photos, and the same/different verdict.
    Verify(faces::VerifyArgs),
    /// The occlusion sweep on a pairs file: clean, the Figure-1 regions, Occ-LFW-2.0 and a
    /// square-size sweep, FROM against its baseline (or two models); writes results.json/csv,
    /// figures and report.md.
    Eval(eval::EvalArgs),
    /// Closed-set identification (rank-1, CMC to rank 10) of a probe folder against a gallery
    /// folder, the probes under each occlusion condition, FROM against its baseline; writes
    /// results.json/csv and a rank-1 figure.
    Identify(identify::IdentifyArgs),
    /// FROM's view of photos or folders: per face a JSON line (box, landmarks, the mask's mean
    /// map, top-k occlusion patterns, optionally embeddings), and heatmap overlays with --overlay.
    Inspect(inspect::InspectArgs),
    /// Combine the parts of a sharded `eval --shard I/N` sweep into the outputs one run writes.
    Merge(merge::MergeArgs),
    /// Verification accuracy on an LFW-style pairs file.
    EvalPairs(eval_pairs::EvalPairsArgs),
    /// Build a balanced, seeded, identity-disjoint 10-fold pairs CSV from a folder per identity,
    /// optionally an unmasked photo against a masked one (for `eval` on masked-face sets).
    Pairs(pairs::PairsArgs),
    /// List the proximate occlusion patterns of a grid.
    Patterns(patterns::PatternsArgs),
    /// Train a FROM model from the bundled MobileFaceNet: its heads, or heads and backbone
    /// (occlusion synthesis, CosFace/distillation plus the pattern loss), with checkpoints,
    /// metrics.csv and --resume.
    Train(train::TrainArgs),
    /// Benchmarks that print figures with the machine's load: the FROM forward pass, the face
    /// front end, the evaluation sweep, a workbench edit, the training step.
    Bench(bench::BenchArgs),
    /// Open the workbench GUI (what `maskscope` alone does).
    Gui(crate::app::GuiArgs),
}

impl Cli {
    pub fn compute_device(&self) -> anyhow::Result<ComputeDevice> {
        Ok(device::select(self.device)?)
    }
}

/// Parses the process arguments and runs the subcommand.
pub fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let Some(command) = &cli.command else {
        return crate::app::launch(cli.compute_device()?, &crate::app::GuiArgs::default());
    };
    match command {
        Command::Info(args) => info::run(&cli, args),
        Command::Convert(args) => convert::run(&cli, args),
        Command::Embed(args) => faces::embed(&cli, args),
        Command::Verify(args) => faces::verify(&cli, args),
        Command::Eval(args) => eval::run(&cli, args),
        Command::EvalPairs(args) => eval_pairs::run(&cli, args),
        Command::Identify(args) => identify::run(&cli, args),
        Command::Inspect(args) => inspect::run(&cli, args),
        Command::Merge(args) => merge::run(args),
        Command::Pairs(args) => pairs::run(args),
        Command::Patterns(args) => patterns::run(args),
        Command::Train(args) => train::run(&cli, args),
        Command::Bench(args) => {
            args.check()?;
            match args.target {
                BenchTarget::From => bench::run_from(&cli, args),
                BenchTarget::Faces => bench::run_faces(&cli, args),
                BenchTarget::Gui => bench::run_gui(&cli, args),
                BenchTarget::Sweep => bench_sweep::run(&cli, args),
                BenchTarget::Train => bench_train::run(&cli, args),
            }
        }
        Command::Gui(args) => crate::app::launch(cli.compute_device()?, args),
    }
}
