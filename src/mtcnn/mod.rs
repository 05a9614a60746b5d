//! MTCNN face detection (Zhang, Zhang, Li, Qiao, "Joint Face Detection and Alignment using
//! Multi-task Cascaded Convolutional Networks", IEEE SPL 2016) as facenet-pytorch 2.6.0 runs
//! it, step for step, so boxes and landmarks match its `MTCNN.detect` (the spec and its
//! reasons: `tools/MTCNN_NOTES.md`).
//!
//! Three stages: P-Net proposes boxes on an image pyramid, R-Net rescores and refines 24x24
//! crops of them, O-Net rescores 48x48 crops and adds five landmarks.

pub mod boxes;
pub mod cpu_nets;
pub mod nets;
pub mod resize;

use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;

use burn::store::ModuleSnapshot;

use crate::checkpoint::{CheckpointError, StateDict, apply_state_dict};
use crate::cpu::{self, CpuNetError};

pub use boxes::FaceBox;
pub use cpu_nets::CpuMtcnnNets;
pub use nets::{ONet, ONetOutput, PNet, PNetOutput, RNet, RNetOutput};
pub use resize::{PlanarImage, Region, ResizeError};

use boxes::{bbreg, crop_region, landmarks, largest_first, nms_iou, nms_min, pnet_cell_boxes, rerec};
use cpu_nets::PNetMaps;
use nets::{ONET_SIZE, RNET_SIZE};
use resize::{normalize, pyramid_scales, scaled_size};

/// Weight files `Mtcnn::load` expects in its directory (`assets/mtcnn/`).
pub const PNET_FILE: &str = "pnet.safetensors";
pub const RNET_FILE: &str = "rnet.safetensors";
pub const ONET_FILE: &str = "onet.safetensors";

/// IoU above which stage 1 drops a box within one pyramid level.
const NMS_LEVEL_IOU: f64 = 0.5;
/// IoU above which stage 1 (across levels) and stage 2 drop a box.
const NMS_STAGE_IOU: f64 = 0.7;
/// Overlap over the smaller box above which stage 3 drops a box.
const NMS_FINAL_MIN: f32 = 0.7;
/// Crops per R-Net/O-Net forward. facenet-pytorch batches by 512 too; results do not depend
/// on it, it only bounds memory on crowded pictures (LFW images need one forward per stage).
const NET_BATCH: usize = 512;
/// Largest P-Net input (pixels) we accept: the first conv alone needs 40 bytes per pixel, so
/// a larger level means a huge picture with a small `min_face_size`.
const MAX_LEVEL_PIXELS: usize = 1 << 25;

#[derive(Debug, thiserror::Error)]
pub enum MtcnnError {
    #[error("MTCNN {net} weights: {source}")]
    Weights { net: &'static str, source: CheckpointError },
    #[error("MTCNN settings: {0}")]
    Settings(String),
    #[error(
        "MTCNN: the {width}x{height} photo is too large to search for small faces (its first pyramid \
         level, {level_width}x{level_height}, is over the {limit}-pixel limit); shrink it"
    )]
    ImageTooLarge { width: usize, height: usize, level_width: usize, level_height: usize, limit: usize },
    #[error("MTCNN {stage}: {source}")]
    Resize { stage: &'static str, source: ResizeError },
    #[error("MTCNN: reading the {what} from the device failed: {message}")]
    Readback { what: &'static str, message: String },
    #[error("MTCNN on the CPU path: {0}")]
    CpuPath(#[from] CpuNetError),
}

/// facenet-pytorch's `MTCNN` detection parameters; the defaults are its defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MtcnnSettings {
    /// Smallest face side, in pixels, the pyramid looks for.
    pub min_face_size: f64,
    /// Face-probability thresholds: P-Net keeps `>=`, R-Net and O-Net keep `>`.
    pub thresholds: [f32; 3],
    /// Scale ratio between pyramid levels, in (0, 1).
    pub factor: f64,
}

impl Default for MtcnnSettings {
    fn default() -> Self {
        Self { min_face_size: 20.0, thresholds: [0.6, 0.7, 0.7], factor: 0.709 }
    }
}

impl MtcnnSettings {
    /// Rejects settings that would make the pyramid endless or meaningless.
    pub fn validate(&self) -> Result<(), MtcnnError> {
        if !(self.min_face_size.is_finite() && self.min_face_size > 0.0) {
            return Err(MtcnnError::Settings(format!("min_face_size must be positive, got {}", self.min_face_size)));
        }
        if !(self.factor > 0.0 && self.factor < 1.0) {
            return Err(MtcnnError::Settings(format!("factor must lie in (0, 1), got {}", self.factor)));
        }
        if let Some(t) = self.thresholds.iter().find(|t| !(0.0..=1.0).contains(*t)) {
            return Err(MtcnnError::Settings(format!("thresholds must lie in [0, 1], got {t}")));
        }
        Ok(())
    }
}

/// One detected face, in original-image pixels.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Detection {
    /// `[x1, y1, x2, y2]`; not clipped to the image, so it can be negative or past the edge.
    pub bbox: [f32; 4],
    /// O-Net's face probability.
    pub score: f32,
    /// `[x, y]` of: the eye with the smaller x, the other eye, the nose, the mouth corner with
    /// the smaller x, the other mouth corner.
    pub landmarks: [[f32; 2]; 5],
}

impl Detection {
    /// The box with its score, for the box arithmetic in [`boxes`].
    pub fn face_box(&self) -> FaceBox {
        let [x1, y1, x2, y2] = self.bbox;
        FaceBox::new(x1, y1, x2, y2, self.score)
    }

    /// The same face with its box and landmarks moved by (`dx`, `dy`) pixels (from a padded copy
    /// of a photo back to the photo).
    pub fn translated(self, dx: f32, dy: f32) -> Self {
        let [x1, y1, x2, y2] = self.bbox;
        Self {
            bbox: [x1 + dx, y1 + dy, x2 + dx, y2 + dy],
            landmarks: self.landmarks.map(|[x, y]| [x + dx, y + dy]),
            ..self
        }
    }
}

/// The three networks and the detection settings.
#[derive(Debug)]
pub struct Mtcnn {
    pub pnet: PNet,
    pub rnet: RNet,
    pub onet: ONet,
    pub device: Device,
    pub settings: MtcnnSettings,
    /// The same networks for the CPU inference path, when `device` is the CPU.
    cpu: Option<CpuMtcnnNets>,
}

impl Mtcnn {
    /// Loads `pnet.safetensors`, `rnet.safetensors` and `onet.safetensors` (facenet-pytorch key
    /// names) from `dir`, with the default settings.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, MtcnnError> {
        let mut pnet = PNet::new(device);
        load_weights(&mut pnet, &dir.join(PNET_FILE), "P-Net")?;
        let mut rnet = RNet::new(device);
        load_weights(&mut rnet, &dir.join(RNET_FILE), "R-Net")?;
        let mut onet = ONet::new(device);
        load_weights(&mut onet, &dir.join(ONET_FILE), "O-Net")?;
        let cpu = if cpu::suits(device) { Some(CpuMtcnnNets::new(&pnet, &rnet, &onet)?) } else { None };
        Ok(Self { pnet, rnet, onet, device: device.clone(), settings: MtcnnSettings::default(), cpu })
    }

    pub fn with_settings(mut self, settings: MtcnnSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Every face, largest box area first, as `MTCNN.detect` returns them with its default
    /// `select_largest=True`. No face gives an empty list.
    pub fn detect(&self, image: &RgbImage) -> Result<Vec<Detection>, MtcnnError> {
        let faces = self.detect_by_score(image)?;
        let boxes: Vec<FaceBox> = faces.iter().map(Detection::face_box).collect();
        Ok(largest_first(&boxes).into_iter().map(|i| faces[i]).collect())
    }

    /// Every face in `detect_face`'s order: the final NMS's, i.e. descending O-Net probability.
    pub fn detect_by_score(&self, image: &RgbImage) -> Result<Vec<Detection>, MtcnnError> {
        self.settings.validate()?;
        if image.width() == 0 || image.height() == 0 {
            return Ok(Vec::new());
        }
        let image = PlanarImage::from_rgb(image);
        let proposals = self.propose(&image)?;
        if proposals.is_empty() {
            return Ok(Vec::new());
        }
        let refined = self.refine(&image, &proposals)?;
        if refined.is_empty() {
            return Ok(Vec::new());
        }
        self.output(&image, &refined)
    }

    /// Stage 1: P-Net over the pyramid; per-level NMS, NMS across levels, regression (no +1)
    /// and squaring.
    fn propose(&self, image: &PlanarImage) -> Result<Vec<FaceBox>, MtcnnError> {
        let (height, width) = (image.height(), image.width());
        let mut boxes = Vec::new();
        let mut offsets = Vec::new();
        for scale in pyramid_scales(height, width, self.settings.min_face_size, self.settings.factor) {
            let (level_height, level_width) = scaled_size(height, width, scale);
            if level_height.saturating_mul(level_width) > MAX_LEVEL_PIXELS {
                return Err(MtcnnError::ImageTooLarge {
                    width,
                    height,
                    level_width,
                    level_height,
                    limit: MAX_LEVEL_PIXELS,
                });
            }
            let mut pixels = image
                .area_resize(image.full(), level_height, level_width)
                .map_err(|source| MtcnnError::Resize { stage: "P-Net pyramid", source })?;
            normalize(&mut pixels);
            let maps = self.pnet_maps(pixels, level_height, level_width)?;
            let cells =
                pnet_cell_boxes(&maps.face, &maps.reg, maps.height, maps.width, scale, self.settings.thresholds[0]);
            let level: Vec<FaceBox> = cells.iter().map(|c| c.bbox).collect();
            for i in nms_iou(&level, NMS_LEVEL_IOU) {
                boxes.push(cells[i].bbox);
                offsets.push(cells[i].reg);
            }
        }
        Ok(nms_iou(&boxes, NMS_STAGE_IOU).into_iter().map(|i| rerec(&bbreg(&boxes[i], &offsets[i], false))).collect())
    }

    /// Stage 2: R-Net on 24x24 crops; threshold, NMS, regression (+1) and squaring.
    fn refine(&self, image: &PlanarImage, proposals: &[FaceBox]) -> Result<Vec<FaceBox>, MtcnnError> {
        let (boxes, pixels) = crops(image, proposals, RNET_SIZE, "R-Net crops")?;
        let [prob, reg] = match &self.cpu {
            Some(nets) => batched_on_cpu(&pixels, RNET_SIZE, |crops| {
                let out = nets.rnet(crops);
                [out.prob, out.reg]
            }),
            None => self.batched(&pixels, RNET_SIZE, |x| {
                let out = self.rnet.forward(x);
                [(out.prob, "R-Net probability"), (out.reg, "R-Net regression")]
            })?,
        };
        let mut passed = Vec::new();
        let mut offsets = Vec::new();
        for (i, b) in boxes.iter().enumerate() {
            let [_, score] = row::<2>(&prob, i, "R-Net probability")?;
            if score > self.settings.thresholds[1] {
                passed.push(b.with_score(score));
                offsets.push(row::<4>(&reg, i, "R-Net regression")?);
            }
        }
        Ok(nms_iou(&passed, NMS_STAGE_IOU).into_iter().map(|i| rerec(&bbreg(&passed[i], &offsets[i], true))).collect())
    }

    /// Stage 3: O-Net on 48x48 crops; threshold, landmarks on the cropped box, regression (+1,
    /// no squaring) and the "Min" NMS.
    fn output(&self, image: &PlanarImage, refined: &[FaceBox]) -> Result<Vec<Detection>, MtcnnError> {
        let (boxes, pixels) = crops(image, refined, ONET_SIZE, "O-Net crops")?;
        let [prob, reg, marks] = match &self.cpu {
            Some(nets) => batched_on_cpu(&pixels, ONET_SIZE, |crops| {
                let out = nets.onet(crops);
                [out.prob, out.reg, out.landmarks]
            }),
            None => self.batched(&pixels, ONET_SIZE, |x| {
                let out = self.onet.forward(x);
                [(out.prob, "O-Net probability"), (out.reg, "O-Net regression"), (out.landmarks, "O-Net landmarks")]
            })?,
        };
        let mut passed = Vec::new();
        let mut points = Vec::new();
        for (i, b) in boxes.iter().enumerate() {
            let [_, score] = row::<2>(&prob, i, "O-Net probability")?;
            if score > self.settings.thresholds[2] {
                let cropped = b.with_score(score);
                points.push(landmarks(&cropped, &row::<10>(&marks, i, "O-Net landmarks")?));
                passed.push(bbreg(&cropped, &row::<4>(&reg, i, "O-Net regression")?, true));
            }
        }
        Ok(nms_min(&passed, NMS_FINAL_MIN)
            .into_iter()
            .map(|i| Detection { bbox: passed[i].coords(), score: passed[i].score, landmarks: points[i] })
            .collect())
    }

    /// P-Net on one normalised CHW pyramid level.
    fn pnet_maps(&self, pixels: Vec<f32>, height: usize, width: usize) -> Result<PNetMaps, MtcnnError> {
        if let Some(nets) = &self.cpu {
            return Ok(nets.pnet(&pixels, height, width));
        }
        let out = self.pnet.forward(self.input(pixels, [1, 3, height, width]));
        let [_, _, map_height, map_width] = out.prob.dims();
        let prob = read(out.prob, "P-Net probability")?;
        // Channel 1 of the [1, 2, h, w] softmax is the face probability.
        let face = prob.get(map_height * map_width..).unwrap_or_default().to_vec();
        Ok(PNetMaps { height: map_height, width: map_width, face, reg: read(out.reg, "P-Net regression")? })
    }

    /// Runs `forward` over CHW crops of side `size`, `NET_BATCH` at a time, and concatenates
    /// each of its `[n, k]` outputs row-wise.
    fn batched<const K: usize>(
        &self,
        pixels: &[f32],
        size: usize,
        forward: impl Fn(Tensor<4>) -> [(Tensor<2>, &'static str); K],
    ) -> Result<[Vec<f32>; K], MtcnnError> {
        let per_crop = 3 * size * size;
        let mut outputs: [Vec<f32>; K] = std::array::from_fn(|_| Vec::new());
        for chunk in pixels.chunks(NET_BATCH * per_crop) {
            let count = chunk.len() / per_crop;
            let results = forward(self.input(chunk.to_vec(), [count, 3, size, size]));
            for (output, (tensor, what)) in outputs.iter_mut().zip(results) {
                output.extend(read(tensor, what)?);
            }
        }
        Ok(outputs)
    }

    fn input(&self, values: Vec<f32>, shape: [usize; 4]) -> Tensor<4> {
        Tensor::from_data(TensorData::new(values, shape), &self.device)
    }
}

/// [`Mtcnn::batched`] for the CPU path's networks, which read and return plain buffers.
fn batched_on_cpu<const K: usize>(
    pixels: &[f32],
    size: usize,
    forward: impl Fn(&[f32]) -> [Vec<f32>; K],
) -> [Vec<f32>; K] {
    let mut outputs: [Vec<f32>; K] = std::array::from_fn(|_| Vec::new());
    for chunk in pixels.chunks(NET_BATCH * 3 * size * size) {
        for (output, part) in outputs.iter_mut().zip(forward(chunk)) {
            output.extend(part);
        }
    }
    outputs
}

/// Loads converted facenet-pytorch weights: their keys are the nets' own field names.
fn load_weights(net: &mut impl ModuleSnapshot, path: &Path, name: &'static str) -> Result<(), MtcnnError> {
    let weights = |source| MtcnnError::Weights { net: name, source };
    let state_dict = StateDict::read(path).map_err(weights)?;
    apply_state_dict(net, state_dict, &[]).map_err(weights)?;
    Ok(())
}

/// The normalised `size`x`size` crops of `boxes` (CHW, one after another) and the boxes that
/// have one; a box wholly outside the image has none and is dropped (see `crop_region`).
fn crops(
    image: &PlanarImage,
    boxes: &[FaceBox],
    size: usize,
    stage: &'static str,
) -> Result<(Vec<FaceBox>, Vec<f32>), MtcnnError> {
    let mut kept = Vec::with_capacity(boxes.len());
    let mut pixels = Vec::with_capacity(boxes.len() * 3 * size * size);
    for b in boxes {
        let Some(region) = crop_region(b, image.width(), image.height()) else { continue };
        let crop = image.area_resize(region, size, size).map_err(|source| MtcnnError::Resize { stage, source })?;
        pixels.extend_from_slice(&crop);
        kept.push(*b);
    }
    normalize(&mut pixels);
    Ok((kept, pixels))
}

fn read<const D: usize>(tensor: Tensor<D>, what: &'static str) -> Result<Vec<f32>, MtcnnError> {
    tensor.try_into_vec_as::<f32>().map_err(|e| MtcnnError::Readback { what, message: e.to_string() })
}

/// Row `i` of a row-major `[n, N]` output.
fn row<const N: usize>(values: &[f32], i: usize, what: &'static str) -> Result<[f32; N], MtcnnError> {
    values
        .get(i * N..(i + 1) * N)
        .and_then(|r| <[f32; N]>::try_from(r).ok())
        .ok_or_else(|| MtcnnError::Readback { what, message: format!("no row {i} in {} values", values.len()) })
}
