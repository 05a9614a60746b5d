//! MTCNN against facenet-pytorch 2.6.0: each network on fixed inputs, the area resampler, hand
//! cases of the box arithmetic, and detections on LFW images: 12 committed, all 50 of the
//! reference opt-in (`tests/fixtures/mtcnn/README.md`, spec in `tools/MTCNN_NOTES.md`).

mod common;

use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::tensor::{Device, Tensor, TensorData};
use common::{fixture, max_abs_diff, read_tensors, take};
use image::{Rgb, RgbImage};
use maskscope::mtcnn::boxes::{bbreg, iou, landmarks, largest_first, nms_iou, nms_min, rerec};
use maskscope::mtcnn::resize::{pyramid_scales, scaled_size};
use maskscope::mtcnn::{CpuMtcnnNets, FaceBox, Mtcnn, MtcnnError, MtcnnSettings, PlanarImage};
use sha2::{Digest, Sha256};

/// Network outputs may differ from PyTorch's by float rounding only.
const NET_TOLERANCE: f32 = 1e-4;
/// The resampler reproduces PyTorch's rounding (bit for bit on these 0..255 values).
const AREA_TOLERANCE: f32 = 1e-4;
/// A reference face counts as found when one of ours overlaps it this much.
const MATCH_IOU: f32 = 0.8;
/// Landmark distance (pixels) counted as agreeing.
const LANDMARK_PX: f32 = 2.0;
/// Issue 3's bound. The reference ran on the very pixels our decoder produces (the fixture's
/// `rgb_sha256`, checked below): with PIL's libjpeg-turbo decode instead, +-1 differences per
/// pixel alone moved a few landmarks past 2 px (94.5%, MTCNN_NOTES.md §4).
const MIN_LANDMARK_FRACTION: f64 = 0.95;
/// Box and landmark agreement expected when both detectors see the same bytes.
const SAME_PIXELS_PX: f32 = 0.01;

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/mtcnn")
}

fn load(device: &Device) -> Mtcnn {
    Mtcnn::load(&assets(), device).expect("assets/mtcnn weights load")
}

fn check_net(actual: Tensor<2>, expected: TensorData, what: &str) {
    check_data(actual.into_data(), expected, what);
}

/// The CPU inference path's copy of the networks (what detection runs on the CPU).
fn cpu_nets(mtcnn: &Mtcnn) -> CpuMtcnnNets {
    CpuMtcnnNets::new(&mtcnn.pnet, &mtcnn.rnet, &mtcnn.onet).expect("the CPU path takes MTCNN's layers")
}

/// A CPU-path output (row-major) against a fixture tensor of the same size.
fn check_values(actual: Vec<f32>, expected: TensorData, what: &str) {
    let shape = expected.shape().clone();
    check_data(TensorData::new(actual, shape), expected, what);
}

fn floats(data: TensorData) -> Vec<f32> {
    data.try_to_vec::<f32>().expect("an f32 fixture tensor")
}

fn check_data(actual: TensorData, expected: TensorData, what: &str) {
    let err = max_abs_diff(&actual, &expected, what);
    eprintln!("{what}: max abs error {err:.3e}");
    assert!(err <= NET_TOLERANCE, "{what}: max abs error {err:e} exceeds {NET_TOLERANCE:e}");
}

#[test]
fn pnet_matches_facenet_pytorch() {
    let device = Device::flex();
    let mtcnn = load(&device);
    let io = read_tensors("mtcnn/unit.safetensors");
    let out = mtcnn.pnet.forward(Tensor::<4>::from_data(take(&io, "pnet_in"), &device));
    assert_eq!(out.prob.dims(), [1, 2, 7, 11], "23x31 input gives a 7x11 map");
    check_data(out.reg.into_data(), take(&io, "pnet_reg"), "P-Net regression");
    check_data(out.prob.into_data(), take(&io, "pnet_prob"), "P-Net probability");

    let maps = cpu_nets(&mtcnn).pnet(&floats(take(&io, "pnet_in")), 23, 31);
    assert_eq!((maps.height, maps.width), (7, 11));
    check_values(maps.reg, take(&io, "pnet_reg"), "P-Net regression, CPU path");
    let face = floats(take(&io, "pnet_prob"))[7 * 11..].to_vec();
    check_values(maps.face, TensorData::new(face, [7, 11]), "P-Net face probability, CPU path");
}

#[test]
fn rnet_matches_facenet_pytorch() {
    let device = Device::flex();
    let mtcnn = load(&device);
    let io = read_tensors("mtcnn/unit.safetensors");
    let out = mtcnn.rnet.forward(Tensor::<4>::from_data(take(&io, "rnet_in"), &device));
    check_net(out.reg, take(&io, "rnet_reg"), "R-Net regression");
    check_net(out.prob, take(&io, "rnet_prob"), "R-Net probability");

    let out = cpu_nets(&mtcnn).rnet(&floats(take(&io, "rnet_in")));
    check_values(out.reg, take(&io, "rnet_reg"), "R-Net regression, CPU path");
    check_values(out.prob, take(&io, "rnet_prob"), "R-Net probability, CPU path");
}

#[test]
fn onet_matches_facenet_pytorch() {
    let device = Device::flex();
    let mtcnn = load(&device);
    let io = read_tensors("mtcnn/unit.safetensors");
    let out = mtcnn.onet.forward(Tensor::<4>::from_data(take(&io, "onet_in"), &device));
    check_net(out.reg, take(&io, "onet_reg"), "O-Net regression");
    check_net(out.landmarks, take(&io, "onet_landmarks"), "O-Net landmarks");
    check_net(out.prob, take(&io, "onet_prob"), "O-Net probability");

    let out = cpu_nets(&mtcnn).onet(&floats(take(&io, "onet_in")));
    check_values(out.reg, take(&io, "onet_reg"), "O-Net regression, CPU path");
    check_values(out.landmarks, take(&io, "onet_landmarks"), "O-Net landmarks, CPU path");
    check_values(out.prob, take(&io, "onet_prob"), "O-Net probability, CPU path");
}

#[test]
fn missing_weights_name_the_network_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = Mtcnn::load(dir.path(), &Device::flex()).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, MtcnnError::Weights { net: "P-Net", .. }), "{message}");
    assert!(message.contains("pnet.safetensors"), "{message}");
}

#[test]
fn area_resize_matches_torch_interpolate() {
    let io = read_tensors("mtcnn/unit.safetensors");
    let input = take(&io, "area_in");
    assert_eq!(input.shape().as_slice(), &[1, 3, 37, 41]);
    let image = PlanarImage::new(3, 37, 41, input.try_to_vec::<f32>().unwrap()).unwrap();
    for (height, width) in [(24, 24), (17, 29), (48, 48)] {
        let key = format!("area_{height}x{width}");
        let ours = image.area_resize(image.full(), height, width).unwrap();
        let actual = TensorData::new(ours, [1, 3, height, width]);
        let err = max_abs_diff(&actual, &take(&io, &key), &key);
        eprintln!("{key}: max abs error {err:.3e}");
        assert!(err <= AREA_TOLERANCE, "{key}: max abs error {err:e}");
    }
}

#[test]
fn pyramid_of_an_lfw_image() {
    let sizes: Vec<(usize, usize)> =
        pyramid_scales(250, 250, 20.0, 0.709).into_iter().map(|s| scaled_size(250, 250, s)).collect();
    let sides: Vec<usize> = sizes.iter().map(|&(h, _)| h).collect();
    assert_eq!(sides, vec![151, 107, 76, 54, 38, 27, 20, 14]);
    assert!(sizes.iter().all(|&(h, w)| h == w));
}

fn b(x1: f32, y1: f32, x2: f32, y2: f32, score: f32) -> FaceBox {
    FaceBox::new(x1, y1, x2, y2, score)
}

fn assert_box_close(actual: FaceBox, expected: [f32; 4], what: &str) {
    let err = actual.coords().iter().zip(expected).map(|(a, e)| (a - e).abs()).fold(0.0, f32::max);
    assert!(err <= 1e-4, "{what}: {:?} vs {expected:?}", actual.coords());
}

#[test]
fn iou_nms_is_torchvision_nms() {
    let a = b(0.0, 0.0, 10.0, 10.0, 0.9);
    let overlapping = b(1.0, 1.0, 11.0, 11.0, 0.8); // IoU 81 / 119 = 0.68
    let apart = b(20.0, 20.0, 30.0, 30.0, 0.95);
    assert!((iou(&a, &overlapping) - 81.0 / 119.0).abs() < 1e-6);
    let boxes = [a, overlapping, apart];
    assert_eq!(nms_iou(&boxes, 0.7), vec![2, 0, 1], "kept in descending score order");
    assert_eq!(nms_iou(&boxes, 0.5), vec![2, 0]);
    // Suppression needs IoU strictly above the threshold: 50 / 100 = 0.5 survives 0.5.
    let half = b(0.0, 0.0, 10.0, 5.0, 0.8);
    assert_eq!(nms_iou(&[a, half], 0.5), vec![0, 1]);
    // Equal scores keep index order (stable sort).
    let twin = b(40.0, 40.0, 50.0, 50.0, 0.9);
    assert_eq!(nms_iou(&[a, twin], 0.5), vec![0, 1]);
    assert!(nms_iou(&[], 0.5).is_empty());
}

#[test]
fn min_nms_uses_the_smaller_box_and_plus_one_areas() {
    let big = b(0.0, 0.0, 9.0, 9.0, 0.9); // (9+1)^2 = 100
    let inside = b(0.0, 0.0, 4.0, 9.0, 0.8); // 50, all of it inside `big`: overlap 1.0
    let side = b(5.0, 0.0, 14.0, 9.0, 0.7); // intersection 5 x 10 = 50: overlap 0.5
    assert_eq!(nms_min(&[big, inside, side], 0.7), vec![0, 2]);
    // IoU NMS would keep the inner box (IoU 0.44 without +1).
    assert_eq!(nms_iou(&[big, inside, side], 0.7), vec![0, 1, 2]);
    // NumPy pops the last of an ascending argsort: equal scores come out highest index first.
    let x = b(0.0, 0.0, 5.0, 5.0, 0.5);
    let y = b(50.0, 50.0, 55.0, 55.0, 0.5);
    assert_eq!(nms_min(&[x, y], 0.7), vec![1, 0]);
}

#[test]
fn rerec_bbreg_and_landmarks_by_hand() {
    let tall = b(10.0, 20.0, 30.0, 60.0, 0.5); // 20 wide, 40 high
    let square = rerec(&tall);
    assert_box_close(square, [0.0, 20.0, 40.0, 60.0], "rerec");
    assert_eq!(square.score, 0.5);
    let reg = [0.1, -0.1, 0.2, 0.05];
    assert_box_close(bbreg(&tall, &reg, false), [12.0, 16.0, 34.0, 62.0], "stage-1 regression");
    assert_box_close(bbreg(&tall, &reg, true), [12.1, 15.9, 34.2, 62.05], "bbreg (+1)");

    let cropped = b(10.0, 20.0, 29.0, 39.0, 0.9); // 20 x 20 with +1
    let lm = [0.0, 0.5, 1.0, 0.25, 0.75, 0.0, 0.5, 1.0, 0.25, 0.75];
    let points = landmarks(&cropped, &lm);
    assert_eq!(points, [[9.0, 19.0], [19.0, 29.0], [29.0, 39.0], [14.0, 24.0], [24.0, 34.0]]);
}

#[test]
fn largest_area_first_with_ties_reversed() {
    // Areas 10, 30, 30, 5.
    let boxes = [
        b(0.0, 0.0, 2.0, 5.0, 0.9),
        b(0.0, 0.0, 5.0, 6.0, 0.8),
        b(0.0, 0.0, 6.0, 5.0, 0.7),
        b(0.0, 0.0, 1.0, 5.0, 0.6),
    ];
    assert_eq!(largest_first(&boxes), vec![2, 1, 0, 3]);
}

#[test]
fn pictures_without_faces_give_no_detections() {
    let mtcnn = load(&Device::flex());
    let grey = RgbImage::from_pixel(120, 90, Rgb([128, 128, 128]));
    assert!(mtcnn.detect(&grey).unwrap().is_empty());
    // Smaller than the 20-pixel minimum face: no pyramid level at all.
    let tiny = RgbImage::from_pixel(8, 8, Rgb([200, 10, 10]));
    assert!(mtcnn.detect(&tiny).unwrap().is_empty());
    assert!(mtcnn.detect(&RgbImage::new(0, 0)).unwrap().is_empty());
}

#[test]
fn settings_that_never_end_are_refused() {
    let settings = MtcnnSettings { factor: 1.0, ..MtcnnSettings::default() };
    let mtcnn = load(&Device::flex()).with_settings(settings);
    let err = mtcnn.detect(&RgbImage::new(64, 64)).unwrap_err();
    assert!(matches!(err, MtcnnError::Settings(_)), "{err}");
    assert!(err.to_string().contains("factor"), "{err}");
}

#[derive(serde::Deserialize)]
struct Reference {
    images: Vec<ReferenceImage>,
}

#[derive(serde::Deserialize)]
struct ReferenceImage {
    path: String,
    width: u32,
    height: u32,
    rgb_sha256: String,
    boxes: Vec<[f32; 4]>,
    probs: Vec<f32>,
    landmarks: Vec<[[f32; 2]; 5]>,
}

/// The reference's first images are committed (`tests/fixtures/lfw`); all 50 are in LFW View 1.
const COMMITTED_REFERENCE_IMAGES: usize = 12;

#[test]
fn lfw_detections_match_facenet_pytorch_on_the_committed_photos() -> anyhow::Result<()> {
    detections_match_facenet_pytorch(&common::lfw_fixture_images(), Some(COMMITTED_REFERENCE_IMAGES))
}

#[test]
#[ignore = "reads ../shared/data/lfw-view1: cargo test --release -- --ignored"]
fn lfw_detections_match_facenet_pytorch_on_all_50_photos() -> anyhow::Result<()> {
    detections_match_facenet_pytorch(&common::shared("data/lfw-view1/images"), None)
}

/// Our detections on the reference's images under `root` (its first `limit`, or all) against
/// facenet-pytorch's.
fn detections_match_facenet_pytorch(root: &Path, limit: Option<usize>) -> anyhow::Result<()> {
    let path = fixture("mtcnn/reference.json");
    let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    let mut reference: Reference = serde_json::from_str(&text).context("reference.json")?;
    reference.images.truncate(limit.unwrap_or(usize::MAX));
    let mtcnn = Mtcnn::load(&assets(), &Device::flex())?;

    let mut same_count = 0;
    let (mut points, mut close_points) = (0usize, 0usize);
    let (mut box_err_sum, mut box_err_max, mut matched) = (0.0f64, 0.0f32, 0usize);
    let (mut lm_err_max, mut prob_err_max) = (0.0f32, 0.0f32);
    for entry in &reference.images {
        let file = root.join(&entry.path);
        let image = maskscope::face::read_rgb(&file)?;
        assert_eq!((image.width(), image.height()), (entry.width, entry.height), "{}", entry.path);
        let pixels_hash: String = Sha256::digest(image.as_raw()).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(pixels_hash, entry.rgb_sha256, "{}: the reference saw other pixels than we decode", entry.path);
        let found = mtcnn.detect(&image)?;
        let areas: Vec<f32> = found.iter().map(|d| d.face_box().area()).collect();
        assert!(areas.windows(2).all(|w| w[0] >= w[1]), "{}: not largest first: {areas:?}", entry.path);
        if found.len() == entry.boxes.len() {
            same_count += 1;
        } else {
            eprintln!("{}: {} faces, facenet-pytorch {}", entry.path, found.len(), entry.boxes.len());
        }
        for (j, reference_box) in entry.boxes.iter().enumerate() {
            points += 5;
            let [x1, y1, x2, y2] = *reference_box;
            let wanted = FaceBox::new(x1, y1, x2, y2, entry.probs[j]);
            let best = found.iter().map(|d| (iou(&wanted, &d.face_box()), d)).max_by(|a, b| a.0.total_cmp(&b.0));
            let Some((_, face)) = best.filter(|&(overlap, _)| overlap > MATCH_IOU) else {
                eprintln!("{}: reference face {j} {reference_box:?} not found", entry.path);
                continue;
            };
            matched += 1;
            let box_err = face.bbox.iter().zip(reference_box).map(|(a, e)| (a - e).abs()).fold(0.0, f32::max);
            box_err_sum += f64::from(box_err);
            box_err_max = box_err_max.max(box_err);
            prob_err_max = prob_err_max.max((face.score - entry.probs[j]).abs());
            for (ours, theirs) in face.landmarks.iter().zip(&entry.landmarks[j]) {
                let distance = (ours[0] - theirs[0]).hypot(ours[1] - theirs[1]);
                lm_err_max = lm_err_max.max(distance);
                if distance <= LANDMARK_PX {
                    close_points += 1;
                }
            }
        }
    }
    let fraction = close_points as f64 / points.max(1) as f64;
    eprintln!(
        "MTCNN on {} LFW images: face count equal on {same_count}; {matched} faces matched (IoU > {MATCH_IOU})",
        reference.images.len()
    );
    eprintln!(
        "boxes: mean max|d| {:.4} px, worst {box_err_max:.4} px; probability worst |d| {prob_err_max:.2e}",
        box_err_sum / matched.max(1) as f64
    );
    eprintln!(
        "landmarks within {LANDMARK_PX} px: {close_points}/{points} = {:.2}% (worst distance {lm_err_max:.4} px)",
        100.0 * fraction
    );
    assert!(fraction >= MIN_LANDMARK_FRACTION, "only {:.2}% of landmarks within {LANDMARK_PX} px", 100.0 * fraction);
    // On identical pixels the two detectors differ by float rounding only (measured: 1e-4 px).
    assert!(
        lm_err_max <= SAME_PIXELS_PX && box_err_max <= SAME_PIXELS_PX,
        "worst landmark {lm_err_max} px, box {box_err_max} px"
    );
    assert_eq!(same_count, reference.images.len(), "face counts differ");
    Ok(())
}
