//! Synthetic occlusion: compositing arithmetic, the Figure-1 regions and their pattern labels, the
//! random training protocol's statistics and styles (alpha, the authors' opaque paste, grey boxes),
//! Occ-LFW-2.0 reproducibility and the occluder library.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use image::{Rgb, RgbImage, Rgba, RgbaImage};
use maskscope::occlusion::{
    OCC_LFW20_SEED, OccLfw20, Occluder, OccluderLibrary, Occlusion, OcclusionError, OcclusionStyle, PasteBackground,
    RandomOcclusion, Region, SWEEP_GREY, SquareFill, fnv1a64, grey_region, image_key, occlude_region, occluder_size,
    paste, paste_box, paste_opaque, pasted_region, resize, square_occlusion,
};
use maskscope::patterns::{BinaryMask, PatternSet, Rect};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn bundled() -> &'static OccluderLibrary {
    static LIBRARY: OnceLock<OccluderLibrary> = OnceLock::new();
    LIBRARY.get_or_init(|| OccluderLibrary::bundled().expect("bundled occluders load"))
}

/// A face-sized image where every pixel differs from its neighbours, so misplaced writes show.
fn face(width: u32) -> RgbImage {
    RgbImage::from_fn(width, 112, |x, y| Rgb([(x * 2) as u8, (y * 2) as u8, ((x * 7 + y * 3) % 256) as u8]))
}

/// `round(a * top + (1 - a) * bottom)` in floating point, the definition the integer code must meet.
fn blend_f64(top: u8, bottom: u8, alpha: u8) -> u8 {
    let a = f64::from(alpha) / 255.0;
    (a * f64::from(top) + (1.0 - a) * f64::from(bottom)).round() as u8
}

// ---------------------------------------------------------------- compositing

#[test]
fn alpha_compositing_matches_a_hand_computed_case() {
    let background = Rgb([100, 50, 200]);
    let mut target = RgbImage::from_pixel(4, 3, background);
    // 3 x 2 occluder: alpha 0, 128, 255 on the top row; 255, 127, 1 below.
    let occluder = RgbaImage::from_vec(
        3,
        2,
        vec![
            255, 0, 0, 0, /**/ 255, 0, 0, 128, /**/ 0, 255, 0, 255, //
            10, 20, 30, 255, /**/ 200, 200, 200, 127, /**/ 0, 0, 255, 1,
        ],
    )
    .unwrap();
    let mask = paste(&mut target, &occluder, 1, 1);

    // By hand: alpha 128 red over (100, 50, 200):
    //   r = (128 * 255 + 127 * 100) / 255 = 45340 / 255 = 177.80 -> 178
    //   g = (127 * 50) / 255 = 24.90 -> 25;  b = (127 * 200) / 255 = 99.61 -> 100
    // alpha 127 grey 200 over it: r = (127 * 200 + 128 * 100) / 255 = 149.80 -> 150,
    //   g = (25400 + 6400) / 255 = 124.71 -> 125, b = (25400 + 25600) / 255 = 200
    // alpha 1 blue: r = 254 * 100 / 255 = 99.61 -> 100, g = 254 * 50 / 255 = 49.80 -> 50,
    //   b = (255 + 254 * 200) / 255 = 200.22 -> 200
    let expected: [[[u8; 3]; 4]; 3] = [
        [[100, 50, 200]; 4],
        [[100, 50, 200], [100, 50, 200], [178, 25, 100], [0, 255, 0]],
        [[100, 50, 200], [10, 20, 30], [150, 125, 200], [100, 50, 200]],
    ];
    for (y, row) in expected.iter().enumerate() {
        for (x, want) in row.iter().enumerate() {
            assert_eq!(target.get_pixel(x as u32, y as u32).0, *want, "pixel ({x}, {y})");
        }
    }
    // The floating-point definition agrees on every pasted pixel.
    for (ox, oy, p) in occluder.enumerate_pixels() {
        let got = target.get_pixel(ox + 1, oy + 1).0;
        let want = [0, 1, 2].map(|c| blend_f64(p[c], background[c], p[3]));
        assert_eq!(got, want, "occluder pixel ({ox}, {oy})");
    }
    // Occluded where alpha > 0.5: alpha 128 and 255 yes, 127 and 1 no.
    let mut want_mask = BinaryMask::new(3, 4);
    for (y, x) in [(1, 2), (1, 3), (2, 1)] {
        want_mask.data[y * 4 + x] = true;
    }
    assert_eq!(mask, want_mask);
}

#[test]
fn pasting_clips_what_hangs_off_the_face() {
    let background = Rgb([100, 50, 200]);
    let occluder = RgbaImage::from_fn(3, 2, |x, y| Rgba([40 * x as u8, 90 * y as u8, 7, 255]));

    // Top-left corner at (-1, -1): only occluder pixels (1..3, 1) land, on face (0..2, 0).
    let mut target = RgbImage::from_pixel(4, 3, background);
    let mask = paste(&mut target, &occluder, -1, -1);
    for (x, y, p) in target.enumerate_pixels() {
        let want = if y == 0 && x < 2 { [40 * (x as u8 + 1), 90, 7] } else { background.0 };
        assert_eq!(p.0, want, "({x}, {y})");
    }
    assert_eq!(mask.count(), 2);
    assert!(mask.get(0, 0) && mask.get(0, 1));

    // Hanging off the bottom-right corner: only occluder pixel (0, 0) lands, on face (3, 2).
    let mut target = RgbImage::from_pixel(4, 3, background);
    let mask = paste(&mut target, &occluder, 3, 2);
    assert_eq!(target.get_pixel(3, 2).0, [0, 0, 7]);
    assert_eq!(mask.count(), 1);
    assert!(mask.get(2, 3));

    // Entirely outside: nothing changes.
    let mut target = RgbImage::from_pixel(4, 3, background);
    for (left, top) in [(4, 0), (0, 3), (-3, 0), (0, -2), (i64::MAX - 1, i64::MIN + 1)] {
        assert_eq!(paste(&mut target, &occluder, left, top).count(), 0);
    }
    assert!(target.pixels().all(|p| *p == background));
}

#[test]
fn resizing_does_not_darken_the_edges_of_a_drawing() {
    // Opaque red on the left, transparent black on the right: straight-alpha resampling would
    // mix in black where the halves meet.
    let occluder = RgbaImage::from_fn(8, 8, |x, _| if x < 4 { Rgba([255, 0, 0, 255]) } else { Rgba([0, 0, 0, 0]) });
    for (w, h) in [(3, 3), (5, 2), (13, 11)] {
        let small = resize(&occluder, w, h);
        assert_eq!(small.dimensions(), (w, h));
        assert!(small.pixels().any(|p| p[3] > 0 && p[3] < 255), "{w}x{h}: expect a soft edge");
        for p in small.pixels().filter(|p| p[3] > 0) {
            assert!(p[0] >= 254 && p[1] == 0 && p[2] == 0, "{w}x{h}: {p:?}");
        }
    }
}

#[test]
fn paste_box_stretches_the_occluder_over_the_rectangle() {
    let occluder = RgbaImage::from_pixel(2, 3, Rgba([9, 8, 7, 255]));
    let original = face(96);
    let mut target = original.clone();
    let rect = Rect::new(30, 70, 10, 50);
    let mask = paste_box(&mut target, &occluder, rect);
    for (x, y, p) in target.enumerate_pixels() {
        let inside = (rect.y0..rect.y1).contains(&(y as usize)) && (rect.x0..rect.x1).contains(&(x as usize));
        assert_eq!(mask.get(y as usize, x as usize), inside);
        assert_eq!(p.0, if inside { [9, 8, 7] } else { original.get_pixel(x, y).0 }, "({x}, {y})");
    }
}

// ---------------------------------------------------------------- regions and labels

/// The Figure-1 boxes, (x0, y0, x1, y1) on the 96x112 face, in the paper's order.
const PAPER_BOXES: [(&str, [usize; 4]); 9] = [
    ("left_eye", [10, 30, 50, 70]),
    ("right_eye", [50, 30, 90, 70]),
    ("two_eyes", [10, 30, 90, 70]),
    ("nose", [34, 48, 62, 86]),
    ("mouth", [25, 82, 75, 107]),
    ("lower_face", [8, 60, 92, 110]),
    ("upper_face", [8, 8, 92, 72]),
    ("left_face", [8, 8, 50, 100]),
    ("right_face", [50, 8, 92, 100]),
];

#[test]
fn regions_are_the_papers_boxes() {
    assert_eq!(Region::ALL.len(), PAPER_BOXES.len());
    for (region, (name, [x0, y0, x1, y1])) in Region::ALL.into_iter().zip(PAPER_BOXES) {
        assert_eq!(region.name(), name);
        assert_eq!(region.rect(96), Rect::new(y0, y1, x0, x1), "{name}");
        assert_eq!(region.rect(112), Rect::new(y0, y1, x0 + 8, x1 + 8), "{name} on 112x112");
        let ratio = ((x1 - x0) * (y1 - y0)) as f64 / (96.0 * 112.0);
        assert!((region.area_ratio() - ratio).abs() < 1e-12, "{name}");
        println!("{name:>10}: {:.3} of the face", region.area_ratio());
    }
    assert!((Region::Mouth.area_ratio() - 0.116).abs() < 5e-4);
}

#[test]
fn region_names_parse_and_errors_list_them() {
    for region in Region::ALL {
        assert_eq!(region.name().parse::<Region>().unwrap(), region);
        assert_eq!(region.to_string(), region.name());
    }
    assert_eq!("Left-Eye".parse::<Region>().unwrap(), Region::LeftEye);
    let err = "chin".parse::<Region>().unwrap_err().to_string();
    assert!(err.contains("chin"), "{err}");
    for (name, _) in PAPER_BOXES {
        assert!(err.contains(name), "{err} lacks {name}");
    }
}

/// Highest-IoU pattern by brute force, IoU from the rectangles' coordinates.
fn brute_force_label(set: &PatternSet, occlusion: Rect, height: usize, width: usize) -> usize {
    let area = |y0: usize, y1: usize, x0: usize, x1: usize| y1.saturating_sub(y0) * x1.saturating_sub(x0);
    let mut best = (0, -1.0);
    for index in 1..set.len() {
        let p = set.rect_at(index, height, width).unwrap().unwrap();
        let o = occlusion;
        let inter = area(p.y0.max(o.y0), p.y1.min(o.y1), p.x0.max(o.x0), p.x1.min(o.x1));
        let union = area(p.y0, p.y1, p.x0, p.x1) + area(o.y0, o.y1, o.x0, o.x1) - inter;
        let iou = inter as f64 / union as f64;
        if iou > best.1 {
            best = (index, iou);
        }
    }
    best.0
}

#[test]
fn region_labels_are_the_highest_iou_patterns() {
    let image = RgbaImage::from_pixel(5, 4, Rgba([1, 2, 3, 255]));
    let opaque = Occluder { class: "test".into(), name: "opaque".into(), image };
    for width in [96u32, 112] {
        let set = PatternSet::new(112, width as usize, 5).unwrap();
        for region in Region::ALL {
            let rect = region.rect(width);
            let want = brute_force_label(&set, rect, 112, width as usize);
            assert!((1..=225).contains(&want));

            let mut target = face(width);
            let grey = grey_region(&mut target, region, Rgb([128, 128, 128])).unwrap();
            let mut rect_mask = BinaryMask::new(112, width as usize);
            rect_mask.fill(rect);
            assert_eq!(grey.mask, rect_mask, "{region} mask on width {width}");
            assert_eq!(grey.label, want, "{region} grey label on width {width}");
            assert_eq!(grey.rect, Some(rect));

            let mut target = face(width);
            let pasted = occlude_region(&mut target, &opaque, region).unwrap();
            assert_eq!(pasted.mask, rect_mask, "{region} occluder mask on width {width}");
            assert_eq!(pasted.label, want, "{region} occluder label on width {width}");
            assert_eq!(pasted.occluder, Some(("test".into(), "opaque".into())));
            let pattern = set.rect_at(want, 112, width as usize).unwrap();
            println!("width {width} {region:>10}: pattern {want} {pattern:?}");
        }
    }
}

#[test]
fn clean_faces_are_label_zero_and_occluded_ones_are_not() {
    let clean = Occlusion::clean(96, 112, false);
    assert_eq!((clean.label, clean.mask.count(), clean.area_fraction()), (0, 0, 0.0));
    assert!(clean.is_clean());

    let protocol = RandomOcclusion::new(bundled());
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (mut clean_seen, mut occluded_seen) = (0, 0);
    for _ in 0..120 {
        let occlusion = protocol.apply(&mut face(96), &mut rng);
        if occlusion.occluder.is_none() {
            assert_eq!(occlusion.label, 0);
            clean_seen += 1;
        } else if occlusion.mask.count() > 0 {
            assert!((1..=225).contains(&occlusion.label), "label {}", occlusion.label);
            occluded_seen += 1;
        }
    }
    assert!(clean_seen > 0 && occluded_seen > 0);
}

#[test]
fn regions_need_an_aligned_face_and_protocols_take_any() {
    let mut odd = RgbImage::new(100, 100);
    let err = grey_region(&mut odd, Region::Nose, Rgb([0, 0, 0])).unwrap_err();
    assert!(matches!(err, OcclusionError::FaceSize { width: 100, height: 100 }));
    assert!(err.to_string().contains("96x112"), "{err}");

    // Random occlusion is defined in pixels, so it works on any face; the label is on the face's grid.
    let protocol = RandomOcclusion::new(bundled());
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let set = PatternSet::new(100, 100, 5).unwrap();
    for _ in 0..20 {
        let occlusion = protocol.apply(&mut odd, &mut rng);
        assert_eq!((occlusion.mask.height, occlusion.mask.width), (100, 100));
        assert_eq!(occlusion.label, set.label_for_mask(&occlusion.mask).unwrap());
    }
}

// ---------------------------------------------------------------- random training protocol

#[test]
fn occluder_sizes_follow_the_rule() {
    // Longer side round(19 * factor), aspect kept, capped at 95 x 111.
    assert_eq!(occluder_size(512, 256, 1.0), (19, 10)); // 9.5 -> 10
    assert_eq!(occluder_size(512, 256, 2.5), (48, 24)); // 47.5 -> 48
    assert_eq!(occluder_size(512, 256, 5.0), (95, 48));
    assert_eq!(occluder_size(256, 512, 5.0), (48, 95));
    assert_eq!(occluder_size(100, 100, 5.0), (95, 95));
    assert_eq!(occluder_size(512, 256, 10.0), (95, 48)); // 190 wide, capped to 95
    assert_eq!(occluder_size(100, 1000, 10.0), (11, 111)); // 190 high, capped to 111: 11.1 wide
    assert_eq!(occluder_size(3, 1000, 1.0), (1, 19)); // never thinner than a pixel
}

#[test]
fn random_protocol_statistics() {
    let library = bundled();
    let protocol = RandomOcclusion::new(library);
    let mut rng = ChaCha8Rng::seed_from_u64(2021);
    let draws = 30_000;
    let (mut clean, mut flipped) = (0usize, 0usize);
    let mut factors: HashMap<u32, usize> = HashMap::new();
    let mut per_occluder = vec![0usize; library.len()];
    let mut centre_sum = (0.0, 0.0);
    for _ in 0..draws {
        let draw = protocol.sample(96, 112, &mut rng);
        flipped += usize::from(draw.flip);
        let Some(p) = draw.placement else {
            clean += 1;
            continue;
        };
        *factors.entry((p.factor * 2.0) as u32).or_default() += 1;
        per_occluder[p.occluder] += 1;
        assert!(p.width <= 95 && p.height <= 111, "{}x{}", p.width, p.height);
        let image = &library.occluders()[p.occluder].image;
        let longer = (19.0 * f64::from(p.factor)).round() as u32;
        assert_eq!(p.width.max(p.height), longer, "longer side at factor {}", p.factor);
        let aspect = f64::from(image.width()) / f64::from(image.height());
        let shorter = f64::from(p.width.min(p.height));
        let want_shorter = f64::from(longer) * if aspect >= 1.0 { 1.0 / aspect } else { aspect };
        assert!((shorter - want_shorter).abs() <= 0.5 + 1e-9, "aspect kept");
        assert!((0..96).contains(&p.centre.0) && (0..112).contains(&p.centre.1));
        centre_sum.0 += p.centre.0 as f64;
        centre_sum.1 += p.centre.1 as f64;
    }
    let clean_ratio = clean as f64 / draws as f64;
    assert!((clean_ratio - 1.0 / 3.0).abs() < 0.01, "clean ratio {clean_ratio}");
    let flip_ratio = flipped as f64 / draws as f64;
    assert!((flip_ratio - 0.5).abs() < 0.01, "flip ratio {flip_ratio}");

    let occluded = draws - clean;
    let want_factors: Vec<u32> = (2..=10).collect(); // 1.0, 1.5, ..., 5.0, doubled
    let mut seen: Vec<u32> = factors.keys().copied().collect();
    seen.sort();
    assert_eq!(seen, want_factors);
    for (twice, count) in &factors {
        let freq = *count as f64 / occluded as f64;
        assert!((freq - 1.0 / 9.0).abs() < 0.01, "factor {}: {freq}", *twice as f32 / 2.0);
    }
    // Uniform over the 38 occluders: ~526 each, standard deviation ~22.
    let mean = occluded as f64 / library.len() as f64;
    for (i, count) in per_occluder.iter().enumerate() {
        assert!((*count as f64 - mean).abs() < 0.25 * mean, "occluder {i}: {count} vs {mean}");
    }
    let centre_mean = (centre_sum.0 / occluded as f64, centre_sum.1 / occluded as f64);
    assert!((centre_mean.0 - 47.5).abs() < 1.0 && (centre_mean.1 - 55.5).abs() < 1.0, "{centre_mean:?}");
}

#[test]
fn applying_a_draw_does_what_it_says() {
    let protocol = RandomOcclusion::new(bundled());
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for i in 0..300 {
        let width = if i % 2 == 0 { 96 } else { 112 };
        let original = face(width);
        let mut sampler = rng.clone();
        let draw = protocol.sample(width, 112, &mut sampler);
        let mut target = original.clone();
        let occlusion = protocol.apply(&mut target, &mut rng);
        assert_eq!(rng.next_u64(), sampler.next_u64(), "apply draws exactly what sample draws");

        let reference = if draw.flip { image::imageops::flip_horizontal(&original) } else { original.clone() };
        assert_eq!(occlusion.flipped, draw.flip);
        let Some(p) = draw.placement else {
            assert_eq!(target, reference, "a clean face is only flipped");
            assert_eq!((occlusion.label, occlusion.mask.count()), (0, 0));
            continue;
        };
        let occluder = &protocol.library().occluders()[p.occluder];
        assert_eq!(occlusion.occluder, Some((occluder.class.clone(), occluder.name.clone())));
        assert_eq!(occlusion.factor, Some(p.factor));
        let rect = occlusion.rect.unwrap();
        assert!(rect.area() <= (p.width * p.height) as usize);
        for (x, y, px) in target.enumerate_pixels() {
            let (x, y) = (x as usize, y as usize);
            let inside = (rect.y0..rect.y1).contains(&y) && (rect.x0..rect.x1).contains(&x);
            if !inside {
                assert_eq!(*px, *reference.get_pixel(x as u32, y as u32), "outside the occluder, draw {i}");
                assert!(!occlusion.mask.get(y, x));
            }
        }
        let set = PatternSet::new(112, width as usize, 5).unwrap();
        assert_eq!(occlusion.label, set.label_for_mask(&occlusion.mask).unwrap());
    }
}

// ---------------------------------------------------------------- Occ-LFW-2.0

const KEYS: [&str; 6] = [
    "Aaron_Peirsol/Aaron_Peirsol_0001.jpg",
    "Aaron_Peirsol/Aaron_Peirsol_0002.jpg",
    "Abel_Pacheco/Abel_Pacheco_0001.jpg",
    "Zico/Zico_0003.jpg",
    "George_W_Bush/George_W_Bush_0001.jpg",
    "George_W_Bush/George_W_Bush_0002.jpg",
];

fn occlude_all(protocol: &OccLfw20, order: &[usize]) -> Vec<(RgbImage, Occlusion)> {
    let mut out: Vec<Option<(RgbImage, Occlusion)>> = vec![None; KEYS.len()];
    for &i in order {
        let mut target = face(96);
        let occlusion = protocol.occlude(&mut target, KEYS[i]);
        out[i] = Some((target, occlusion));
    }
    out.into_iter().map(Option::unwrap).collect()
}

#[test]
fn occ_lfw20_is_reproducible_per_image_whatever_the_order() {
    let forward = occlude_all(&OccLfw20::new(bundled()), &[0, 1, 2, 3, 4, 5]);
    let backward = occlude_all(&OccLfw20::new(bundled()), &[5, 3, 1, 4, 2, 0]);
    assert_eq!(forward, backward);

    let shared = OccLfw20::new(bundled());
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..KEYS.len())
            .rev()
            .map(|i| {
                let shared = &shared;
                scope.spawn(move || {
                    let mut target = face(96);
                    let occlusion = shared.occlude(&mut target, KEYS[i]);
                    (i, target, occlusion)
                })
            })
            .collect();
        for handle in handles {
            let (i, target, occlusion) = handle.join().unwrap();
            assert_eq!((&target, &occlusion), (&forward[i].0, &forward[i].1), "thread for key {i}");
        }
    });

    for (i, (target, occlusion)) in forward.iter().enumerate() {
        assert_eq!(occlusion.factor, Some(2.0));
        assert!(!occlusion.flipped && occlusion.occluder.is_some());
        assert_ne!(*target, face(96), "key {i} is occluded");
        for (j, (other, _)) in forward.iter().enumerate().skip(i + 1) {
            assert_ne!(target, other, "keys {i} and {j} differ");
        }
    }

    // The same key through `apply` with its own generator, and under another seed.
    let protocol = OccLfw20::new(bundled());
    let mut target = face(96);
    let occlusion = protocol.apply(&mut target, &mut protocol.rng_for(KEYS[2]));
    assert_eq!((target, occlusion), forward[2].clone());
    let reseeded = occlude_all(&OccLfw20::with_seed(bundled(), 1), &[0, 1, 2, 3, 4, 5]);
    assert_ne!(reseeded, forward);
}

#[test]
fn keys_hash_with_fnv1a() {
    // Published FNV-1a 64 test vectors.
    assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    assert_eq!(image_key(Path::new("Zico/Zico_0003.jpg")), "Zico/Zico_0003.jpg");
    assert_eq!(image_key(&Path::new("Zico").join("Zico_0003.jpg")), "Zico/Zico_0003.jpg");
}

// ---------------------------------------------------------------- size sweep

#[test]
fn square_sweep_covers_the_clipped_square() {
    for width in [96u32, 112] {
        let centre = (i64::from(width) / 2, 56);
        let mut last = 0.0;
        for side in (10..=100).step_by(10) {
            let mut target = face(width);
            let occlusion = square_occlusion(&mut target, side, centre, SquareFill::Grey);
            let half = i64::from(side / 2);
            let covered = |c: i64, len: i64| ((c - half).max(0)..(c - half + i64::from(side)).min(len)).count();
            let area = covered(centre.0, width.into()) * covered(centre.1, 112);
            assert_eq!(occlusion.mask.count(), area, "side {side}");
            let fraction = area as f64 / (f64::from(width) * 112.0);
            assert!((occlusion.area_fraction() - fraction).abs() < 1e-12);
            assert!(occlusion.area_fraction() > last);
            last = occlusion.area_fraction();
            assert!((1..=225).contains(&occlusion.label));
            assert_eq!(*target.get_pixel(centre.0 as u32, 56), Rgb([128, 128, 128]));
        }
    }
    let library = bundled();
    let phone = library.find("phone", "mobile_navy").expect("bundled phone");
    let mut target = face(96);
    let occlusion = square_occlusion(&mut target, 60, (20, 30), SquareFill::Occluder(phone));
    let rect = occlusion.rect.unwrap();
    assert_eq!(rect, Rect::new(0, 60, 0, 50));
    assert!(occlusion.mask.count() > 0 && occlusion.mask.count() <= rect.area());
    for (x, y, p) in target.enumerate_pixels() {
        if !(rect.y0..rect.y1).contains(&(y as usize)) || !(rect.x0..rect.x1).contains(&(x as usize)) {
            assert_eq!(*p, *face(96).get_pixel(x, y));
        }
    }
}

// ---------------------------------------------------------------- library

#[test]
fn bundled_library_has_every_class_in_order() {
    let library = bundled();
    let known = ["book_cover", "cup", "eye_mask", "eyeglasses", "hand", "mouth_mask", "phone", "scarf", "sunglasses"];
    assert_eq!(library.classes(), known);
    // Count the PNGs on disk independently of the loader.
    let dir = maskscope::assets::occluders_dir();
    let mut on_disk = Vec::new();
    for class in known {
        for entry in std::fs::read_dir(dir.join(class)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "png") {
                on_disk.push((class.to_string(), path.file_stem().unwrap().to_string_lossy().into_owned()));
            }
        }
    }
    on_disk.sort();
    assert_eq!(on_disk.len(), 38);
    let loaded: Vec<(String, String)> = library.occluders().iter().map(|o| (o.class.clone(), o.name.clone())).collect();
    assert_eq!(loaded, on_disk, "sorted by class, then file name");
    for o in library.occluders() {
        assert!(o.image.width() > 0 && o.image.height() > 0);
        assert!(o.image.pixels().any(|p| p[3] == 0) && o.image.pixels().any(|p| p[3] == 255), "{}/{}", o.class, o.name);
    }
    assert_eq!(library.of_class("mouth_mask").count(), 7);
}

fn write_png(path: &Path, colour: [u8; 4]) {
    RgbaImage::from_pixel(6, 4, Rgba(colour)).save(path).unwrap();
}

#[test]
fn user_libraries_load_sorted_and_skip_non_images() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), "my occluders").unwrap();
    let visor = dir.path().join("visor");
    let cup = dir.path().join("cup");
    std::fs::create_dir_all(&visor).unwrap();
    std::fs::create_dir_all(&cup).unwrap();
    std::fs::create_dir_all(dir.path().join("empty")).unwrap();
    write_png(&visor.join("b.png"), [1, 1, 1, 255]);
    write_png(&visor.join("a.png"), [2, 2, 2, 255]);
    write_png(&cup.join("c.png"), [3, 3, 3, 128]);
    RgbImage::from_pixel(3, 3, Rgb([4, 4, 4])).save(cup.join("d.jpg")).unwrap();
    std::fs::write(visor.join("LICENSE"), "public domain").unwrap();
    std::fs::write(visor.join("masks.cfg"), "[a]").unwrap();

    let library = OccluderLibrary::load(dir.path()).unwrap();
    let names: Vec<String> = library.occluders().iter().map(|o| format!("{}/{}", o.class, o.name)).collect();
    assert_eq!(names, ["cup/c", "cup/d", "visor/a", "visor/b"]);
    assert_eq!(library.classes(), ["cup", "visor"]);
    assert_eq!(library.find("visor", "a").unwrap().image.get_pixel(0, 0).0, [2, 2, 2, 255]);
    assert_eq!(library.find("cup", "d").unwrap().image.get_pixel(0, 0).0, [4, 4, 4, 255], "RGB becomes opaque RGBA");
}

#[test]
fn a_corrupt_png_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let hand = dir.path().join("hand");
    std::fs::create_dir_all(&hand).unwrap();
    write_png(&hand.join("good.png"), [1, 2, 3, 255]);
    std::fs::write(hand.join("broken.png"), b"\x89PNG\r\n\x1a\nthis is not a png").unwrap();
    let err = OccluderLibrary::load(dir.path()).unwrap_err();
    assert!(matches!(err, OcclusionError::Decode { .. }), "{err:?}");
    assert!(err.to_string().contains("broken.png"), "{err}");
}

#[test]
fn an_empty_or_missing_library_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("hand")).unwrap();
    std::fs::write(dir.path().join("hand/README.md"), "nothing here").unwrap();
    let err = OccluderLibrary::load(dir.path()).unwrap_err();
    assert!(matches!(err, OcclusionError::EmptyLibrary { .. }), "{err:?}");
    let missing = dir.path().join("nope");
    let err = OccluderLibrary::load(&missing).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    assert!(OccluderLibrary::from_occluders(Vec::new()).is_err());
}

// ---------------------------------------------------------------- opaque pastes and styles

/// A 4x3 drawing: an opaque red left column, a half-transparent blue middle, a transparent rest.
fn striped_occluder() -> RgbaImage {
    RgbaImage::from_fn(4, 3, |x, _| match x {
        0 => Rgba([255, 0, 0, 255]),
        1 => Rgba([0, 0, 255, 128]),
        _ => Rgba([0, 0, 0, 0]),
    })
}

#[test]
fn an_opaque_paste_covers_the_whole_rectangle_by_hand() {
    let occluder = striped_occluder();
    let original = face(96);
    let mut target = original.clone();
    let background = Rgb([10, 20, 30]);
    // Hangs one column off the left edge: the red column is clipped away.
    let mask = paste_opaque(&mut target, &occluder, -1, 5, background);
    assert_eq!(mask.count(), 3 * 3, "the clipped 3x3 box, transparent pixels included");
    for y in 0..112u32 {
        for x in 0..96u32 {
            let inside = (5..8).contains(&y) && x < 3;
            assert_eq!(mask.get(y as usize, x as usize), inside, "({x}, {y})");
            let want = match (inside, x) {
                (false, _) => *original.get_pixel(x, y),
                // Source column 1: blue at alpha 128 over the background, rounded.
                (true, 0) => Rgb([blend_f64(0, 10, 128), blend_f64(0, 20, 128), blend_f64(255, 30, 128)]),
                (true, _) => background,
            };
            assert_eq!(*target.get_pixel(x, y), want, "({x}, {y})");
        }
    }
    // A paste that misses the face changes nothing.
    let mut untouched = original.clone();
    assert_eq!(paste_opaque(&mut untouched, &occluder, 200, 5, background).count(), 0);
    assert_eq!(untouched, original);
}

#[test]
fn a_pasted_region_fills_the_box_and_keeps_the_object() {
    let library = bundled();
    let drawing = library.find("sunglasses", "black_frame_front").unwrap();
    for width in [96, 112] {
        let original = face(width);
        let mut alpha = original.clone();
        let alpha_occlusion = occlude_region(&mut alpha, drawing, Region::TwoEyes).unwrap();
        let mut pasted = original.clone();
        let grey = PasteBackground::Grey.colour();
        let occlusion = pasted_region(&mut pasted, drawing, None, Region::TwoEyes, grey).unwrap();
        let rect = Region::TwoEyes.rect(width);
        let stretched = resize(&drawing.image, (rect.x1 - rect.x0) as u32, (rect.y1 - rect.y0) as u32);
        let mut transparent = 0;
        assert_eq!(occlusion.mask.count(), rect.area(), "the whole box is occluded");
        assert!(alpha_occlusion.mask.count() < rect.area(), "the alpha paste leaves parts of the box visible");
        assert_eq!(occlusion.occluder, alpha_occlusion.occluder);
        let set = PatternSet::new(112, width as usize, 5).unwrap();
        assert_eq!(occlusion.label, set.label_for_mask(&occlusion.mask).unwrap());
        for (x, y, px) in pasted.enumerate_pixels() {
            let (xs, ys) = (x as usize, y as usize);
            let inside = (rect.y0..rect.y1).contains(&ys) && (rect.x0..rect.x1).contains(&xs);
            if !inside {
                assert_eq!(px, original.get_pixel(x, y));
            } else if stretched.get_pixel((xs - rect.x0) as u32, (ys - rect.y0) as u32)[3] == 0 {
                assert_eq!(*px, grey, "a fully transparent pixel shows the background, not the face");
                transparent += 1;
            }
        }
        assert!(transparent > 100, "the sunglasses leave {transparent} transparent pixels in the box");
    }
}

#[test]
fn training_styles_share_the_draws_and_differ_only_in_how_they_paste() {
    let library = bundled();
    let alpha = RandomOcclusion::new(library);
    let styles = vec![
        OcclusionStyle::Alpha,
        OcclusionStyle::Pasted(PasteBackground::Grey),
        OcclusionStyle::Pasted(PasteBackground::Black),
        OcclusionStyle::GreyBox,
    ];
    let mixed = RandomOcclusion::with_styles(library, styles.clone());
    let mut seen = HashMap::new();
    let (mut rng_a, mut rng_m) = (ChaCha8Rng::seed_from_u64(11), ChaCha8Rng::seed_from_u64(11));
    for i in 0..2_000 {
        let a = alpha.sample(96, 112, &mut rng_a);
        let m = mixed.sample(96, 112, &mut rng_m);
        assert_eq!((a.flip, a.placement), (m.flip, m.placement), "draw {i}: the style is drawn last");
        assert_eq!(a.style, OcclusionStyle::Alpha);
        if m.placement.is_none() {
            // A clean face draws no style, so the two generators stay in step.
            continue;
        }
        // The mixed protocol drew one more number (the style): put the generators back in step.
        *seen.entry(m.style).or_insert(0usize) += 1;
        rng_a = rng_m.clone();

        let mut face_m = face(96);
        let occlusion = mixed.render(&mut face_m, &m);
        let rect = occlusion.rect.unwrap();
        match m.style {
            OcclusionStyle::Alpha => assert!(occlusion.mask.count() <= rect.area()),
            OcclusionStyle::Pasted(_) => assert_eq!(occlusion.mask.count(), rect.area()),
            OcclusionStyle::GreyBox => {
                assert_eq!(occlusion.mask.count(), rect.area());
                assert_eq!(occlusion.occluder, None);
                for y in rect.y0..rect.y1 {
                    for x in rect.x0..rect.x1 {
                        assert_eq!(*face_m.get_pixel(x as u32, y as u32), SWEEP_GREY);
                    }
                }
            }
        }
        let set = PatternSet::new(112, 96, 5).unwrap();
        assert_eq!(occlusion.label, set.label_for_mask(&occlusion.mask).unwrap());
    }
    // Uniform over the four styles: ~333 each of ~1,333 occluded draws.
    assert_eq!(seen.len(), styles.len(), "{seen:?}");
    for (style, count) in &seen {
        assert!((*count as f64 - 1333.0 / 4.0).abs() < 80.0, "{style}: {count}");
    }
}

#[test]
fn alpha_only_training_draws_are_unchanged_by_styles() {
    // `new` and an explicit single style draw the same sequence: old datasets stay the same.
    let library = bundled();
    let (a, b) = (RandomOcclusion::new(library), RandomOcclusion::with_styles(library, vec![OcclusionStyle::Alpha]));
    let (mut ra, mut rb) = (ChaCha8Rng::seed_from_u64(3), ChaCha8Rng::seed_from_u64(3));
    for _ in 0..500 {
        let (mut fa, mut fb) = (face(112), face(112));
        assert_eq!(a.apply(&mut fa, &mut ra), b.apply(&mut fb, &mut rb));
        assert_eq!(fa, fb);
    }
    let empty = RandomOcclusion::with_styles(library, Vec::new());
    assert_eq!(empty.styles(), [OcclusionStyle::Alpha]);
}

#[test]
fn pasted_occ_lfw20_puts_the_same_occluder_at_the_same_place() {
    let library = bundled();
    let alpha = OccLfw20::new(library);
    let pasted = OccLfw20::with_style(library, OCC_LFW20_SEED, OcclusionStyle::Pasted(PasteBackground::Grey));
    for key in KEYS {
        let (mut fa, mut fp) = (face(112), face(112));
        let (oa, op) = (alpha.occlude(&mut fa, key), pasted.occlude(&mut fp, key));
        assert_eq!((&oa.occluder, oa.rect, oa.factor), (&op.occluder, op.rect, op.factor), "{key}");
        assert_eq!(op.mask.count(), op.rect.unwrap().area(), "{key}: the whole box");
        assert!(oa.mask.count() <= op.mask.count());
        // Reproducible per key.
        let mut again = face(112);
        assert_eq!(pasted.occlude(&mut again, key), op);
        assert_eq!(again, fp);
    }
}
