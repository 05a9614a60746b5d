//! What a researcher brings to the workbench: a photo that is already an aligned crop, and a
//! gallery ranked for the painted face.

use std::path::Path;

use egui_kittest::kittest::Queryable;
use maskscope::align::FaceTemplate;
use maskscope::app::samples;

use super::{harness, options, settle};

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
