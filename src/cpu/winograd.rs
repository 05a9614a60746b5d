//! 3x3 stride-1 convs with one pixel of padding (LResNet's residual blocks, most of
//! LResNet-FROM's arithmetic) by Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray, "Fast
//! Algorithms for Convolutional Neural Networks", CVPR 2016): each 2x2 block of output pixels
//! comes from a 4x4 input tile as 16 products per input and output channel instead of 36. The
//! weights are transformed once (`G g Gᵀ`, one `cin x cout` matrix per position of the 4x4
//! tile); a band of tiles is transformed (`Bᵀ d B`), multiplied position by position (16 matrix
//! multiplies on the packed kernel of [`super::matmul`]) and transformed back (`Aᵀ m A`).
//!
//! In f32 the transforms add rounding of the order of the sums themselves (the tests compare
//! with burn's direct conv at the same tolerance as the other layers).

use std::ops::Range;

use rayon::prelude::*;

use super::channel_ops::{Affine, Epilogue};
use super::maps::Nhwc;
use super::matmul::{PackedRhs, matmul};

/// `G` of F(2x2, 3x3): the 3-tap filter to its 4-point transform.
const G: [[f32; 3]; 4] = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]];
/// Most tiles one task transforms and multiplies: the band's 16 transformed inputs for 64-channel
/// layers (16 x 96 x 64 floats) stay within L2.
const MAX_TILES_PER_TASK: usize = 96;
/// Fewest tiles per task: below, the hand-off costs more than the second core saves.
const MIN_TILES_PER_TASK: usize = 6;
/// Bytes of transformed inputs and products one chunk of tiles may take, about one core's L2
/// (timed on LResNet's layers from 128 KB to 4 MB: within 5% from 256 KB to 1 MB, 512 KB the
/// fastest, 4 MB 15 to 30% slower).
const CHUNK_BYTES: usize = 512 << 10;

/// A 3x3 conv's weights transformed for F(2x2, 3x3).
#[derive(Debug, Clone)]
pub(crate) struct Winograd {
    cin: usize,
    cout: usize,
    /// `G g Gᵀ` at each of the 16 positions of a transformed tile, row-major: `[cin][cout]`,
    /// packed.
    positions: Vec<PackedRhs>,
}

impl Winograd {
    /// From a 3x3 conv's weight, burn's `[out][in][3][3]`.
    pub fn new(weight: &[f32], cin: usize, cout: usize) -> Self {
        assert_eq!(weight.len(), cout * cin * 9, "a 3x3 weight of {cin} -> {cout} channels");
        let mut transformed = vec![vec![0f32; cin * cout]; 16];
        for (o, filter) in weight.chunks(cin * 9).enumerate() {
            for (i, g) in filter.chunks(9).enumerate() {
                // G g: 4 x 3; then (G g) Gᵀ: 4 x 4.
                let gg: [[f32; 3]; 4] =
                    std::array::from_fn(|r| std::array::from_fn(|c| (0..3).map(|k| G[r][k] * g[k * 3 + c]).sum()));
                for r in 0..4 {
                    for c in 0..4 {
                        transformed[r * 4 + c][i * cout + o] = (0..3).map(|k| gg[r][k] * G[c][k]).sum();
                    }
                }
            }
        }
        let positions = transformed.iter().map(|u| PackedRhs::new(cin, cout, u)).collect();
        Self { cin, cout, positions }
    }

    pub fn output_channels(&self) -> usize {
        self.cout
    }

    pub fn weight_bytes(&self) -> usize {
        16 * self.cin * self.cout * size_of::<f32>()
    }

    /// The conv of `x` (same size out), `prologue` applied to each input pixel (the padding stays
    /// zero), then `epilogue` and `residual` per output pixel, into `out`.
    pub fn forward(
        &self,
        x: &Nhwc,
        prologue: Option<&Affine>,
        epilogue: &Epilogue,
        residual: Option<&Nhwc>,
        out: &mut Nhwc,
    ) {
        let (height, width, cout) = (x.height, x.width, self.cout);
        assert_eq!(x.channels, self.cin, "input channels");
        assert_eq!((out.height, out.width, out.channels), (height, width, cout), "output size");
        let (tile_rows, tiles_across) = (height.div_ceil(2), width.div_ceil(2));
        let threads = rayon::current_num_threads();
        let tiles = x.batch * tile_rows * tiles_across;
        let per_task = tiles.div_ceil(2 * threads).clamp(MIN_TILES_PER_TASK, MAX_TILES_PER_TASK);
        let rows_per_task = per_task.div_ceil(tiles_across).min(tile_rows);
        // Bands of whole tile rows of one image: each writes a contiguous run of output rows.
        let mut bands = Vec::new();
        let mut rest = out.data.as_mut_slice();
        for b in 0..x.batch {
            for first in (0..tile_rows).step_by(rows_per_task) {
                let rows = first..(first + rows_per_task).min(tile_rows);
                let pixels = ((2 * rows.end).min(height) - 2 * rows.start) * width;
                let (band, tail) = rest.split_at_mut(pixels * cout);
                bands.push((b, rows, band));
                rest = tail;
            }
        }
        // A batch norm before the conv, applied once to every input pixel rather than to each of
        // the four tiles that read it; the padding stays zero.
        let normalised = prologue.map(|prologue| {
            let mut x = x.clone();
            x.data.chunks_exact_mut(x.channels).for_each(|pixel| prologue.apply(pixel));
            x
        });
        let x = normalised.as_ref().unwrap_or(x);
        bands.into_par_iter().for_each(|(b, rows, band)| {
            let first = (b * height + 2 * rows.start) * width * cout;
            let residual = residual.map(|r| &r.data[first..][..band.len()]);
            #[cfg(target_arch = "x86_64")]
            if super::matmul::avx2_fma() {
                // SAFETY: the CPU supports AVX2 and FMA, checked just above.
                unsafe { self.band_avx2_fma(x, epilogue, residual, b, rows, band) };
                return;
            }
            self.band(x, epilogue, residual, b, rows, band);
        });
    }

    /// [`Self::band`] compiled for AVX2 + FMA: the transforms run over contiguous channels.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn band_avx2_fma(
        &self,
        x: &Nhwc,
        epilogue: &Epilogue,
        residual: Option<&[f32]>,
        b: usize,
        rows: Range<usize>,
        out: &mut [f32],
    ) {
        self.band(x, epilogue, residual, b, rows, out);
    }

    /// Tile rows `rows` of image `b` (output rows `2 * rows.start ..`, as many as the map has),
    /// the epilogue applied and `residual` (the same pixels') added, into `out`.
    #[inline(always)]
    fn band(
        &self,
        x: &Nhwc,
        epilogue: &Epilogue,
        residual: Option<&[f32]>,
        b: usize,
        rows: Range<usize>,
        out: &mut [f32],
    ) {
        let (cin, cout, width) = (self.cin, self.cout, x.width);
        let tiles_across = width.div_ceil(2);
        let band_tiles = rows.len() * tiles_across;
        let out_rows = out.len() / (width * cout);
        // Taken out of the thread-local rather than used in a closure passed to it: the closure
        // would be compiled into `LocalKey::with`, without AVX2.
        let mut scratch = SCRATCH.take();
        let chunk = chunk_tiles(cin, cout);
        // Every value is written before it is read: no need to clear what a previous band left.
        scratch.resize(16 * chunk * (cin + cout) + 16 * cin.max(cout), 0.0);
        let zeros = vec![0f32; cin];
        for first in (0..band_tiles).step_by(chunk) {
            let tiles = chunk.min(band_tiles - first);
            // Transformed inputs, position-major (`[16][tiles][cin]`: each position a matrix to
            // multiply), their products (`[16][tiles][cout]`), and room for one tile's
            // intermediate sums.
            let (v, rest) = scratch.split_at_mut(16 * tiles * cin);
            let (m, temp) = rest.split_at_mut(16 * tiles * cout);
            let place = |t: usize| ((first + t) / tiles_across, (first + t) % tiles_across);
            for t in 0..tiles {
                let (ty, tx) = place(t);
                // The 4x4 input tile whose centre 2x2 is the output block (2ty, 2tx), in padded
                // coordinates.
                let d: [&[f32]; 16] = std::array::from_fn(|i| {
                    x.padded_pixel(b, 2 * (rows.start + ty) + i / 4, 2 * tx + i % 4, &[1; 4]).unwrap_or(&zeros)
                });
                input_transform(&d, cin, temp, v, tiles * cin, t * cin);
            }
            for (position, weights) in self.positions.iter().enumerate() {
                let lhs = &v[position * tiles * cin..][..tiles * cin];
                matmul(tiles, lhs, weights, &mut m[position * tiles * cout..][..tiles * cout]);
            }
            let (block, temp) = temp.split_at_mut(4 * cout);
            for t in 0..tiles {
                let (ty, tx) = place(t);
                output_transform(m, cout, tiles * cout, t * cout, temp, block);
                for (i, values) in block.chunks_exact(cout).enumerate() {
                    let (oy, ox) = (2 * ty + i / 2, 2 * tx + i % 2);
                    if oy >= out_rows || ox >= width {
                        continue;
                    }
                    let at = (oy * width + ox) * cout;
                    let pixel = &mut out[at..][..cout];
                    pixel.copy_from_slice(values);
                    epilogue.apply(pixel);
                    if let Some(residual) = residual {
                        for (v, s) in pixel.iter_mut().zip(&residual[at..][..cout]) {
                            *v += s;
                        }
                    }
                }
            }
        }
        SCRATCH.set(scratch);
    }
}

/// Tiles transformed and multiplied at a time: as many as keep their transformed inputs and
/// products (`16 x tiles x (cin + cout)` floats) within `CHUNK_BYTES`, a multiple of the matrix
/// multiply's six rows.
fn chunk_tiles(cin: usize, cout: usize) -> usize {
    let fit = CHUNK_BYTES / (16 * (cin + cout) * size_of::<f32>());
    (fit / 6 * 6).max(6)
}

thread_local! {
    /// Each worker's transformed tiles and products, kept from band to band (allocating and
    /// zeroing them per band took a sixth of a layer's time).
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `Bᵀ d B` of a 4x4 tile `d` (row-major positions of `n` channels each), position `p` into
/// `v[p * stride + offset ..][.. n]`; `t` is scratch of `16 * n`.
#[inline(always)]
fn input_transform(d: &[&[f32]; 16], n: usize, t: &mut [f32], v: &mut [f32], stride: usize, offset: usize) {
    // Bᵀ d, down each column: rows 0 - 2, 1 + 2, 2 - 1, 1 - 3.
    for c in 0..4 {
        let at = |r: usize| &d[r * 4 + c][..n];
        let (d0, d1, d2, d3) = (at(0), at(1), at(2), at(3));
        let [t0, t1, t2, t3] = slots(t, n, [c, 4 + c, 8 + c, 12 + c]);
        for j in 0..n {
            t0[j] = d0[j] - d2[j];
            t1[j] = d1[j] + d2[j];
            t2[j] = d2[j] - d1[j];
            t3[j] = d1[j] - d3[j];
        }
    }
    // (Bᵀ d) B: the same combinations along each row.
    for r in 0..4 {
        let at = |c: usize| &t[(r * 4 + c) * n..][..n];
        let (s0, s1, s2, s3) = (at(0), at(1), at(2), at(3));
        let [v0, v1, v2, v3] = slots_strided(v, n, stride, offset, [r * 4, r * 4 + 1, r * 4 + 2, r * 4 + 3]);
        for j in 0..n {
            v0[j] = s0[j] - s2[j];
            v1[j] = s1[j] + s2[j];
            v2[j] = s2[j] - s1[j];
            v3[j] = s1[j] - s3[j];
        }
    }
}

/// `Aᵀ m A` of a transformed tile (position `p` at `m[p * stride + offset ..][.. n]`): the 2x2
/// output block into `block` (`[4][n]`, row-major); `s` is scratch of `8 * n`.
#[inline(always)]
fn output_transform(m: &[f32], n: usize, stride: usize, offset: usize, s: &mut [f32], block: &mut [f32]) {
    let at = |p: usize| &m[p * stride + offset..][..n];
    // Aᵀ m, down each column: m0 + m1 + m2 and m1 - m2 - m3.
    for c in 0..4 {
        let (m0, m1, m2, m3) = (at(c), at(4 + c), at(8 + c), at(12 + c));
        let [s0, s1] = slots(s, n, [c, 4 + c]);
        for j in 0..n {
            s0[j] = m0[j] + m1[j] + m2[j];
            s1[j] = m1[j] - m2[j] - m3[j];
        }
    }
    // (Aᵀ m) A: the same combinations along each row.
    for r in 0..2 {
        let at = |c: usize| &s[(r * 4 + c) * n..][..n];
        let (c0, c1, c2, c3) = (at(0), at(1), at(2), at(3));
        let [left, right] = slots(block, n, [2 * r, 2 * r + 1]);
        for j in 0..n {
            left[j] = c0[j] + c1[j] + c2[j];
            right[j] = c1[j] - c2[j] - c3[j];
        }
    }
}

/// Distinct `n`-wide slots `indices` (increasing) of `data`, mutably.
#[inline(always)]
fn slots<const K: usize>(data: &mut [f32], n: usize, indices: [usize; K]) -> [&mut [f32]; K] {
    slots_strided(data, n, n, 0, indices)
}

/// Slots `data[i * stride + offset ..][.. n]` for increasing `indices`, mutably (`n <= stride`).
#[inline(always)]
fn slots_strided<const K: usize>(
    data: &mut [f32],
    n: usize,
    stride: usize,
    offset: usize,
    indices: [usize; K],
) -> [&mut [f32]; K] {
    let mut rest = data;
    let mut taken = 0;
    let mut slot = |i: usize| {
        let (_, tail) = std::mem::take(&mut rest).split_at_mut(i * stride + offset - taken);
        let (this, tail) = tail.split_at_mut(n);
        taken = i * stride + offset + n;
        rest = tail;
        this
    };
    indices.map(&mut slot)
}
