//! How often MTCNN finds no face in tight face crops, as masked-face sets ship them, before and
//! after the detector's retry inside a margin (`maskscope::face::detect_faces`).
//!
//! Each distinct photo of a pairs file is detected once; its face box (the detection nearest the
//! photo's centre) is cut out as a square around the box's centre, its side the box's longer side,
//! and resized to 160x160. A second copy gets a surgical mouth mask (the bundled occluder) from
//! the nose down. Every crop is then detected plainly ("before") and with the retry ("after").
//!
//! Usage: `cargo run --release --example tight_crops -- <image root> <LFW pairs file> [SCALE [OUT_DIR]]`
//! SCALE (default 1) multiplies the square's side: 0.8 cuts into the face, as the tightest crops
//! of masked-face sets do. OUT_DIR keeps the crops as PNG (`plain/`, `masked/`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use image::RgbImage;
use image::imageops::{self, FilterType};
use maskscope::device::ComputeDevice;
use maskscope::eval::pairs::read_pairs;
use maskscope::face::{FacePick, detect_faces, pick_face, read_rgb};
use maskscope::mtcnn::Mtcnn;
use rayon::prelude::*;

const SIDE: u32 = 160;

/// A 160x160 crop of the face box (its side times `scale`), and the nose tip's height in it.
fn tight_crop(photo: &RgbImage, bbox: [f32; 4], nose_y: f32, scale: f32) -> (RgbImage, f32) {
    let [x1, y1, x2, y2] = bbox;
    let side = (x2 - x1).max(y2 - y1) * scale;
    let (cx, cy) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0);
    let (left, top) = (cx - side / 2.0, cy - side / 2.0);
    // Pixels outside the photo are black, as an aligner's warp leaves them.
    let mut square = RgbImage::new(side.round() as u32, side.round() as u32);
    imageops::replace(&mut square, photo, -(left.round() as i64), -(top.round() as i64));
    let crop = imageops::resize(&square, SIDE, SIDE, FilterType::Triangle);
    (crop, (nose_y - top) / side * SIDE as f32)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (root, pairs, scale, out) = match args.as_slice() {
        [root, pairs] => (root, pairs, 1.0, None),
        [root, pairs, scale] => (root, pairs, scale.parse()?, None),
        [root, pairs, scale, out] => (root, pairs, scale.parse()?, Some(PathBuf::from(out))),
        _ => anyhow::bail!("usage: tight_crops <image root> <LFW pairs file> [SCALE [OUT_DIR]]"),
    };
    let photos: BTreeSet<PathBuf> =
        read_pairs(Path::new(pairs), Path::new(root))?.into_iter().flat_map(|p| [p.a, p.b]).collect();
    let device = ComputeDevice::cpu().device;
    let detector = Mtcnn::load(&maskscope::assets::mtcnn_dir(), &device)?;
    let mask_path = maskscope::assets::occluders_dir().join("mouth_mask/surgical.png");
    let mask = image::open(&mask_path).with_context(|| mask_path.display().to_string())?.to_rgba8();
    if let Some(dir) = &out {
        for sub in ["plain", "masked"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
    }
    // Per photo: None when the original has no face; else (plain before, plain after, masked
    // before, masked after), true meaning "no face found".
    let results: Vec<anyhow::Result<Option<[bool; 4]>>> = photos
        .par_iter()
        .map(|path| {
            let photo = read_rgb(path)?;
            let found = detector.detect(&photo)?;
            let Some(index) = pick_face(&found, photo.width(), photo.height(), FacePick::Central) else {
                return Ok(None);
            };
            let face = found[index];
            let (plain, nose_y) = tight_crop(&photo, face.bbox, face.landmarks[2][1], scale);
            let mut masked = plain.clone();
            let top = nose_y.clamp(0.0, SIDE as f32 - 1.0) as u32;
            let width = SIDE * 9 / 10;
            let cover = maskscope::occlusion::resize(&mask, width, SIDE - top);
            maskscope::occlusion::paste(&mut masked, &cover, i64::from((SIDE - width) / 2), i64::from(top));
            if let Some(dir) = &out {
                let name = format!("{}.png", path.file_stem().unwrap_or_default().to_string_lossy());
                plain.save(dir.join("plain").join(&name))?;
                masked.save(dir.join("masked").join(&name))?;
            }
            let lost = |image: &RgbImage, retry: bool| -> anyhow::Result<bool> {
                Ok(if retry { detect_faces(&detector, image)? } else { detector.detect(image)? }.is_empty())
            };
            Ok(Some([lost(&plain, false)?, lost(&plain, true)?, lost(&masked, false)?, lost(&masked, true)?]))
        })
        .collect();
    let mut counts = [0usize; 4];
    let (mut cropped, mut skipped) = (0, 0);
    for result in results {
        match result? {
            None => skipped += 1,
            Some(lost) => {
                cropped += 1;
                for (c, l) in counts.iter_mut().zip(lost) {
                    *c += usize::from(l);
                }
            }
        }
    }
    let rate = |n: usize| 100.0 * n as f64 / cropped.max(1) as f64;
    println!(
        "{} photos, {cropped} tight 160x160 crops, {scale} x the face box ({skipped} photos without a face to crop)",
        photos.len()
    );
    println!("no face found       before retry   after retry");
    println!(
        "crop                {:>5} ({:>4.1}%) {:>5} ({:>4.1}%)",
        counts[0],
        rate(counts[0]),
        counts[1],
        rate(counts[1])
    );
    println!(
        "crop + mouth mask   {:>5} ({:>4.1}%) {:>5} ({:>4.1}%)",
        counts[2],
        rate(counts[2]),
        counts[3],
        rate(counts[3])
    );
    Ok(())
}
