//! Reading a FROM network's configuration off the shapes in its state dict, so an official
//! checkpoint (or one of another width, depth or grid) loads without flags.

use crate::model::FromNetConfig;
use crate::model::config::{BACKBONE_STRIDE, MAX_INPUT_SIDE, MaskDecoderKind};
use crate::patterns::grid_for_pattern_count;

use super::CheckpointError;
use super::state_dict::StateDict;

/// Height of the final feature map of the supported templates (112-pixel-high faces).
const FEATURE_HEIGHT: usize = 7;

fn dims<'a>(sd: &'a StateDict, key: &str) -> Result<&'a [usize], CheckpointError> {
    sd.shape(key).ok_or_else(|| CheckpointError::infer(&sd.source, format!("key '{key}' is missing")))
}

fn dim(sd: &StateDict, key: &str, axis: usize) -> Result<usize, CheckpointError> {
    let shape = dims(sd, key)?;
    shape.get(axis).copied().ok_or_else(|| {
        CheckpointError::infer(&sd.source, format!("key '{key}' has shape {shape:?}, expected rank > {axis}"))
    })
}

/// Which of the official mask decoders a state dict holds, by its keys: `reduces.*` belong to
/// `LResNet_Occ_FC`, a seventh `mask` layer to `LResNet_Occ_2D`.
pub fn infer_decoder(sd: &StateDict) -> MaskDecoderKind {
    if sd.tensors.keys().any(|k| k.starts_with("reduces.")) {
        MaskDecoderKind::Embedding
    } else if sd.tensors.contains_key("mask.6.weight") {
        MaskDecoderKind::Spatial
    } else {
        MaskDecoderKind::Channel
    }
}

/// The configuration whose `init` has exactly this state dict's shapes (checked afterwards by
/// the all-or-nothing load).
pub fn infer_from_net_config(sd: &StateDict) -> Result<FromNetConfig, CheckpointError> {
    let mut widths = [0; 4];
    let mut blocks = [0; 4];
    for stage in 0..4 {
        let first_conv = format!("layer{}.0.conv1.weight", stage + 1);
        widths[stage] = dim(sd, &first_conv, 0)?;
        if widths[stage] == 0 {
            return Err(CheckpointError::infer(&sd.source, format!("key '{first_conv}' has no output channels")));
        }
        let prefix = format!("layer{}.", stage + 1);
        blocks[stage] = sd
            .tensors
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix)?.split('.').next()?.parse::<usize>().ok())
            .max()
            .map_or(0, |last| last.saturating_add(1));
    }
    let fpn_channels = dim(sd, "fpn.P5_1.weight", 0)?;
    let embedding_dim = dim(sd, "fc.2.weight", 0)?;
    let flat = dim(sd, "fc.2.weight", 1)?;
    let patterns = dim(sd, "regress.2.weight", 0)?;
    let grid = grid_for_pattern_count(patterns)
        .ok_or_else(|| CheckpointError::infer(&sd.source, format!("{patterns} patterns is no K x K grid's count")))?;
    let cells = flat / widths[3];
    if cells * widths[3] != flat || cells % FEATURE_HEIGHT != 0 {
        return Err(CheckpointError::infer(
            &sd.source,
            format!("fc input {flat} is not {} x {FEATURE_HEIGHT} x w", widths[3]),
        ));
    }
    let feature_width = cells / FEATURE_HEIGHT;
    if feature_width > MAX_INPUT_SIDE / BACKBONE_STRIDE {
        return Err(CheckpointError::infer(
            &sd.source,
            format!(
                "fc input {flat} means a feature map {feature_width} cells wide, more than an input of {MAX_INPUT_SIDE}"
            ),
        ));
    }
    let input_size = [FEATURE_HEIGHT * BACKBONE_STRIDE, feature_width * BACKBONE_STRIDE];
    let config = FromNetConfig::new()
        .with_widths(widths)
        .with_blocks(blocks)
        .with_fpn_channels(fpn_channels)
        .with_embedding_dim(embedding_dim)
        .with_grid(grid)
        .with_input_size(input_size)
        .with_decoder(infer_decoder(sd));
    config.validate().map_err(|why| CheckpointError::infer(&sd.source, why))?;
    Ok(config)
}
