//! Verification metrics on cases small enough to compute by hand.

use maskscope::eval::ScoresError;
use maskscope::eval::roc::{RocPoint, TarResult, roc_curve, tar_at_far_official};
use maskscope::eval::verification::{
    TieBreak, accuracy_at, fold_ranges, kfold_accuracy, ten_fold_accuracy, threshold_grid, verification_report,
};

fn close(actual: f64, expected: f64, what: &str) {
    assert!((actual - expected).abs() < 1e-12, "{what}: {actual} vs {expected}");
}

/// Genuine 0.9 0.8 0.6 0.4, impostor 0.7 0.5 0.3 0.1.
fn four_and_four() -> (Vec<f32>, Vec<bool>) {
    (vec![0.9, 0.7, 0.8, 0.5, 0.6, 0.3, 0.4, 0.1], vec![true, false, true, false, true, false, true, false])
}

#[test]
fn roc_auc_eer_of_four_and_four() {
    let (scores, same) = four_and_four();
    let roc = roc_curve(&scores, &same).unwrap();
    // Descending: .9G .8G .7I .6G .5I .4G .3I .1I; a point after each distinct score.
    let expected = [
        (0.0, 0.0, f32::INFINITY),
        (0.0, 0.25, 0.9),
        (0.0, 0.5, 0.8),
        (0.25, 0.5, 0.7),
        (0.25, 0.75, 0.6),
        (0.5, 0.75, 0.5),
        (0.5, 1.0, 0.4),
        (0.75, 1.0, 0.3),
        (1.0, 1.0, 0.1),
    ];
    let got: Vec<(f64, f64, f32)> = roc.points.iter().map(|p| (p.far, p.tar, p.threshold)).collect();
    assert_eq!(got, expected);
    // Horizontal steps: .25 x (.5 + .75 + 1 + 1) = .8125; Mann-Whitney: (4 + 4 + 3 + 2) / 16.
    close(roc.auc(), 13.0 / 16.0, "AUC");
    // FAR - FRR: -1 -.75 -.5 -.25 then 0 at (.25, .75): the EER is that point's .25.
    let eer = roc.eer();
    close(eer.rate, 0.25, "EER");
    assert_eq!(eer.threshold, 0.6);
}

#[test]
fn ties_make_diagonal_segments() {
    // Genuine .8 .5, impostor .5 .2: the tie at .5 moves both rates at once.
    let roc = roc_curve(&[0.8, 0.5, 0.5, 0.2], &[true, true, false, false]).unwrap();
    let got: Vec<(f64, f64)> = roc.points.iter().map(|p| (p.far, p.tar)).collect();
    assert_eq!(got, [(0.0, 0.0), (0.0, 0.5), (0.5, 1.0), (1.0, 1.0)]);
    // .5 x (.5 + 1) / 2 + .5 x 1 = .875 = (2 + 1/2 + 1) / 4: a tie counts one half.
    close(roc.auc(), 0.875, "AUC");
    // FAR - FRR goes -.5 -> .5 along (0, .5) -> (.5, 1): crosses halfway, at FAR .25.
    let eer = roc.eer();
    close(eer.rate, 0.25, "EER");
    assert_eq!(eer.threshold, 0.5);
    // -0.0 and 0.0 are one score.
    let roc = roc_curve(&[0.0, -0.0, 1.0], &[true, false, true]).unwrap();
    assert_eq!(roc.points.len(), 3);
}

#[test]
fn tar_at_far_and_not_enough_impostors() {
    let (scores, same) = four_and_four();
    let roc = roc_curve(&scores, &same).unwrap();
    // FAR <= .25 admits up to (.25, .75) at .6; FAR <= .3 the same; FAR <= .5 reaches TAR 1 at .4.
    let measured = |far: f64| match roc.tar_at_far(far).result {
        TarResult::Measured { tar, threshold, actual_far } => (tar, threshold, actual_far),
        other => panic!("{other:?}"),
    };
    assert_eq!(measured(0.25), (0.75, 0.6, 0.25));
    assert_eq!(measured(0.3), (0.75, 0.6, 0.25));
    assert_eq!(measured(0.5), (1.0, 0.4, 0.5));
    // 4 impostors x .1 < 1: one accepted impostor is already FAR .25.
    let few = roc.tar_at_far(0.1);
    assert_eq!(few.result, TarResult::NotEnoughImpostorPairs { impostor_pairs: 4, needed: 10 });
    assert_eq!(few.tar(), None);
    let json = serde_json::to_value(few).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"far": 0.1, "status": "not_enough_impostor_pairs", "impostor_pairs": 4, "needed": 10})
    );
    // FROM's code: impostors descending .7 .5 .3 .1, index floor(4 x .25) = 1 -> threshold .5,
    // genuine >= .5: .9 .8 .6.
    close(tar_at_far_official(&scores, &same, 0.25).unwrap(), 0.75, "official TAR");
    // G .9, I .7, I .65, G .6, I .1 .05: FAR <= .25 admits (0, .5) at .9 and (.25, .5) at .7 (then
    // (.5, .5) at .65); the TAR is reached first, with no impostor accepted, at .9.
    let roc = roc_curve(&[0.9, 0.7, 0.65, 0.6, 0.1, 0.05], &[true, false, false, true, false, false]).unwrap();
    let got = roc.tar_at_far(0.25).result;
    assert_eq!(got, TarResult::Measured { tar: 0.5, threshold: 0.9, actual_far: 0.0 });
    assert_eq!(roc.tar_at_far(0.2).result, TarResult::NotEnoughImpostorPairs { impostor_pairs: 4, needed: 5 });
}

#[test]
fn bad_inputs_are_errors() {
    assert_eq!(roc_curve(&[0.1, 0.2], &[true]).unwrap_err(), ScoresError::LengthMismatch { scores: 2, labels: 1 });
    assert!(matches!(roc_curve(&[0.1, f32::NAN], &[true, false]), Err(ScoresError::NotFinite { index: 1, .. })));
    assert_eq!(roc_curve(&[0.1, 0.2], &[true, true]).unwrap_err(), ScoresError::OneClass { genuine: 2, impostor: 0 });
    assert_eq!(ten_fold_accuracy(&[0.1; 9], &[true; 9]).unwrap_err(), ScoresError::Folds { pairs: 9, folds: 10 });
    assert!(kfold_accuracy(&[0.1; 9], &[true; 9], 1, TieBreak::Lowest).is_err());
    assert!(verification_report(&[0.1; 12], &[true; 12]).is_err());
}

#[test]
fn folds_are_consecutive_blocks_as_the_official_kfold() {
    // int(i * 25 / 10): 0 2 5 7 10 12 15 17 20 22 25.
    let ends: Vec<usize> = fold_ranges(25, 10).iter().map(|r| r.end).collect();
    assert_eq!(ends, [2, 5, 7, 10, 12, 15, 17, 20, 22, 25]);
    assert_eq!(fold_ranges(6000, 10)[3], 1800..2400);
}

#[test]
fn ten_fold_on_a_constructed_case() {
    // 10 folds of (genuine, impostor). Impostors all .25; genuines .75, except fold 0's .1
    // (wrong at any useful threshold) and fold 9's .5 (inside the other folds' plateau).
    let mut scores = Vec::new();
    let mut same = Vec::new();
    for fold in 0..10 {
        scores.extend([[0.1, 0.75, 0.75, 0.75, 0.75, 0.75, 0.75, 0.75, 0.75, 0.5][fold], 0.25]);
        same.extend([true, false]);
    }
    let grid: Vec<f32> = threshold_grid().collect();
    assert_eq!(grid[250], 0.25);
    assert!(grid[299] < 0.5 && grid[300] >= 0.5 && grid[349] < 0.75 && grid[350] == 0.75);
    // With fold 9 in training (folds 0-8) the best thresholds are [.25, .5): 17 of 18 right;
    // without it (fold 9) they are [.25, .75). Highest picks .495 / .745, lowest .25.
    let official = ten_fold_accuracy(&scores, &same).unwrap();
    let thresholds: Vec<f32> = official.per_fold.iter().map(|f| f.threshold).collect();
    assert_eq!(thresholds, [vec![grid[299]; 9], vec![grid[349]]].concat());
    // Held out: fold 0 gets .5 (its genuine .1 is below), fold 9's genuine .5 is below .745.
    let accuracies: Vec<f64> = official.per_fold.iter().map(|f| f.accuracy).collect();
    assert_eq!(accuracies, [0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5]);
    // Mean .9; deviations -.4 twice and +.1 eight times: var (.32 + .08) / 10 = .04.
    close(official.mean, 0.9, "mean");
    close(official.std, 0.2, "std");
    let lowest = kfold_accuracy(&scores, &same, 10, TieBreak::Lowest).unwrap();
    assert!(lowest.per_fold.iter().all(|f| f.threshold == 0.25));
    // Only fold 0 fails now: mean .95, var (.45^2 + 9 x .05^2) / 10 = .0225.
    close(lowest.mean, 0.95, "lowest mean");
    close(lowest.std, 0.15, "lowest std");
}

/// Tiny deterministic generator, so the test needs no crate.
fn lcg(state: &mut u64) -> f32 {
    *state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (*state >> 40) as f32 / (1u64 << 24) as f32
}

#[test]
fn kfold_equals_a_brute_force_search() {
    let mut state = 7;
    for n in [10, 37, 600] {
        // Scores on a coarse lattice, so many fall on grid values and plateaus are wide.
        let same: Vec<bool> = (0..n).map(|_| lcg(&mut state) < 0.5).collect();
        let scores: Vec<f32> = same
            .iter()
            .map(|&y| {
                ((lcg(&mut state) * 2.0 - 1.0 + if y { 0.4 } else { 0.0 }).clamp(-1.0, 1.0) * 40.0).round() / 40.0
            })
            .collect();
        for tie in [TieBreak::Lowest, TieBreak::Highest] {
            let got = kfold_accuracy(&scores, &same, 10, tie).unwrap();
            for (f, range) in fold_ranges(n, 10).into_iter().enumerate() {
                let train: Vec<usize> = (0..n).filter(|i| !range.contains(i)).collect();
                let s: Vec<f32> = train.iter().map(|&i| scores[i]).collect();
                let y: Vec<bool> = train.iter().map(|&i| same[i]).collect();
                let mut best = (f32::NAN, -1.0);
                for t in threshold_grid() {
                    let a = accuracy_at(&s, &y, t);
                    if a > best.1 || (tie == TieBreak::Highest && a == best.1) {
                        best = (t, a);
                    }
                }
                assert_eq!(got.per_fold[f].threshold, best.0, "n {n} fold {f} {tie:?}");
                assert_eq!(got.per_fold[f].accuracy, accuracy_at(&scores[range.clone()], &same[range], best.0));
            }
        }
    }
}

#[test]
fn point_thresholds_survive_json() {
    let point = RocPoint { far: 0.0, tar: 0.0, threshold: f32::INFINITY };
    let json = serde_json::to_string(&point).unwrap();
    assert_eq!(json, r#"{"far":0.0,"tar":0.0,"threshold":null}"#);
    assert_eq!(serde_json::from_str::<RocPoint>(&json).unwrap(), point);
    let point = RocPoint { far: 0.5, tar: 1.0, threshold: 0.315 };
    assert_eq!(serde_json::from_str::<RocPoint>(&serde_json::to_string(&point).unwrap()).unwrap(), point);
}
