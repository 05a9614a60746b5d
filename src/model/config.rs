//! The configuration that builds a FROM network: widths, depths, heads and pattern grid.

use burn::config::Config;

use crate::patterns;

/// LResNet50E-IR stage widths of the official FROM model.
pub const LRESNET50E_IR_WIDTHS: [usize; 4] = [64, 128, 256, 512];
/// LResNet50E-IR blocks per stage.
pub const LRESNET50E_IR_BLOCKS: [usize; 4] = [3, 4, 14, 3];
/// Input of the official model: an aligned 112 x 96 RGB face (SphereFace template).
pub const FROM_INPUT_SIZE: [usize; 2] = [112, 96];
/// The backbone halves the resolution four times (the first block of every stage has stride 2).
pub const BACKBONE_STRIDE: usize = 16;

/// Upper bounds on a configuration, which may come from a file (a record's metadata, shapes in a
/// state dict): generous beside the official model (512 wide, 14 blocks, 256-channel pyramid,
/// 112 x 96) and small enough that building the network cannot exhaust memory.
pub const MAX_CHANNELS: usize = 2048;
pub const MAX_BLOCKS_PER_STAGE: usize = 32;
pub const MAX_INPUT_SIDE: usize = 448;

/// Which of the official code's mask decoders (`lib/models/fpn.py`) the network has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskDecoderKind {
    /// `LResNet_Occ` (the paper's FROM): a mask of C5's shape, one value per channel and cell.
    #[default]
    Channel,
    /// `LResNet_Occ_2D`: one spatial map over C5's cells, the same for every channel.
    Spatial,
    /// `LResNet_Occ_FC`: a mask on the embedding (one value per embedding dimension), not spatial.
    Embedding,
}

impl MaskDecoderKind {
    /// The official class this decoder comes from.
    pub fn official_name(self) -> &'static str {
        match self {
            MaskDecoderKind::Channel => "LResNet_Occ",
            MaskDecoderKind::Spatial => "LResNet_Occ_2D",
            MaskDecoderKind::Embedding => "LResNet_Occ_FC",
        }
    }
}

/// Channels of the embedding-mask decoder's reduced pyramid map (`reduces.*` of
/// `LResNet_Occ_FC`, fixed at 64 there).
pub const EMBEDDING_MASK_REDUCED: usize = 64;

/// Builds [`FromNet`](super::FromNet). The defaults are the official LResNet50E-IR-FROM;
/// a reduced configuration (narrow widths, one block per stage) tests cheaply.
#[derive(Config, Debug, PartialEq)]
pub struct FromNetConfig {
    /// Output channels of layer1..layer4.
    #[config(default = "LRESNET50E_IR_WIDTHS")]
    pub widths: [usize; 4],
    /// BlockIR count of layer1..layer4.
    #[config(default = "LRESNET50E_IR_BLOCKS")]
    pub blocks: [usize; 4],
    /// Channels of the feature pyramid and of the mask decoder's hidden layer.
    #[config(default = 256)]
    pub fpn_channels: usize,
    /// Size of the face embedding.
    #[config(default = 512)]
    pub embedding_dim: usize,
    /// K of the K x K proximate-occlusion grid (5 -> 226 patterns).
    #[config(default = "patterns::DEFAULT_GRID")]
    pub grid: usize,
    /// Input height and width; both must be multiples of 16.
    #[config(default = "FROM_INPUT_SIZE")]
    pub input_size: [usize; 2],
    /// The mask decoder (configurations written before it existed are the paper's).
    #[config(default = "MaskDecoderKind::Channel")]
    pub decoder: MaskDecoderKind,
}

impl FromNetConfig {
    /// Height and width of C5 and of the feature mask (7 x 6 for 112 x 96).
    pub fn feature_size(&self) -> [usize; 2] {
        [self.input_size[0] / BACKBONE_STRIDE, self.input_size[1] / BACKBONE_STRIDE]
    }

    /// Length of the flattened C5 map: the input of the embedding and pattern heads.
    pub fn flat_features(&self) -> usize {
        let [h, w] = self.feature_size();
        self.widths[3] * h * w
    }

    /// Length of the pattern predictor's input: the flattened mask (repeated over the channels
    /// for the spatial decoder, as the official code repeats it), or the embedding mask.
    pub fn pattern_features(&self) -> usize {
        match self.decoder {
            MaskDecoderKind::Channel | MaskDecoderKind::Spatial => self.flat_features(),
            MaskDecoderKind::Embedding => self.embedding_dim,
        }
    }

    /// Number of proximate occlusion patterns, "no occlusion" included.
    pub fn pattern_count(&self) -> usize {
        patterns::pattern_count(self.grid)
    }

    /// Checks what `init` would otherwise panic on.
    pub fn validate(&self) -> Result<(), String> {
        let [h, w] = self.input_size;
        if h == 0 || w == 0 || h % BACKBONE_STRIDE != 0 || w % BACKBONE_STRIDE != 0 {
            return Err(format!("input size {h}x{w} must be non-zero multiples of {BACKBONE_STRIDE}"));
        }
        if h > MAX_INPUT_SIDE || w > MAX_INPUT_SIDE {
            return Err(format!("input size {h}x{w} is larger than {MAX_INPUT_SIDE}x{MAX_INPUT_SIDE}"));
        }
        if self.widths.contains(&0) || self.fpn_channels == 0 || self.embedding_dim == 0 {
            return Err("widths, fpn_channels and embedding_dim must be non-zero".into());
        }
        let widest = self.widths.iter().copied().max().unwrap_or(0);
        for (name, value) in
            [("widths", widest), ("fpn_channels", self.fpn_channels), ("embedding_dim", self.embedding_dim)]
        {
            if value > MAX_CHANNELS {
                return Err(format!("{name}: {value} channels is more than {MAX_CHANNELS}"));
            }
        }
        if self.blocks.contains(&0) {
            return Err(format!("every stage needs at least one block, got {:?}", self.blocks));
        }
        if self.blocks.iter().any(|&b| b > MAX_BLOCKS_PER_STAGE) {
            return Err(format!("blocks {:?}: at most {MAX_BLOCKS_PER_STAGE} per stage", self.blocks));
        }
        if !(patterns::MIN_GRID..=patterns::MAX_GRID).contains(&self.grid) {
            return Err(format!("grid {} is outside {}..={}", self.grid, patterns::MIN_GRID, patterns::MAX_GRID));
        }
        Ok(())
    }
}
