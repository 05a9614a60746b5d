//! The occlusion conditions of the evaluation sweep and how each one occludes a face.
//!
//! Every condition occludes the second face of a pair, after alignment (the first face stays
//! clean), as the FROM paper's LFW experiments do:
//!
//! * `clean`: nothing;
//! * the nine Figure-1 regions (`left_eye` ... `right_face`), each with one fixed occluder drawing
//!   stretched over the region's box ([`region_occluder`]), alpha-composited or pasted opaque, or
//!   a grey box;
//! * `grey-<region>`: the same nine regions as flat grey boxes, whatever `--region-fill` says,
//!   so one sweep can report objects and grey boxes side by side;
//! * `occ-lfw-2.0`: one random occluder at scale 2 per face, seeded per image key, alpha-composited;
//! * `occ-lfw-2.0-pasted`: the same occluder at the same place, pasted as an opaque rectangle (the
//!   authors' Occ-LFW-2.0, see [`OcclusionStyle::Pasted`]);
//! * `square-N`: an N x N square (grey, or an occluder fitted into it) at a random position on the
//!   face, seeded per image key: the occluder-size sweep plotted as accuracy against area.
//!
//! Pure image work, no tensors: the same image key always gets the same occlusion.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use image::{RgbImage, RgbaImage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::occlusion::{
    OccLfw20, Occluder, OccluderLibrary, Occlusion, OcclusionError, OcclusionStyle, PasteBackground, Region,
    SWEEP_GREY, SquareFill, composite, fnv1a64, grey_region, occlude_region_stretched, pasted_region, square_occlusion,
    x_offset,
};
use crate::patterns::BinaryMask;

/// The sides of the default occluder-size sweep, in pixels of the aligned face.
pub const SQUARE_SIDES: [u32; 10] = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
/// The largest square side accepted: the height of both aligned templates.
pub const MAX_SQUARE_SIDE: u32 = 112;
/// Default seed of the square positions ("SqSweep1" in ASCII).
pub const SQUARE_SEED: u64 = 0x5371_5377_6565_7031;

/// One occlusion condition. Conditions sort in report order: clean, the regions in the paper's
/// order (by the region fill, then as grey boxes), Occ-LFW-2.0 (alpha, then pasted), then the
/// squares by size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Condition {
    Clean,
    Region(Region),
    /// The region as a flat grey box, independent of the sweep's region fill.
    GreyRegion(Region),
    OccLfw20,
    /// Occ-LFW-2.0's occluders pasted as opaque rectangles, as the authors build it.
    OccLfw20Pasted,
    /// A square of this side.
    Square(u32),
}

impl Condition {
    /// The machine name used on the command line, in results.json and results.csv.
    pub fn name(&self) -> String {
        match self {
            Condition::Clean => "clean".into(),
            Condition::Region(region) => region.name().into(),
            Condition::GreyRegion(region) => format!("grey-{}", region.name()),
            Condition::OccLfw20 => "occ-lfw-2.0".into(),
            Condition::OccLfw20Pasted => "occ-lfw-2.0-pasted".into(),
            Condition::Square(side) => format!("square-{side}"),
        }
    }

    /// The name for figures and tables.
    pub fn label(&self) -> String {
        match self {
            Condition::Clean => "clean".into(),
            Condition::Region(region) => region.name().replace('_', " "),
            Condition::GreyRegion(region) => format!("grey: {}", region.name().replace('_', " ")),
            Condition::OccLfw20 => "Occ-LFW-2.0".into(),
            Condition::OccLfw20Pasted => "Occ-LFW-2.0 pasted".into(),
            Condition::Square(side) => format!("{side} px square"),
        }
    }

    /// Whether Figure 1 draws this condition as a group of bars: the regions and Occ-LFW-2.0.
    pub fn is_figure_group(&self) -> bool {
        matches!(
            self,
            Condition::Region(_) | Condition::GreyRegion(_) | Condition::OccLfw20 | Condition::OccLfw20Pasted
        )
    }

    pub fn is_occluded(&self) -> bool {
        !matches!(self, Condition::Clean)
    }

    /// The region of a region condition, whatever fills it.
    pub fn region(&self) -> Option<Region> {
        match self {
            Condition::Region(region) | Condition::GreyRegion(region) => Some(*region),
            _ => None,
        }
    }

    fn order(&self) -> (u8, u32) {
        let index = |region: &Region| Region::ALL.iter().position(|r| r == region).unwrap_or(0) as u32;
        match self {
            Condition::Clean => (0, 0),
            Condition::Region(region) => (1, index(region)),
            Condition::GreyRegion(region) => (2, index(region)),
            Condition::OccLfw20 => (3, 0),
            Condition::OccLfw20Pasted => (3, 1),
            Condition::Square(side) => (4, *side),
        }
    }
}

impl PartialOrd for Condition {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Condition {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.order().cmp(&other.order())
    }
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    #[error("unknown condition {name:?} in the protocol; valid: {}", valid_names())]
    Unknown { name: String },
    #[error("the protocol lists no condition; valid: {}", valid_names())]
    Empty,
    #[error("square side {side} is outside 1..={MAX_SQUARE_SIDE} (pixels of the aligned face)")]
    SquareSide { side: u32 },
    #[error("'random-sizes' needs at least one square size")]
    NoSizes,
    #[error("the occluder library has no {class}/{name}, the occluder of region {region}")]
    MissingOccluder { region: &'static str, class: &'static str, name: &'static str },
}

/// What the protocol accepts, for error messages and `--help`.
pub fn valid_names() -> String {
    let regions = Region::ALL.map(Region::name).join(", ");
    format!(
        "all, clean, regions (= {regions}), each region by name, grey-regions (the same as grey \
         boxes), grey-<region>, occ-lfw-2.0, occ-lfw-2.0-pasted, random-sizes (squares of every --sizes side), square-N (N = 1..={MAX_SQUARE_SIDE})"
    )
}

/// Lower case, `-` for `_`, so `Occ_LFW-2.0` and `left-eye` are accepted too.
fn normalise(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace('_', "-")
}

impl FromStr for Condition {
    type Err = ConditionError;

    /// One condition by its [`Condition::name`] (groups like `regions` are read by
    /// [`parse_protocol`]).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = normalise(s);
        let unknown = || ConditionError::Unknown { name: s.trim().to_string() };
        match wanted.as_str() {
            "clean" => return Ok(Condition::Clean),
            "occ-lfw-2.0" | "occ-lfw2.0" | "occlfw-2.0" | "occlfw2.0" => return Ok(Condition::OccLfw20),
            "occ-lfw-2.0-pasted" | "occ-lfw2.0-pasted" | "occlfw-2.0-pasted" | "occlfw2.0-pasted" => {
                return Ok(Condition::OccLfw20Pasted);
            }
            _ => {}
        }
        let region = |name: &str| Region::ALL.into_iter().find(|r| normalise(r.name()) == name);
        if let Some(name) = wanted.strip_prefix("grey-") {
            return region(name).map(Condition::GreyRegion).ok_or_else(unknown);
        }
        if let Some(side) = wanted.strip_prefix("square-") {
            let side: u32 = side.parse().map_err(|_| unknown())?;
            return square(side);
        }
        region(&wanted).map(Condition::Region).ok_or_else(unknown)
    }
}

fn square(side: u32) -> Result<Condition, ConditionError> {
    if (1..=MAX_SQUARE_SIDE).contains(&side) {
        Ok(Condition::Square(side))
    } else {
        Err(ConditionError::SquareSide { side })
    }
}

/// Reads a comma-separated protocol such as `clean,regions,occ-lfw-2.0,random-sizes`.
/// `random-sizes` stands for a square of each of `sizes`. The result is sorted in report order
/// without duplicates, whatever order the names came in.
pub fn parse_protocol(spec: &str, sizes: &[u32]) -> Result<Vec<Condition>, ConditionError> {
    let mut conditions = Vec::new();
    let random_sizes = || -> Result<Vec<Condition>, ConditionError> {
        if sizes.is_empty() {
            return Err(ConditionError::NoSizes);
        }
        sizes.iter().map(|&side| square(side)).collect()
    };
    for token in spec.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        match normalise(token).as_str() {
            "all" => {
                conditions.push(Condition::Clean);
                conditions.extend(Region::ALL.map(Condition::Region));
                conditions.extend(Region::ALL.map(Condition::GreyRegion));
                conditions.extend([Condition::OccLfw20, Condition::OccLfw20Pasted]);
                conditions.extend(random_sizes()?);
            }
            "regions" => conditions.extend(Region::ALL.map(Condition::Region)),
            "grey-regions" => conditions.extend(Region::ALL.map(Condition::GreyRegion)),
            "random-sizes" => conditions.extend(random_sizes()?),
            _ => conditions.push(token.parse()?),
        }
    }
    if conditions.is_empty() {
        return Err(ConditionError::Empty);
    }
    conditions.sort();
    conditions.dedup();
    Ok(conditions)
}

/// How the Figure-1 regions are covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum RegionFill {
    /// An everyday object drawn over the region (one fixed drawing per region), as in the paper's
    /// Fig. 1, alpha-composited: the face shows around the object.
    #[default]
    Occluder,
    /// A flat mid-grey box over the whole region.
    Grey,
    /// The region's object pasted opaque over the paste background: the whole box is covered, as
    /// the authors paste occluders.
    Pasted,
}

/// What fills a sweep square.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum SquareFillKind {
    /// A flat mid-grey square: the occluded area is exactly the square's.
    #[default]
    Grey,
    /// A library occluder (drawn per image from the seed) with its longer side fitted to the
    /// square; its transparent parts leave the face visible.
    Occluder,
}

/// The occluder drawing (`class`, `name`) of each region when regions are filled with objects:
/// one fixed drawing per region, chosen to be an object that plausibly covers that part of a
/// face and whose shape fills the region's box without much stretching. Left and right use the
/// same drawing so that the two sides differ only in position.
pub fn region_occluder(region: Region) -> (&'static str, &'static str) {
    match region {
        Region::LeftEye | Region::RightEye => ("hand", "flat_hand"),
        Region::TwoEyes => ("sunglasses", "black_frame_front"),
        Region::Nose => ("phone", "mobile_navy"),
        Region::Mouth => ("mouth_mask", "surgical_blue"),
        Region::LowerFace => ("mouth_mask", "cloth"),
        Region::UpperFace => ("book_cover", "diary"),
        Region::LeftFace | Region::RightFace => ("book_cover", "cookbook_pasta"),
    }
}

/// Everything that decides how a condition occludes a face.
#[derive(Debug)]
pub struct Occluders<'a> {
    library: &'a OccluderLibrary,
    region_fill: RegionFill,
    square_fill: SquareFillKind,
    occ_lfw: OccLfw20<'a>,
    occ_lfw_pasted: OccLfw20<'a>,
    paste_background: PasteBackground,
    square_seed: u64,
    /// Each region's drawing stretched to the region's box, made on first use: resampling it
    /// for every face was a tenth of a sweep's time.
    stretched: [OnceLock<RgbaImage>; Region::ALL.len()],
}

impl<'a> Occluders<'a> {
    /// Fails when `region_fill` is [`RegionFill::Occluder`] and the library lacks a drawing of
    /// [`region_occluder`].
    pub fn new(
        library: &'a OccluderLibrary,
        region_fill: RegionFill,
        square_fill: SquareFillKind,
        occ_lfw_seed: u64,
        square_seed: u64,
    ) -> Result<Self, ConditionError> {
        if region_fill != RegionFill::Grey {
            for region in Region::ALL {
                let (class, name) = region_occluder(region);
                if library.find(class, name).is_none() {
                    return Err(ConditionError::MissingOccluder { region: region.name(), class, name });
                }
            }
        }
        Ok(Self {
            library,
            region_fill,
            square_fill,
            occ_lfw: OccLfw20::with_seed(library, occ_lfw_seed),
            occ_lfw_pasted: OccLfw20::with_style(
                library,
                occ_lfw_seed,
                OcclusionStyle::Pasted(PasteBackground::default()),
            ),
            paste_background: PasteBackground::default(),
            square_seed,
            stretched: Default::default(),
        })
    }

    /// What shows through the transparent parts of pasted occluders (region fill `pasted` and
    /// `occ-lfw-2.0-pasted`); grey unless set.
    pub fn with_paste_background(self, background: PasteBackground) -> Self {
        let seed = self.occ_lfw.seed();
        Self {
            occ_lfw_pasted: OccLfw20::with_style(self.library, seed, OcclusionStyle::Pasted(background)),
            paste_background: background,
            ..self
        }
    }

    pub fn region_fill(&self) -> RegionFill {
        self.region_fill
    }

    pub fn paste_background(&self) -> PasteBackground {
        self.paste_background
    }

    pub fn square_fill(&self) -> SquareFillKind {
        self.square_fill
    }

    pub fn occ_lfw_seed(&self) -> u64 {
        self.occ_lfw.seed()
    }

    pub fn square_seed(&self) -> u64 {
        self.square_seed
    }

    fn region_drawing(&self, region: Region) -> Option<&'a Occluder> {
        let (class, name) = region_occluder(region);
        self.library.find(class, name)
    }

    /// Occludes an aligned face (112x96 or 112x112) as `condition` says; `key` is the image key
    /// (its path under the dataset root) that seeds the random conditions. `None` for `clean`.
    pub fn apply(
        &self,
        condition: Condition,
        face: &mut RgbImage,
        key: &str,
    ) -> Result<Option<Occlusion>, OcclusionError> {
        Ok(Some(match condition {
            Condition::Clean => return Ok(None),
            Condition::Region(region) => match (self.region_fill, self.region_drawing(region)) {
                (RegionFill::Occluder, Some(drawing)) => {
                    let stretched = self.stretched_drawing(region, drawing, face.width());
                    occlude_region_stretched(face, drawing, Some(stretched), region)?
                }
                (RegionFill::Pasted, Some(drawing)) => {
                    let stretched = self.stretched_drawing(region, drawing, face.width());
                    pasted_region(face, drawing, Some(stretched), region, self.paste_background.colour())?
                }
                // `new` checked the drawings exist, so this is the grey fill.
                _ => grey_region(face, region, SWEEP_GREY)?,
            },
            Condition::GreyRegion(region) => grey_region(face, region, SWEEP_GREY)?,
            Condition::OccLfw20 => self.occ_lfw.occlude(face, key),
            Condition::OccLfw20Pasted => self.occ_lfw_pasted.occlude(face, key),
            Condition::Square(side) => {
                let mut rng = self.square_rng(key);
                let centre = square_centre(face.width(), face.height(), side, &mut rng);
                let fill = match self.square_fill {
                    SquareFillKind::Grey => SquareFill::Grey,
                    SquareFillKind::Occluder => {
                        let index = rng.random_range(0..self.library.len());
                        SquareFill::Occluder(&self.library.occluders()[index])
                    }
                };
                square_occlusion(face, side, centre, fill)
            }
        }))
    }

    /// `drawing` stretched to `region`'s box on a face `face_width` wide; the box's size does not
    /// depend on the width (only its offset does), so one copy serves both templates.
    fn stretched_drawing(&self, region: Region, drawing: &Occluder, face_width: u32) -> &RgbaImage {
        let slot = Region::ALL.iter().position(|&r| r == region).expect("every region is in Region::ALL");
        self.stretched[slot].get_or_init(|| {
            let rect = region.rect(face_width);
            composite::resize(&drawing.image, (rect.x1 - rect.x0) as u32, (rect.y1 - rect.y0) as u32)
        })
    }

    /// The generator of one image's square: FNV-1a of the seed and the key, like Occ-LFW-2.0's.
    /// It does not depend on the side, so every size of the sweep sits at the same relative
    /// position on a face and the curve compares sizes, not positions.
    fn square_rng(&self, key: &str) -> ChaCha8Rng {
        let bytes: Vec<u8> = self.square_seed.to_le_bytes().into_iter().chain(key.bytes()).collect();
        ChaCha8Rng::seed_from_u64(fnv1a64(&bytes))
    }
}

/// The face box of a crop `face_width` wide: the 96 columns the regions are defined on (the
/// 112-wide crop has 8 px of margin each side), or the whole crop when it is narrower.
fn face_columns(face_width: u32) -> (u32, u32) {
    let dx = x_offset(face_width);
    (dx, face_width - 2 * dx)
}

/// Centre of a `side` square placed uniformly inside the face box (two uniform draws, x then
/// y); along a direction where the square is larger than the box it is centred on the box.
pub fn square_centre(face_width: u32, face_height: u32, side: u32, rng: &mut ChaCha8Rng) -> (i64, i64) {
    let (dx, box_w) = face_columns(face_width);
    let (u, v): (f64, f64) = (rng.random(), rng.random());
    let start = |offset: u32, extent: u32, draw: f64| -> i64 {
        let free = i64::from(extent) - i64::from(side);
        let shift = if free >= 0 { ((draw * (free + 1) as f64) as i64).min(free) } else { free / 2 };
        i64::from(offset) + shift
    };
    let (left, top) = (start(dx, box_w, u), start(0, face_height, v));
    // `square_occlusion` puts the top-left corner at centre - side / 2.
    (left + i64::from(side / 2), top + i64::from(side / 2))
}

/// Occluded fraction of the face box of a crop (see `face_columns`): for the 112x112 crop the
/// margins do not count, so a region's fraction is its [`Region::area_ratio`] on either crop.
pub fn face_area_fraction(mask: &BinaryMask) -> f64 {
    let (dx, box_w) = face_columns(mask.width as u32);
    let (dx, box_w) = (dx as usize, box_w as usize);
    let total = box_w * mask.height;
    if total == 0 {
        return 0.0;
    }
    let covered = (0..mask.height).map(|y| (dx..dx + box_w).filter(|&x| mask.get(y, x)).count()).sum::<usize>();
    covered as f64 / total as f64
}
