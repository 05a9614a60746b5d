//! Training: losses against hand-computed values, one optimiser step lowering the loss on a tiny
//! batch, and a two-epoch run with checkpoints, metrics and `--resume` (on aligned LFW crops
//! from the MobileFaceNet fixture, identities from the file names).

mod common;

use burn::module::Module;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Tensor, TensorData};
use common::fixture;
use maskscope::assets;
use maskscope::checkpoint::record;
use maskscope::face::Embedder;
use maskscope::face::tensor::faces_to_tensor;
use maskscope::model::from_mobilefacenet::{FromMobileFaceNet, FromMobileFaceNetConfig};
use maskscope::model::mask_decoder::OPEN_MASK_LOGIT;
use maskscope::model::mobilefacenet::normalize_mobilefacenet;
use maskscope::occlusion::{OccluderLibrary, OcclusionStyle, RandomOcclusion};
use maskscope::train::config::{EmbeddingLoss, OptimizerKind, TrainConfig, Trainable};
use maskscope::train::data::{FaceSet, Sample, list_photo_sets};
use maskscope::train::losses::{CosFaceHead, cross_entropy, distill};
use maskscope::train::prefix::FrozenPrefix;
use maskscope::train::run::{EpochMetrics, TrainNet};
use maskscope::train::{TrainEvent, TrainInputs, train};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn scalar(t: Tensor<1>) -> f32 {
    t.into_scalar::<f32>()
}

fn tensor2(values: &[f32], shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values.to_vec(), shape), device)
}

/// The fixture's aligned 112x112 crops, identity = name without the `_NNNN` suffix.
fn fixture_faces() -> FaceSet {
    let dir = fixture("mobilefacenet/faces");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut set = FaceSet::default();
    for file in files {
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let identity = stem.rsplit_once('_').unwrap().0.to_string();
        if set.identities.last() != Some(&identity) {
            set.identities.push(identity);
        }
        let face = image::open(&file).unwrap().to_rgb8();
        set.samples.push(Sample { face, identity: set.identities.len() - 1, key: stem });
    }
    set
}

#[test]
fn cross_entropy_and_distill_by_hand() {
    let device = Device::flex();
    // logits [0, ln 3]: softmax = [1/4, 3/4]; label 1 -> -ln(3/4), label 0 -> -ln(1/4).
    let logits = tensor2(&[0.0, 3f32.ln(), 0.0, 3f32.ln()], [2, 2], &device);
    let expected = (-(0.75f32).ln() - (0.25f32).ln()) / 2.0;
    assert!((scalar(cross_entropy(logits, &[1, 0])) - expected).abs() < 1e-5);
    // cos((1,0),(1,0)) = 1, cos((1,0),(1,1)) = 1/sqrt 2: mean of 1 - cos.
    let student = tensor2(&[2.0, 0.0, 1.0, 0.0], [2, 2], &device);
    let teacher = tensor2(&[5.0, 0.0, 1.0, 1.0], [2, 2], &device);
    let expected = (0.0 + (1.0 - 1.0 / 2f32.sqrt())) / 2.0;
    assert!((scalar(distill(student, teacher)) - expected).abs() < 1e-5);
}

#[test]
fn cosface_subtracts_the_margin_from_the_true_class_only() {
    let device = Device::flex();
    let mut head = CosFaceHead::new(2, 2, &device);
    head.centres = burn::module::Param::from_tensor(tensor2(&[1.0, 0.0, 0.0, 1.0], [2, 2], &device));
    // Embedding along class 0: cosines [1, 0]; logits s*(1-m), 0.
    let embedding = tensor2(&[3.0, 0.0], [1, 2], &device);
    let (s, m) = (30.0f64, 0.35f64);
    let a = (s * (1.0 - m)) as f32;
    let expected = -(a.exp() / (a.exp() + 1.0)).ln();
    let loss = scalar(head.loss(embedding, &[0], s, m));
    assert!((loss - expected).abs() < 1e-4, "{loss} vs {expected}");
}

#[test]
fn training_steps_lower_the_loss_on_a_tiny_batch() {
    let device = Device::flex().autodiff();
    let backbone = Embedder::load(&assets::mobilefacenet_record(), &device).unwrap().net;
    let faces = fixture_faces();
    let library = OccluderLibrary::bundled().unwrap();
    let protocol = RandomOcclusion::new(&library);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut batch = Vec::new();
    let mut labels = Vec::new();
    for sample in faces.samples.iter().take(8) {
        let mut face = sample.face.clone();
        labels.push(protocol.apply(&mut face, &mut rng).label);
        batch.push(face);
    }
    let clean: Vec<_> = faces.samples.iter().take(8).map(|s| &s.face).collect();
    let teacher = backbone.valid().forward(network_input(&clean, &device.clone().without_autodiff()));
    let teacher = Tensor::<2>::from_data(teacher.into_data(), &device);

    let mut net = TrainNet { from: FromMobileFaceNetConfig::new().init_with(backbone.clone(), &device), cosface: None };
    net.from.backbone = net.from.backbone.freeze();
    let mut optim = SgdConfig::new().with_momentum(Some(MomentumConfig::new())).init();
    let inputs: Vec<_> = batch.iter().collect();
    let loss_of = |net: &TrainNet| {
        let out = net.from.forward(network_input(&inputs, &device));
        distill(out.masked_embedding, teacher.clone()) + cross_entropy(out.pattern_logits, &labels)
    };
    let conv1_before = net.from.mask.conv1.weight.val().into_data();
    let regress_before = net.from.regress.linear.weight.val().into_data();
    let first = loss_of(&net);
    let first_value = scalar(first.clone());
    let weight = |net: &TrainNet| net.from.backbone.stem[0].conv.weight.val().into_data();
    let backbone_before = weight(&net);
    let decoder = |net: &TrainNet| {
        let conv = &net.from.mask.conv2;
        let w = conv.weight.val().abs().sum().into_scalar::<f32>();
        let b = conv.bias.as_ref().unwrap().val().mean().into_scalar::<f32>();
        (w, b)
    };
    // The decoder starts open: zero weights, every logit at OPEN_MASK_LOGIT.
    assert_eq!(decoder(&net), (0.0, OPEN_MASK_LOGIT as f32));
    let grads = GradientsParams::from_grads(first.backward(), &net);
    net = optim.step(0.01, net, grads);
    for _ in 0..2 {
        let loss = loss_of(&net);
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = optim.step(0.01, net, grads);
    }
    let last_value = scalar(loss_of(&net));
    assert!(last_value < first_value, "loss went from {first_value} to {last_value}");
    // The frozen backbone did not move.
    assert_eq!(weight(&net), backbone_before, "frozen backbone changed");
    // Every trainable part learned: the mask decoder's output conv (whose zero start must not
    // block gradients), the layers before it, and the pattern predictor.
    let (w, b) = decoder(&net);
    assert!(w > 0.0 && b != OPEN_MASK_LOGIT as f32, "mask decoder did not move: {w} {b}");
    assert_ne!(net.from.mask.conv1.weight.val().into_data(), conv1_before, "conv1 did not move");
    assert_ne!(net.from.regress.linear.weight.val().into_data(), regress_before, "pattern predictor did not move");
}

#[test]
fn a_run_writes_checkpoints_and_metrics_and_resumes() {
    let device = Device::flex();
    let backbone = Embedder::load(&assets::mobilefacenet_record(), &device).unwrap().net;
    let library = OccluderLibrary::bundled().unwrap();
    let (train_set, validation) = fixture_faces().split_identities(0.25, 1);
    assert!(!validation.samples.is_empty() && train_set.samples.len() >= 8);
    let run = tempfile::tempdir().unwrap();
    let config =
        TrainConfig::new().with_loss(EmbeddingLoss::Both).with_epochs(1).with_batch_size(8).with_lr_steps(vec![1]);
    let mut events = Vec::new();
    let inputs = |backbone| TrainInputs {
        train: &train_set,
        validation: &validation,
        backbone,
        occluders: &library,
        device: device.clone().autodiff(),
    };
    train(&config, inputs(backbone.clone()), run.path(), false, &mut |e| events.push(e)).unwrap();
    let steps = events.iter().filter(|e| matches!(e, TrainEvent::Step(_))).count();
    assert_eq!(steps, train_set.samples.len() / 8);
    for file in ["config.json", "epoch-01.bpk", "model.bpk", "metrics.csv", "state/net.bpk", "state/optimizer.bpk"] {
        assert!(run.path().join(file).is_file(), "{file} missing");
    }

    // Resuming to two epochs runs only the second, at the decayed learning rate.
    let config = config.with_epochs(2);
    let mut epochs = Vec::new();
    train(&config, inputs(backbone.clone()), run.path(), true, &mut |e| {
        if let TrainEvent::Epoch(m) = e {
            epochs.push(m)
        }
    })
    .unwrap();
    assert_eq!(epochs.len(), 1);
    assert_eq!(epochs[0].epoch, 2);
    assert!((epochs[0].learning_rate - config.learning_rate * config.lr_decay).abs() < 1e-12);
    let csv = std::fs::read_to_string(run.path().join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "header + 2 epochs:\n{csv}");
    assert!(csv.lines().next().unwrap().contains("val_from_accuracy"));

    // The final model loads as a FROM model with the trained heads.
    let (net, loaded_config) = record::load_from_mobilefacenet(&run.path().join("model.bpk"), &device).unwrap();
    assert_eq!(loaded_config, maskscope::train::run::model_config(&config));
    assert!(net.num_params() > backbone.num_params());

    // A different configuration refuses to resume.
    let other = config.with_seed(99);
    let err = train(&other, inputs(backbone), run.path(), true, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("config.json"), "{err}");
}

/// `--trainable all` moves the pretrained backbone (loaded on the plain CPU device, trained on
/// its autodiff twin); `after-c3` moves it only after its first pyramid tap; `heads` leaves it
/// exactly as it was.
#[test]
fn trainable_parts_move_and_frozen_parts_do_not() {
    let device = Device::flex();
    let backbone = Embedder::load(&assets::mobilefacenet_record(), &device).unwrap().net;
    let weights = |net: &maskscope::model::mobilefacenet::MobileFaceNet| {
        let read = |w: &burn::module::Param<Tensor<4>>| w.val().into_data().try_into_vec::<f32>().unwrap();
        [
            read(&net.stem[0].conv.weight),
            read(&net.stages[0][1].expand.conv.weight),
            read(&net.stages[1][0].expand.conv.weight),
        ]
    };
    let before = weights(&backbone);
    let (train_set, validation) = fixture_faces().split_identities(0.25, 3);
    let library = OccluderLibrary::load(assets::occluders_dir()).unwrap();
    // Which of (stem, first stage, second stage) should move.
    for (trainable, should_move) in [
        (Trainable::All, [true, true, true]),
        (Trainable::AfterC3, [false, false, true]),
        (Trainable::Heads, [false; 3]),
    ] {
        let run = tempfile::tempdir().unwrap();
        let config = TrainConfig::new().with_trainable(trainable).with_epochs(1).with_batch_size(8);
        let inputs = TrainInputs {
            train: &train_set,
            validation: &validation,
            backbone: backbone.clone(),
            occluders: &library,
            device: device.clone().autodiff(),
        };
        train(&config, inputs, run.path(), false, &mut |_| {}).unwrap();
        let (net, _) = record::load_from_mobilefacenet(&run.path().join("model.bpk"), &device).unwrap();
        let after = weights(&net.backbone);
        for (part, ((b, a), moves)) in before.iter().zip(&after).zip(should_move).enumerate() {
            let moved = b.iter().zip(a).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
            assert_eq!(moved > 0.0, moves, "{trainable:?}, part {part}: largest weight change {moved}");
        }
    }
}

/// The frozen prefix of `after-c3` (the CPU inference path's c3, fed into burn) gives the same
/// forward pass as burn's network from the pixels.
#[test]
fn the_frozen_prefix_forward_equals_the_whole_forward() {
    let device = Device::flex();
    let backbone = Embedder::load(&assets::mobilefacenet_record(), &device).unwrap().net;
    let net = FromMobileFaceNetConfig::new().init_with(backbone.clone(), &device);
    let set = fixture_faces();
    let faces: Vec<&image::RgbImage> = set.samples.iter().take(5).map(|s| &s.face).collect();
    let whole = net.forward(network_input(&faces, &device));
    let prefix = FrozenPrefix::c3(&backbone, &device).unwrap();
    assert!(matches!(prefix, FrozenPrefix::CpuC3(_)), "the CPU device runs the prefix on the CPU inference path");
    let split = prefix.forward(&net, &faces, &device);
    let burn_prefix = FrozenPrefix::BurnC3(backbone).forward(&net, &faces, &device);
    let values = |t: Tensor<2>| t.into_data().try_into_vec::<f32>().unwrap();
    let reference = values(whole.masked_embedding);
    for (name, output) in [("CPU path", split), ("burn", burn_prefix)] {
        let got = values(output.masked_embedding);
        let worst = reference.iter().zip(&got).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        let scale = reference.iter().map(|v| v.abs()).fold(0.0, f32::max);
        assert!(worst <= 1e-4 * scale.max(1.0), "{name}: max difference {worst} (values up to {scale})");
    }
}

#[test]
fn cosface_centres_can_start_at_given_vectors() {
    let device = Device::flex();
    let centres = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
    let head = CosFaceHead::from_centres(&centres, &device);
    assert_eq!(head.centres.val().into_data().try_into_vec::<f32>().unwrap(), [1.0, 0.0, 0.0, 1.0]);
    // An embedding on its own centre: logits s(1 - m) and 0; loss = ln(1 + e^{-s(1-m)}).
    let loss = scalar(head.loss(tensor2(&[3.0, 0.0], [1, 2], &device), &[0], 30.0, 0.35));
    let want = (1.0 + (-30.0f32 * 0.65).exp()).ln();
    assert!((loss - want).abs() < 1e-6, "{loss} vs {want}");
}

#[test]
fn older_configurations_read_with_the_new_defaults() {
    // The configuration of the first shipped model, as its runs wrote it: before
    // occlusion_styles, cosface_centres_from_backbone, mask_start_logit and pattern_template.
    let old = r#"{"loss": "distill", "trainable": "heads", "optimizer": "adam", "epochs": 3, "batch_size": 64,
        "learning_rate": 0.001, "lr_steps": [2], "lr_decay": 0.1, "momentum": 0.9, "weight_decay": 0.0005,
        "distill_weight": 10.0, "pattern_weight": 1.0, "cosface_scale": 30.0, "cosface_margin": 0.35,
        "validation_fraction": 0.1, "seed": 20211, "fpn_channels": 64, "grid": 5}"#;
    let config = TrainConfig::from_json(old).unwrap();
    assert_eq!(config.occlusion_styles, [OcclusionStyle::Alpha]);
    assert!(config.cosface_centres_from_backbone);
    assert_eq!((config.mask_start_logit, config.pattern_template), (OPEN_MASK_LOGIT, None));
    // The shipped configuration reads as written.
    let text = std::fs::read_to_string(assets::assets_dir().join("from_mobilefacenet.train.json")).unwrap();
    let shipped = TrainConfig::from_json(&text).unwrap();
    let (read, written) =
        (serde_json::to_value(&shipped).unwrap(), serde_json::from_str::<serde_json::Value>(&text).unwrap());
    for (key, value) in written.as_object().unwrap() {
        assert_eq!(&read[key], value, "{key}");
    }
    // Fields newer than the shipped file take their defaults.
    for (key, default) in [("mask_sparsity", serde_json::json!(0.0)), ("start_from", serde_json::Value::Null)] {
        if written.get(key).is_none() {
            assert_eq!(read[key], default, "{key}");
        }
    }
    // The fields it has keep their values, and a wrong type is still an error naming the field.
    assert_eq!((config.loss, config.epochs), (EmbeddingLoss::Distill, 3));
    let err = TrainConfig::from_json(r#"{"epochs": "three"}"#).unwrap_err();
    assert!(err.to_string().contains("invalid type"), "{err}");
    assert!(TrainConfig::from_json("[1, 2]").is_err());
}

#[test]
fn several_roots_merge_identities_and_drop_duplicate_file_names() {
    let dir = tempfile::tempdir().unwrap();
    let write = |root: &str, identity: &str, file: &str| {
        let folder = dir.path().join(root).join(identity);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(file), b"not decoded by the listing").unwrap();
    };
    write("a", "17", "000001.jpg");
    write("a", "17", "000002.jpg");
    write("a", "3", "000010.jpg");
    write("b", "17", "000002.jpg"); // the same CelebA photo in another extract
    write("b", "17", "000003.jpg");
    write("b", "99", "000004.jpg");
    std::fs::write(dir.path().join("b/99/README.txt"), b"skipped").unwrap();
    let roots = [dir.path().join("a"), dir.path().join("b")];
    let (photos, duplicates) = list_photo_sets(&roots).unwrap();
    let listed: Vec<(&str, &str)> = photos.iter().map(|p| (p.identity.as_str(), p.key.as_str())).collect();
    assert_eq!(
        listed,
        [
            ("17", "17/000001.jpg"),
            ("17", "17/000002.jpg"),
            ("17", "17/000003.jpg"),
            ("3", "3/000010.jpg"),
            ("99", "99/000004.jpg")
        ]
    );
    assert_eq!(duplicates, [dir.path().join("b/17/000002.jpg")]);
    assert!(photos[2].path.starts_with(dir.path().join("b")));
    let err = list_photo_sets(&[dir.path().join("missing")]).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn held_out_identities_are_disjoint_and_seeded() {
    let set = fixture_faces();
    let (a1, b1) = set.clone().split_identities(0.25, 5);
    let (a2, b2) = set.clone().split_identities(0.25, 5);
    assert_eq!(b1.identities, b2.identities);
    assert_eq!(a1.identities, a2.identities);
    assert!(a1.identities.iter().all(|i| !b1.identities.contains(i)));
    assert_eq!(a1.samples.len() + b1.samples.len(), set.samples.len());
    let expected = (set.identities.len() as f64 * 0.25).round() as usize;
    assert_eq!(b1.identities.len(), expected);
}

/// One epoch of `config` at batch 8 on the fixture faces (a quarter of the identities held out):
/// the saved model and the epoch's metrics.
fn fixture_run(config: TrainConfig) -> (FromMobileFaceNet, EpochMetrics) {
    try_fixture_run(config).unwrap()
}

fn try_fixture_run(config: TrainConfig) -> Result<(FromMobileFaceNet, EpochMetrics), maskscope::train::TrainError> {
    let device = Device::flex();
    let backbone = Embedder::load(&assets::mobilefacenet_record(), &device).unwrap().net;
    let (train_set, validation) = fixture_faces().split_identities(0.25, 3);
    let library = OccluderLibrary::bundled().unwrap();
    let run = tempfile::tempdir().unwrap();
    let inputs = TrainInputs {
        train: &train_set,
        validation: &validation,
        backbone,
        occluders: &library,
        device: device.autodiff(),
    };
    let mut epochs = Vec::new();
    train(&config.with_epochs(1).with_batch_size(8), inputs, run.path(), false, &mut |e| {
        if let TrainEvent::Epoch(m) = e {
            epochs.push(m)
        }
    })?;
    let (net, _) = record::load_from_mobilefacenet(&run.path().join("model.bpk"), &Device::flex()).unwrap();
    Ok((net, epochs.remove(0)))
}

/// `mask_sparsity` (a prior on mean(1 - mask), no labels) adds exactly its weight times the
/// mean of 1 - mask to the step's loss, and its gradient opens the mask: one plain SGD step on
/// the prior alone raises the mask decoder's bias.
#[test]
fn mask_sparsity_adds_its_weighted_mean_and_opens_the_mask() {
    use maskscope::train::prefix::FrozenPrefix;
    use maskscope::train::step::{StepBatch, step};
    let device = Device::flex().autodiff();
    let backbone = Embedder::load(&assets::mobilefacenet_record(), &Device::flex()).unwrap().net;
    let faces: Vec<_> = fixture_faces().samples.iter().take(4).map(|s| s.face.clone()).collect();
    let net = TrainNet {
        from: FromMobileFaceNetConfig::new().init_with(backbone.train().fork(&device), &device),
        cosface: None,
    };
    let batch = StepBatch { faces, labels: vec![0; 4], identities: vec![0; 4], targets: Vec::new() };
    let removed = {
        let out = net.from.forward(network_input(&batch.faces.iter().collect::<Vec<_>>(), &device));
        scalar(out.mask.neg().add_scalar(1.0).mean())
    };
    assert!(removed > 0.01, "the open start still removes a little: {removed}");
    let run = |weight: f64| {
        let config = TrainConfig::new().with_mask_sparsity(weight).with_optimizer(OptimizerKind::Sgd);
        let mut optim = maskscope::train::run::optimizer(&config.clone().with_momentum(0.0).with_weight_decay(0.0));
        step(&config, &FrozenPrefix::None, net.clone(), &mut optim, &batch, 1.0, &device)
    };
    let (closed, plain) = run(0.0);
    let (opened, sparse) = run(5.0);
    assert!(
        (sparse.loss - plain.loss - 5.0 * removed).abs() < 1e-4,
        "{} - {} vs 5 x {removed}",
        sparse.loss,
        plain.loss
    );
    let bias = |net: &TrainNet| net.from.mask.conv2.bias.as_ref().unwrap().val().mean().into_scalar::<f32>();
    assert!(bias(&opened) > bias(&closed), "{} vs {}", bias(&opened), bias(&closed));
}

/// `start_from` starts a run from another FROM model's weights (here one whose mask decoder
/// started closed at logit 0, far from the default open 3.0); a model of another architecture
/// is refused, naming the file.
#[test]
fn a_run_can_start_from_another_model() {
    let dir = tempfile::tempdir().unwrap();
    let first_config = TrainConfig::new().with_mask_start_logit(0.0);
    let (first, _) = fixture_run(first_config.clone());
    let start = dir.path().join("start.bpk");
    let model_config = maskscope::train::run::model_config(&first_config);
    record::save_from_mobilefacenet(&first, &model_config, &start).unwrap();
    let bias = |net: &FromMobileFaceNet| net.mask.conv2.bias.as_ref().unwrap().val().mean().into_scalar::<f32>();

    let (second, _) = fixture_run(TrainConfig::new().with_start_from(Some(start.clone())).with_learning_rate(1e-9));
    assert!((bias(&second) - bias(&first)).abs() < 1e-4, "{} vs {}", bias(&second), bias(&first));
    let stem = |net: &FromMobileFaceNet| net.backbone.stem[0].conv.weight.val().into_data();
    assert_eq!(stem(&second), stem(&first));

    let err = try_fixture_run(TrainConfig::new().with_start_from(Some(start)).with_fpn_channels(32)).unwrap_err();
    assert!(err.to_string().contains("start.bpk"), "{err}");
}

/// `mask_start_logit` sets where the mask decoder starts (0.5 everywhere for logit 0) instead of
/// the open 0.95, and training starts from there.
#[test]
fn the_mask_can_start_at_a_chosen_logit() {
    let (net, epoch) = fixture_run(TrainConfig::new().with_mask_start_logit(0.0));
    let bias = net.mask.conv2.bias.as_ref().unwrap().val().mean().into_scalar::<f32>();
    assert!(bias.abs() < 0.1, "the decoder's bias started at 0 and took a few small steps: {bias}");
    // Held-out faces see a mask near 0.5, not the open 0.95.
    assert!((epoch.val_mask_mean - 0.5).abs() < 0.1, "mask mean {}", epoch.val_mask_mean);
}

/// `pattern_template` starts the pattern predictor as a matched filter and keeps its batch norms
/// on their starting statistics through training (identity: mean 0, variance 1), so the pattern
/// loss reads the mask's amplitude; a default run updates those statistics.
#[test]
fn a_pattern_template_run_keeps_the_predictor_statistics_and_learns_from_the_filter() {
    let stats = |bn: &burn::nn::BatchNorm| {
        let mean = bn.running_mean.value().abs().max().into_scalar::<f32>();
        let var = (bn.running_var.value() - 1.0).abs().max().into_scalar::<f32>();
        mean.max(var)
    };
    let (net, _) = fixture_run(TrainConfig::new().with_pattern_template(Some(4.0)));
    let (bn_in, bn_out) = (stats(&net.regress.bn_in), stats(&net.regress.bn_out));
    assert!(bn_in < 1e-6 && bn_out < 1e-6, "statistics moved: {bn_in} {bn_out}");
    // Still the filter after a few Adam steps: pattern 0 ("none") has no cells, so its column
    // stays near 0, and the filter's negative weights (low mask = evidence for a pattern,
    // -2 * 4 / 512 on a wholly covered cell) are still there.
    let weight = net.regress.linear.weight.val().into_data().try_to_vec::<f32>().unwrap();
    let patterns = 226;
    let none_column = weight.iter().step_by(patterns).map(|w| w.abs()).fold(0f32, f32::max);
    let most_negative = weight.iter().copied().fold(0f32, f32::min);
    assert!(most_negative < -0.01 && none_column < 0.01, "{most_negative} {none_column}");
    let (net, _) = fixture_run(TrainConfig::new());
    let bn_in = stats(&net.regress.bn_in);
    assert!(bn_in > 1e-3, "the authors' predictor normalises with batch statistics: {bn_in}");
}

/// Faces as MobileFaceNet-based networks take them (raw pixels, normalised).
fn network_input(faces: &[&image::RgbImage], device: &burn::tensor::Device) -> burn::tensor::Tensor<4> {
    normalize_mobilefacenet(faces_to_tensor(faces, device))
}
