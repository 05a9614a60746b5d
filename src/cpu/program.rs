//! A recorded network (see `trace`) lowered to fused steps and run on the CPU kernels.
//!
//! Lowering fuses what the kernels can do while a block of output pixels is in cache: the
//! batch norm, PReLU and sigmoid after a conv or linear layer join its epilogue (a batch norm
//! right after the sum is folded into the weights), an add whose other operand is already
//! computed becomes its residual, and a batch norm (or the input normalisation) that only feeds
//! one layer becomes that layer's prologue (folded into the weights where the layer has no
//! padding). A channels-first flattening costs nothing: the maps stay channels last and the
//! layers that read the flat vector take their weights in that order.
//!
//! Running: every step up to the first layer with large weights runs a few faces at a time in
//! parallel (a face's maps stay in the core's caches); that layer and the rest run on the whole
//! batch, so that its weights stream from memory once, not once a face.

use std::sync::Arc;

use rayon::prelude::*;

use super::CpuNetError;
use super::channel_ops::{Affine, ChannelOp};
use super::layers::{ConvSpec, Layer};
use super::maps::Nhwc;
use super::trace::{Op, Shape, Tracer, Value};

/// Faces one parallel task carries through the per-face part of a program. One face's
/// activations stay in the core's caches; a batch in one pass streams every layer through
/// memory (measured 12 ms a face at batch 1 against 18 ms at batch 64 on MobileFaceNet).
pub const FACES_PER_TASK: usize = 1;
/// Maps past their last use kept to write later layers' outputs into.
const SPARE_MAPS: usize = 4;
/// Layers whose weights take more than this run on the whole batch (the heads' 20-44 MB).
const BATCHED_WEIGHT_BYTES: usize = 4 << 20;

/// One fused operation.
#[derive(Debug, Clone)]
enum Kernel {
    /// `Arc`: a module used twice (FROM's embedding head on the features and on the masked
    /// features) is packed once.
    Layer {
        layer: Arc<Layer>,
        input: Value,
        residual: Option<Value>,
    },
    Channel {
        ops: Vec<ChannelOp>,
        input: Value,
    },
    Add(Value, Value),
    Mul(Value, Value),
    MaxPool(Value, usize, usize),
    Upsample(Value),
    RepeatChannels(Value, usize),
    Flatten(Value),
}

impl Kernel {
    fn inputs(&self) -> Vec<Value> {
        match self {
            Kernel::Layer { input, residual, .. } => std::iter::once(*input).chain(*residual).collect(),
            Kernel::Channel { input, .. }
            | Kernel::MaxPool(input, ..)
            | Kernel::Upsample(input)
            | Kernel::RepeatChannels(input, _) => vec![*input],
            Kernel::Flatten(input) => vec![*input],
            Kernel::Add(a, b) | Kernel::Mul(a, b) => vec![*a, *b],
        }
    }
}

#[derive(Debug, Clone)]
struct Step {
    kernel: Kernel,
    /// The value it computes.
    out: Value,
}

/// What a layer is built from: its weights, prologue and epilogue operations.
type LayerSource = (ConvSpec, Option<Affine>, Vec<ChannelOp>);

/// A layer still taking fused operations.
struct Open {
    spec: ConvSpec,
    prologue: Option<Affine>,
    ops: Vec<ChannelOp>,
    input: Value,
    residual: Option<Value>,
}

/// A network lowered for the CPU; see the module notes. Cheap to share (`Arc`) between threads.
#[derive(Debug, Clone)]
pub struct Program {
    steps: Vec<Step>,
    /// `(height, width)` of the input faces.
    input_size: (usize, usize),
    /// Shape of every value the program can be asked for.
    shapes: Vec<Shape>,
    /// Index of the first step that runs on the whole batch.
    split: usize,
    /// Without a flattening, any input size works (MTCNN's P-Net on every pyramid level).
    fully_convolutional: bool,
}

/// The lowering's state: which step computes which value, and the layouts of flattened values.
struct Lowering {
    nodes: Vec<super::trace::Node>,
    consumers: Vec<usize>,
    steps: Vec<Step>,
    /// The open layer of each step that is still a layer under construction.
    open: Vec<Option<Open>>,
    producer: Vec<Option<usize>>,
    /// For a flattened value: the channels-first index of each stored position.
    order: Vec<Option<Vec<usize>>>,
    /// A batch norm waiting to become the prologue of the one layer it feeds: (affine, source).
    pending: Vec<Option<(Affine, Value)>>,
}

impl Program {
    /// Lowers what `tracer` recorded; `outputs` are the values a run may ask for.
    pub fn new(tracer: Tracer, outputs: &[Value]) -> Result<Self, CpuNetError> {
        if let Some(error) = tracer.error {
            return Err(error);
        }
        let nodes = tracer.nodes;
        let n = nodes.len();
        let mut consumers = vec![0usize; n];
        for node in &nodes {
            node.op.inputs().into_iter().for_each(|x| consumers[x] += 1);
        }
        // An output is read by the caller: it is materialised, never fused away.
        outputs.iter().for_each(|&x| consumers[x] += 2);
        let input_size = match nodes.first() {
            Some(node) if matches!(node.op, Op::Input) => (node.shape.1, node.shape.2),
            _ => return Err(CpuNetError::Unsupported { layer: "input".into(), message: "no input recorded".into() }),
        };
        let shapes = nodes.iter().map(|node| node.shape).collect();
        let mut lowering = Lowering {
            nodes,
            consumers,
            steps: Vec::new(),
            open: Vec::new(),
            producer: vec![None; n],
            order: vec![None; n],
            pending: vec![None; n],
        };
        for value in 1..n {
            lowering.lower(value)?;
        }
        let Lowering { mut steps, open, .. } = lowering;
        // Built layers by what they were built from, to pack a layer used twice only once.
        let mut built: Vec<(LayerSource, Arc<Layer>)> = Vec::new();
        for (step, open) in steps.iter_mut().zip(open) {
            if let Some(Open { spec, prologue, ops, input, residual }) = open {
                let key = (spec, prologue, ops);
                let layer = match built.iter().find(|(k, _)| k == &key) {
                    Some((_, layer)) => layer.clone(),
                    None => {
                        let layer = Arc::new(Layer::build(key.0.clone(), key.1.clone(), key.2.clone()));
                        built.push((key, layer.clone()));
                        layer
                    }
                };
                step.kernel = Kernel::Layer { layer, input, residual };
            }
        }
        pair_shared_layers(&mut steps);
        let split = steps
            .iter()
            .position(
                |s| matches!(&s.kernel, Kernel::Layer { layer, .. } if layer.weight_bytes() > BATCHED_WEIGHT_BYTES),
            )
            .unwrap_or(steps.len());
        let fully_convolutional = !steps.iter().any(|s| matches!(s.kernel, Kernel::Flatten(_)));
        Ok(Self { steps, input_size, shapes, split, fully_convolutional })
    }

    /// How many distinct packed layers the steps share, for tests of the sharing.
    #[cfg(test)]
    pub(crate) fn distinct_layers(&self) -> usize {
        let mut seen: Vec<*const Layer> = Vec::new();
        for step in &self.steps {
            if let Kernel::Layer { layer, .. } = &step.kernel
                && !seen.contains(&Arc::as_ptr(layer))
            {
                seen.push(Arc::as_ptr(layer));
            }
        }
        seen.len()
    }

    /// How many steps run together with the next one (a packed layer on two inputs at once).
    #[cfg(test)]
    pub(crate) fn shared_pairs(&self) -> usize {
        (1..self.steps.len()).filter(|&j| self.shared_pair(j - 1, j).is_some()).count()
    }

    /// What each step is ("layer", "channel", "add", ...), for tests of the fusions.
    #[cfg(test)]
    pub(crate) fn kinds(&self) -> Vec<&'static str> {
        let kind = |k: &Kernel| match k {
            Kernel::Layer { .. } => "layer",
            Kernel::Channel { .. } => "channel",
            Kernel::Add(..) => "add",
            Kernel::Mul(..) => "mul",
            Kernel::Upsample(_) => "upsample",
            Kernel::RepeatChannels(..) => "repeat",
            Kernel::MaxPool(..) => "max pool",
            Kernel::Flatten(_) => "flatten",
        };
        self.steps.iter().map(|s| kind(&s.kernel)).collect()
    }

    /// `(height, width)` of the faces it reads.
    pub fn input_size(&self) -> (usize, usize) {
        self.input_size
    }

    /// `(channels, height, width)` of `value` for the traced input size.
    pub fn shape(&self, value: Value) -> Shape {
        self.shapes[value]
    }

    /// The `wanted` values for a batch of input maps (channels last, of the traced size unless
    /// the network is fully convolutional), computing only the steps they need.
    pub fn run(&self, input: &Nhwc, wanted: &[Value]) -> Vec<Nhwc> {
        // Called inside a parallel loop (photos through MTCNN), the cores are already busy.
        let nested = rayon::current_thread_index().is_some();
        // On one of rayon's threads, which hands each layer's tasks to the other cores by work
        // stealing. Run from outside the pool, every layer sent its tasks in and slept until they
        // were done: waking cost more than a small layer's work (MobileFaceNet, a batch of one:
        // 3.9 -> 3.3 ms).
        rayon::scope(|_| self.run_in_pool(input, wanted, nested))
    }

    fn run_in_pool(&self, input: &Nhwc, wanted: &[Value], nested: bool) -> Vec<Nhwc> {
        if input.batch == 0 {
            let empty = |v: Value| {
                let (channels, height, width) = self.shapes[v];
                Nhwc { batch: 0, height, width, channels, data: Vec::new() }
            };
            return wanted.iter().map(|&v| empty(v)).collect();
        }
        assert_eq!(input.channels, 3, "input channels");
        assert!(
            self.fully_convolutional || (input.height, input.width) == self.input_size,
            "input of {}x{}, traced for {:?}",
            input.height,
            input.width,
            self.input_size
        );
        let needed = self.needed(wanted);
        // Values the batched part reads, and the outputs: what the per-face part hands over.
        let mut handed: Vec<Value> = wanted.to_vec();
        for step in self.steps[self.split..].iter().enumerate().filter(|(i, _)| needed[self.split + i]).map(|(_, s)| s)
        {
            handed.extend(step.kernel.inputs());
        }
        handed.sort_unstable();
        handed.dedup();
        let early = |input: Nhwc, nested| self.run_steps(0..self.split, &needed, input, &handed, nested);
        let parts: Vec<Vec<(Value, Nhwc)>> = if input.batch <= FACES_PER_TASK {
            vec![early(input.clone(), nested)]
        } else {
            let per_face = input.data.len() / input.batch;
            input
                .data
                .par_chunks(per_face * FACES_PER_TASK)
                .map(|chunk| early(Nhwc { batch: chunk.len() / per_face, data: chunk.to_vec(), ..*input }, true))
                .collect()
        };
        let mut values: Vec<Option<Nhwc>> = vec![None; self.shapes.len()];
        let mut by_value: Vec<Vec<Nhwc>> = vec![Vec::new(); self.shapes.len()];
        for part in parts {
            for (value, map) in part {
                by_value[value].push(map);
            }
        }
        for (value, maps) in by_value.into_iter().enumerate() {
            if !maps.is_empty() {
                values[value] = Some(Nhwc::concat(maps));
            }
        }
        self.execute(self.split..self.steps.len(), &needed, &mut values, wanted, nested);
        wanted.iter().map(|&v| values[v].clone().expect("a wanted value was computed")).collect()
    }

    /// Which steps the `wanted` values need.
    fn needed(&self, wanted: &[Value]) -> Vec<bool> {
        let mut needed = vec![false; self.steps.len()];
        let mut want = vec![false; self.shapes.len()];
        wanted.iter().for_each(|&v| want[v] = true);
        for (i, step) in self.steps.iter().enumerate().rev() {
            if want[step.out] {
                needed[i] = true;
                step.kernel.inputs().into_iter().for_each(|v| want[v] = true);
            }
        }
        needed
    }

    fn run_steps(
        &self,
        range: std::ops::Range<usize>,
        needed: &[bool],
        input: Nhwc,
        keep: &[Value],
        nested: bool,
    ) -> Vec<(Value, Nhwc)> {
        let mut values: Vec<Option<Nhwc>> = vec![None; self.shapes.len()];
        values[0] = Some(input);
        self.execute(range, needed, &mut values, keep, nested);
        keep.iter().filter_map(|&v| values[v].take().map(|map| (v, map))).collect()
    }

    /// Runs the needed steps of `range`, dropping each value after its last use unless `keep`
    /// holds it; `nested` as [`Layer::forward_into`] takes it.
    fn execute(
        &self,
        range: std::ops::Range<usize>,
        needed: &[bool],
        values: &mut [Option<Nhwc>],
        keep: &[Value],
        nested: bool,
    ) {
        let mut last_use = vec![usize::MAX; values.len()];
        for i in range.clone().filter(|&i| needed[i]) {
            self.steps[i].kernel.inputs().into_iter().for_each(|v| last_use[v] = i);
        }
        keep.iter().for_each(|&v| last_use[v] = usize::MAX);
        // Maps past their last use, whose memory the next layers write into.
        let mut spare: Vec<Vec<f32>> = Vec::new();
        let mut steps = range.clone().filter(|&i| needed[i]).peekable();
        while let Some(i) = steps.next() {
            let step = &self.steps[i];
            let get = |v: Value| values[v].as_ref().expect("steps run in order");
            // A layer whose next step runs the same packed layer: both inputs in one multiply.
            if let Some(&j) = steps.peek()
                && let Some((layer, a, b)) = self.shared_pair(i, j)
            {
                let both =
                    layer.forward_into(&Nhwc::concat(vec![get(a).clone(), get(b).clone()]), None, Vec::new(), nested);
                let first = both.data.len() / both.batch * get(a).batch;
                let (out_a, out_b) = both.data.split_at(first);
                let part = |data: &[f32], batch| Nhwc { batch, data: data.to_vec(), ..both };
                let (out_a, out_b) = (part(out_a, get(a).batch), part(out_b, get(b).batch));
                for v in [a, b] {
                    if last_use[v] == i || last_use[v] == j {
                        retire(values, &mut spare, v);
                    }
                }
                values[step.out] = Some(out_a);
                values[self.steps[j].out] = Some(out_b);
                steps.next();
                continue;
            }
            let out = match &step.kernel {
                Kernel::Layer { layer, input, residual } => {
                    let (height, width) = (self.shapes[step.out].1, self.shapes[step.out].2);
                    let len = get(*input).batch * self.shapes[step.out].0 * height * width;
                    layer.forward_into(get(*input), residual.map(get), take_spare(&mut spare, len), nested)
                }
                Kernel::Channel { ops, input } => {
                    let mut map = get(*input).clone();
                    let c = map.channels;
                    map.data.chunks_mut(c).for_each(|pixel| ops.iter().for_each(|op| op.apply(pixel)));
                    map
                }
                Kernel::Add(a, b) => get(*a).plus(get(*b)),
                Kernel::Mul(a, b) => get(*a).times(get(*b)),
                Kernel::MaxPool(x, kernel, stride) => get(*x).max_pool_ceil(*kernel, *stride),
                Kernel::Upsample(x) => get(*x).upsample_x2(),
                Kernel::RepeatChannels(x, channels) => get(*x).repeat_channels(*channels),
                Kernel::Flatten(x) => get(*x).clone().flatten_hwc(),
            };
            for v in step.kernel.inputs() {
                if last_use[v] == i {
                    retire(values, &mut spare, v);
                }
            }
            values[step.out] = Some(out);
        }
    }
}

impl Program {
    /// The packed layer steps `i` and `j` both run, without a residual, and their inputs.
    fn shared_pair(&self, i: usize, j: usize) -> Option<(&Layer, Value, Value)> {
        match (&self.steps[i].kernel, &self.steps[j].kernel) {
            (
                Kernel::Layer { layer, input: a, residual: None },
                Kernel::Layer { layer: other, input: b, residual: None },
            ) if Arc::ptr_eq(layer, other) && *b != self.steps[i].out => Some((&**layer, *a, *b)),
            _ => None,
        }
    }
}

/// Drops `value` after its last use, keeping its memory among the spare maps (a few are enough to
/// reuse; more would only hold memory).
fn retire(values: &mut [Option<Nhwc>], spare: &mut Vec<Vec<f32>>, value: Value) {
    let Some(map) = values[value].take() else { return };
    spare.push(map.data);
    if spare.len() > SPARE_MAPS
        && let Some(smallest) = (0..spare.len()).min_by_key(|&i| spare[i].len())
    {
        spare.swap_remove(smallest);
    }
}

/// The spare buffer for an output of `len` values: the smallest that holds it, else the largest
/// (grown); a new one when there is none.
fn take_spare(spare: &mut Vec<Vec<f32>>, len: usize) -> Vec<f32> {
    let fits = spare.iter().enumerate().filter(|(_, b)| b.len() >= len).min_by_key(|(_, b)| b.len());
    let pick = fits.or_else(|| spare.iter().enumerate().max_by_key(|(_, b)| b.len())).map(|(i, _)| i);
    pick.map(|i| spare.swap_remove(i)).unwrap_or_default()
}

/// Moves a layer step that shares its packed layer with a later step to just before that step,
/// when nothing in between reads its output, so that the two run as one multiply: FROM's
/// embedding head on the features and on the masked features streams its 44 MB of weights from
/// memory once, not twice.
fn pair_shared_layers(steps: &mut Vec<Step>) {
    let mut i = 0;
    while i < steps.len() {
        let partner = match &steps[i].kernel {
            Kernel::Layer { layer, residual: None, .. } => (i + 1..steps.len()).find(|&j| {
                matches!(&steps[j].kernel, Kernel::Layer { layer: other, residual: None, .. } if Arc::ptr_eq(layer, other))
            }),
            _ => None,
        };
        let out = steps[i].out;
        if let Some(j) = partner
            && j > i + 1
            && !steps[i + 1..=j].iter().any(|s| s.kernel.inputs().contains(&out))
        {
            let step = steps.remove(i);
            steps.insert(j - 1, step);
            // Another step is at `i` now.
            continue;
        }
        i += 1;
    }
}

impl Lowering {
    fn unsupported(&self, value: Value, message: impl Into<String>) -> CpuNetError {
        CpuNetError::Unsupported { layer: self.nodes[value].name.clone(), message: message.into() }
    }

    /// The step computing `value`, when it is a layer that can still take fused operations:
    /// `value` is its output, nothing else reads it, and no residual closed it.
    fn open_layer(&self, value: Value) -> Option<usize> {
        let step = self.producer[value]?;
        let open = self.open[step].as_ref()?;
        (self.steps[step].out == value && self.consumers[value] == 1 && open.residual.is_none()).then_some(step)
    }

    fn push(&mut self, kernel: Kernel, open: Option<Open>, out: Value) {
        self.producer[out] = Some(self.steps.len());
        self.steps.push(Step { kernel, out });
        self.open.push(open);
    }

    /// The value computed, materialising a batch norm that waited for a layer it will not join.
    fn materialise(&mut self, value: Value) -> Value {
        if let Some((affine, source)) = self.pending[value].take() {
            self.push(Kernel::Channel { ops: vec![ChannelOp::Affine(affine)], input: source }, None, value);
        }
        value
    }

    fn lower(&mut self, value: Value) -> Result<(), CpuNetError> {
        let op = self.nodes[value].op.clone();
        match op {
            Op::Input => return Err(self.unsupported(value, "a second input")),
            Op::Conv(spec, x) => self.lower_layer(value, *spec, x)?,
            Op::Channel(op, x) => self.lower_channel(value, op, x),
            Op::Add(a, b) => {
                let (a, b) = (self.materialise(a), self.materialise(b));
                let fused = [(a, b), (b, a)].into_iter().find_map(|(main, other)| {
                    let step = self.open_layer(main)?;
                    // The other operand must be ready when the layer runs.
                    (self.producer[other].is_none_or(|p| p < step) && self.order[other] == self.order[main])
                        .then_some((step, other))
                });
                match fused {
                    Some((step, other)) => {
                        self.open[step].as_mut().expect("open layer").residual = Some(other);
                        self.steps[step].out = value;
                        self.producer[value] = Some(step);
                        self.order[value] = self.order[a].clone();
                    }
                    None => {
                        self.same_layout(value, a, b)?;
                        self.push(Kernel::Add(a, b), None, value);
                    }
                }
            }
            Op::Mul(a, b) => {
                let (a, b) = (self.materialise(a), self.materialise(b));
                self.same_layout(value, a, b)?;
                self.push(Kernel::Mul(a, b), None, value);
            }
            Op::MaxPool(x, kernel, stride) => {
                let x = self.materialise(x);
                self.push(Kernel::MaxPool(x, kernel, stride), None, value);
            }
            Op::Upsample(x) => {
                let x = self.materialise(x);
                self.push(Kernel::Upsample(x), None, value);
            }
            Op::RepeatChannels(x) => {
                let x = self.materialise(x);
                let channels = self.nodes[value].shape.0;
                self.push(Kernel::RepeatChannels(x, channels), None, value);
            }
            Op::Flatten(x, shape, kind) => {
                let x = self.materialise(x);
                if self.order[x].is_some() {
                    return Err(self.unsupported(value, "flattens a flattened value"));
                }
                let order = kind.of_stored(shape);
                let identity = order.iter().enumerate().all(|(i, &o)| i == o);
                self.order[value] = (!identity).then_some(order);
                self.push(Kernel::Flatten(x), None, value);
            }
        }
        Ok(())
    }

    fn same_layout(&self, value: Value, a: Value, b: Value) -> Result<(), CpuNetError> {
        if self.order[a] != self.order[b] {
            return Err(self.unsupported(value, "operands flattened differently"));
        }
        Ok(())
    }

    fn lower_channel(&mut self, value: Value, op: ChannelOp, x: Value) {
        // On a flattened value the parameters follow the stored order.
        let op = match (&self.order[x], op) {
            (Some(order), ChannelOp::Affine(affine)) => ChannelOp::Affine(affine.permuted(order)),
            (Some(order), ChannelOp::PRelu(slopes)) => ChannelOp::PRelu(order.iter().map(|&i| slopes[i]).collect()),
            (_, op) => op,
        };
        self.order[value] = self.order[x].clone();
        if let Some(step) = self.open_layer(x) {
            let open = self.open[step].as_mut().expect("open layer");
            match op {
                ChannelOp::Affine(affine) if open.ops.is_empty() => open.spec.fold_after(&affine),
                op => open.ops.push(op),
            }
            self.steps[step].out = value;
            self.producer[value] = Some(step);
            return;
        }
        let feeds_one_layer = self.consumers[value] == 1
            && self.nodes[value + 1..].iter().any(|n| matches!(&n.op, Op::Conv(_, input) if *input == value));
        match op {
            ChannelOp::Affine(affine) if feeds_one_layer && self.pending[x].is_none() => {
                self.pending[value] = Some((affine, x));
            }
            op => {
                let x = self.materialise(x);
                self.push(Kernel::Channel { ops: vec![op], input: x }, None, value);
            }
        }
    }

    fn lower_layer(&mut self, value: Value, mut spec: ConvSpec, x: Value) -> Result<(), CpuNetError> {
        if let Some(order) = &self.order[x] {
            if spec.kernel != 1 || spec.groups != 1 {
                return Err(self.unsupported(value, "a spatial conv on a flattened value"));
            }
            spec.permute_inputs(order);
        }
        let mut input = x;
        let mut prologue = None;
        if let Some((affine, source)) = self.pending[x].take() {
            if spec.fold_before(&affine) {
                input = source;
            } else if !spec.depthwise() {
                (prologue, input) = (Some(affine), source);
            } else {
                self.pending[x] = Some((affine, source));
                input = self.materialise(x);
            }
        }
        let open = Open { spec, prologue, ops: Vec::new(), input, residual: None };
        // The kernel is built when the step closes (after the lowering), with what it fused.
        self.push(Kernel::Flatten(input), Some(open), value);
        Ok(())
    }
}
