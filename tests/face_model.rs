//! `FaceModel`: records of every kind load behind one interface, and their outputs keep the
//! shapes and meanings the app and the evaluation rely on.

mod common;

use burn::tensor::Device;
use common::fixture;
use maskscope::align::FaceTemplate;
use maskscope::assets;
use maskscope::checkpoint::record;
use maskscope::face::Embedder;
use maskscope::face::embedder::cosine;
use maskscope::face::from_model::{FaceModel, ModelError};
use maskscope::model::from_mobilefacenet::FromMobileFaceNetConfig;

fn faces() -> Vec<image::RgbImage> {
    ["AJ_Cook_0001.png", "Aaron_Sorkin_0001.png", "Aaron_Sorkin_0002.png"]
        .iter()
        .map(|name| image::open(fixture("mobilefacenet/faces").join(name)).unwrap().to_rgb8())
        .collect()
}

#[test]
fn a_from_mobilefacenet_record_gives_masks_patterns_and_both_embeddings() {
    let device = Device::flex();
    let backbone = Embedder::load(&assets::mobilefacenet_record(), &device).unwrap().net;
    let config = FromMobileFaceNetConfig::new();
    let net = config.init_with(backbone, &device);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("from.bpk");
    record::save_from_mobilefacenet(&net, &config, &path).unwrap();

    let model = FaceModel::load(&path, &device).unwrap();
    assert!(model.has_mask());
    assert_eq!(model.template(), FaceTemplate::Arc112x112);
    assert_eq!(model.patterns().unwrap().len(), 226);
    let faces = faces();
    let refs: Vec<_> = faces.iter().collect();
    let outputs = model.analyze(&refs).unwrap();
    assert_eq!(outputs.len(), 3);
    for out in &outputs {
        let mask = out.mask.as_ref().unwrap();
        assert_eq!((mask.channels, mask.height, mask.width), (512, 7, 7));
        assert!(mask.values.iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(mask.channel_mean().len(), 49);
        let total: f32 = out.pattern_probabilities.iter().sum();
        assert_eq!(out.pattern_probabilities.len(), 226);
        assert!((total - 1.0).abs() < 1e-4, "probabilities sum to {total}");
        assert_ne!(out.masked, out.unmasked);
    }
    // The unmasked path is the pretrained embedder itself.
    let embedder = Embedder::load(&assets::mobilefacenet_record(), &device).unwrap();
    let reference = embedder.embed(&refs).unwrap();
    for (out, reference) in outputs.iter().zip(&reference) {
        assert!(cosine(&out.unmasked, reference) > 0.99999);
    }
    // The fast path agrees with the full one.
    let embedded = model.embed(&refs).unwrap();
    for ((masked, unmasked), out) in embedded.iter().zip(&outputs) {
        assert!(cosine(masked, &out.masked) > 0.99999 && cosine(unmasked, &out.unmasked) > 0.99999);
    }
}

#[test]
fn a_plain_embedder_has_no_mask_and_one_embedding() {
    let device = Device::flex();
    let model = FaceModel::load(&assets::mobilefacenet_record(), &device).unwrap();
    assert!(!model.has_mask());
    assert!(model.patterns().is_none());
    let faces = faces();
    let outputs = model.analyze(&[&faces[0]]).unwrap();
    assert!(outputs[0].mask.is_none() && outputs[0].pattern_probabilities.is_empty());
    assert_eq!(outputs[0].masked, outputs[0].unmasked);
}

#[test]
fn wrong_face_sizes_and_foreign_files_are_refused_clearly() {
    let device = Device::flex();
    let model = FaceModel::load(&assets::mobilefacenet_record(), &device).unwrap();
    let small = image::RgbImage::new(96, 112);
    let err = model.embed(&[&small]).unwrap_err();
    assert!(matches!(err, ModelError::WrongSize { index: 0, width: 96, height: 112, .. }), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.bpk");
    std::fs::write(&junk, b"not a record").unwrap();
    let err = FaceModel::load(&junk, &device).err().expect("junk must not load");
    assert!(err.to_string().contains("junk.bpk"), "{err}");
}
