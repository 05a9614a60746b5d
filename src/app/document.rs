//! The occlusion painted on one aligned face: a list of edit operations replayed over the clean
//! crop, with undo and redo.
//!
//! Edits are kept as operations rather than as a painted bitmap so that a session can be saved
//! and reopened, and so that moving a landmark (which changes the crop) keeps the occluders where
//! the user put them on the face.

use std::str::FromStr;

use image::{Rgb, RgbImage};
use serde::{Deserialize, Serialize};

use super::stamp::StampCache;
use crate::occlusion::{OccluderLibrary, Region, composite};
use crate::patterns::{BinaryMask, Rect};

/// Undo steps kept per face; older ones are dropped.
const UNDO_LIMIT: usize = 200;

/// An occluder of the library, by name, so that sessions survive a library that grew.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OccluderRef {
    pub class: String,
    pub name: String,
}

/// A library occluder scaled (longer side `size` crop pixels), rotated (degrees, counter-clockwise
/// on screen) and centred at `centre`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stamp {
    pub occluder: OccluderRef,
    pub centre: [f32; 2],
    pub size: f32,
    pub rotation: f32,
}

/// One edit, in pixels of the aligned crop (x right, y down; pixel (x, y) covers [x, x+1)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// A round brush dragged through `points`.
    Brush {
        points: Vec<[f32; 2]>,
        radius: f32,
        colour: [u8; 3],
    },
    /// Restores the clean face under the brush.
    Erase {
        points: Vec<[f32; 2]>,
        radius: f32,
    },
    /// An opaque rectangle between two corners (in any order).
    Rect {
        a: [f32; 2],
        b: [f32; 2],
        colour: [u8; 3],
    },
    Stamp(Stamp),
    /// A Figure-1 region, filled with a flat colour or with an occluder stretched over it.
    Region {
        region: String,
        occluder: Option<OccluderRef>,
        colour: [u8; 3],
    },
    /// An occluder pasted unrotated at a box (the Occ-LFW-2.0 protocol's placement).
    Placed {
        occluder: OccluderRef,
        left: i64,
        top: i64,
        width: u32,
        height: u32,
    },
}

impl Op {
    /// Moves the operation `dx` pixels right (used when the crop gains or loses its margin).
    fn shift_x(&mut self, dx: f32) {
        let shift = |p: &mut [f32; 2]| p[0] += dx;
        match self {
            Op::Brush { points, .. } | Op::Erase { points, .. } => points.iter_mut().for_each(shift),
            Op::Rect { a, b, .. } => {
                shift(a);
                shift(b);
            }
            Op::Stamp(stamp) => shift(&mut stamp.centre),
            Op::Placed { left, .. } => *left += dx.round() as i64,
            // Regions are defined relative to the template and follow it by themselves.
            Op::Region { .. } => {}
        }
    }
}

/// The occluded face and where it is occluded.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub image: RgbImage,
    pub mask: BinaryMask,
    /// Operations that could not be drawn (an occluder missing from the library, a region on a
    /// crop it does not fit), for a notice.
    pub skipped: usize,
}

/// Replays `ops` over `clean`.
pub fn render<'a>(
    ops: impl IntoIterator<Item = &'a Op>,
    clean: &RgbImage,
    library: Option<&OccluderLibrary>,
    cache: &mut StampCache,
) -> Rendered {
    let mut image = clean.clone();
    let mut mask = BinaryMask::new(clean.height() as usize, clean.width() as usize);
    let mut skipped = 0;
    for op in ops {
        if !apply(op, clean, &mut image, &mut mask, library, cache) {
            skipped += 1;
        }
    }
    Rendered { image, mask, skipped }
}

fn apply(
    op: &Op,
    clean: &RgbImage,
    image: &mut RgbImage,
    mask: &mut BinaryMask,
    library: Option<&OccluderLibrary>,
    cache: &mut StampCache,
) -> bool {
    let find = |r: &OccluderRef| library.and_then(|l| l.find(&r.class, &r.name));
    match op {
        Op::Brush { points, radius, colour } => {
            for_each_in_stroke(points, *radius, image.width(), image.height(), |x, y| {
                image.put_pixel(x, y, Rgb(*colour));
                mask.data[(y * clean.width() + x) as usize] = true;
            });
        }
        Op::Erase { points, radius } => {
            for_each_in_stroke(points, *radius, image.width(), image.height(), |x, y| {
                image.put_pixel(x, y, *clean.get_pixel(x, y));
                mask.data[(y * clean.width() + x) as usize] = false;
            });
        }
        Op::Rect { a, b, colour } => {
            let rect = pixel_rect(*a, *b, image.width(), image.height());
            merge(mask, &composite::fill_rect(image, rect, Rgb(*colour)));
        }
        Op::Stamp(stamp) => {
            let Some(occluder) = find(&stamp.occluder) else { return false };
            let drawn = cache.get(occluder, stamp.size, stamp.rotation);
            let left = (stamp.centre[0] - drawn.width() as f32 / 2.0).round() as i64;
            let top = (stamp.centre[1] - drawn.height() as f32 / 2.0).round() as i64;
            merge(mask, &composite::paste(image, drawn, left, top));
        }
        Op::Region { region, occluder, colour } => {
            let Ok(region) = Region::from_str(region) else { return false };
            let width = image.width();
            if crate::occlusion::check_face(image).is_err() {
                return false;
            }
            let rect = region.rect(width);
            let pasted = match occluder {
                Some(r) => match find(r) {
                    Some(o) => composite::paste_box(image, &o.image, rect),
                    None => return false,
                },
                None => composite::fill_rect(image, rect, Rgb(*colour)),
            };
            merge(mask, &pasted);
        }
        Op::Placed { occluder, left, top, width, height } => {
            let Some(o) = find(occluder) else { return false };
            let scaled = cache.resized(o, *width, *height);
            merge(mask, &composite::paste(image, scaled, *left, *top));
        }
    }
    true
}

fn merge(mask: &mut BinaryMask, other: &BinaryMask) {
    mask.data.iter_mut().zip(&other.data).for_each(|(m, o)| *m |= *o);
}

/// The pixels whose centres lie between two corners, clipped to the image.
pub fn pixel_rect(a: [f32; 2], b: [f32; 2], width: u32, height: u32) -> Rect {
    let clamp = |v: f32, max: u32| v.round().clamp(0.0, max as f32) as usize;
    let (x0, x1) = (a[0].min(b[0]), a[0].max(b[0]));
    let (y0, y1) = (a[1].min(b[1]), a[1].max(b[1]));
    Rect::new(clamp(y0, height), clamp(y1, height), clamp(x0, width), clamp(x1, width))
}

/// Calls `f` once for every pixel whose centre is within `radius` of the polyline `points`.
fn for_each_in_stroke(points: &[[f32; 2]], radius: f32, width: u32, height: u32, mut f: impl FnMut(u32, u32)) {
    let Some(first) = points.first() else { return };
    let radius = radius.max(0.5);
    let (mut x0, mut y0, mut x1, mut y1) = (first[0], first[1], first[0], first[1]);
    for p in points {
        (x0, y0, x1, y1) = (x0.min(p[0]), y0.min(p[1]), x1.max(p[0]), y1.max(p[1]));
    }
    let clamp = |v: f32, max: u32| v.floor().clamp(0.0, max as f32) as u32;
    let (bx0, by0) = (clamp(x0 - radius, width), clamp(y0 - radius, height));
    let (bx1, by1) = (clamp(x1 + radius + 1.0, width), clamp(y1 + radius + 1.0, height));
    let segments: Vec<([f32; 2], [f32; 2])> =
        if points.len() == 1 { vec![(*first, *first)] } else { points.windows(2).map(|w| (w[0], w[1])).collect() };
    let r2 = radius * radius;
    for y in by0..by1 {
        for x in bx0..bx1 {
            let c = [x as f32 + 0.5, y as f32 + 0.5];
            if segments.iter().any(|(a, b)| distance2_to_segment(c, *a, *b) <= r2) {
                f(x, y);
            }
        }
    }
}

fn distance2_to_segment(p: [f32; 2], a: [f32; 2], b: [f32; 2]) -> f32 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 { 0.0 } else { (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0) };
    let (qx, qy) = (a[0] + t * dx - p[0], a[1] + t * dy - p[1]);
    qx * qx + qy * qy
}

/// The operations of one face with their history.
#[derive(Debug, Clone, Default)]
pub struct Document {
    ops: Vec<Op>,
    undo: Vec<Vec<Op>>,
    redo: Vec<Vec<Op>>,
    /// An edit in progress (a stroke being drawn, a rectangle being dragged): drawn and inferred
    /// live, it becomes one undo step when it ends.
    preview: Option<Op>,
    /// Bumped on every visible change; inference results are matched against it.
    revision: u64,
}

impl Document {
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// The committed operations followed by the one in progress.
    pub fn visible_ops(&self) -> impl Iterator<Item = &Op> {
        self.ops.iter().chain(self.preview.as_ref())
    }

    pub fn preview(&self) -> Option<&Op> {
        self.preview.as_ref()
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.preview.is_none()
    }

    fn touch(&mut self) {
        self.revision += 1;
    }

    /// Saves the current operations as an undo step (before a change).
    pub fn checkpoint(&mut self) {
        self.undo.push(self.ops.clone());
        if self.undo.len() > UNDO_LIMIT {
            self.undo.remove(0);
        }
        self.redo.clear();
    }

    pub fn push(&mut self, op: Op) {
        self.checkpoint();
        self.ops.push(op);
        self.touch();
    }

    /// Adds a region preset in place of any earlier one (one undo step): clicking through the
    /// regions compares them rather than piling them up.
    pub fn push_replacing_regions(&mut self, op: Op) {
        self.checkpoint();
        self.ops.retain(|o| !matches!(o, Op::Region { .. }));
        self.ops.push(op);
        self.touch();
    }

    pub fn set_preview(&mut self, op: Option<Op>) {
        if self.preview != op {
            self.preview = op;
            self.touch();
        }
    }

    /// Ends the edit in progress as one undo step.
    pub fn commit_preview(&mut self) {
        if let Some(op) = self.preview.take() {
            self.push(op);
        }
    }

    /// An operation to change in place; call [`Self::checkpoint`] first to make the change
    /// undoable (once per drag, not once per frame).
    pub fn op_mut(&mut self, index: usize) -> Option<&mut Op> {
        self.touch();
        self.ops.get_mut(index)
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    pub fn undo(&mut self) -> bool {
        self.preview = None;
        let Some(previous) = self.undo.pop() else { return false };
        self.redo.push(std::mem::replace(&mut self.ops, previous));
        self.touch();
        true
    }

    pub fn redo(&mut self) -> bool {
        self.preview = None;
        let Some(next) = self.redo.pop() else { return false };
        self.undo.push(std::mem::replace(&mut self.ops, next));
        self.touch();
        true
    }

    /// Removes every operation (undoable).
    pub fn clear(&mut self) {
        if self.ops.is_empty() && self.preview.is_none() {
            return;
        }
        self.preview = None;
        self.checkpoint();
        self.ops.clear();
        self.touch();
    }

    /// Replaces everything, history included (a session being opened).
    pub fn replace(&mut self, ops: Vec<Op>) {
        *self = Self { ops, revision: self.revision + 1, ..Self::default() };
    }

    /// Moves every operation, history included, `dx` pixels right.
    pub fn shift_x(&mut self, dx: f32) {
        if dx == 0.0 {
            return;
        }
        let all = std::iter::once(&mut self.ops).chain(self.undo.iter_mut()).chain(self.redo.iter_mut());
        for ops in all {
            ops.iter_mut().for_each(|op| op.shift_x(dx));
        }
        if let Some(op) = &mut self.preview {
            op.shift_x(dx);
        }
        self.touch();
    }

    /// The index of the topmost stamp whose disc contains `p` (to move or resize it).
    pub fn stamp_at(&self, p: [f32; 2]) -> Option<usize> {
        self.ops.iter().enumerate().rev().find_map(|(i, op)| match op {
            Op::Stamp(s) if (s.centre[0] - p[0]).hypot(s.centre[1] - p[1]) <= s.size / 2.0 => Some(i),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(w: u32, h: u32) -> RgbImage {
        RgbImage::from_pixel(w, h, Rgb([100, 100, 100]))
    }

    #[test]
    fn brush_paints_a_disc_and_eraser_restores_it() {
        let clean = grey(20, 20);
        let mut cache = StampCache::default();
        let brush = Op::Brush { points: vec![[10.0, 10.0]], radius: 3.0, colour: [255, 0, 0] };
        let out = render([&brush], &clean, None, &mut cache);
        assert_eq!(out.image.get_pixel(10, 10).0, [255, 0, 0]);
        assert_eq!(out.image.get_pixel(0, 0).0, [100, 100, 100]);
        // A disc of radius 3 covers about pi * 9 pixels.
        assert!((24..=32).contains(&out.mask.count()), "{}", out.mask.count());
        let erase = Op::Erase { points: vec![[10.0, 10.0]], radius: 10.0 };
        let out = render([&brush, &erase], &clean, None, &mut cache);
        assert_eq!(out.mask.count(), 0);
        assert_eq!(out.image, clean);
    }

    #[test]
    fn strokes_cover_the_segments_between_points() {
        let clean = grey(30, 10);
        let op = Op::Brush { points: vec![[2.0, 5.0], [28.0, 5.0]], radius: 1.0, colour: [0, 0, 0] };
        let out = render([&op], &clean, None, &mut StampCache::default());
        assert!((2..28).all(|x| out.mask.get(5, x)));
        assert!(!out.mask.get(0, 15));
    }

    #[test]
    fn rectangle_corners_in_any_order_and_clipped() {
        let clean = grey(10, 10);
        let op = Op::Rect { a: [12.0, 8.0], b: [6.0, -3.0], colour: [1, 2, 3] };
        let out = render([&op], &clean, None, &mut StampCache::default());
        assert_eq!(out.mask.count(), 4 * 8);
        assert_eq!(out.image.get_pixel(9, 0).0, [1, 2, 3]);
    }

    #[test]
    fn undo_redo_and_clear_walk_the_history() {
        let mut doc = Document::default();
        let a = Op::Rect { a: [0.0, 0.0], b: [1.0, 1.0], colour: [0; 3] };
        let b = Op::Rect { a: [2.0, 2.0], b: [3.0, 3.0], colour: [0; 3] };
        doc.push(a.clone());
        doc.push(b.clone());
        doc.clear();
        assert!(doc.ops().is_empty());
        assert!(doc.undo());
        assert_eq!(doc.ops(), [a.clone(), b.clone()]);
        assert!(doc.undo());
        assert_eq!(doc.ops(), std::slice::from_ref(&a));
        assert!(doc.redo());
        assert_eq!(doc.ops(), [a.clone(), b]);
        doc.undo();
        doc.push(a.clone());
        assert!(!doc.can_redo(), "a new edit drops the redo branch");
    }

    #[test]
    fn a_region_preset_replaces_the_previous_one_and_keeps_other_edits() {
        let mut doc = Document::default();
        let stroke = Op::Brush { points: vec![[1.0, 1.0]], radius: 2.0, colour: [0; 3] };
        let region = |name: &str| Op::Region { region: name.into(), occluder: None, colour: [0; 3] };
        doc.push(stroke.clone());
        doc.push_replacing_regions(region("nose"));
        doc.push_replacing_regions(region("mouth"));
        assert_eq!(doc.ops(), [stroke.clone(), region("mouth")]);
        assert!(doc.undo());
        assert_eq!(doc.ops(), [stroke, region("nose")], "one undo step brings the previous preset back");
    }

    #[test]
    fn preview_is_one_undo_step_when_committed() {
        let mut doc = Document::default();
        let r0 = doc.revision();
        doc.set_preview(Some(Op::Erase { points: vec![[1.0, 1.0]], radius: 2.0 }));
        assert!(doc.revision() > r0);
        assert!(doc.ops().is_empty());
        doc.commit_preview();
        assert_eq!(doc.ops().len(), 1);
        assert!(doc.undo());
        assert!(doc.ops().is_empty() && !doc.can_undo());
    }

    #[test]
    fn shifting_moves_points_and_stamps_but_not_regions() {
        let mut doc = Document::default();
        let stamp = Stamp {
            occluder: OccluderRef { class: "cup".into(), name: "cup".into() },
            centre: [20.0, 30.0],
            size: 10.0,
            rotation: 0.0,
        };
        doc.push(Op::Stamp(stamp));
        doc.push(Op::Region { region: "nose".into(), occluder: None, colour: [0; 3] });
        doc.shift_x(-8.0);
        assert!(matches!(&doc.ops()[0], Op::Stamp(s) if s.centre == [12.0, 30.0]));
        assert_eq!(doc.stamp_at([14.0, 30.0]), Some(0));
        assert_eq!(doc.stamp_at([30.0, 30.0]), None);
    }

    #[test]
    fn missing_occluders_are_skipped_not_fatal() {
        let op = Op::Placed {
            occluder: OccluderRef { class: "nope".into(), name: "x".into() },
            left: 0,
            top: 0,
            width: 5,
            height: 5,
        };
        let out = render([&op], &grey(8, 8), None, &mut StampCache::default());
        assert_eq!(out.skipped, 1);
        assert_eq!(out.mask.count(), 0);
    }

    #[test]
    fn ops_round_trip_through_json() {
        let op = Op::Region { region: "mouth".into(), occluder: None, colour: [128, 128, 128] };
        let json = serde_json::to_string(&op).unwrap();
        assert!(json.contains("\"op\":\"region\""), "{json}");
        assert_eq!(serde_json::from_str::<Op>(&json).unwrap(), op);
    }
}
