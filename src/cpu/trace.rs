//! Recording a network: [`Tracer`] is the [`Ops`] that, instead of computing, notes each
//! operation with the weights it reads, so that `program` can fuse and run them. The network's
//! own `forward_with` drives it; nothing here knows any network.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::nn::{BatchNorm, Dropout, Linear, PRelu};

use super::CpuNetError;
use super::channel_ops::{Affine, ChannelOp};
use super::layers::ConvSpec;
use crate::model::ops::Ops;

/// A value of the recorded graph: the index of the node that computes it.
pub type Value = usize;

/// `(channels, height, width)`.
pub(crate) type Shape = (usize, usize, usize);

/// One recorded operation, with what it reads.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Input,
    Conv(Box<ConvSpec>, Value),
    /// A batch norm, PReLU, sigmoid or softmax: pixel by pixel.
    Channel(ChannelOp, Value),
    /// Max-pool without padding in ceil mode: kernel, stride.
    MaxPool(Value, usize, usize),
    Add(Value, Value),
    Mul(Value, Value),
    Upsample(Value),
    RepeatChannels(Value),
    /// Flattening of a map of this shape, in this order.
    Flatten(Value, Shape, FlattenOrder),
}

/// The order of a flattened map's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlattenOrder {
    /// PyTorch's `view(batch, -1)` of a channels-first map: channel, y, x.
    ChannelsFirst,
    /// x, y, channel (see [`Ops::flatten_whc`]).
    WidthHeightChannel,
}

impl FlattenOrder {
    /// For each value as the CPU path stores it (y, x, channel; channel fastest), its index in
    /// this order.
    pub fn of_stored(self, (c, h, w): Shape) -> Vec<usize> {
        let mut order = Vec::with_capacity(c * h * w);
        for y in 0..h {
            for x in 0..w {
                for ch in 0..c {
                    order.push(match self {
                        FlattenOrder::ChannelsFirst => (ch * h + y) * w + x,
                        FlattenOrder::WidthHeightChannel => (x * h + y) * c + ch,
                    });
                }
            }
        }
        order
    }
}

impl Op {
    pub fn inputs(&self) -> Vec<Value> {
        match self {
            Op::Input => vec![],
            Op::Conv(_, x)
            | Op::Channel(_, x)
            | Op::MaxPool(x, ..)
            | Op::Upsample(x)
            | Op::RepeatChannels(x)
            | Op::Flatten(x, ..) => {
                vec![*x]
            }
            Op::Add(a, b) | Op::Mul(a, b) => vec![*a, *b],
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub op: Op,
    pub shape: Shape,
    /// Where in the network, for error messages: the operation and its index.
    pub name: String,
}

/// Records the operations of one forward pass (see the module notes).
#[derive(Debug, Default)]
pub struct Tracer {
    pub(crate) nodes: Vec<Node>,
    /// The first weight that could not be read or is not supported; the trace goes on (with
    /// placeholder nodes) and the program refuses to build.
    pub(crate) error: Option<CpuNetError>,
}

impl Tracer {
    pub fn new() -> Self {
        Self::default()
    }

    /// The network's input: raw pixel values of `height` x `width` RGB faces.
    pub fn input(&mut self, height: usize, width: usize) -> Value {
        self.push(Op::Input, (3, height, width), "input")
    }

    /// `x * scale + shift` on every value (a network's input normalisation).
    pub fn scale(&mut self, x: Value, scale: f32, shift: f32) -> Value {
        let shape = self.nodes[x].shape;
        self.push(Op::Channel(ChannelOp::Affine(Affine::uniform(scale, shift, shape.0)), x), shape, "normalise")
    }

    pub fn shape(&self, x: Value) -> Shape {
        self.nodes[x].shape
    }

    fn push(&mut self, op: Op, shape: Shape, what: &str) -> Value {
        let name = format!("{what} #{}", self.nodes.len());
        self.nodes.push(Node { op, shape, name });
        self.nodes.len() - 1
    }

    fn name(&self, what: &str) -> String {
        format!("{what} #{}", self.nodes.len())
    }

    /// Keeps the first error; the value stands in for the failed node.
    fn fail(&mut self, error: CpuNetError, x: Value) -> Value {
        self.error.get_or_insert(error);
        x
    }

    fn spec(&mut self, spec: Result<ConvSpec, CpuNetError>, x: Value, what: &str) -> Value {
        let (c, h, w) = self.nodes[x].shape;
        match spec {
            Ok(spec) if spec.cin != c => {
                let message = format!("reads {} channels, gets {c}", spec.cin);
                self.fail(CpuNetError::Unsupported { layer: self.name(what), message }, x)
            }
            Ok(spec) => {
                let size =
                    |side: usize, before: usize, after: usize| (side + before + after - spec.kernel) / spec.stride + 1;
                let shape =
                    (spec.cout, size(h, spec.padding[0], spec.padding[2]), size(w, spec.padding[1], spec.padding[3]));
                self.push(Op::Conv(Box::new(spec), x), shape, what)
            }
            Err(error) => self.fail(error, x),
        }
    }

    fn channel(&mut self, op: Result<ChannelOp, CpuNetError>, x: Value, what: &str) -> Value {
        match op {
            Ok(op) => {
                let shape = self.nodes[x].shape;
                self.push(Op::Channel(op, x), shape, what)
            }
            Err(error) => self.fail(error, x),
        }
    }

    fn same_shape(&mut self, a: Value, b: Value, op: Op, what: &str) -> Value {
        let shape = self.nodes[a].shape;
        if shape != self.nodes[b].shape {
            let message = format!("operands of shapes {shape:?} and {:?}", self.nodes[b].shape);
            return self.fail(CpuNetError::Unsupported { layer: self.name(what), message }, a);
        }
        self.push(op, shape, what)
    }
}

impl Ops for Tracer {
    type X = Value;

    fn conv(&mut self, conv: &Conv2d, x: Value) -> Value {
        let spec = ConvSpec::from_conv(conv, &self.name("conv"));
        self.spec(spec, x, "conv")
    }

    fn batch_norm(&mut self, bn: &BatchNorm, x: Value) -> Value {
        let op = Affine::batch_norm(bn, &self.name("batch norm")).map(ChannelOp::Affine);
        self.channel(op, x, "batch norm")
    }

    fn prelu(&mut self, prelu: &PRelu, x: Value) -> Value {
        let channels = self.nodes[x].shape.0;
        let op = ChannelOp::prelu(prelu, channels, &self.name("prelu"));
        self.channel(op, x, "prelu")
    }

    fn sigmoid(&mut self, x: Value) -> Value {
        self.channel(Ok(ChannelOp::Sigmoid), x, "sigmoid")
    }

    fn softmax_channels(&mut self, x: Value) -> Value {
        self.channel(Ok(ChannelOp::Softmax), x, "softmax")
    }

    fn max_pool(&mut self, pool: &MaxPool2d, x: Value) -> Value {
        let [kernel, kernel_w] = pool.kernel_size;
        let [stride, stride_w] = pool.stride;
        let plain = kernel == kernel_w && stride == stride_w && pool.dilation == [1, 1];
        if !(plain && pool.ceil_mode && matches!(pool.padding, PaddingConfig2d::Valid)) {
            let message = format!("{pool:?}: only square, unpadded, ceil-mode pools");
            return self.fail(CpuNetError::Unsupported { layer: self.name("max pool"), message }, x);
        }
        let (c, h, w) = self.nodes[x].shape;
        let size = |input: usize| crate::cpu::maps::ceil_pool_size(input, kernel, stride);
        self.push(Op::MaxPool(x, kernel, stride), (c, size(h), size(w)), "max pool")
    }

    fn dropout(&mut self, _dropout: &Dropout, x: Value) -> Value {
        x
    }

    fn add(&mut self, a: Value, b: Value) -> Value {
        self.same_shape(a, b, Op::Add(a, b), "add")
    }

    fn mul(&mut self, a: Value, b: Value) -> Value {
        self.same_shape(a, b, Op::Mul(a, b), "mul")
    }

    fn upsample_x2(&mut self, x: Value) -> Value {
        let (c, h, w) = self.nodes[x].shape;
        self.push(Op::Upsample(x), (c, 2 * h, 2 * w), "upsample")
    }

    fn repeat_channels(&mut self, x: Value, channels: usize) -> Value {
        let (c, h, w) = self.nodes[x].shape;
        if c != 1 {
            let message = format!("repeats a map of {c} channels");
            return self.fail(CpuNetError::Unsupported { layer: self.name("repeat"), message }, x);
        }
        self.push(Op::RepeatChannels(x), (channels, h, w), "repeat")
    }

    fn flatten(&mut self, x: Value) -> Value {
        let shape = self.nodes[x].shape;
        self.push(Op::Flatten(x, shape, FlattenOrder::ChannelsFirst), (shape.0 * shape.1 * shape.2, 1, 1), "flatten")
    }

    fn flatten_whc(&mut self, x: Value) -> Value {
        let shape = self.nodes[x].shape;
        let op = Op::Flatten(x, shape, FlattenOrder::WidthHeightChannel);
        self.push(op, (shape.0 * shape.1 * shape.2, 1, 1), "flatten")
    }

    fn linear(&mut self, linear: &Linear, x: Value) -> Value {
        let spec = ConvSpec::from_linear(linear, &self.name("linear"));
        self.spec(spec, x, "linear")
    }
}
