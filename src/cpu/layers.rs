//! Conv layers in the layout their kernels read: each a matrix multiply (`matmul`) or a loop
//! over contiguous channels, with the bias and the per-channel operations that follow (PReLU,
//! batch norm, sigmoid) and a residual applied while a block of output pixels is still in cache.
//! A batch norm before a padded conv is applied as the patches are gathered, so that the padding
//! stays zero as in the network.

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::{Linear, PaddingConfig2d};
use burn::tensor::Tensor;
use rayon::prelude::*;

use super::CpuNetError;
use super::channel_ops::{Affine, ChannelOp, Epilogue, values};
use super::maps::Nhwc;
use super::matmul::{PackedRhs, matmul, matmul_columns};
use super::winograd::Winograd;

// The loops a layer runs per pixel are plain `for` loops, not `Iterator::for_each`: a `for_each`
// the compiler chose not to inline was compiled outside `block_avx2_fma`, without AVX2, and took
// 40% of MobileFaceNet's time (measured with perf).

/// Fewest output pixels one parallel task computes (but for a map too small for two such tasks a
/// core, which goes out as one task a core): below this the matrix multiply's packing costs more
/// than the thread hand-off saves.
const MIN_ROWS_PER_TASK: usize = 48;
/// Most output pixels one task computes: a dense layer's gathered patches for this many pixels
/// stay in L2 (256 x 576 values for a 3x3 conv over 64 channels); LResNet's 112x96 maps in four
/// tasks gathered 6 MB each and ran at half the multiply's speed.
const MAX_ROWS_PER_TASK: usize = 256;
/// Fewest weight bytes for which a layer with few output pixels splits by columns: below, the
/// hand-off costs more than the second core saves (MobileFaceNet's 1x1 head layers: 4 ms a face
/// slower split).
const SPLIT_WEIGHT_BYTES: usize = 2 << 20;
/// Fewest input and output channels for which a 3x3 stride-1 conv runs by Winograd's method:
/// with fewer, its transforms cost about as much as the products it saves.
const WINOGRAD_MIN_CHANNELS: usize = 16;
/// Most weights (`cin x cout`) for which it does: its 16 transformed matrices are 16/9 of the
/// conv's weights, read again for every few tiles; for LResNet's last stage (512 x 512 channels
/// over 7x6 maps) that traffic outweighs the products saved (a batch of one: 2.6 ms direct,
/// 3.7 to 4.4 ms by Winograd; 256 x 256 over 14x12: 2.2 ms direct, 1.3 ms by Winograd).
const WINOGRAD_MAX_WEIGHTS: usize = 256 * 256;

/// Padding in pixels: top, left, bottom, right.
pub(crate) type Padding = [usize; 4];

/// A conv (or a linear layer as a 1x1 conv) as burn holds it, read off the module: weight
/// `[out][in / groups][kernel][kernel]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ConvSpec {
    pub weight: Vec<f32>,
    /// Zeros for a layer without one.
    pub bias: Vec<f32>,
    pub cin: usize,
    pub cout: usize,
    pub groups: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: Padding,
}

impl ConvSpec {
    pub fn from_conv(conv: &Conv2d, layer: &str) -> Result<Self, CpuNetError> {
        let [cout, per_group, kh, kw] = conv.weight.dims();
        let unsupported = |message: String| CpuNetError::Unsupported { layer: layer.to_string(), message };
        if kh != kw || conv.stride[0] != conv.stride[1] || conv.dilation != [1, 1] {
            return Err(unsupported(format!(
                "kernel {kh}x{kw}, stride {:?}, dilation {:?}",
                conv.stride, conv.dilation
            )));
        }
        let padding = match conv.padding {
            PaddingConfig2d::Valid => [0; 4],
            PaddingConfig2d::Explicit(top, left, bottom, right) => [top, left, bottom, right],
            ref other => return Err(unsupported(format!("padding {other:?}"))),
        };
        let depthwise = conv.groups == cout && per_group == 1 && conv.groups > 1;
        if conv.groups != 1 && !depthwise {
            return Err(unsupported(format!("{} groups", conv.groups)));
        }
        Ok(Self {
            weight: values(conv.weight.val(), layer)?,
            bias: bias_values(conv.bias.as_ref(), cout, layer)?,
            cin: per_group * conv.groups,
            cout,
            groups: conv.groups,
            kernel: kh,
            stride: conv.stride[0],
            padding,
        })
    }

    /// A linear layer as a 1x1 conv over 1x1 maps.
    pub fn from_linear(linear: &Linear, layer: &str) -> Result<Self, CpuNetError> {
        // burn stores the weight as [in, out]; a conv's is [out][in].
        let [cin, cout] = linear.weight.dims();
        let weight = values(linear.weight.val().transpose(), layer)?;
        let bias = bias_values(linear.bias.as_ref(), cout, layer)?;
        Ok(Self { weight, bias, cin, cout, groups: 1, kernel: 1, stride: 1, padding: [0; 4] })
    }

    pub fn depthwise(&self) -> bool {
        self.groups > 1
    }

    /// Weights per output channel.
    fn filter(&self) -> usize {
        self.cin / self.groups * self.kernel * self.kernel
    }

    /// Folds a per-channel affine of the output into the weights and bias (exact).
    pub fn fold_after(&mut self, affine: &Affine) {
        let filter = self.filter();
        for (o, (w, b)) in self.weight.chunks_mut(filter).zip(&mut self.bias).enumerate() {
            w.iter_mut().for_each(|w| *w *= affine.scale[o]);
            *b = *b * affine.scale[o] + affine.shift[o];
        }
    }

    /// Folds a per-channel affine of the input into the weights and bias. Exact only without
    /// padding (a padded pixel is zero after the affine, not `shift`): `false`, and nothing
    /// changed, for a padded layer.
    pub fn fold_before(&mut self, affine: &Affine) -> bool {
        if self.padding != [0; 4] {
            return false;
        }
        let (filter, taps, per_group) = (self.filter(), self.kernel * self.kernel, self.cin / self.groups);
        for (o, (w, b)) in self.weight.chunks_mut(filter).zip(&mut self.bias).enumerate() {
            for (i, plane) in w.chunks_mut(taps).enumerate() {
                let channel = if self.groups > 1 { o } else { i };
                debug_assert!(i < per_group);
                *b += plane.iter().sum::<f32>() * affine.shift[channel];
                plane.iter_mut().for_each(|w| *w *= affine.scale[channel]);
            }
        }
        true
    }

    /// Reorders the input channels: input `i` of the result is input `order[i]` (a dense layer).
    pub fn permute_inputs(&mut self, order: &[usize]) {
        assert!(self.groups == 1 && self.kernel == 1 && order.len() == self.cin, "permute a dense 1x1 layer");
        for row in self.weight.chunks_mut(self.cin) {
            let permuted: Vec<f32> = order.iter().map(|&i| row[i]).collect();
            row.copy_from_slice(&permuted);
        }
    }
}

/// A conv layer in the layout its kernel reads.
#[derive(Debug, Clone)]
pub(crate) enum Layer {
    /// 1x1, stride 1: weight `[in, out]`, packed.
    Pointwise { weight: PackedRhs, cin: usize, cout: usize, epilogue: Epilogue },
    /// One filter per channel: weight `[kernel * kernel, channels]`.
    Depthwise { weight: Vec<f32>, channels: usize, kernel: usize, stride: usize, padding: Padding, epilogue: Epilogue },
    /// Any other conv: weight `[kernel * kernel * in, out]`, patch-major, packed; `prologue`
    /// applied to every input pixel as the patches are gathered.
    Dense {
        weight: PackedRhs,
        cin: usize,
        cout: usize,
        kernel: usize,
        stride: usize,
        padding: Padding,
        prologue: Option<Affine>,
        epilogue: Epilogue,
    },
    /// A 3x3 conv, stride 1, one pixel of padding all round, by Winograd's F(2x2, 3x3).
    Winograd { conv: Winograd, prologue: Option<Affine>, epilogue: Epilogue },
}

/// A layer's bias, or zeros for one without.
fn bias_values(bias: Option<&Param<Tensor<1>>>, channels: usize, layer: &str) -> Result<Vec<f32>, CpuNetError> {
    match bias {
        Some(bias) => values(bias.val(), layer),
        None => Ok(vec![0.0; channels]),
    }
}

impl Layer {
    /// The kernel for `spec`, with `prologue` on its input (a dense layer's only: the others
    /// fold it, see [`ConvSpec::fold_before`]) and `ops` after its bias.
    pub(crate) fn build(spec: ConvSpec, prologue: Option<Affine>, ops: Vec<ChannelOp>) -> Self {
        let ConvSpec { weight, bias, cin, cout, groups, kernel, stride, padding } = spec;
        let epilogue = Epilogue::new(bias, ops);
        let taps = kernel * kernel;
        if groups > 1 {
            assert!(prologue.is_none(), "a depthwise layer takes no prologue");
            // burn: [channel][0][ky][kx] -> [ky * k + kx][channel]
            let mut by_tap = vec![0f32; taps * cout];
            for (c, filter) in weight.chunks(taps).enumerate() {
                filter.iter().enumerate().for_each(|(t, &w)| by_tap[t * cout + c] = w);
            }
            return Layer::Depthwise { weight: by_tap, channels: cout, kernel, stride, padding, epilogue };
        }
        if kernel == 3
            && stride == 1
            && padding == [1; 4]
            && cin.min(cout) >= WINOGRAD_MIN_CHANNELS
            && cin * cout <= WINOGRAD_MAX_WEIGHTS
        {
            return Layer::Winograd { conv: Winograd::new(&weight, cin, cout), prologue, epilogue };
        }
        // burn: [out][in][ky][kx] -> [(ky * k + kx) * in + in_channel][out]
        let mut patch_major = vec![0f32; taps * cin * cout];
        for (o, filter) in weight.chunks(cin * taps).enumerate() {
            for (i, plane) in filter.chunks(taps).enumerate() {
                plane.iter().enumerate().for_each(|(t, &w)| patch_major[(t * cin + i) * cout + o] = w);
            }
        }
        let weight = PackedRhs::new(taps * cin, cout, &patch_major);
        if kernel == 1 && stride == 1 && padding == [0; 4] && prologue.is_none() {
            Layer::Pointwise { weight, cin, cout, epilogue }
        } else {
            Layer::Dense { weight, cin, cout, kernel, stride, padding, prologue, epilogue }
        }
    }

    /// A conv and its optional PReLU (the layer tests' case).
    #[cfg(test)]
    pub(crate) fn new(conv: &Conv2d, act: Option<&burn::nn::PRelu>, layer: &str) -> Result<Self, CpuNetError> {
        let spec = ConvSpec::from_conv(conv, layer)?;
        let ops = act.map(|act| ChannelOp::prelu(act, spec.cout, layer)).into_iter().collect::<Result<_, _>>()?;
        Ok(Self::build(spec, None, ops))
    }

    /// Weight bytes: what decides whether a layer runs on the whole batch at once.
    pub(crate) fn weight_bytes(&self) -> usize {
        match self {
            Layer::Pointwise { cin, cout, .. } => cin * cout * 4,
            Layer::Dense { cin, cout, kernel, .. } => cin * cout * kernel * kernel * 4,
            Layer::Depthwise { weight, .. } => weight.len() * 4,
            Layer::Winograd { conv, .. } => conv.weight_bytes(),
        }
    }

    fn output_size(&self, height: usize, width: usize) -> (usize, usize) {
        match self {
            Layer::Pointwise { .. } | Layer::Winograd { .. } => (height, width),
            Layer::Depthwise { kernel, stride, padding, .. } | Layer::Dense { kernel, stride, padding, .. } => (
                (height + padding[0] + padding[2] - kernel) / stride + 1,
                (width + padding[1] + padding[3] - kernel) / stride + 1,
            ),
        }
    }

    fn output_channels(&self) -> usize {
        match self {
            Layer::Pointwise { cout, .. } | Layer::Dense { cout, .. } => *cout,
            Layer::Winograd { conv, .. } => conv.output_channels(),
            Layer::Depthwise { channels, .. } => *channels,
        }
    }

    /// The layer on `x`, plus `residual` (same shape as the output) when given.
    #[cfg(test)]
    pub(crate) fn forward(&self, x: &Nhwc, residual: Option<&Nhwc>) -> Nhwc {
        self.forward_into(x, residual, Vec::new(), false)
    }

    /// [`Self::forward`] into `buffer`'s memory (a map no longer needed): every kernel writes
    /// every output value, so the buffer is not cleared first (zeroing fresh outputs took 5% of
    /// MobileFaceNet's time). `nested`: inside a parallel loop over faces, where the cores are
    /// already busy, so the layer runs as fewer, larger tasks.
    pub(crate) fn forward_into(&self, x: &Nhwc, residual: Option<&Nhwc>, mut buffer: Vec<f32>, nested: bool) -> Nhwc {
        let (height, width) = self.output_size(x.height, x.width);
        let channels = self.output_channels();
        let len = x.batch * height * width * channels;
        if buffer.len() >= len {
            buffer.truncate(len);
        } else {
            buffer.resize(len, 0.0);
        }
        let mut out = Nhwc { batch: x.batch, height, width, channels, data: buffer };
        if let Some(residual) = residual {
            assert_eq!(residual.data.len(), out.data.len(), "residual and output differ in size");
        }
        if let Layer::Winograd { conv, prologue, epilogue, .. } = self {
            conv.forward(x, prologue.as_ref(), epilogue, residual, &mut out);
            return out;
        }
        let pixels = out.pixels();
        let threads = rayon::current_num_threads();
        let most = if nested { usize::MAX } else { MAX_ROWS_PER_TASK };
        let mut rows = pixels.div_ceil(2 * threads).clamp(MIN_ROWS_PER_TASK, most);
        if !nested && pixels.div_ceil(rows) < 2 * threads {
            if self.weight_bytes() >= SPLIT_WEIGHT_BYTES && self.forward_by_columns(x, residual, &mut out, threads) {
                return out;
            }
            // Too few pixels for two tasks a core (MobileFaceNet's 7x7 maps): one even task a
            // core, where 48-pixel tasks left a 49-pixel map on one core but for one pixel.
            rows = pixels.div_ceil(threads);
        }
        out.data.par_chunks_mut(rows * channels).enumerate().for_each(|(task, block)| {
            #[cfg(target_arch = "x86_64")]
            if super::matmul::avx2_fma() {
                // SAFETY: the CPU supports AVX2 and FMA, checked just above.
                unsafe { self.block_avx2_fma(x, residual, task * rows, block) };
                return;
            }
            self.block(x, residual, task * rows, block);
        });
        out
    }

    /// A layer with too few output pixels to keep every core busy, split by output columns
    /// instead (LResNet's 7x6 maps, a batch of one through the heads' linear layers): each task
    /// computes some of the packed panels for every pixel. `false` (nothing done) for a layer
    /// that cannot split: a depthwise one, one panel, or a softmax over the channels.
    fn forward_by_columns(&self, x: &Nhwc, residual: Option<&Nhwc>, out: &mut Nhwc, threads: usize) -> bool {
        let (weight, epilogue) = match self {
            Layer::Pointwise { weight, epilogue, .. } | Layer::Dense { weight, epilogue, .. } => (weight, epilogue),
            Layer::Depthwise { .. } | Layer::Winograd { .. } => return false,
        };
        let panels = weight.panel_count();
        if panels < 2 || !epilogue.splits() {
            return false;
        }
        let (pixels, channels) = (out.pixels(), out.channels);
        let lhs = match self {
            Layer::Dense { .. } => std::borrow::Cow::Owned(self.patches(x, 0, pixels)),
            _ => std::borrow::Cow::Borrowed(&x.data),
        };
        let groups = threads.min(panels);
        let parts: Vec<(std::ops::Range<usize>, Vec<f32>)> = (0..groups)
            .into_par_iter()
            .map(|g| {
                let range = panels * g / groups..panels * (g + 1) / groups;
                let cols = weight.columns(&range);
                let mut part = vec![0f32; pixels * cols.len()];
                matmul_columns(pixels, &lhs, weight, range, &mut part);
                for (p, row) in part.chunks_mut(cols.len()).enumerate() {
                    epilogue.apply_from(row, cols.start);
                    if let Some(residual) = residual {
                        let skip = &residual.data[p * channels + cols.start..p * channels + cols.end];
                        row.iter_mut().zip(skip).for_each(|(v, s)| *v += s);
                    }
                }
                (cols, part)
            })
            .collect();
        for (cols, part) in parts {
            for (p, row) in part.chunks(cols.len()).enumerate() {
                out.data[p * channels + cols.start..p * channels + cols.end].copy_from_slice(row);
            }
        }
        true
    }

    /// A dense layer's input patches for output pixels `first .. first + count`, the prologue
    /// applied: `[count][kernel * kernel * cin]`, padding zero.
    #[inline(always)]
    fn patches(&self, x: &Nhwc, first: usize, count: usize) -> Vec<f32> {
        let Layer::Dense { cin, kernel, stride, padding, prologue, .. } = self else {
            unreachable!("only a dense layer gathers patches")
        };
        let (height, width) = self.output_size(x.height, x.width);
        let patch = kernel * kernel * cin;
        let mut patches = vec![0f32; count * patch];
        for (row, (b, oy, ox)) in patches.chunks_exact_mut(patch).zip(positions(first, height, width)) {
            // The taps of one kernel row that fall inside the map are adjacent pixels: one copy
            // each (the stem's 3-channel pixels, copied one by one, took most of its time).
            let left = ox * stride;
            let kx = padding[1].saturating_sub(left)..(x.width + padding[1]).saturating_sub(left).min(*kernel);
            for ky in 0..*kernel {
                let Some(iy) = (oy * stride + ky).checked_sub(padding[0]).filter(|&iy| iy < x.height) else { continue };
                if kx.is_empty() {
                    continue;
                }
                let ix = left + kx.start - padding[1];
                let from = ((b * x.height + iy) * x.width + ix) * cin;
                let slot = &mut row[(ky * kernel + kx.start) * cin..(ky * kernel + kx.end) * cin];
                slot.copy_from_slice(&x.data[from..from + slot.len()]);
                if let Some(prologue) = prologue {
                    slot.chunks_exact_mut(*cin).for_each(|pixel| prologue.apply(pixel));
                }
            }
        }
        patches
    }

    /// The output pixels from `first` on that `block` holds.
    #[inline(always)]
    fn block(&self, x: &Nhwc, residual: Option<&Nhwc>, first: usize, block: &mut [f32]) {
        let channels = self.output_channels();
        let (height, width) = self.output_size(x.height, x.width);
        let count = block.len() / channels;
        match self {
            Layer::Pointwise { weight, cin, .. } => {
                matmul(count, &x.data[first * cin..(first + count) * cin], weight, block);
            }
            Layer::Dense { weight, .. } => {
                let patches = self.patches(x, first, count);
                matmul(count, &patches, weight, block);
            }
            Layer::Winograd { .. } => unreachable!("a Winograd layer runs by bands of tiles"),
            Layer::Depthwise { weight, kernel, stride, padding, .. } => {
                depthwise(x, weight, (*kernel, *stride, padding), (height, width), first, block);
            }
        }
        let epilogue = match self {
            Layer::Pointwise { epilogue, .. }
            | Layer::Depthwise { epilogue, .. }
            | Layer::Dense { epilogue, .. }
            | Layer::Winograd { epilogue, .. } => epilogue,
        };
        for (r, pixel) in block.chunks_mut(channels).enumerate() {
            epilogue.apply(pixel);
            if let Some(residual) = residual {
                let skip = &residual.data[(first + r) * channels..][..channels];
                for (v, s) in pixel.iter_mut().zip(skip) {
                    *v += s;
                }
            }
        }
    }

    /// [`Self::block`] compiled for AVX2 + FMA: the depthwise, patch and epilogue loops run over
    /// contiguous channels and vectorise twice as wide as the x86-64 baseline (measured 25 ->
    /// 17 ms a face), and the depthwise `mul_add` becomes one instruction (elsewhere without FMA
    /// it is a library call, so only this build uses the depthwise path on x86-64 CPUs).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn block_avx2_fma(&self, x: &Nhwc, residual: Option<&Nhwc>, first: usize, block: &mut [f32]) {
        self.block(x, residual, first, block);
    }
}

/// Output pixels `first ..` of a depthwise conv (`kernel`, `stride`, `padding`) into `block`
/// (`[pixel][channel]`), walked in order. A window inside the map reads its taps from one list
/// made once for the block; only at the edges are a pixel's taps inside the map listed anew. The
/// sums test no padding and no position is divided out per pixel (with a per-tap `Option` and
/// three divisions a pixel, MobileFaceNet's depthwise layers took 30-75% longer, one core).
#[inline(always)]
fn depthwise(
    x: &Nhwc,
    weight: &[f32],
    (kernel, stride, padding): (usize, usize, &Padding),
    (height, width): (usize, usize),
    first: usize,
    block: &mut [f32],
) {
    let channels = x.channels;
    // (offset of the tap's weights, offset of its input pixel): for a window inside the map, all
    // taps, from the window's corner; at the edges, those inside the map, from the map's start.
    let inside: Vec<(usize, usize)> =
        (0..kernel * kernel).map(|t| (t * channels, (t / kernel * x.width + t % kernel) * channels)).collect();
    let mut edge: Vec<(usize, usize)> = Vec::with_capacity(kernel * kernel);
    for (out, (b, oy, ox)) in block.chunks_exact_mut(channels).zip(positions(first, height, width)) {
        let (top, left) = (oy * stride, ox * stride);
        if top >= padding[0]
            && left >= padding[1]
            && top + kernel <= x.height + padding[0]
            && left + kernel <= x.width + padding[1]
        {
            let corner = ((b * x.height + top - padding[0]) * x.width + left - padding[1]) * channels;
            depthwise_pixel(&x.data[corner..], weight, &inside, out);
        } else {
            edge.clear();
            for ky in 0..kernel {
                let Some(iy) = (top + ky).checked_sub(padding[0]).filter(|&iy| iy < x.height) else { continue };
                for kx in 0..kernel {
                    let Some(ix) = (left + kx).checked_sub(padding[1]).filter(|&ix| ix < x.width) else { continue };
                    edge.push(((ky * kernel + kx) * channels, ((b * x.height + iy) * x.width + ix) * channels));
                }
            }
            depthwise_pixel(&x.data, weight, &edge, out);
        }
    }
}

/// One output pixel of a depthwise conv: `out[c] = sum over taps (w, i) of input[i + c] *
/// weight[w + c]`, 64 channels at a time where there are enough (eight independent sums in AVX2
/// registers, held across the taps), then 16, then one by one.
#[inline(always)]
fn depthwise_pixel(input: &[f32], weight: &[f32], taps: &[(usize, usize)], out: &mut [f32]) {
    let channels = out.len();
    let mut c0 = 0;
    while c0 + 64 <= channels {
        depthwise_lanes::<64>(input, weight, taps, c0, out);
        c0 += 64;
    }
    while c0 + 16 <= channels {
        depthwise_lanes::<16>(input, weight, taps, c0, out);
        c0 += 16;
    }
    for (c, out) in out.iter_mut().enumerate().skip(c0) {
        *out = taps.iter().map(|&(w, i)| input[i + c] * weight[w + c]).sum();
    }
}

/// Channels `c0 .. c0 + L` of [`depthwise_pixel`].
#[inline(always)]
fn depthwise_lanes<const L: usize>(input: &[f32], weight: &[f32], taps: &[(usize, usize)], c0: usize, out: &mut [f32]) {
    let mut acc = [0f32; L];
    for &(w, i) in taps {
        let p: &[f32; L] = input[i + c0..][..L].try_into().expect("L channels");
        let w: &[f32; L] = weight[w + c0..][..L].try_into().expect("L weights");
        for l in 0..L {
            acc[l] += p[l] * w[l];
        }
    }
    out[c0..][..L].copy_from_slice(&acc);
}

/// `(image, row, column)` of output pixels `first, first + 1, ...` in order: counted on, not
/// divided out for each pixel.
#[inline(always)]
fn positions(first: usize, height: usize, width: usize) -> impl Iterator<Item = (usize, usize, usize)> {
    let mut at = (first / (height * width), first / width % height, first % width);
    std::iter::from_fn(move || {
        let here = at;
        at.2 += 1;
        if at.2 == width {
            (at.1, at.2) = (at.1 + 1, 0);
            if at.1 == height {
                (at.0, at.1) = (at.0 + 1, 0);
            }
        }
        Some(here)
    })
}
