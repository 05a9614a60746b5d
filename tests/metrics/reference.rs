//! Rust against scikit-learn and a numpy re-implementation of the official 10-fold protocol on
//! 2000 synthetic pairs with ties (tests/fixtures/metrics, written by tools/metrics_reference.py).

use maskscope::eval::roc::{TarResult, TarRule, roc_curve, tar_at_far_official};
use maskscope::eval::verification::{
    KFoldAccuracy, REPORT_FARS, TieBreak, VerificationReport, best_threshold, kfold_accuracy, ten_fold_accuracy,
    verification_report, verification_report_with,
};
use serde_json::Value;

use crate::common::fixture;

fn scores() -> (Vec<f32>, Vec<bool>) {
    let text = std::fs::read_to_string(fixture("metrics/scores.csv")).unwrap();
    let mut scores = Vec::new();
    let mut same = Vec::new();
    for line in text.lines().skip(1) {
        let (score, label) = line.split_once(',').unwrap();
        scores.push(score.parse::<f32>().unwrap());
        same.push(label == "1");
    }
    (scores, same)
}

fn reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("metrics/sklearn_reference.json")).unwrap()).unwrap()
}

fn floats(value: &Value) -> Vec<f64> {
    value.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
}

fn close(actual: f64, expected: f64, tolerance: f64, what: &str) {
    assert!((actual - expected).abs() <= tolerance, "{what}: {actual} vs {expected}");
}

/// The JSON thresholds are float64 copies of float32 scores, so they convert back exactly.
fn threshold(value: &Value) -> f32 {
    value.as_f64().map_or(f32::INFINITY, |t| t as f32)
}

#[test]
fn fixture_is_what_the_script_says() {
    let (scores, same) = scores();
    let r = reference();
    assert_eq!(scores.len(), r["pairs"].as_u64().unwrap() as usize);
    assert_eq!(same.iter().filter(|&&y| y).count(), r["genuine"].as_u64().unwrap() as usize);
    // LFW View 2 layout: per fold, the genuine block first.
    assert!(same[..100].iter().all(|&y| y) && same[100..200].iter().all(|&y| !y));
    assert!(r["official_arange_grid_agrees"].as_bool().unwrap());
}

#[test]
fn roc_matches_sklearn_point_for_point() {
    let (scores, same) = scores();
    let r = reference();
    let roc = roc_curve(&scores, &same).unwrap();
    let (fpr, tpr) = (floats(&r["roc"]["fpr"]), floats(&r["roc"]["tpr"]));
    let thresholds = r["roc"]["thresholds"].as_array().unwrap();
    assert_eq!(roc.points.len(), fpr.len());
    assert_eq!(roc.points.len(), r["distinct_scores"].as_u64().unwrap() as usize + 1);
    for (i, p) in roc.points.iter().enumerate() {
        close(p.far, fpr[i], 1e-12, &format!("far[{i}]"));
        close(p.tar, tpr[i], 1e-12, &format!("tar[{i}]"));
        assert_eq!(p.threshold, threshold(&thresholds[i]), "threshold[{i}]");
    }
}

#[test]
fn auc_eer_and_tar_match_the_reference() {
    let (scores, same) = scores();
    let r = reference();
    let roc = roc_curve(&scores, &same).unwrap();
    close(roc.auc(), r["roc_auc_score"].as_f64().unwrap(), 1e-9, "AUC vs roc_auc_score");
    close(roc.auc(), r["auc"].as_f64().unwrap(), 1e-9, "AUC vs auc(roc_curve)");
    let eer = roc.eer();
    close(eer.rate, r["eer"].as_f64().unwrap(), 1e-9, "EER");
    assert_eq!(eer.threshold, threshold(&r["eer_threshold"]));
    for expected in r["tar_at_far"].as_array().unwrap() {
        let far = expected["far"].as_f64().unwrap();
        let got = roc.tar_at_far(far);
        match expected["tar"].as_f64() {
            Some(tar) => close(got.tar().unwrap(), tar, 1e-12, &format!("TAR at FAR {far}")),
            None => assert!(
                matches!(got.result, TarResult::NotEnoughImpostorPairs { impostor_pairs: 1000, needed: 10000 }),
                "{got:?}"
            ),
        }
    }
    for expected in r["tar_at_far_official"].as_array().unwrap() {
        let far = expected["far"].as_f64().unwrap();
        let tar = tar_at_far_official(&scores, &same, far).unwrap();
        close(tar, expected["tar"].as_f64().unwrap(), 1e-12, &format!("official TAR at FAR {far}"));
    }
    // `--tar-rule authors`: the report carries the official numbers at every reported FAR,
    // FAR 1e-4 included (1,000 impostors: the threshold is the highest impostor score, where the
    // ROC rule says there are too few impostor pairs), with the FAR that threshold really has.
    let report = verification_report_with(&scores, &same, TarRule::Authors).unwrap();
    for (got, expected) in report.tar_at_far.iter().zip(r["tar_at_far_official"].as_array().unwrap()) {
        assert_eq!(got.far, expected["far"].as_f64().unwrap());
        close(got.tar().unwrap(), expected["tar"].as_f64().unwrap(), 1e-12, &format!("report TAR at FAR {}", got.far));
        let TarResult::Measured { threshold, actual_far, .. } = got.result else { panic!("{got:?}") };
        let accepted = scores.iter().zip(&same).filter(|&(&s, &y)| !y && s >= threshold).count();
        close(actual_far, accepted as f64 / 1000.0, 1e-12, "actual FAR");
        assert!(actual_far >= 1.0 / 1000.0);
    }
    assert_eq!(report.tar_at_far.len(), REPORT_FARS.len());
    let roc_rule = verification_report_with(&scores, &same, TarRule::Roc).unwrap();
    assert_eq!(roc_rule, verification_report(&scores, &same).unwrap());
    assert!(roc_rule.tar_at_far[2].tar().is_none(), "the ROC rule cannot measure FAR 1e-4 on 1,000 impostors");
}

fn check_kfold(got: &KFoldAccuracy, expected: &Value) {
    close(got.mean, expected["mean"].as_f64().unwrap(), 1e-12, "10-fold mean");
    close(got.std, expected["std"].as_f64().unwrap(), 1e-12, "10-fold std");
    close(got.mean_threshold, expected["mean_threshold"].as_f64().unwrap(), 1e-9, "mean threshold");
    let accuracies = floats(&expected["accuracies"]);
    let thresholds = expected["thresholds"].as_array().unwrap();
    assert_eq!(got.per_fold.len(), 10);
    for (i, fold) in got.per_fold.iter().enumerate() {
        assert_eq!(fold.accuracy, accuracies[i], "fold {i} accuracy");
        assert_eq!(fold.threshold, threshold(&thresholds[i]), "fold {i} threshold");
    }
}

#[test]
fn ten_fold_matches_the_numpy_protocol() {
    let (scores, same) = scores();
    let r = reference();
    let official = ten_fold_accuracy(&scores, &same).unwrap();
    assert_eq!(official.tie_break, TieBreak::Highest);
    check_kfold(&official, &r["ten_fold"]);
    check_kfold(&kfold_accuracy(&scores, &same, 10, TieBreak::Lowest).unwrap(), &r["ten_fold_lowest_tie"]);
    // On this data the tie rule changes the result: the rule is not a detail.
    assert_ne!(r["ten_fold"]["mean"], r["ten_fold_lowest_tie"]["mean"]);
    let (t, accuracy) = best_threshold(&scores, &same);
    assert_eq!(t, threshold(&r["best_threshold"]["threshold"]));
    close(accuracy, r["best_threshold"]["accuracy"].as_f64().unwrap(), 1e-12, "best-threshold accuracy");
}

#[test]
fn report_bundles_the_metrics_and_round_trips_through_json() {
    let (scores, same) = scores();
    let r = reference();
    let report = verification_report(&scores, &same).unwrap();
    assert_eq!((report.pairs, report.genuine, report.impostor), (2000, 1000, 1000));
    close(report.ten_fold.mean, r["ten_fold"]["mean"].as_f64().unwrap(), 1e-12, "report 10-fold");
    close(report.auc, r["roc_auc_score"].as_f64().unwrap(), 1e-9, "report AUC");
    assert_eq!(report.tar_at_far.iter().map(|t| t.far).collect::<Vec<_>>(), REPORT_FARS);
    assert_eq!(report.roc.len(), report.roc_points_full);

    let json = serde_json::to_string(&report).unwrap();
    let back: VerificationReport = serde_json::from_str(&json).unwrap();
    // serde_json's default float parser may be 1 ulp off (exact needs its `float_roundtrip`).
    json_close(&serde_json::to_value(&back).unwrap(), &serde_json::to_value(&report).unwrap(), "report");
    assert_eq!(back.roc[0].threshold, f32::INFINITY);
    assert_eq!(back.tar_at_far[2], report.tar_at_far[2]);
    let value: Value = serde_json::from_str(&json).unwrap();
    assert!(value["roc"][0]["threshold"].is_null(), "+inf threshold is written as null");
    assert_eq!(value["tar_at_far"][2]["status"], "not_enough_impostor_pairs");
    assert_eq!(value["tar_at_far"][2]["needed"], 10000);
    assert_eq!(value["tar_at_far"][0]["status"], "measured");
}

/// Same shape, numbers equal to 1e-15 relative.
fn json_close(a: &Value, b: &Value, at: &str) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() <= 1e-15 * x.abs().max(y.abs()), "{at}: {x} vs {y}");
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}");
            x.iter().zip(y).enumerate().for_each(|(i, (x, y))| json_close(x, y, &format!("{at}[{i}]")));
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>(), "{at}");
            x.iter().for_each(|(k, v)| json_close(v, &y[k], &format!("{at}.{k}")));
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

#[test]
fn decimated_roc_keeps_its_ends_and_shape() {
    let (scores, same) = scores();
    let roc = roc_curve(&scores, &same).unwrap();
    let trapezoid = |points: &[maskscope::eval::roc::RocPoint]| -> f64 {
        points.windows(2).map(|w| (w[1].far - w[0].far) * (w[1].tar + w[0].tar) / 2.0).sum()
    };
    // Only straight-run points dropped: the same curve.
    let lossless = roc.decimated(usize::MAX);
    assert!(lossless.len() < roc.points.len());
    close(trapezoid(&lossless), roc.auc(), 1e-12, "lossless AUC");
    for max in [2, 50, 300] {
        let few = roc.decimated(max);
        assert!(few.len() <= max, "{} points for max {max}", few.len());
        assert_eq!(few[0], roc.points[0]);
        assert_eq!(few.last(), roc.points.last());
        if max >= 50 {
            close(trapezoid(&few), roc.auc(), 0.01, "decimated AUC");
        }
    }
    let report = verification_report(&scores, &same).unwrap().decimated(300);
    assert!(report.roc.len() <= 300 && report.roc_points_full == roc.points.len());
}
