//! The CPU path against burn's forward pass, which defines every network: single layers with
//! each fusion, and whole networks with random weights and batch-norm statistics away from the
//! identity.

use burn::module::{Module, Param, RunningState};
use burn::nn::conv::Conv2dConfig;
use burn::nn::{BatchNorm, BatchNormConfig, PRelu, PReluConfig, PaddingConfig2d};
use burn::tensor::{Device, Distribution, Tensor};
use image::RgbImage;

use super::channel_ops::{Affine, ChannelOp, values};
use super::layers::{ConvSpec, Layer};
use super::program::FACES_PER_TASK;
use super::*;
use crate::model::FromNetConfig;
use crate::model::config::MaskDecoderKind;
use crate::model::from_mobilefacenet::FromMobileFaceNetConfig;
use crate::model::mobilefacenet::{MobileFaceNetConfig, normalize_mobilefacenet, same_padding_3x3};
use crate::model::ops::{BurnOps, Ops};

fn random(dims: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::random(dims, Distribution::Normal(0.0, 1.0), device)
}

fn nhwc(t: &Tensor<4>) -> Nhwc {
    let [batch, channels, height, width] = t.dims();
    Nhwc::from_planar(&values(t.clone(), "input").unwrap(), batch, channels, height, width)
}

/// Largest difference, relative to the reference's largest magnitude (at least 1).
fn relative_difference(ours: &Nhwc, reference: Tensor<4>) -> f32 {
    let scale = values(reference.clone().abs().max(), "scale").unwrap()[0].max(1.0);
    let ours = values(ours.to_tensor(&Device::flex()), "ours").unwrap();
    let reference = values(reference, "reference").unwrap();
    assert_eq!(ours.len(), reference.len());
    ours.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max) / scale
}

fn rows_close(ours: &[Vec<f32>], reference: Tensor<2>, what: &str) {
    let reference = values(reference, what).unwrap();
    let ours = ours.concat();
    assert_eq!(ours.len(), reference.len(), "{what}");
    let scale = reference.iter().fold(1f32, |m, v| m.max(v.abs()));
    let difference = ours.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(difference <= 1e-4 * scale, "{what}: {difference} (scale {scale})");
}

/// Statistics and affine parameters away from a fresh batch norm's identity.
fn randomise(bn: &mut BatchNorm, device: &Device) {
    let n = bn.gamma.dims()[0];
    let stats = |low: f64| Tensor::<1>::random([n], Distribution::Uniform(low, low + 1.0), device);
    bn.running_mean = RunningState::new(stats(-0.5));
    bn.running_var = RunningState::new(stats(0.5));
    bn.gamma = Param::from_tensor(stats(0.5));
    bn.beta = Param::from_tensor(stats(-0.5));
}

fn random_prelu(channels: usize, device: &Device) -> PRelu {
    let act = PReluConfig::new().with_num_parameters(channels).init(device);
    PRelu { alpha: Param::from_tensor(Tensor::random([channels], Distribution::Uniform(0.0, 0.5), device)), ..act }
}

fn faces(count: usize, height: u32, width: u32) -> Vec<RgbImage> {
    (0..count as u8)
        .map(|i| {
            RgbImage::from_fn(width, height, |x, y| {
                image::Rgb([(x * 2) as u8 ^ i, (y * 2) as u8, ((x + y) as u8).wrapping_mul(3 + i)])
            })
        })
        .collect()
}

/// Every conv kind the networks use, with a PReLU and a batch norm after it, and a batch norm
/// before it (gathered for padded kernels, folded otherwise), against burn's layers.
#[test]
fn layers_with_fused_operations_match_burn() {
    let device = Device::flex();
    let cases = [
        // (in, out, kernel, stride, depthwise, input side): odd and even sides, both paddings.
        (3, 16, 3, 2, false, 12),
        (3, 16, 3, 1, false, 9),
        (24, 24, 3, 1, true, 9),
        (24, 24, 3, 2, true, 10),
        (32, 32, 7, 1, true, 7),
        (20, 36, 1, 1, false, 11),
        (20, 36, 1, 2, false, 11),
        // 3x3 stride 1 over 16+ channels: by Winograd's F(2x2, 3x3), odd and even sides.
        (16, 24, 3, 1, false, 9),
        (24, 16, 3, 1, false, 10),
        (16, 16, 3, 1, false, 1),
        // Few output pixels and two panels: the layer splits by output columns on 2+ threads.
        (24, 100, 3, 2, false, 5),
        (40, 130, 1, 1, false, 3),
    ];
    for (cin, cout, kernel, stride, depthwise, side) in cases {
        let padding = if kernel == 3 { same_padding_3x3(stride) } else { PaddingConfig2d::Valid };
        let conv = Conv2dConfig::new([cin, cout], [kernel, kernel])
            .with_stride([stride, stride])
            .with_groups(if depthwise { cin } else { 1 })
            .with_padding(padding)
            .init(&device);
        let act = random_prelu(cout, &device);
        let (mut before, mut after) =
            (BatchNormConfig::new(cin).init(&device), BatchNormConfig::new(cout).init(&device));
        randomise(&mut before, &device);
        randomise(&mut after, &device);
        let x = random([2, cin, side, side], &device);
        let case = format!("{cin}->{cout} k{kernel} s{stride} dw={depthwise} side {side}");

        let plain = Layer::new(&conv, Some(&act), "case").unwrap();
        let reference = act.forward(conv.forward(x.clone()));
        let ours = plain.forward(&nhwc(&x), None);
        assert!(relative_difference(&ours, reference) < 1e-5, "{case}");
        // Into a used buffer (longer than needed, full of NaN): every value is written.
        let reused = plain.forward_into(&nhwc(&x), None, vec![f32::NAN; ours.data.len() + 7], false);
        assert_eq!(reused.data, ours.data, "{case} into a used buffer");

        let mut spec = ConvSpec::from_conv(&conv, "case").unwrap();
        spec.fold_after(&Affine::batch_norm(&after, "after").unwrap());
        let mut prologue = Some(Affine::batch_norm(&before, "before").unwrap());
        if spec.fold_before(prologue.as_ref().unwrap()) {
            prologue = None;
        } else if depthwise {
            continue; // a padded depthwise layer takes no prologue: the program keeps the norm apart
        }
        let ops = vec![ChannelOp::prelu(&act, cout, "case").unwrap(), ChannelOp::Sigmoid];
        let fused = Layer::build(spec, prologue, ops);
        let by_winograd = kernel == 3 && stride == 1 && !depthwise && cin.min(cout) >= 16;
        assert_eq!(matches!(fused, Layer::Winograd { .. }), by_winograd, "{case}");
        let reference =
            burn::tensor::activation::sigmoid(act.forward(after.forward(conv.forward(before.forward(x.clone())))));
        let difference = relative_difference(&fused.forward(&nhwc(&x), None), reference);
        assert!(difference < 1e-5, "{case} fused: {difference}");
    }
}

#[test]
fn residual_is_added_after_the_conv() {
    let device = Device::flex();
    // 8 channels over 25 pixels (by rows), 130 over 4 (by columns on 2+ threads), a 3x3 conv
    // over 16 channels (by Winograd's method).
    for (channels, side, kernel) in [(8, 5, 1), (130, 2, 1), (16, 5, 3)] {
        let padding = if kernel == 3 { same_padding_3x3(1) } else { PaddingConfig2d::Valid };
        let conv = Conv2dConfig::new([channels, channels], [kernel, kernel]).with_padding(padding).init(&device);
        let (x, skip) = (random([1, channels, side, side], &device), random([1, channels, side, side], &device));
        let layer = Layer::new(&conv, None, "project").unwrap();
        let ours = layer.forward(&nhwc(&x), Some(&nhwc(&skip)));
        assert!(relative_difference(&ours, conv.forward(x) + skip) < 1e-5, "{channels} channels");
    }
}

#[test]
fn upsampling_repeats_each_pixel_in_a_2x2_block() {
    // 1 image, 2x1 pixels, 2 channels: pixel (0,0) = [1, 2], pixel (1,0) = [3, 4]
    let x = Nhwc { batch: 1, height: 2, width: 1, channels: 2, data: vec![1.0, 2.0, 3.0, 4.0] };
    let up = x.upsample_x2();
    assert_eq!((up.height, up.width), (4, 2));
    assert_eq!(up.data, vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 4.0, 3.0, 4.0, 3.0, 4.0]);
    assert_eq!(
        up.channels_first(),
        vec![vec![1.0, 1.0, 1.0, 1.0, 3.0, 3.0, 3.0, 3.0, 2.0, 2.0, 2.0, 2.0, 4.0, 4.0, 4.0, 4.0]]
    );
}

/// MobileFaceNet's every pyramid tap and its embedding, random weights, three faces.
#[test]
fn mobilefacenet_matches_burn() {
    let device = Device::flex();
    let net = MobileFaceNetConfig::new().init(&device);
    let faces = faces(3, 112, 112);
    let faces: Vec<&RgbImage> = faces.iter().collect();
    let raw = Nhwc::from_faces(&faces).to_tensor(&device);
    let reference = net.taps(normalize_mobilefacenet(raw));

    let mut tracer = Tracer::new();
    let input = tracer.input(112, 112);
    let input = tracer.scale(input, 1.0 / 128.0, -127.5 / 128.0);
    let taps = net.taps_with(&mut tracer, input);
    let embedding = net.embed_features_with(&mut tracer, taps.features);
    let wanted = [taps.c3, taps.c4, taps.c5, taps.features, embedding];
    let program = Program::new(tracer, &wanted).unwrap();
    let ours = program.run(&Nhwc::from_faces(&faces), &wanted);
    let embedding_reference = net.embed_features_with(&mut BurnOps, reference.features.clone());
    for (name, ours, reference) in [
        ("c3", &ours[0], reference.c3),
        ("c4", &ours[1], reference.c4),
        ("c5", &ours[2], reference.c5),
        ("features", &ours[3], reference.features),
        ("embedding", &ours[4], embedding_reference),
    ] {
        let difference = relative_difference(ours, reference);
        assert!(difference < 1e-4, "{name}: {difference}");
    }

    let embedder = EmbedderProgram::new(&net).unwrap();
    rows_close(
        &embedder.embeddings(&faces),
        net.embed_features(net.taps(normalize_mobilefacenet(Nhwc::from_faces(&faces).to_tensor(&device))).features),
        "embedder",
    );
    let c3 = embedder.c3(&faces[..1]);
    let reference = net.c3(normalize_mobilefacenet(Nhwc::from_faces(&faces[..1]).to_tensor(&device)));
    assert!(relative_difference(&c3, reference) < 1e-4, "c3");
}

/// FROM on MobileFaceNet: the mask decoder's last conv random too (not the open start), batch
/// norms away from the identity, more faces than one task carries (the pattern predictor runs
/// on the whole batch, the rest face by face).
#[test]
fn from_mobilefacenet_matches_burn() {
    let device = Device::flex();
    let mut net = FromMobileFaceNetConfig::new().init(&device);
    let dims = net.mask.conv2.weight.dims();
    net.mask.conv2.weight = Param::from_tensor(Tensor::random(dims, Distribution::Normal(0.0, 0.05), &device));
    for bn in [&mut net.mask.bn, &mut net.regress.bn_in, &mut net.regress.bn_out] {
        randomise(bn, &device);
    }
    let net = net.valid();
    let cpu = FromProgram::new(&net, [112, 112]).unwrap();
    let faces = faces(2 * FACES_PER_TASK + 1, 112, 112);
    let faces: Vec<&RgbImage> = faces.iter().collect();
    let ours = cpu.forward(&faces, true);
    let reference = net.forward(normalize_mobilefacenet(Nhwc::from_faces(&faces).to_tensor(&device)));
    rows_close(&ours.masks, reference.mask.flatten(1, 3), "mask");
    rows_close(&ours.masked, reference.masked_embedding, "masked embedding");
    rows_close(&ours.unmasked, reference.unmasked_embedding, "unmasked embedding");
    rows_close(&ours.pattern_logits, reference.pattern_logits, "pattern logits");
    let without_heads = cpu.forward(&faces, false);
    assert_eq!((without_heads.masked, without_heads.unmasked), (ours.masked, ours.unmasked));
    assert!(without_heads.masks.is_empty() && without_heads.pattern_logits.is_empty());
    // No faces, no rows (and no division by a batch of zero).
    let none = cpu.forward(&[], true);
    assert!(
        none.masked.is_empty() && none.unmasked.is_empty() && none.masks.is_empty() && none.pattern_logits.is_empty()
    );
}

/// LResNet-FROM with every decoder, a 112x96 input and batch norms away from the identity
/// everywhere (the checkpoint fixtures' norms are fresh: see `tests/from_parity.rs` for theirs).
#[test]
fn lresnet_from_matches_burn_for_every_decoder() {
    let device = Device::flex();
    for decoder in [MaskDecoderKind::Channel, MaskDecoderKind::Spatial, MaskDecoderKind::Embedding] {
        let config = FromNetConfig::new()
            .with_widths([8, 12, 16, 24])
            .with_blocks([1, 2, 1, 1])
            .with_fpn_channels(8)
            .with_embedding_dim(16)
            .with_decoder(decoder);
        let mut net = config.init(&device);
        net = net.map(&mut RandomiseNorms(device.clone()));
        let cpu = FromProgram::new(&net, config.input_size).unwrap();
        let layers = cpu.program.kinds().iter().filter(|k| **k == "layer").count();
        let shared = if decoder == MaskDecoderKind::Embedding { 0 } else { 1 };
        assert_eq!(cpu.program.distinct_layers(), layers - shared, "{decoder:?}: the embedding head is packed once");
        assert_eq!(cpu.program.shared_pairs(), shared, "{decoder:?}: and runs once on both inputs");
        let [h, w] = config.input_size;
        let faces = faces(3, h as u32, w as u32);
        let faces: Vec<&RgbImage> = faces.iter().collect();
        let ours = cpu.forward(&faces, true);
        let reference = net.forward(crate::model::normalize_pixels(Nhwc::from_faces(&faces).to_tensor(&device)));
        let what = |part: &str| format!("{decoder:?} {part}");
        rows_close(&ours.masks, reference.mask.flatten(1, 3), &what("mask"));
        rows_close(&ours.masked, reference.masked_embedding, &what("masked embedding"));
        rows_close(&ours.unmasked, reference.unmasked_embedding, &what("unmasked embedding"));
        rows_close(&ours.pattern_logits, reference.pattern_logits, &what("pattern logits"));
    }
}

/// Gives every batch norm of a module random statistics (burn's module mapper).
struct RandomiseNorms(Device);

impl burn::module::ModuleMapper for RandomiseNorms {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        // Running variances and gammas must stay positive; every 1-D parameter gets [0.5, 1.5).
        let device = self.0.clone();
        param.map(|t| if D == 1 { Tensor::random(t.shape(), Distribution::Uniform(0.5, 1.5), &device) } else { t })
    }
}

/// The lowering fuses: a BlockIR's three batch norms, PReLU and residual add join its two convs.
#[test]
fn a_residual_block_lowers_to_its_convs() {
    let device = Device::flex();
    let block = crate::model::block_ir::BlockIrConfig::new(8, 8).init(&device);
    let mut tracer = Tracer::new();
    let input = tracer.input(6, 6);
    let x = tracer.conv(&crate::model::block_ir::conv3x3([3, 8], 1, false, &device), input);
    let out = block.forward_with(&mut tracer, x);
    let program = Program::new(tracer, &[out]).unwrap();
    assert_eq!(program.kinds(), ["layer", "layer", "layer"], "the stem conv and the block's two");
}
