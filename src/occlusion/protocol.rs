//! Occlusion protocols: the random one FROM trains with, Occ-LFW-2.0 for evaluation, and the
//! square-size sweep of the evaluation suite.
//!
//! A protocol only draws from the generator it is given, in a fixed order, so a dataset is defined
//! by its seed. Changing a constant or the order of the draws below changes every dataset built
//! with it.

use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use image::imageops;
use image::{Rgb, RgbImage, RgbaImage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::composite;
use super::library::{Occluder, OccluderLibrary};
use super::style::{OcclusionStyle, SWEEP_GREY};
use crate::patterns::{BinaryMask, PatternError, PatternSet, Rect};

/// Grid of the proximate patterns that label every occlusion (the official models' 226 patterns).
pub const PATTERN_GRID: usize = 5;
/// Probability that a training face stays clean.
pub const CLEAN_PROBABILITY: f64 = 1.0 / 3.0;
/// Probability that a training face is mirrored (before it is occluded).
pub const FLIP_PROBABILITY: f64 = 0.5;
/// Occluder scale factors, drawn uniformly: 1.0, 1.5, ..., 5.0.
pub const SCALE_FACTORS: [f32; 9] = [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0];
/// Longer side, in pixels of the 112x96 face, of an occluder at factor 1: factor 5 then spans
/// [`MAX_OCCLUDER_WIDTH`], the whole face but one column.
pub const BASE_LONGER_SIDE: u32 = 19;
/// Largest occluder, so that no draw covers the entire 112x96 face.
pub const MAX_OCCLUDER_WIDTH: u32 = 95;
pub const MAX_OCCLUDER_HEIGHT: u32 = 111;
/// Occ-LFW-2.0 puts every occluder at this scale.
pub const OCC_LFW20_FACTOR: f32 = 2.0;
const OCC_LFW20_FACTOR_INDEX: usize = 2;
const _: () = assert!(SCALE_FACTORS[OCC_LFW20_FACTOR_INDEX] == OCC_LFW20_FACTOR);
/// Default seed of Occ-LFW-2.0 ("OccLFW20" in ASCII).
pub const OCC_LFW20_SEED: u64 = 0x4f63_634c_4657_3230;

/// What was done to a face, with the supervision FROM needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Occlusion {
    /// Face-sized, true = occluded (pasted alpha > 0.5).
    pub mask: BinaryMask,
    /// The proximate pattern of `mask` (K = 5 grid over the face); 0 for a clean face.
    pub label: usize,
    /// `(class, name)` of the occluder pasted, if any.
    pub occluder: Option<(String, String)>,
    /// Where it was pasted, clipped to the face.
    pub rect: Option<Rect>,
    /// The scale factor of a random protocol.
    pub factor: Option<f32>,
    /// Whether the face was mirrored first.
    pub flipped: bool,
}

impl Occlusion {
    /// A face left as it is: empty mask, label 0.
    pub fn clean(face_width: u32, face_height: u32, flipped: bool) -> Self {
        let mask = BinaryMask::new(face_height as usize, face_width as usize);
        Self { mask, label: 0, occluder: None, rect: None, factor: None, flipped }
    }

    /// Builds an occlusion record and labels its mask. A face smaller than the pattern grid (under
    /// 5 px a side) has no patterns and gets label 0.
    pub fn labelled(
        mask: BinaryMask,
        occluder: Option<(String, String)>,
        rect: Option<Rect>,
        factor: Option<f32>,
        flipped: bool,
    ) -> Self {
        let label = pattern_label(&mask).unwrap_or(0);
        Self { mask, label, occluder, rect, factor, flipped }
    }

    /// Fraction of the face's pixels that are occluded.
    pub fn area_fraction(&self) -> f64 {
        let total = self.mask.height * self.mask.width;
        if total == 0 { 0.0 } else { self.mask.count() as f64 / total as f64 }
    }

    pub fn is_clean(&self) -> bool {
        self.label == 0
    }
}

/// The K = 5 proximate-pattern label of a face-sized mask.
pub fn pattern_label(mask: &BinaryMask) -> Result<usize, PatternError> {
    PatternSet::new(mask.height, mask.width, PATTERN_GRID)?.label_for_mask(mask)
}

/// Pasted size of a `width` x `height` occluder at `factor`: longer side
/// `round(BASE_LONGER_SIDE * factor)`, aspect kept, then shrunk (aspect kept) to fit
/// [`MAX_OCCLUDER_WIDTH`] x [`MAX_OCCLUDER_HEIGHT`]. Never below 1 x 1.
pub fn occluder_size(width: u32, height: u32, factor: f32) -> (u32, u32) {
    if width == 0 || height == 0 {
        return (1, 1);
    }
    // Exact rationals: floating-point scales put sides like 47.5 on either side of the rounding
    // point depending on the drawing's size.
    let longer_side = (f64::from(BASE_LONGER_SIDE) * f64::from(factor)).round().clamp(1.0, 1e6) as u64;
    let (w, h) = (u64::from(width), u64::from(height));
    // The smallest of the three scales num / den wins, compared by cross-multiplying.
    let (mut num, mut den) = (longer_side, w.max(h));
    for (cap, side) in [(u64::from(MAX_OCCLUDER_WIDTH), w), (u64::from(MAX_OCCLUDER_HEIGHT), h)] {
        if cap * den < num * side {
            (num, den) = (cap, side);
        }
    }
    let scaled = |side: u64| ((2 * side * num + den) / (2 * den)).max(1) as u32;
    (scaled(w).min(MAX_OCCLUDER_WIDTH), scaled(h).min(MAX_OCCLUDER_HEIGHT))
}

/// Where one occluder goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// Index into the library.
    pub occluder: usize,
    pub factor: f32,
    /// Pasted size, see [`occluder_size`].
    pub width: u32,
    pub height: u32,
    /// Centre `(x, y)`, a pixel of the face; the occluder may hang off the edge.
    pub centre: (i64, i64),
}

impl Placement {
    pub fn left(&self) -> i64 {
        self.centre.0 - i64::from(self.width / 2)
    }

    pub fn top(&self) -> i64 {
        self.centre.1 - i64::from(self.height / 2)
    }

    /// The pasted box clipped to a `face_width` x `face_height` face.
    pub fn clipped_rect(&self, face_width: u32, face_height: u32) -> Rect {
        composite::clipped_rect(self.left(), self.top(), self.width, self.height, face_width, face_height)
    }
}

/// One draw of the random training protocol.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomDraw {
    pub flip: bool,
    /// `None`: the face stays clean.
    pub placement: Option<Placement>,
    /// How the occluder is put on (meaningless for a clean face).
    pub style: OcclusionStyle,
}

/// Library occluders resized to each scale factor, made once on first use. Shared by all threads
/// of a data loader.
struct ScaledOccluders<'a> {
    library: &'a OccluderLibrary,
    cache: Vec<OnceLock<RgbaImage>>,
}

impl<'a> ScaledOccluders<'a> {
    fn new(library: &'a OccluderLibrary) -> Self {
        let cache = (0..library.len() * SCALE_FACTORS.len()).map(|_| OnceLock::new()).collect();
        Self { library, cache }
    }

    fn occluder(&self, index: usize) -> &'a Occluder {
        &self.library.occluders()[index]
    }

    fn size(&self, index: usize, factor_index: usize) -> (u32, u32) {
        let image = &self.occluder(index).image;
        occluder_size(image.width(), image.height(), SCALE_FACTORS[factor_index])
    }

    fn image(&self, index: usize, factor_index: usize) -> &RgbaImage {
        self.cache[index * SCALE_FACTORS.len() + factor_index].get_or_init(|| {
            let (w, h) = self.size(index, factor_index);
            composite::resize(&self.occluder(index).image, w, h)
        })
    }

    /// Draws occluder, then centre x, then centre y.
    fn place(&self, factor_index: usize, face_width: u32, face_height: u32, rng: &mut ChaCha8Rng) -> Placement {
        let occluder = rng.random_range(0..self.library.len());
        let (width, height) = self.size(occluder, factor_index);
        let x = rng.random_range(0..face_width.max(1));
        let y = rng.random_range(0..face_height.max(1));
        Placement { occluder, factor: SCALE_FACTORS[factor_index], width, height, centre: (x.into(), y.into()) }
    }

    fn paste(&self, face: &mut RgbImage, placement: &Placement, style: OcclusionStyle, flipped: bool) -> Occlusion {
        let factor_index = SCALE_FACTORS.iter().position(|&f| f == placement.factor);
        let resized;
        let image = match factor_index {
            Some(i) if self.size(placement.occluder, i) == (placement.width, placement.height) => {
                self.image(placement.occluder, i)
            }
            _ => {
                let source = &self.occluder(placement.occluder).image;
                resized = composite::resize(source, placement.width, placement.height);
                &resized
            }
        };
        let rect = placement.clipped_rect(face.width(), face.height());
        let (left, top) = (placement.left(), placement.top());
        let mask = match style {
            OcclusionStyle::Alpha => composite::paste(face, image, left, top),
            OcclusionStyle::Pasted(background) => composite::paste_opaque(face, image, left, top, background.colour()),
            OcclusionStyle::GreyBox => composite::fill_rect(face, rect, SWEEP_GREY),
        };
        let occluder = self.occluder(placement.occluder);
        let drawn = (style != OcclusionStyle::GreyBox).then(|| (occluder.class.clone(), occluder.name.clone()));
        Occlusion::labelled(mask, drawn, Some(rect), Some(placement.factor), flipped)
    }
}

impl fmt::Debug for ScaledOccluders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cached = self.cache.iter().filter(|c| c.get().is_some()).count();
        write!(f, "{} occluders, {cached} resized", self.library.len())
    }
}

/// FROM's training-time occlusion: a third of the faces stay clean, the rest get one random
/// occluder at a random scale and a random centre, put on in one of the protocol's styles (drawn
/// uniformly); every face is mirrored with probability 1/2.
///
/// Works on faces of any size; sizes are in pixels of the 112x96 face, so the two aligned templates
/// get the same occluders.
#[derive(Debug)]
pub struct RandomOcclusion<'a> {
    scaled: ScaledOccluders<'a>,
    styles: Vec<OcclusionStyle>,
}

impl<'a> RandomOcclusion<'a> {
    /// Alpha-composited occluders only.
    pub fn new(library: &'a OccluderLibrary) -> Self {
        Self::with_styles(library, vec![OcclusionStyle::Alpha])
    }

    /// Occluders put on in one of `styles` each (an empty list means alpha only). With a single
    /// style nothing extra is drawn, so an alpha-only dataset is the same as before styles existed.
    pub fn with_styles(library: &'a OccluderLibrary, mut styles: Vec<OcclusionStyle>) -> Self {
        if styles.is_empty() {
            styles.push(OcclusionStyle::Alpha);
        }
        Self { scaled: ScaledOccluders::new(library), styles }
    }

    pub fn styles(&self) -> &[OcclusionStyle] {
        &self.styles
    }

    pub fn library(&self) -> &'a OccluderLibrary {
        self.scaled.library
    }

    /// The random choices for one face, without touching it. The draws are, in order: flip,
    /// clean, factor, occluder, centre x, centre y, style (all but the first two only when not
    /// clean; the style only when there are several).
    pub fn sample(&self, face_width: u32, face_height: u32, rng: &mut ChaCha8Rng) -> RandomDraw {
        let flip = rng.random_bool(FLIP_PROBABILITY);
        if rng.random_bool(CLEAN_PROBABILITY) {
            return RandomDraw { flip, placement: None, style: self.styles[0] };
        }
        let factor_index = rng.random_range(0..SCALE_FACTORS.len());
        let placement = self.scaled.place(factor_index, face_width, face_height, rng);
        let style = match self.styles.as_slice() {
            [only] => *only,
            styles => styles[rng.random_range(0..styles.len())],
        };
        RandomDraw { flip, placement: Some(placement), style }
    }

    /// Draws and applies one occlusion.
    pub fn apply(&self, face: &mut RgbImage, rng: &mut ChaCha8Rng) -> Occlusion {
        let draw = self.sample(face.width(), face.height(), rng);
        self.render(face, &draw)
    }

    /// Applies a draw of [`Self::sample`]: mirrors the face if asked, then pastes the occluder.
    /// Panics if the draw names an occluder outside this protocol's library.
    pub fn render(&self, face: &mut RgbImage, draw: &RandomDraw) -> Occlusion {
        if draw.flip {
            imageops::flip_horizontal_in_place(face);
        }
        match &draw.placement {
            None => Occlusion::clean(face.width(), face.height(), draw.flip),
            Some(placement) => self.scaled.paste(face, placement, draw.style, draw.flip),
        }
    }
}

/// Occ-LFW-2.0: every test face gets one random occluder at factor 2 at a random centre; no flip,
/// never clean. Each image's draws come from its own generator, seeded by the protocol seed and
/// the image's key, so the dataset does not depend on the order or parallelism of generation.
///
/// The style decides only how the drawn occluder is put on: the alpha and the pasted variants of
/// one seed put the same occluder at the same place on every face.
#[derive(Debug)]
pub struct OccLfw20<'a> {
    scaled: ScaledOccluders<'a>,
    seed: u64,
    style: OcclusionStyle,
}

impl<'a> OccLfw20<'a> {
    pub fn new(library: &'a OccluderLibrary) -> Self {
        Self::with_seed(library, OCC_LFW20_SEED)
    }

    /// Alpha-composited, as our Occ-LFW-2.0 has always been.
    pub fn with_seed(library: &'a OccluderLibrary, seed: u64) -> Self {
        Self::with_style(library, seed, OcclusionStyle::Alpha)
    }

    pub fn with_style(library: &'a OccluderLibrary, seed: u64, style: OcclusionStyle) -> Self {
        Self { scaled: ScaledOccluders::new(library), seed, style }
    }

    pub fn style(&self) -> OcclusionStyle {
        self.style
    }

    pub fn library(&self) -> &'a OccluderLibrary {
        self.scaled.library
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The generator of the image `key` (see [`image_key`]): FNV-1a 64 of the seed's
    /// little-endian bytes followed by the key's UTF-8 bytes.
    pub fn rng_for(&self, key: &str) -> ChaCha8Rng {
        let bytes: Vec<u8> = self.seed.to_le_bytes().into_iter().chain(key.bytes()).collect();
        ChaCha8Rng::seed_from_u64(fnv1a64(&bytes))
    }

    /// The draws for one face: occluder, centre x, centre y.
    pub fn sample(&self, face_width: u32, face_height: u32, rng: &mut ChaCha8Rng) -> Placement {
        self.scaled.place(OCC_LFW20_FACTOR_INDEX, face_width, face_height, rng)
    }

    pub fn apply(&self, face: &mut RgbImage, rng: &mut ChaCha8Rng) -> Occlusion {
        let placement = self.sample(face.width(), face.height(), rng);
        self.scaled.paste(face, &placement, self.style, false)
    }

    /// Occludes the image `key` the same way whenever and wherever it is called.
    pub fn occlude(&self, face: &mut RgbImage, key: &str) -> Occlusion {
        self.apply(face, &mut self.rng_for(key))
    }
}

/// A stable key for an image from its path relative to the dataset root: components joined by
/// `/` whatever the platform, so keys (and thus Occ-LFW-2.0) agree across systems.
pub fn image_key(relative: &Path) -> String {
    relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// FNV-1a, 64 bits. Implemented here because std's hashers are randomly seeded or unspecified,
/// and a dataset's seeds must never change.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(PRIME))
}

/// What fills a sweep square.
#[derive(Debug, Clone, Copy)]
pub enum SquareFill<'a> {
    /// [`SWEEP_GREY`].
    Grey,
    Colour(Rgb<u8>),
    /// The occluder with its longer side fitted to the square, aspect kept, centred in it.
    Occluder(&'a Occluder),
}

/// Occludes a `side` x `side` square centred at `centre` = `(x, y)` (its top-left corner is
/// `centre - side / 2`); what hangs off the face is clipped. For the evaluation suite's
/// occluder-size sweep: `Occlusion::area_fraction` is the share of the face hidden.
pub fn square_occlusion(face: &mut RgbImage, side: u32, centre: (i64, i64), fill: SquareFill<'_>) -> Occlusion {
    let (face_w, face_h) = face.dimensions();
    let left = centre.0 - i64::from(side / 2);
    let top = centre.1 - i64::from(side / 2);
    let rect = composite::clipped_rect(left, top, side, side, face_w, face_h);
    let (mask, occluder) = match fill {
        SquareFill::Grey => (composite::fill_rect(face, rect, SWEEP_GREY), None),
        SquareFill::Colour(colour) => (composite::fill_rect(face, rect, colour), None),
        SquareFill::Occluder(occluder) => {
            let (w, h) = fit_longer_side(occluder.image.width(), occluder.image.height(), side);
            let scaled = composite::resize(&occluder.image, w, h);
            let (dx, dy) = (i64::from((side - w) / 2), i64::from((side - h) / 2));
            let mask = composite::paste(face, &scaled, left + dx, top + dy);
            (mask, Some((occluder.class.clone(), occluder.name.clone())))
        }
    };
    Occlusion::labelled(mask, occluder, Some(rect), None, false)
}

/// `width` x `height` scaled so the longer side is `side`, rounded, at least 1.
fn fit_longer_side(width: u32, height: u32, side: u32) -> (u32, u32) {
    let longer = u64::from(width.max(height).max(1));
    let scaled =
        |v: u32| ((2 * u64::from(v) * u64::from(side) + longer) / (2 * longer)).clamp(1, u64::from(side.max(1))) as u32;
    (scaled(width), scaled(height))
}
