//! Alignment maths on synthetic points and images.

use image::{Rgb, RgbImage};
use maskscope::align::{FaceTemplate, Similarity, SimilarityError, align};

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn recovers_a_known_transform_exactly() {
    let template = FaceTemplate::Sphere112x96.landmarks();
    for (scale, angle, tx, ty) in [(0.5, 0.3, 20.0, -7.0), (2.2, -1.1, -40.0, 13.0), (1.0, 3.0, 0.0, 0.0)] {
        let truth = Similarity::from_parts(scale, angle, tx, ty);
        // Landmarks in a "photo" that the true transform maps onto the template.
        let photo: Vec<[f64; 2]> = template.iter().map(|&p| truth.inverse().apply(p)).collect();
        let est = Similarity::estimate(&photo, &template).unwrap();
        assert!(close(est.scale(), scale, 1e-9), "scale {} vs {scale}", est.scale());
        assert!(close(est.angle(), angle, 1e-9), "angle {} vs {angle}", est.angle());
        assert!(close(est.tx, tx, 1e-7) && close(est.ty, ty, 1e-7));
    }
}

#[test]
fn noisy_points_give_the_least_squares_optimum() {
    let src = [[10.0, 12.0], [40.0, 11.0], [26.0, 30.0], [14.0, 45.0], [37.0, 46.0]];
    let dst = FaceTemplate::Arc112x112.landmarks();
    let best = Similarity::estimate(&src, &dst).unwrap();
    let cost = |t: &Similarity| -> f64 {
        src.iter()
            .zip(&dst)
            .map(|(s, d)| {
                let p = t.apply(*s);
                (p[0] - d[0]).powi(2) + (p[1] - d[1]).powi(2)
            })
            .sum()
    };
    let base = cost(&best);
    // Any small change of any parameter makes the fit worse.
    for delta in [1e-3, -1e-3] {
        for t in [
            Similarity { a: best.a + delta, ..best },
            Similarity { b: best.b + delta, ..best },
            Similarity { tx: best.tx + delta, ..best },
            Similarity { ty: best.ty + delta, ..best },
        ] {
            assert!(cost(&t) > base, "perturbation {t:?} improved the fit");
        }
    }
}

#[test]
fn degenerate_inputs_are_errors() {
    let p = [[1.0, 1.0]; 5];
    assert_eq!(Similarity::estimate(&p, &FaceTemplate::Sphere112x96.landmarks()), Err(SimilarityError::Degenerate));
    assert!(matches!(Similarity::estimate(&p[..1], &p[..1]), Err(SimilarityError::TooFewPoints(1))));
    assert!(matches!(Similarity::estimate(&p[..2], &p[..3]), Err(SimilarityError::CountMismatch(2, 3))));
}

#[test]
fn templates_are_the_published_points() {
    let sphere = FaceTemplate::Sphere112x96.landmarks();
    assert_eq!(sphere[0], [30.2946, 51.6963]);
    assert_eq!(sphere[4], [62.7299, 92.2041]);
    let arc = FaceTemplate::Arc112x112.landmarks();
    for (s, a) in sphere.iter().zip(&arc) {
        assert_eq!([s[0] + 8.0, s[1]], *a);
    }
    assert_eq!(FaceTemplate::for_size(112, 96), Some(FaceTemplate::Sphere112x96));
    assert_eq!(FaceTemplate::for_size(112, 112), Some(FaceTemplate::Arc112x112));
}

#[test]
fn warped_landmarks_land_on_the_template() {
    // A grey photo, rotated and scaled, with a bright 3x3 dot at each landmark.
    let truth = Similarity::from_parts(0.8, 0.25, -30.0, -20.0);
    let template = FaceTemplate::Sphere112x96;
    let landmarks: [[f64; 2]; 5] = template.landmarks().map(|p| truth.inverse().apply(p));
    let mut photo = RgbImage::from_pixel(250, 250, Rgb([40, 40, 40]));
    for [x, y] in landmarks {
        for dy in -1..=1 {
            for dx in -1..=1 {
                photo.put_pixel((x.round() as i64 + dx) as u32, (y.round() as i64 + dy) as u32, Rgb([255, 255, 255]));
            }
        }
    }
    let aligned = align(&photo, &landmarks, template).unwrap();
    assert_eq!(aligned.image.dimensions(), (96, 112));
    for [x, y] in template.landmarks() {
        let v = aligned.image.get_pixel(x.round() as u32, y.round() as u32).0[0];
        assert!(v > 150, "no bright dot at ({x}, {y}): {v}");
    }
}
