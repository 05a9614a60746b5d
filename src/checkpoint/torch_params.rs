//! PyTorch state-dict names for our modules.
//!
//! Every module that can come from a PyTorch checkpoint says, in state-dict order, which of its
//! tensors sits under which key. The same walk lists the expected keys and shapes, loads a state
//! dict and reports mismatches, so the names are written once.

use burn::module::{Param, RunningState};
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, Linear, PRelu};
use burn::tensor::Tensor;

/// A tensor of a module, as a PyTorch state dict holds it.
pub enum ParamSlot<'a> {
    /// A 1-d parameter (biases, BatchNorm affine, PReLU slopes).
    Vector(&'a mut Param<Tensor<1>>),
    /// A Linear weight: burn keeps `[in, out]`, PyTorch `[out, in]`.
    LinearWeight(&'a mut Param<Tensor<2>>),
    /// A conv kernel `[out, in, kh, kw]`, the same layout in both.
    Kernel(&'a mut Param<Tensor<4>>),
    /// A BatchNorm running statistic.
    Running(&'a mut RunningState<Tensor<1>>),
    /// A buffer PyTorch saves that burn does not keep (BatchNorm's `num_batches_tracked`,
    /// an int64 scalar): accepted when present, never required.
    Ignored,
}

impl ParamSlot<'_> {
    /// The shape PyTorch stores for this tensor.
    pub fn torch_shape(&self) -> Vec<usize> {
        match self {
            ParamSlot::Vector(p) => p.lazy_shape().as_slice().to_vec(),
            ParamSlot::LinearWeight(p) => {
                let dims = p.lazy_shape();
                vec![dims[1], dims[0]]
            }
            ParamSlot::Kernel(p) => p.lazy_shape().as_slice().to_vec(),
            ParamSlot::Running(s) => s.value().dims().to_vec(),
            ParamSlot::Ignored => Vec::new(),
        }
    }
}

pub trait TorchVisitor {
    fn visit(&mut self, key: String, slot: ParamSlot<'_>);
}

/// Implemented by every module that maps onto part of a PyTorch state dict.
pub trait TorchParams {
    /// Visits every tensor in state-dict order under `prefix` (empty for the root).
    fn visit_torch(&mut self, prefix: &str, visitor: &mut dyn TorchVisitor);
}

/// `prefix.name`, or `name` at the root.
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_string() } else { format!("{prefix}.{name}") }
}

impl TorchParams for Conv2d {
    fn visit_torch(&mut self, prefix: &str, v: &mut dyn TorchVisitor) {
        v.visit(join(prefix, "weight"), ParamSlot::Kernel(&mut self.weight));
        if let Some(bias) = &mut self.bias {
            v.visit(join(prefix, "bias"), ParamSlot::Vector(bias));
        }
    }
}

impl TorchParams for BatchNorm {
    fn visit_torch(&mut self, prefix: &str, v: &mut dyn TorchVisitor) {
        v.visit(join(prefix, "weight"), ParamSlot::Vector(&mut self.gamma));
        v.visit(join(prefix, "bias"), ParamSlot::Vector(&mut self.beta));
        v.visit(join(prefix, "running_mean"), ParamSlot::Running(&mut self.running_mean));
        v.visit(join(prefix, "running_var"), ParamSlot::Running(&mut self.running_var));
        v.visit(join(prefix, "num_batches_tracked"), ParamSlot::Ignored);
    }
}

impl TorchParams for PRelu {
    fn visit_torch(&mut self, prefix: &str, v: &mut dyn TorchVisitor) {
        v.visit(join(prefix, "weight"), ParamSlot::Vector(&mut self.alpha));
    }
}

impl TorchParams for Linear {
    fn visit_torch(&mut self, prefix: &str, v: &mut dyn TorchVisitor) {
        v.visit(join(prefix, "weight"), ParamSlot::LinearWeight(&mut self.weight));
        if let Some(bias) = &mut self.bias {
            v.visit(join(prefix, "bias"), ParamSlot::Vector(bias));
        }
    }
}

/// Every key a module expects, with PyTorch's shape, in state-dict order.
pub fn torch_keys(module: &mut impl TorchParams) -> Vec<(String, Vec<usize>)> {
    struct Lister(Vec<(String, Vec<usize>)>);
    impl TorchVisitor for Lister {
        fn visit(&mut self, key: String, slot: ParamSlot<'_>) {
            let shape = slot.torch_shape();
            self.0.push((key, shape));
        }
    }
    let mut lister = Lister(Vec::new());
    module.visit_torch("", &mut lister);
    lister.0
}

/// Every tensor of a module in PyTorch layout, keyed as in a state dict (ignored buffers
/// excluded). Used to check a converted record against its source.
pub fn torch_tensors(module: &mut impl TorchParams) -> Vec<(String, burn::tensor::TensorData)> {
    struct Reader(Vec<(String, burn::tensor::TensorData)>);
    impl TorchVisitor for Reader {
        fn visit(&mut self, key: String, slot: ParamSlot<'_>) {
            let data = match slot {
                ParamSlot::Vector(p) => p.val().into_data(),
                ParamSlot::LinearWeight(p) => p.val().transpose().into_data(),
                ParamSlot::Kernel(p) => p.val().into_data(),
                ParamSlot::Running(s) => s.value().into_data(),
                ParamSlot::Ignored => return,
            };
            self.0.push((key, data));
        }
    }
    let mut reader = Reader(Vec::new());
    module.visit_torch("", &mut reader);
    reader.0
}
