//! `merge`: the parts of a sharded `eval --shard I/N` sweep, combined into the outputs one run
//! writes (results.json/csv, figures, report.md).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::eval::print_summary;
use crate::eval::output_set::OutputSet;
use crate::eval::partial::{PartialSweep, merge, thumbnail_file};
use crate::eval::report::{OUTPUT_NAMES, write_outputs};
use crate::face::read_rgb;

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The parts: each shard's --out folder (or its partial.json), every shard once, any order.
    #[arg(required = true)]
    pub parts: Vec<PathBuf>,
    /// Output folder (created): what `eval` writes for the whole pairs file.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: &MergeArgs) -> anyhow::Result<()> {
    let parts = args.parts.iter().map(|p| PartialSweep::read(p)).collect::<Result<Vec<_>, _>>()?;
    let outputs = OutputSet::prepare(&args.out)?;
    let count = parts.len();
    let merged = merge(parts)?;
    let mut thumbnails = Vec::new();
    if let Some((file, conditions)) = &merged.thumbnails_from {
        let folder = file.parent().unwrap_or(std::path::Path::new("."));
        for &condition in conditions {
            let path = folder.join(thumbnail_file(condition));
            let face = read_rgb(&path).with_context(|| format!("the part's example face {}", path.display()))?;
            thumbnails.push((condition, face));
        }
    }
    write_outputs(&merged.results, &thumbnails, outputs.staging())?;
    let written = outputs.commit(OUTPUT_NAMES)?;
    print_summary(&merged.results);
    println!("merged {count} parts; wrote {} files to {}", written.len(), args.out.display());
    Ok(())
}
