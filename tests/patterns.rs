//! Proximate occlusion patterns: the official enumeration order and the IoU labelling.

use maskscope::patterns::{BinaryMask, Pattern, PatternSet, Rect, grid_for_pattern_count, pattern_count};

#[test]
fn counts_match_the_paper() {
    assert_eq!(PatternSet::new(112, 96, 5).unwrap().len(), 226);
    assert_eq!(PatternSet::new(112, 96, 4).unwrap().len(), 101);
    for k in 2..=8 {
        let spans = k * (k + 1) / 2;
        assert_eq!(PatternSet::new(112, 112, k).unwrap().len(), spans * spans + 1, "K={k}");
        assert_eq!(grid_for_pattern_count(pattern_count(k)), Some(k));
    }
    assert_eq!(grid_for_pattern_count(227), None);
}

#[test]
fn official_order_is_pinned_for_112x96() {
    let set = PatternSet::new(112, 96, 5).unwrap();
    assert_eq!(set.get(0).unwrap(), Pattern::NoOcclusion);
    // Grid lines: rows 0, 22, 44, 67, 89, 112; cols 0, 19, 38, 57, 76, 96.
    assert_eq!(set.rect_at(1, 112, 96).unwrap(), Some(Rect::new(0, 22, 0, 19)));
    assert_eq!(set.rect_at(225, 112, 96).unwrap(), Some(Rect::new(89, 112, 76, 96)));
    // Start vertex (0,0), end vertices in row-major order: (1,1), (1,2), ..., (1,5), (2,1), ...
    assert_eq!(set.rect_at(2, 112, 96).unwrap(), Some(Rect::new(0, 22, 0, 38)));
    assert_eq!(set.rect_at(5, 112, 96).unwrap(), Some(Rect::new(0, 22, 0, 96)));
    assert_eq!(set.rect_at(6, 112, 96).unwrap(), Some(Rect::new(0, 44, 0, 19)));
    // The whole face is the last pattern of start vertex (0,0): 25 end vertices.
    assert_eq!(set.rect_at(25, 112, 96).unwrap(), Some(Rect::new(0, 112, 0, 96)));
    // Start vertex (0,1) comes next; its first end vertex is (1,2).
    assert_eq!(set.rect_at(26, 112, 96).unwrap(), Some(Rect::new(0, 22, 19, 38)));
    assert!(set.get(226).is_err());
}

#[test]
fn order_matches_an_independent_enumeration() {
    // Count, for each pattern index, how many rectangles come before it by the rule in the
    // issue, computed arithmetically instead of by nested loops.
    let k = 5;
    let set = PatternSet::new(112, 96, k).unwrap();
    let mut index = 1;
    for start in 0..(k + 1) * (k + 1) {
        let (y0, x0) = (start / (k + 1), start % (k + 1));
        for end in 0..(k + 1) * (k + 1) {
            let (y1, x1) = (end / (k + 1), end % (k + 1));
            if y1 > y0 && x1 > x0 {
                match set.get(index).unwrap() {
                    Pattern::Occluded { cells, .. } => assert_eq!(cells, Rect::new(y0, y1, x0, x1)),
                    Pattern::NoOcclusion => panic!("pattern {index} is empty"),
                }
                index += 1;
            }
        }
    }
    assert_eq!(index, set.len());
}

#[test]
fn every_pattern_labels_itself() {
    for (h, w, k) in [(112, 96, 5), (112, 112, 4), (112, 96, 3)] {
        let set = PatternSet::new(h, w, k).unwrap();
        for index in 1..set.len() {
            let mask = set.render(index, h, w).unwrap();
            assert_eq!(set.label_for_mask(&mask).unwrap(), index, "{h}x{w} K={k} mask");
            let rect = set.rect_at(index, h, w).unwrap().unwrap();
            assert_eq!(set.label_for_box(rect), index, "{h}x{w} K={k} box");
        }
    }
}

#[test]
fn empty_occlusion_is_pattern_zero() {
    let set = PatternSet::new(112, 96, 5).unwrap();
    assert_eq!(set.label_for_mask(&BinaryMask::new(112, 96)).unwrap(), 0);
    assert_eq!(set.label_for_box(Rect::new(10, 10, 5, 50)), 0);
    // Entirely outside the image.
    assert_eq!(set.label_for_box(Rect::new(200, 220, 0, 10)), 0);
}

#[test]
fn iou_argmax_by_hand() {
    let set = PatternSet::new(112, 96, 5).unwrap();
    // Rows 0..22 x cols 0..30: IoU with pattern 1 (0..22 x 0..19) = 418/660 = 0.633,
    // with pattern 2 (0..22 x 0..38) = 660/836 = 0.789, so pattern 2 wins.
    assert_eq!(set.label_for_box(Rect::new(0, 22, 0, 30)), 2);
    // A mouth-like band low on the face: rows 89..112, cols 19..76 is exactly a pattern;
    // a slightly smaller occluder still picks it.
    let mut mask = BinaryMask::new(112, 96);
    mask.fill(Rect::new(91, 110, 21, 74));
    let label = set.label_for_mask(&mask).unwrap();
    assert_eq!(set.rect_at(label, 112, 96).unwrap(), Some(Rect::new(89, 112, 19, 76)));
    // A non-rectangular mask (an L) agrees with brute-force IoU over all patterns.
    let mut l_shape = BinaryMask::new(112, 96);
    l_shape.fill(Rect::new(30, 80, 10, 30));
    l_shape.fill(Rect::new(60, 80, 10, 70));
    let brute = (1..set.len())
        .map(|i| {
            let p = set.render(i, 112, 96).unwrap();
            let inter = p.data.iter().zip(&l_shape.data).filter(|(a, b)| **a && **b).count();
            let union = p.data.iter().zip(&l_shape.data).filter(|(a, b)| **a || **b).count();
            (i, inter as f64 / union as f64)
        })
        .fold((0, -1.0), |best, (i, iou)| if iou > best.1 { (i, iou) } else { best })
        .0;
    assert_eq!(set.label_for_mask(&l_shape).unwrap(), brute);
}

#[test]
fn patterns_render_on_feature_maps() {
    let set = PatternSet::new(112, 96, 5).unwrap();
    // On a 7x6 map the grid lines are rows 0,1,2,4,5,7 and cols 0,1,2,3,4,6.
    let first = set.render(1, 7, 6).unwrap();
    assert_eq!(first.count(), 1);
    assert!(first.get(0, 0));
    let last = set.render(225, 7, 6).unwrap();
    assert_eq!(set.rect_at(225, 7, 6).unwrap(), Some(Rect::new(5, 7, 4, 6)));
    assert_eq!(last.count(), 4);
    assert_eq!(set.render(0, 7, 7).unwrap().count(), 0);
    assert_eq!(set.render(25, 7, 7).unwrap().count(), 49);
}

#[test]
fn bad_arguments_are_errors() {
    assert!(PatternSet::new(112, 96, 1).is_err());
    assert!(PatternSet::new(112, 96, 9).is_err());
    assert!(PatternSet::new(3, 96, 5).is_err());
    let set = PatternSet::new(112, 96, 5).unwrap();
    assert!(set.label_for_mask(&BinaryMask::new(7, 6)).is_err());
    assert!(BinaryMask::from_vec(2, 2, vec![true; 3]).is_err());
}
