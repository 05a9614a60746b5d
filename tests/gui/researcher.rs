//! What a researcher brings to the workbench: a photo that is already an aligned crop, and a
//! gallery ranked for the painted face.

use std::path::Path;

use egui_kittest::kittest::Queryable;
use maskscope::align::FaceTemplate;
use maskscope::app::samples;
use maskscope::model::config::MaskDecoderKind;

use super::{drop_files, harness, options, settle};

/// "aligned crop" takes a 112x112 crop as it is: the template's five points become the landmarks
/// (and the crop is the photo itself); unticked, the detector's points come back. The setting is
/// remembered and applies to the next photo opened.
#[test]
fn an_aligned_crop_uses_the_template_points_and_unticking_detects_again() {
    let crop = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mobilefacenet/faces/Aaron_Peirsol_0001.png");
    let mut h = harness(options(vec![crop.clone()], false));
    settle(&mut h);
    let detected = h.state().state.probe().unwrap().landmarks.unwrap();
    assert_ne!(detected, FaceTemplate::Arc112x112.landmarks(), "the detector's own points first");

    h.get_by_label("aligned crop").click();
    settle(&mut h);
    {
        let state = &h.state().state;
        assert!(state.settings.photos_aligned);
        let probe = state.probe().unwrap();
        assert_eq!(probe.given_template, Some(FaceTemplate::Arc112x112));
        assert_eq!(probe.landmarks, Some(FaceTemplate::Arc112x112.landmarks()));
        let photo = image::open(&crop).unwrap().to_rgb8();
        let aligned = &probe.aligned.as_ref().unwrap().image;
        let differing = photo
            .pixels()
            .zip(aligned.pixels())
            .filter(|(a, b)| a.0.iter().zip(b.0).any(|(x, y)| x.abs_diff(y) > 1))
            .count();
        assert_eq!(differing, 0, "the crop is used as it is");
    }
    assert!(h.query_by_label_contains("an aligned 112x112 crop").is_some(), "the panel says what is assumed");

    h.get_by_label("aligned crop").click();
    settle(&mut h);
    let probe = h.state().state.probe().unwrap();
    assert_eq!(probe.given_template, None);
    assert_eq!(probe.landmarks, Some(detected), "back to the detector's points");
}

/// With the two default references (Colin Powell and Laura Bush) the panel ranks the gallery for
/// the painted face, Colin Powell's first photo: his identity first for FROM and the baseline.
#[test]
fn the_gallery_is_ranked_for_the_painted_face() {
    let mut h = harness(options(Vec::new(), true));
    settle(&mut h);
    let probe = h.state().state.probe().unwrap().path.clone();
    assert!(samples::is_named(&probe, samples::FIRST_SAMPLE));
    assert!(h.query_by_label_contains("Identification: the gallery ranked").is_some());
    assert!(
        h.query_by_label("Colin_Powell: rank 1 of 2 with FROM, rank 1 of 2 with the baseline").is_some(),
        "the probe's identity ranks first on both paths"
    );
}

/// The authors' other decoders, dropped on the window: LResNet_Occ_2D shows its one spatial map
/// as the heatmap; LResNet_Occ_FC's mask is on the embedding, so no heatmap is laid over the face
/// and the mask panel says so beside a strip of its dimensions.
#[test]
fn the_2d_decoder_maps_the_face_and_the_fc_decoder_is_a_strip() {
    let photo = samples::samples_dir().join(samples::FIRST_SAMPLE);
    let mut h = harness(options(vec![photo], false));
    settle(&mut h);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/from");

    drop_files(&mut h, &[fixtures.join("from_tiny_2d.pth.tar")]);
    settle(&mut h);
    {
        let state = &h.state().state;
        assert_eq!(state.model.info.as_ref().unwrap().mask_kind, Some(MaskDecoderKind::Spatial));
        let mask = state.current_inference().unwrap().outputs.mask.clone().unwrap();
        assert_eq!((mask.channels, mask.height, mask.width), (1, 7, 6), "one map, not 32 copies");
        let heatmap = state.heatmap.as_ref().expect("the map over the face");
        assert_eq!((heatmap.plane.width, heatmap.plane.height), (6, 7));
    }
    assert!(h.query_by_label_contains("one spatial map, the same for every channel").is_some());

    drop_files(&mut h, &[fixtures.join("from_tiny_fc.pth.tar")]);
    settle(&mut h);
    let state = &h.state().state;
    assert_eq!(state.model.info.as_ref().unwrap().mask_kind, Some(MaskDecoderKind::Embedding));
    let mask = state.current_inference().unwrap().outputs.mask.clone().unwrap();
    assert_eq!(mask.values.len(), 512, "one value per embedding dimension");
    assert!(state.heatmap.is_none(), "nothing is drawn over the face");
    assert!(h.query_by_label_contains("masks the embedding, not the face").is_some());
}
