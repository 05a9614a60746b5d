//! The matrix multiply behind every 1x1, dense and linear layer of the CPU inference path:
//! `dst[m x n] = lhs[m x k] * rhs[k x n]`, row-major, with the right-hand side (a layer's
//! weights) packed once when the layer is built.
//!
//! Why not a general gemm crate: the `gemm` crate ran these shapes (m = a block of pixels, k and
//! n = 64..512 channels) at ~20 GFLOP/s a core on the reference machine, where OpenBLAS reaches
//! ~100. The layers are small enough that one plain register-blocked kernel over pre-packed
//! weights does most of what a gemm library does: an `MR` x `NR` tile of the output stays in
//! registers while `k` runs, reading `MR` values of the left-hand side (broadcast) and one
//! contiguous `NR`-wide row of the packed weights per step. The kernel is written once in plain
//! Rust and compiled for AVX-512, for AVX2 + FMA and for the baseline; which one runs is
//! decided at run time; the widest tile also has an AVX-512 version written with intrinsics.

use std::ops::Range;

/// Widths of a packed panel (output columns per tile): one, two or four AVX-512 vectors. The
/// narrow ones are for layers with few outputs (MTCNN's 10 to 32 channels), which a 64-wide
/// panel would mostly fill with zeros.
const PANEL_WIDTHS: [usize; 3] = [16, 32, 64];
/// Packed weights up to this size stay in L2 while every row block passes over them.
const RHS_IN_CACHE: usize = 1 << 20;
/// Depth of one pass when the weights do not fit: a `KC`-deep slice of a 64-wide panel (128 KB)
/// stays in L2 while every row block passes over it (the pattern predictor's 25,088 inputs).
const KC: usize = 512;

/// A `k x n` right-hand side in column panels of `nr`: panel `j` holds columns `j * nr ..`,
/// row after row (`[k][nr]`), the columns past `n` zero.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedRhs {
    k: usize,
    n: usize,
    /// The narrowest of [`PANEL_WIDTHS`] that holds `n`, else the widest.
    nr: usize,
    panels: Vec<f32>,
}

impl PackedRhs {
    /// Packs a row-major `k x n` matrix.
    pub fn new(k: usize, n: usize, rhs: &[f32]) -> Self {
        assert_eq!(rhs.len(), k * n, "rhs is not {k} x {n}");
        let nr = PANEL_WIDTHS.into_iter().find(|&w| w >= n).unwrap_or(PANEL_WIDTHS[PANEL_WIDTHS.len() - 1]);
        let mut panels = vec![0f32; n.div_ceil(nr) * k * nr];
        // `max(1)`: with no depth there is nothing to pack, and a zero chunk size would panic.
        for (j, panel) in panels.chunks_mut((k * nr).max(1)).enumerate() {
            let (first, width) = (j * nr, nr.min(n - j * nr));
            for (p, row) in panel.chunks_mut(nr).enumerate() {
                row[..width].copy_from_slice(&rhs[p * n + first..][..width]);
            }
        }
        Self { k, n, nr, panels }
    }
}

impl PackedRhs {
    /// Number of column panels.
    pub fn panel_count(&self) -> usize {
        self.n.div_ceil(self.nr)
    }

    /// The output columns that `panels` hold.
    pub fn columns(&self, panels: &Range<usize>) -> Range<usize> {
        panels.start * self.nr..(panels.end * self.nr).min(self.n)
    }
}

/// Whether this CPU runs the AVX2 + FMA builds of the kernels.
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// `dst[m x n] = lhs[m x k] * rhs`, all row-major; `dst` is overwritten.
pub fn matmul(m: usize, lhs: &[f32], rhs: &PackedRhs, dst: &mut [f32]) {
    matmul_columns(m, lhs, rhs, 0..rhs.panel_count(), dst);
}

/// The columns of `lhs * rhs` that `panels` hold ([`PackedRhs::columns`]), into `dst`
/// (`m x` that many columns, row-major): a layer with few rows splits its work this way.
pub fn matmul_columns(m: usize, lhs: &[f32], rhs: &PackedRhs, panels: Range<usize>, dst: &mut [f32]) {
    let cols = rhs.columns(&panels).len();
    assert!(lhs.len() == m * rhs.k && dst.len() == m * cols && panels.end <= rhs.panel_count(), "matmul operand sizes");
    if rhs.k == 0 {
        // An empty sum; the tiles below divide by the depth.
        dst.fill(0.0);
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe { matmul_avx512(m, lhs, rhs, panels, dst) };
        }
        if avx2_fma() {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            return unsafe { matmul_avx2_fma(m, lhs, rhs, panels, dst) };
        }
    }
    matmul_baseline(m, lhs, rhs, panels, dst);
}

/// Runs [`matmul_tiles`] with the tile shape for the panel width: 16 accumulator vectors for
/// the wide panels (larger tiles measured slower: the compiler starts spilling), 8 rows for the
/// narrowest. A macro, not a function: the kernels are closures written inside each
/// `target_feature` function, which is how they inherit its instruction set (a function item
/// passed in from elsewhere compiled `mul_add` to a library call).
macro_rules! by_panel_width {
    ($fma:literal, $m:expr, $lhs:expr, $rhs:expr, $panels:expr, $dst:expr) => {
        match $rhs.nr {
            16 => matmul_tiles::<8, 16>($m, $lhs, $rhs, $panels, $dst, |b, k, d, p| tile::<$fma, 8, 16>(b, k, d, p)),
            32 => matmul_tiles::<8, 32>($m, $lhs, $rhs, $panels, $dst, |b, k, d, p| tile::<$fma, 8, 32>(b, k, d, p)),
            _ => matmul_tiles::<4, 64>($m, $lhs, $rhs, $panels, $dst, |b, k, d, p| tile::<$fma, 4, 64>(b, k, d, p)),
        }
    };
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
unsafe fn matmul_avx512(m: usize, lhs: &[f32], rhs: &PackedRhs, panels: Range<usize>, dst: &mut [f32]) {
    if rhs.nr == 64 {
        // SAFETY (the closure): this function only runs on CPUs with AVX-512F.
        return matmul_tiles::<4, 64>(m, lhs, rhs, panels, dst, |b, k, d, p| unsafe { tile_4x64_avx512(b, k, d, p) });
    }
    by_panel_width!(true, m, lhs, rhs, panels, dst)
}

/// AVX2 has 16 vector registers: the plain tiles' 16 to 32 accumulators spilled to the stack
/// on every step (LResNet-FROM's 3x3 convs ran at a fifth of the FMA units' rate), so this build
/// runs [`tile_6xn_avx2`], which keeps 12.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn matmul_avx2_fma(m: usize, lhs: &[f32], rhs: &PackedRhs, panels: Range<usize>, dst: &mut [f32]) {
    // SAFETY (the closures): this function only runs on CPUs with AVX2 and FMA.
    match rhs.nr {
        16 => matmul_tiles::<6, 16>(m, lhs, rhs, panels, dst, |b, k, d, p| unsafe { tile_6xn_avx2::<16>(b, k, d, p) }),
        32 => matmul_tiles::<6, 32>(m, lhs, rhs, panels, dst, |b, k, d, p| unsafe { tile_6xn_avx2::<32>(b, k, d, p) }),
        _ => matmul_tiles::<6, 64>(m, lhs, rhs, panels, dst, |b, k, d, p| unsafe { tile_6xn_avx2::<64>(b, k, d, p) }),
    }
}

/// The portable build, without fused multiply-adds (elsewhere than x86-64, or an x86-64 CPU
/// without AVX2).
fn matmul_baseline(m: usize, lhs: &[f32], rhs: &PackedRhs, panels: Range<usize>, dst: &mut [f32]) {
    by_panel_width!(false, m, lhs, rhs, panels, dst)
}

/// For weights that fit in L2: row blocks outside, panels inside, so an `MR x k` block of `lhs`
/// stays in L1 while the panels stream from L2. Larger weights go panel by panel in `KC`-deep
/// slices, each read from memory once. `kernel` computes one tile (see [`tile`]).
#[inline(always)]
fn matmul_tiles<const MR: usize, const NR: usize>(
    m: usize,
    lhs: &[f32],
    rhs: &PackedRhs,
    panels: Range<usize>,
    dst: &mut [f32],
    kernel: impl Fn(&[f32], usize, Range<usize>, &[f32]) -> [[f32; NR]; MR],
) {
    let k = rhs.k;
    let cols = rhs.columns(&panels).len();
    // Where panel `j`'s columns go in `dst`, and how many of its NR are real.
    let place = |j: usize| ((j - panels.start) * NR, NR.min(rhs.n - j * NR));
    let mut padded = Vec::new();
    if panels.len() * k * NR * size_of::<f32>() <= RHS_IN_CACHE {
        for row0 in (0..m).step_by(MR) {
            let block = row_block::<MR>(lhs, m, k, row0, &mut padded);
            for j in panels.clone() {
                let tile = kernel(block, k, 0..k, &rhs.panels[j * k * NR..][..k * NR]);
                store(&tile, dst, cols, row0, m, place(j), false);
            }
        }
        return;
    }
    let row_blocks: Vec<Vec<f32>> =
        (0..m).step_by(MR).map(|row0| row_block::<MR>(lhs, m, k, row0, &mut padded).to_vec()).collect();
    for j in panels.clone() {
        for depth in (0..k).step_by(KC) {
            let depths = depth..(depth + KC).min(k);
            let panel = &rhs.panels[j * k * NR + depth * NR..][..depths.len() * NR];
            for (b, block) in row_blocks.iter().enumerate() {
                let tile = kernel(block, k, depths.clone(), panel);
                store(&tile, dst, cols, b * MR, m, place(j), depth > 0);
            }
        }
    }
}

/// Rows `row0 .. row0 + MR` of `lhs`; a short last block is padded with zero rows (in
/// `padded`) so the kernel always runs full tiles.
#[inline(always)]
fn row_block<'a, const MR: usize>(
    lhs: &'a [f32],
    m: usize,
    k: usize,
    row0: usize,
    padded: &'a mut Vec<f32>,
) -> &'a [f32] {
    let rows = MR.min(m - row0);
    if rows == MR {
        return &lhs[row0 * k..(row0 + MR) * k];
    }
    padded.clear();
    padded.extend_from_slice(&lhs[row0 * k..(row0 + rows) * k]);
    padded.resize(MR * k, 0.0);
    padded
}

/// Writes (or adds) the valid part of the tile for rows `row0 ..` at columns `first ..` (`width`
/// of them) of `dst`, `n` columns wide.
#[inline(always)]
fn store<const MR: usize, const NR: usize>(
    tile: &[[f32; NR]; MR],
    dst: &mut [f32],
    n: usize,
    row0: usize,
    m: usize,
    (first, width): (usize, usize),
    add: bool,
) {
    for (r, values) in tile.iter().take(MR.min(m - row0)).enumerate() {
        let out = &mut dst[(row0 + r) * n + first..][..width];
        if add {
            out.iter_mut().zip(values).for_each(|(o, v)| *o += v);
        } else {
            out.copy_from_slice(&values[..width]);
        }
    }
}

/// One `MR x NR` output tile over the depths `depths` of `block` (`MR` rows of `k`); `panel`
/// holds those depths' rows of one packed panel (`[depths][NR]`). `FMA` picks fused
/// multiply-adds, which are one instruction only where the caller enabled the feature.
#[inline(always)]
fn tile<const FMA: bool, const MR: usize, const NR: usize>(
    block: &[f32],
    k: usize,
    depths: Range<usize>,
    panel: &[f32],
) -> [[f32; NR]; MR] {
    let mut acc = [[0f32; NR]; MR];
    let rows: [&[f32]; MR] = std::array::from_fn(|r| &block[r * k + depths.start..r * k + depths.end]);
    for (p, weights) in panel.chunks_exact(NR).enumerate() {
        let weights: &[f32; NR] = weights.try_into().expect("panel rows are NR wide");
        for (acc_row, row) in acc.iter_mut().zip(&rows) {
            let a = row[p];
            for (sum, &w) in acc_row.iter_mut().zip(weights) {
                *sum = if FMA { a.mul_add(w, *sum) } else { *sum + a * w };
            }
        }
    }
    acc
}

/// [`tile`] for 6 rows with AVX2: the panel in 16-column strips, each a 6 x 16 tile in 12
/// registers (two weight vectors loaded per step, each row's value broadcast). A strip reads its
/// own 64-byte line of each packed row, so the strips together read the panel once.
///
/// Written in assembly: AVX2 has 16 vector registers, and the compiler, given the same loop in
/// intrinsics, kept one of the 12 accumulators on the stack, a store and reload on every step
/// that made the loop wait on store forwarding (LResNet-FROM's 3x3 convs ran at about 60% of
/// the FMA units' rate). Here 12 registers hold the tile, two the weights, two the broadcasts.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_6xn_avx2<const NR: usize>(
    block: &[f32],
    k: usize,
    depths: Range<usize>,
    panel: &[f32],
) -> [[f32; NR]; 6] {
    const MR: usize = 6;
    assert!(
        NR.is_multiple_of(16) && block.len() >= (MR - 1) * k + depths.end && panel.len() == depths.len() * NR,
        "tile operand sizes"
    );
    let mut out = [[0f32; NR]; MR];
    let mut strip_out = [0f32; MR * 16];
    for strip in 0..NR / 16 {
        // SAFETY: the assert above keeps every read inside `block` (row r at r * k + depths, the
        // loop reading `depths.len()` floats from each) and `panel` (`depths.len()` rows of NR,
        // this strip's 16 of each); the stores fill `strip_out`'s 6 x 16 floats.
        unsafe {
            std::arch::asm!(
                "vxorps ymm0, ymm0, ymm0",
                "vxorps ymm1, ymm1, ymm1",
                "vxorps ymm2, ymm2, ymm2",
                "vxorps ymm3, ymm3, ymm3",
                "vxorps ymm4, ymm4, ymm4",
                "vxorps ymm5, ymm5, ymm5",
                "vxorps ymm6, ymm6, ymm6",
                "vxorps ymm7, ymm7, ymm7",
                "vxorps ymm8, ymm8, ymm8",
                "vxorps ymm9, ymm9, ymm9",
                "vxorps ymm10, ymm10, ymm10",
                "vxorps ymm11, ymm11, ymm11",
                "test {len}, {len}",
                "jz 3f",
                "2:",
                "vmovups ymm12, [{w}]",
                "vmovups ymm13, [{w} + 32]",
                "vbroadcastss ymm14, dword ptr [{a}]",
                "vfmadd231ps ymm0, ymm14, ymm12",
                "vfmadd231ps ymm1, ymm14, ymm13",
                "vbroadcastss ymm15, dword ptr [{a} + {k4}]",
                "vfmadd231ps ymm2, ymm15, ymm12",
                "vfmadd231ps ymm3, ymm15, ymm13",
                "vbroadcastss ymm14, dword ptr [{a} + {k4} * 2]",
                "vfmadd231ps ymm4, ymm14, ymm12",
                "vfmadd231ps ymm5, ymm14, ymm13",
                "vbroadcastss ymm15, dword ptr [{b}]",
                "vfmadd231ps ymm6, ymm15, ymm12",
                "vfmadd231ps ymm7, ymm15, ymm13",
                "vbroadcastss ymm14, dword ptr [{b} + {k4}]",
                "vfmadd231ps ymm8, ymm14, ymm12",
                "vfmadd231ps ymm9, ymm14, ymm13",
                "vbroadcastss ymm15, dword ptr [{b} + {k4} * 2]",
                "vfmadd231ps ymm10, ymm15, ymm12",
                "vfmadd231ps ymm11, ymm15, ymm13",
                "add {a}, 4",
                "add {b}, 4",
                "add {w}, {row_bytes}",
                "dec {len}",
                "jnz 2b",
                "3:",
                "vmovups [{out}], ymm0",
                "vmovups [{out} + 32], ymm1",
                "vmovups [{out} + 64], ymm2",
                "vmovups [{out} + 96], ymm3",
                "vmovups [{out} + 128], ymm4",
                "vmovups [{out} + 160], ymm5",
                "vmovups [{out} + 192], ymm6",
                "vmovups [{out} + 224], ymm7",
                "vmovups [{out} + 256], ymm8",
                "vmovups [{out} + 288], ymm9",
                "vmovups [{out} + 320], ymm10",
                "vmovups [{out} + 352], ymm11",
                // Rows 0-2 from `a`, rows 3-5 from `b`, `k4` bytes apart.
                a = inout(reg) block.as_ptr().wrapping_add(depths.start) => _,
                b = inout(reg) block.as_ptr().wrapping_add(3 * k + depths.start) => _,
                k4 = in(reg) k * size_of::<f32>(),
                w = inout(reg) panel.as_ptr().wrapping_add(16 * strip) => _,
                row_bytes = in(reg) NR * size_of::<f32>(),
                len = inout(reg) depths.len() => _,
                out = in(reg) strip_out.as_mut_ptr(),
                out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _,
                out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _,
                out("ymm8") _, out("ymm9") _, out("ymm10") _, out("ymm11") _,
                out("ymm12") _, out("ymm13") _, out("ymm14") _, out("ymm15") _,
                options(nostack),
            );
        }
        for (out_row, values) in out.iter_mut().zip(strip_out.chunks_exact(16)) {
            out_row[16 * strip..][..16].copy_from_slice(values);
        }
    }
    out
}

/// [`tile`] for 4 x 64 written with AVX-512 intrinsics. Compiled from the plain version, each
/// step re-read the 64 weights once per row (20 loads for 16 multiply-adds, which made it
/// load-bound); here they are loaded once into four registers and each row's value broadcast.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn tile_4x64_avx512(block: &[f32], k: usize, depths: Range<usize>, panel: &[f32]) -> [[f32; 64]; 4] {
    use std::arch::x86_64::{
        __m512, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps,
    };
    assert!(block.len() >= 3 * k + depths.end && panel.len() == depths.len() * 64, "tile operand sizes");
    let len = depths.len();
    let mut acc: [[__m512; 4]; 4] = [[_mm512_setzero_ps(); 4]; 4];
    // `wrapping_add` rather than `add`: the same address here, without the overflow check that
    // debug builds put on every `add` (it made this loop spill its registers).
    let r0 = block.as_ptr().wrapping_add(depths.start);
    let rows = [r0, r0.wrapping_add(k), r0.wrapping_add(2 * k), r0.wrapping_add(3 * k)];
    let mut weights = panel.as_ptr();
    for p in 0..len {
        // SAFETY: the assert above keeps every read inside `block` (row r at r * k + depths)
        // and `panel` (len rows of 64).
        let w = unsafe {
            [
                _mm512_loadu_ps(weights),
                _mm512_loadu_ps(weights.wrapping_add(16)),
                _mm512_loadu_ps(weights.wrapping_add(32)),
                _mm512_loadu_ps(weights.wrapping_add(48)),
            ]
        };
        for r in 0..4 {
            let a = _mm512_set1_ps(unsafe { *rows[r].wrapping_add(p) });
            for c in 0..4 {
                acc[r][c] = _mm512_fmadd_ps(a, w[c], acc[r][c]);
            }
        }
        weights = weights.wrapping_add(64);
    }
    let mut out = [[0f32; 64]; 4];
    for (out_row, acc_row) in out.iter_mut().zip(&acc) {
        for (c, sum) in acc_row.iter().enumerate() {
            // SAFETY: each row of `out` holds 64 floats; the stores cover them 16 at a time.
            unsafe { _mm512_storeu_ps(out_row.as_mut_ptr().add(16 * c), *sum) };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, k: usize, n: usize, lhs: &[f32], rhs: &[f32]) -> Vec<f32> {
        let mut out = vec![0f64; m * n];
        for i in 0..m {
            for p in 0..k {
                for j in 0..n {
                    out[i * n + j] += f64::from(lhs[i * k + p]) * f64::from(rhs[p * n + j]);
                }
            }
        }
        out.into_iter().map(|v| v as f32).collect()
    }

    /// Shapes with every kind of edge: rows and columns short of a tile, single rows and columns.
    #[test]
    fn matches_a_naive_multiply() {
        let mut seed = 7u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        // Every panel width, and (the last three) weights too large for L2: the panel-by-panel,
        // KC-deep path; then the empty cases.
        let shapes = [
            (1, 1, 1),
            (8, 16, 32),
            (9, 27, 10),
            (17, 64, 33),
            (3, 5, 2),
            (48, 128, 64),
            (50, 7, 96),
            (6, 1300, 230),
            (3, 4100, 70),
            (5, 9000, 20),
        ];
        for (m, k, n) in shapes.into_iter().chain([(3, 0, 5), (4, 6, 0)]) {
            let lhs: Vec<f32> = (0..m * k).map(|_| next()).collect();
            let rhs: Vec<f32> = (0..k * n).map(|_| next()).collect();
            let mut dst = vec![f32::NAN; m * n];
            matmul(m, &lhs, &PackedRhs::new(k, n, &rhs), &mut dst);
            let expected = naive(m, k, n, &lhs, &rhs);
            let worst = dst.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(worst < 1e-5, "{m}x{k}x{n}: {worst}");
        }
    }

    /// Any range of panels gives those columns of the whole product (both weight-size paths).
    #[test]
    fn a_range_of_panels_gives_its_columns() {
        for (m, k, n) in [(5, 30, 150), (3, 4100, 200), (7, 20, 40)] {
            let lhs: Vec<f32> = (0..m * k).map(|i| (i % 13) as f32 * 0.25 - 1.0).collect();
            let rhs: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32 * 0.5 - 1.5).collect();
            let rhs = PackedRhs::new(k, n, &rhs);
            let mut whole = vec![0f32; m * n];
            matmul(m, &lhs, &rhs, &mut whole);
            for panels in (0..rhs.panel_count()).flat_map(|a| (a + 1..=rhs.panel_count()).map(move |b| a..b)) {
                let cols = rhs.columns(&panels);
                let mut part = vec![f32::NAN; m * cols.len()];
                matmul_columns(m, &lhs, &rhs, panels.clone(), &mut part);
                for r in 0..m {
                    assert_eq!(
                        part[r * cols.len()..][..cols.len()],
                        whole[r * n + cols.start..r * n + cols.end],
                        "{m}x{k}x{n} {panels:?}"
                    );
                }
            }
        }
    }

    /// A kernel build forced on every panel width, rows short of a tile, and weights past L2
    /// (the KC-deep path); small integers times quarters, exact whatever the order of the sums.
    fn agrees_exactly(kernel: impl Fn(usize, &[f32], &PackedRhs, Range<usize>, &mut [f32])) {
        for (m, k, n) in [(9, 27, 10), (17, 64, 20), (17, 64, 33), (50, 130, 70), (7, 1300, 230), (5, 4100, 30)] {
            let lhs: Vec<f32> = (0..m * k).map(|i| (i % 13) as f32 * 0.25 - 1.0).collect();
            let rhs: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32 * 0.5 - 1.5).collect();
            let mut dst = vec![0f32; m * n];
            let packed = PackedRhs::new(k, n, &rhs);
            kernel(m, &lhs, &packed, 0..packed.panel_count(), &mut dst);
            assert_eq!(dst, naive(m, k, n, &lhs, &rhs), "{m}x{k}x{n}");
        }
    }

    /// The AVX2 build, which a CPU with AVX-512 never picks on its own.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx2_kernel_agrees() {
        if !avx2_fma() {
            eprintln!("no AVX2 + FMA on this CPU: nothing to check");
            return;
        }
        // SAFETY: the CPU supports AVX2 and FMA, checked above.
        agrees_exactly(|m, lhs, rhs, panels, dst| unsafe { matmul_avx2_fma(m, lhs, rhs, panels, dst) });
    }

    /// The AVX-512 build, on CPUs that have it (this test says so when the CPU has none).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx512_kernel_agrees() {
        if !(std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma")) {
            eprintln!("no AVX-512F on this CPU: the AVX-512 build is not checked here");
            return;
        }
        // SAFETY: the CPU supports AVX-512F, checked above.
        agrees_exactly(|m, lhs, rhs, panels, dst| unsafe { matmul_avx512(m, lhs, rhs, panels, dst) });
    }

    /// The intrinsics tiles read through raw pointers; their operand checks are always on (not
    /// debug assertions) and refuse a block or panel short of what the depths need.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_intrinsics_tiles_refuse_short_operands() {
        if !avx2_fma() {
            eprintln!("no AVX2 + FMA on this CPU: nothing to check");
            return;
        }
        let k = 10;
        let call = |block: usize, panel: usize, depths: Range<usize>| {
            let (block, panel) = (vec![0f32; block], vec![0f32; panel]);
            // SAFETY: the CPU supports AVX2 and FMA, checked above; the call must refuse before
            // reading.
            std::panic::catch_unwind(|| unsafe { tile_6xn_avx2::<16>(&block, k, depths, &panel) }).is_ok()
        };
        assert!(call(6 * k, 10 * 16, 0..10), "full operands run");
        assert!(!call(6 * k - 1, 10 * 16, 0..10), "a block one short of six rows");
        assert!(!call(6 * k, 10 * 16 - 1, 0..10), "a panel one short");
        assert!(!call(6 * k, 4 * 16, 8..12), "depths past the rows");
    }

    #[test]
    fn the_baseline_kernel_agrees() {
        agrees_exactly(matmul_baseline);
    }
}
