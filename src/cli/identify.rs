//! `identify`: closed-set identification (rank-1, CMC) of a probe folder against a gallery
//! folder, the probes under each occlusion condition, for FROM against the clean-trained
//! baseline network (and FROM's own unmasked path): results.json, results.csv, rank1.png/.svg.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use super::Cli;
use super::eval::{Bars, Loaded, SweepArgs, cancel_on_ctrl_c};
use crate::eval::conditions::parse_protocol;
use crate::eval::identification::list_identity_folders;
use crate::eval::identify_results::{IDENTIFY_OUTPUT_NAMES, write_identify_outputs};
use crate::eval::output_set::OutputSet;
use crate::eval::sweep::identify::{IdentifySpec, run_identification};

/// CMC length unless asked otherwise.
const DEFAULT_MAX_RANK: usize = 10;

#[derive(Debug, Args)]
pub struct IdentifyArgs {
    /// Gallery photos, one sub-folder per identity (enrolled clean).
    #[arg(long)]
    pub gallery: PathBuf,
    /// Probe photos, one sub-folder per identity (named as in the gallery; others are open-set
    /// probes, left out of rank-1 and the CMC).
    #[arg(long)]
    pub probe: PathBuf,
    /// Conditions the probes are put under, comma-separated, as `eval --protocol` takes them
    /// (clean, regions, grey-regions, a region by name, occ-lfw-2.0, occ-lfw-2.0-pasted,
    /// random-sizes, square-N, all).
    #[arg(long, default_value = "clean,regions,occ-lfw-2.0")]
    pub occlude: String,
    /// Length of the CMC curve (ranks 1..=N).
    #[arg(long, default_value_t = DEFAULT_MAX_RANK)]
    pub max_rank: usize,
    /// Output folder (created): results.json, results.csv, rank1.png, rank1.svg.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub sweep: SweepArgs,
}

pub fn run(cli: &Cli, args: &IdentifyArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    let sweep = &args.sweep;
    anyhow::ensure!(args.max_rank >= 1, "--max-rank must be at least 1");
    let conditions = parse_protocol(&args.occlude, &sweep.sizes).context("--occlude")?;
    let gallery = list_identity_folders(&args.gallery).context("--gallery")?;
    let probes = list_identity_folders(&args.probe).context("--probe")?;
    let outputs = OutputSet::prepare(&args.out)?;
    let Loaded { picked, models, library, mut finder } = sweep.load(cli)?;
    let spec = IdentifySpec {
        gallery_root: args.gallery.clone(),
        probe_root: args.probe.clone(),
        gallery,
        probes,
        conditions,
        setup: sweep.setup(),
        max_rank: args.max_rank,
    };
    let cancel = cancel_on_ctrl_c()?;
    eprintln!(
        "identify: {} gallery photos, {} probes, {} conditions, {} on {}",
        spec.gallery.len(),
        spec.probes.len(),
        spec.conditions.len(),
        models.iter().map(|m| m.label.as_str()).collect::<Vec<_>>().join(" and "),
        picked.info.short()
    );
    let mut results = run_identification(
        &spec,
        &models,
        &mut finder,
        &library,
        &mut Bars::default(),
        &cancel,
        picked.info.to_string(),
    )
    .context("identifying")?;
    results.wall_time_s = start.elapsed().as_secs_f64();
    write_identify_outputs(&results, outputs.staging())?;
    let written = outputs.commit(IDENTIFY_OUTPUT_NAMES)?;
    println!("rank-1 identification (probes under each condition, gallery clean):");
    print!("{}", results.summary());
    for (what, set) in [("gallery", &results.gallery), ("probe", &results.probes)] {
        if !set.without_face.is_empty() {
            println!(
                "{} {what} photos without a face ({})",
                set.without_face.len(),
                if what == "gallery" { "left out" } else { "misses at every rank" }
            );
        }
    }
    println!("wrote {} files to {}", written.len(), args.out.display());
    Ok(())
}
