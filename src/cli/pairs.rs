//! `pairs`: a balanced, seeded, identity-disjoint 10-fold pairs CSV from a folder per identity,
//! optionally an unmasked photo against a masked one, so that `eval` runs on any face set.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;

use crate::eval::folds::FOLDS;
use crate::eval::identification::{LabelledImage, list_identity_folders};
use crate::eval::pairs_builder::{BuiltPairs, DEFAULT_PER_FOLD, build_pairs};
use crate::face::cache::write_atomically;

/// The seed unless one is given.
const DEFAULT_SEED: u64 = 1;

#[derive(Debug, Args)]
pub struct PairsArgs {
    /// Photo folder, one sub-folder per identity (give it more than once, or comma-separated:
    /// folders of the same name are one identity, e.g. RMFD's masked and unmasked trees).
    #[arg(long = "from", required = true, value_delimiter = ',')]
    pub from: Vec<PathBuf>,
    /// The CSV to write (`path_a,path_b,same`; paths relative to its folder).
    #[arg(long)]
    pub out: PathBuf,
    /// Pair an unmasked photo (first) with a masked one (second): a photo is masked when its
    /// path (the --from folder joined with identity/file) matches this glob, e.g. '*_mask*' or
    /// '*/AFDB_masked_face_dataset/*'.
    #[arg(long, value_name = "GLOB")]
    pub masked: Option<String>,
    /// Same-person pairs per fold, and as many different-people pairs. Default: 300 (LFW View 2),
    /// or fewer if some fold cannot form that many.
    #[arg(long)]
    pub per_fold: Option<usize>,
    /// Seed of the identities' fold assignment and of the pair draws.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
}

pub fn run(args: &PairsArgs) -> anyhow::Result<()> {
    let mut photos: Vec<LabelledImage> = Vec::new();
    for root in &args.from {
        if !root.is_dir() {
            bail!("--from {}: not a folder", root.display());
        }
        let found = list_identity_folders(root)?;
        if found.is_empty() {
            bail!("--from {}: no photos in sub-folders (expected <identity>/<photo>.jpg)", root.display());
        }
        photos.extend(found);
    }
    let masked = match &args.masked {
        Some(glob) => {
            let pattern = glob::Pattern::new(glob).with_context(|| format!("--masked '{glob}'"))?;
            Some(photos.iter().map(|p| pattern.matches_path(&p.path)).collect::<Vec<bool>>())
        }
        None => None,
    };
    let built = build_pairs(&photos, masked.as_deref(), args.per_fold, args.seed).context("building the pairs")?;
    let csv = pairs_csv(&photos, &built, args)?;
    write_atomically(&args.out, csv.as_bytes()).with_context(|| format!("writing {}", args.out.display()))?;

    let identities: std::collections::BTreeSet<&str> = photos.iter().map(|p| p.identity.as_str()).collect();
    let masked_count = masked.as_ref().map(|m| m.iter().filter(|&&x| x).count());
    println!(
        "{} photos of {} identities{}; {} folds of {} same + {} different pairs ({} pairs, {} identities used{})",
        photos.len(),
        identities.len(),
        masked_count.map_or(String::new(), |n| format!(" ({n} masked)")),
        FOLDS,
        built.per_fold,
        built.per_fold,
        built.pairs.len(),
        built.identities_used,
        if args.per_fold.is_none() && built.per_fold < DEFAULT_PER_FOLD {
            format!("; fewer than {DEFAULT_PER_FOLD} a fold: the smallest fold allows {}", built.per_fold)
        } else {
            String::new()
        }
    );
    println!("wrote {}", args.out.display());
    Ok(())
}

/// The CSV text: comment lines saying how it was made, the header, then the pairs in file order.
fn pairs_csv(photos: &[LabelledImage], built: &BuiltPairs, args: &PairsArgs) -> anyhow::Result<String> {
    let base = csv_folder(&args.out)?;
    let relative = |path: &Path| -> anyhow::Result<String> {
        let absolute = path.canonicalize().with_context(|| format!("{}", path.display()))?;
        let shown = pathdiff::diff_paths(&absolute, &base).unwrap_or(absolute);
        shown.to_str().map(str::to_owned).with_context(|| format!("{}: path is not UTF-8", path.display()))
    };
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(["path_a", "path_b", "same"])?;
    for pair in &built.pairs {
        let same = if pair.same { "1" } else { "0" };
        writer.write_record([relative(&photos[pair.a].path)?, relative(&photos[pair.b].path)?, same.into()])?;
    }
    let body = String::from_utf8(writer.into_inner()?)?;
    let from: Vec<String> = args.from.iter().map(|p| p.display().to_string()).collect();
    Ok(format!(
        "# maskscope pairs --from {}{} --seed {}: {FOLDS} identity-disjoint folds, each {} same-person pairs then {} different-people pairs\n{body}",
        from.join(","),
        args.masked.as_ref().map_or(String::new(), |g| format!(" --masked '{g}'")),
        args.seed,
        built.per_fold,
        built.per_fold,
    ))
}

/// The folder the CSV will be in, absolute (relative paths in it are resolved against it).
fn csv_folder(out: &Path) -> anyhow::Result<PathBuf> {
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    parent.canonicalize().with_context(|| format!("{}", parent.display()))
}
