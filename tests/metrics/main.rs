//! Evaluation metrics: pairs files, verification (k-fold, ROC, AUC, EER, TAR@FAR) and
//! identification. One test binary for all of them, to link the crate once.

#[path = "../common/mod.rs"]
mod common;

mod identification;
mod pairs_csv;
mod reference;
mod verification_by_hand;
