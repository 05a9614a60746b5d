//! The order in which pairs enter the 10-fold protocol, whose folds are blocks of consecutive
//! pairs (pure logic).
//!
//! A file that lays out 10 folds (LFW View 2: `10 300`) keeps its order, so its folds are the
//! official ones. Any other file is split into 10 folds that each take the next tenth of its
//! same-person pairs and the next tenth of its different-people pairs, in file order. Without
//! this, a one-fold file such as View 1's pairsDevTest (500 same pairs, then 500 different) would
//! give folds of one class each: the threshold learnt on the other nine folds, where the held-out
//! class is the minority, then lands on the wrong side for the held-out fold, and a chance-level
//! model scores near 0 % instead of 50 %.

use serde::{Deserialize, Serialize};

use crate::eval::pairs::FoldLayout;

/// Folds of the 10-fold protocol.
pub const FOLDS: usize = 10;

/// How the 10 folds were formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FoldScheme {
    /// The file's own 10 folds of consecutive pairs.
    FileOrder,
    /// Each fold the next tenth of the same and of the different pairs (the file lays out no
    /// 10 folds).
    Stratified,
}

/// The scheme for a file with `layout` (see the module documentation).
pub fn fold_scheme(layout: Option<FoldLayout>) -> FoldScheme {
    match layout {
        Some(FoldLayout { folds: FOLDS, .. }) => FoldScheme::FileOrder,
        _ => FoldScheme::Stratified,
    }
}

/// Pair indices in the order the 10-fold protocol reads them: the identity for
/// [`FoldScheme::FileOrder`]; for [`FoldScheme::Stratified`], fold after fold, its same pairs
/// then its different pairs, each class cut into tenths at `i * count / 10` as folds are.
pub fn fold_order(same: &[bool], scheme: FoldScheme) -> Vec<usize> {
    if scheme == FoldScheme::FileOrder {
        return (0..same.len()).collect();
    }
    let genuine: Vec<usize> = (0..same.len()).filter(|&i| same[i]).collect();
    let impostor: Vec<usize> = (0..same.len()).filter(|&i| !same[i]).collect();
    let tenth = |list: &[usize], f: usize| list[f * list.len() / FOLDS..(f + 1) * list.len() / FOLDS].to_vec();
    (0..FOLDS).flat_map(|f| [tenth(&genuine, f), tenth(&impostor, f)].concat()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view2_keeps_its_order_and_view1_is_stratified() {
        let view2 = Some(FoldLayout { folds: 10, per_class: 1 });
        let same: Vec<bool> = (0..20).map(|i| i % 2 == 0).collect();
        assert_eq!(fold_order(&same, fold_scheme(view2)), (0..20).collect::<Vec<_>>());

        // View 1: 20 same pairs, then 20 different.
        let view1 = Some(FoldLayout { folds: 1, per_class: 20 });
        let same: Vec<bool> = (0..40).map(|i| i < 20).collect();
        let order = fold_order(&same, fold_scheme(view1));
        let expected: Vec<usize> = (0..10).flat_map(|f| [2 * f, 2 * f + 1, 20 + 2 * f, 21 + 2 * f]).collect();
        assert_eq!(order, expected);
        assert_eq!(fold_scheme(None), FoldScheme::Stratified);
    }
}
