//! The ids the app's messages and state refer to, at the bottom of the app's modules so that
//! anything may name them.

/// A loaded photo, for the lifetime of the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FaceId(pub u64);

/// Identifies what an inference was run on, to drop results that an edit has overtaken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InferKey {
    pub face: FaceId,
    pub align_revision: u64,
    pub doc_revision: u64,
    pub model_generation: u64,
}
