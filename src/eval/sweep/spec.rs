//! What a sweep evaluates ([`SweepSpec`]) and how it finds, caches and occludes faces
//! ([`SweepSetup`], shared with identification).

use std::path::PathBuf;

use crate::align::FaceTemplate;
use crate::eval::conditions::{Condition, ConditionError, Occluders, RegionFill, SQUARE_SEED, SquareFillKind};
use crate::eval::pairs::PairsFile;
use crate::eval::partial::Shard;
use crate::eval::roc::TarRule;
use crate::face::{FaceFinder, FacePick};
use crate::occlusion::{OCC_LFW20_SEED, OccluderLibrary, PasteBackground};

/// How a sweep finds, caches and occludes faces: what verification ([`SweepSpec`]) and
/// identification ([`super::identify::IdentifySpec`]) share.
#[derive(Debug, Clone)]
pub struct SweepSetup {
    pub region_fill: RegionFill,
    pub square_fill: SquareFillKind,
    /// What shows through pasted occluders (region fill `pasted`, `occ-lfw-2.0-pasted`).
    pub paste_background: PasteBackground,
    pub occ_lfw_seed: u64,
    pub square_seed: u64,
    pub face_pick: FacePick,
    /// The photos are crops aligned to this template, used without detection (`--aligned`).
    pub pre_aligned: Option<FaceTemplate>,
    /// Root of the aligned-face and embedding caches; `None` computes everything afresh.
    pub cache_root: Option<PathBuf>,
}

impl Default for SweepSetup {
    /// The defaults of `maskscope eval`: occluder regions, grey squares, the standard seeds, the
    /// central face (where LFW puts the labelled person), no cache.
    fn default() -> Self {
        Self {
            region_fill: RegionFill::default(),
            square_fill: SquareFillKind::default(),
            paste_background: PasteBackground::default(),
            occ_lfw_seed: OCC_LFW20_SEED,
            square_seed: SQUARE_SEED,
            face_pick: FacePick::Central,
            pre_aligned: None,
            cache_root: None,
        }
    }
}

impl SweepSetup {
    /// The occlusions of every condition, from `library`.
    pub fn occluders<'a>(&self, library: &'a OccluderLibrary) -> Result<Occluders<'a>, ConditionError> {
        Ok(Occluders::new(library, self.region_fill, self.square_fill, self.occ_lfw_seed, self.square_seed)?
            .with_paste_background(self.paste_background))
    }

    /// Sets `finder` to pick faces (or take aligned crops) as this setup says.
    pub fn apply(&self, finder: &mut FaceFinder) {
        finder.pick = self.face_pick;
        finder.pre_aligned = self.pre_aligned;
    }
}

/// What to evaluate and how.
#[derive(Debug, Clone)]
pub struct SweepSpec {
    /// The pairs file, for messages and the results.
    pub pairs_file: PathBuf,
    pub pairs: PairsFile,
    /// Root the image keys (and thus the seeded occlusions) are taken relative to.
    pub images_root: Option<PathBuf>,
    pub conditions: Vec<Condition>,
    pub setup: SweepSetup,
    /// Measure the mask contrast of the first FROM model under each occluded condition (one
    /// more forward pass of its occluded faces, reading the masks).
    pub mask_contrast: bool,
    /// How TAR at FAR is read off the scores.
    pub tar_rule: TarRule,
    /// Measure only this slice of the pairs, unfinished (`eval --shard`).
    pub shard: Option<Shard>,
}

impl SweepSpec {
    /// [`SweepSetup`]'s defaults, no mask contrast, the ROC TAR rule, every pair.
    pub fn new(
        pairs_file: PathBuf,
        pairs: PairsFile,
        images_root: Option<PathBuf>,
        conditions: Vec<Condition>,
    ) -> Self {
        Self {
            pairs_file,
            pairs,
            images_root,
            conditions,
            setup: SweepSetup::default(),
            mask_contrast: false,
            tar_rule: TarRule::Roc,
            shard: None,
        }
    }
}
