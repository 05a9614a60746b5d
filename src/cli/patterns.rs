use clap::Args;

use crate::patterns::{Pattern, PatternSet};

#[derive(Debug, Args)]
pub struct PatternsArgs {
    /// K of the K x K grid.
    #[arg(long, default_value_t = crate::patterns::DEFAULT_GRID)]
    pub grid: usize,
    /// Image height in pixels.
    #[arg(long, default_value_t = 112)]
    pub height: usize,
    /// Image width in pixels.
    #[arg(long, default_value_t = 96)]
    pub width: usize,
}

pub fn run(args: &PatternsArgs) -> anyhow::Result<()> {
    let set = PatternSet::new(args.height, args.width, args.grid)?;
    println!("{} patterns for a {}x{} grid over {}x{}", set.len(), args.grid, args.grid, args.height, args.width);
    for index in 0..set.len() {
        match set.get(index)? {
            Pattern::NoOcclusion => println!("{index:>4}  no occlusion"),
            Pattern::Occluded { cells, pixels } => println!("{index:>4}  cells {cells}  pixels {pixels}"),
        }
    }
    Ok(())
}
