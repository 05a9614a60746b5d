//! MobileFaceNet against the TFLite build of the same weights, run by an independent runtime
//! (tools/mobilefacenet_reference.py): the bundled record, and (opt-in, it reads `../shared`) the
//! TF.js graph converted afresh.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::fixture;
use maskscope::assets;
use maskscope::checkpoint::mobilefacenet_tfjs::mobilefacenet_from_tfjs;
use maskscope::checkpoint::tfjs::TfjsGraph;
use maskscope::face::Embedder;
use maskscope::model::mobilefacenet::{MobileFaceNet, normalize_mobilefacenet};

#[derive(serde::Deserialize)]
struct Reference {
    faces: Vec<Face>,
}

#[derive(serde::Deserialize)]
struct Face {
    file: String,
    embedding: Vec<f32>,
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[test]
fn bundled_record_matches_tflite_on_aligned_lfw_faces() {
    let device = Device::flex();
    let net = Embedder::load(&assets::mobilefacenet_record(), &device).expect("bundled MobileFaceNet").net;
    matches_tflite(net, &device);
}

#[test]
#[ignore = "reads ../shared/models/mobilefacenet: cargo test --release -- --ignored"]
fn converted_tfjs_graph_matches_tflite_on_aligned_lfw_faces() {
    let device = Device::flex();
    let graph = TfjsGraph::read(&common::shared("models/mobilefacenet/mobilefacenet.json")).expect("TF.js graph");
    let (net, applied) = mobilefacenet_from_tfjs(&graph, &device).unwrap();
    assert_eq!(applied, graph.weights.len() - 2);
    matches_tflite(net, &device);
}

/// Both of our paths (burn's forward, and the embedder's CPU inference path) within cosine
/// 0.9999 of TFLite on every fixture face.
fn matches_tflite(net: MobileFaceNet, device: &Device) {
    let text = std::fs::read_to_string(fixture("mobilefacenet/reference.json")).unwrap();
    let reference: Reference = serde_json::from_str(&text).unwrap();
    assert!(reference.faces.len() >= 20);
    let mut pixels: Vec<f32> = Vec::new();
    for face in &reference.faces {
        let image = image::open(fixture(&format!("mobilefacenet/{}", face.file))).unwrap().to_rgb8();
        assert_eq!(image.dimensions(), (112, 112));
        // HWC bytes -> CHW floats.
        let hwc: Vec<f32> = image.into_raw().into_iter().map(f32::from).collect();
        for c in 0..3 {
            pixels.extend(hwc.iter().skip(c).step_by(3));
        }
    }
    let n = reference.faces.len();
    let input = Tensor::<4>::from_data(TensorData::new(pixels, [n, 3, 112, 112]), device);
    let embeddings = net.forward(normalize_mobilefacenet(input)).into_data().try_to_vec::<f32>().unwrap();
    let mut worst = 1.0f64;
    for (i, face) in reference.faces.iter().enumerate() {
        let ours = &embeddings[i * 192..(i + 1) * 192];
        let norm: f32 = ours.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{}: embedding not L2-normalised ({norm})", face.file);
        let cos = cosine(ours, &face.embedding);
        worst = worst.min(cos);
        assert!(cos >= 0.9999, "{}: cosine to TFLite {cos:.6}", face.file);
    }
    eprintln!("{n} faces, worst cosine to TFLite {worst:.7}");

    // The embedder on the CPU runs the CPU inference path: the same bound against TFLite.
    let faces: Vec<image::RgbImage> = reference
        .faces
        .iter()
        .map(|face| image::open(fixture(&format!("mobilefacenet/{}", face.file))).unwrap().to_rgb8())
        .collect();
    let embedder = Embedder::new(net, device).unwrap();
    let embedded = embedder.embed(&faces.iter().collect::<Vec<_>>()).unwrap();
    for (ours, face) in embedded.iter().zip(&reference.faces) {
        let cos = cosine(ours, &face.embedding);
        assert!(cos >= 0.9999, "{}: CPU path's cosine to TFLite {cos:.6}", face.file);
    }
}
