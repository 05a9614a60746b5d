//! Evaluation protocols and metrics. Parsing and metrics are pure Rust, no tensors.

pub mod pairs;
pub mod verification;
