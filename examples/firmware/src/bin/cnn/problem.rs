//! The CNN program's problem, defined once.
//!
//! `build.rs` includes this file to compute the reference values on the host
//! in `f64` (by its own code, from the network's parameters and the windows
//! defined here), and `main.rs` beside it to compute the same quantities on
//! the device in `f32`.
//!
//! The data are windows of a synthetic 3-axis accelerometer (L = 32 samples
//! of C = 3 axes) of a walking or running wearer: forward acceleration at
//! the step frequency, lateral sway at half its amplitude, a vertical
//! bounce at twice the step frequency, and a little sensor noise.
//! They are made as a sensor makes them, in integer counts (64 counts = 1 g,
//! a ±2 g part with 8-bit resolution), from a table of sines and a seeded
//! xorshift generator, so that they are exact in `f32` and `f64` alike and
//! host and device start from the same numbers. The regression learns the
//! amplitude of the motion. The vertical axis has gravity removed, as a
//! wearable's high-pass filter removes it.

use ntk::analytic::{Architecture, Layer};
use ntk::empirical::structured;
use ntk::nn::{Conv1d, Dense, Flatten, Relu, Unflatten};
use ntk::{Error, Real, Rng};

/// Seed of the network's initialisation.
pub const SEED: u64 = 3;
/// Weight standard deviation σw of the convolution and the readout.
pub const WEIGHT_STD: f64 = 1.5;
/// Bias standard deviation σb of the convolution and the readout.
pub const BIAS_STD: f64 = 0.1;
/// Samples per window.
pub const L: usize = 32;
/// Axes of the accelerometer (input channels).
pub const C: usize = 3;
/// Output channels of the convolution.
pub const CH: usize = 4;
/// Filter width of the convolution.
pub const Q: usize = 3;
/// Numbers per window, `L·C`, the flat input of the network.
pub const D: usize = L * C;
/// Features the readout reads, `L·CH`.
pub const FLAT: usize = L * CH;
/// Number of training windows.
pub const N_TRAIN: usize = 8;
/// Number of test windows.
pub const N_TEST: usize = 4;
/// Reference values per kernel: the lower triangle of its train × train
/// block (symmetric), then its test × train block, row by row.
pub const PACKED: usize = N_TRAIN * (N_TRAIN + 1) / 2 + N_TEST * N_TRAIN;
/// Diagonal regulariser of the kernel regression, relative to the mean
/// diagonal of the training kernel (neural-tangents' `diag_reg`).
pub const RIDGE: f64 = 1e-3;
/// Counts per g of the synthetic sensor.
pub const COUNTS_PER_G: i32 = 64;

/// `Unflatten → Conv1d(3 → 4, Q = 3, SAME) → ReLU → Flatten → Dense(128 → 1)`
/// in NTK parameterization: a window in, one number out.
pub type Cnn<T> = (
    Unflatten<C, L>,
    Conv1d<T, C, CH, Q, L>,
    Relu,
    Flatten<FLAT>,
    Dense<T, FLAT, 1>,
);

/// Workspace elements of the structured empirical NTK for the training and
/// test windows together.
#[allow(dead_code)] // the device side
pub const WORKSPACE: usize = structured::workspace_len::<f32, Cnn<f32>>(N_TRAIN + N_TEST, 1);

/// The infinite-width limit of [`Cnn`] (channels → ∞), layer for layer:
/// `conv(3,1.5,0.1) relu flatten dense(1.5,0.1)`.
#[allow(dead_code)] // the device side
pub type Arch<T> = Architecture<T, 4>;

/// Workspace elements of the analytic kernels of [`Arch`] on windows of
/// [`L`] positions: five tables and twelve vectors of `L` numbers, as the
/// flatten readout after an unpooled convolution reads the position
/// diagonal only (`Arch::workspace_bound(L)`, 12·L² + 16·L + 3 for four
/// layers, would hold any readout, attention and a residual block included:
/// 50 KiB instead of 2.1 KiB). `build/cnn.rs` checks that this is
/// `Arch::workspace_len` of the architecture; a short workspace would be
/// refused on the device with `Error::BufferTooSmall`.
#[allow(dead_code)] // the device side
pub const CNTK_WORKSPACE: usize = 17 * L;

/// The layers of [`Arch`].
#[allow(dead_code)] // the device side
pub fn architecture<T: Real>() -> Result<Arch<T>, Error> {
    let (w, b) = (T::from_f64(WEIGHT_STD), T::from_f64(BIAS_STD));
    Architecture::from_layers(&[
        Layer::Conv {
            size: Q as u32,
            weight_std: w,
            bias_std: b,
            circular: false,
        },
        Layer::Relu,
        Layer::Flatten,
        Layer::dense(w, b),
    ])
}

/// The network, initialised from [`SEED`] (layers drawn in forward order).
pub fn network<T: Real>() -> Cnn<T> {
    let mut rng = Rng::new(SEED);
    let conv = Conv1d::ntk(WEIGHT_STD, BIAS_STD, &mut rng);
    let readout = Dense::ntk(WEIGHT_STD, BIAS_STD, &mut rng);
    (Unflatten, conv, Relu, Flatten, readout)
}

/// One window of motion.
#[derive(Clone, Copy)]
pub struct Window {
    /// Step frequency: the phase advances `step`/32 of a cycle per sample.
    pub step: u32,
    /// Amplitude of the forward acceleration, in counts.
    pub amplitude: i32,
    /// Phase at the first sample, in 32ths of a cycle.
    pub phase: u32,
    /// Seed of the sensor noise.
    pub noise: u32,
}

const fn w(step: u32, amplitude: i32, phase: u32, noise: u32) -> Window {
    Window {
        step,
        amplitude,
        phase,
        noise,
    }
}

/// Training windows.
pub const TRAIN: [Window; N_TRAIN] = [
    w(1, 32, 0, 1),
    w(2, 48, 5, 2),
    w(3, 64, 11, 3),
    w(4, 96, 3, 4),
    w(1, 80, 20, 5),
    w(2, 96, 7, 6),
    w(3, 32, 27, 7),
    w(4, 48, 14, 8),
];

/// Test windows.
pub const TEST: [Window; N_TEST] = [
    w(2, 64, 9, 9),
    w(3, 80, 1, 10),
    w(1, 48, 17, 11),
    w(4, 64, 23, 12),
];

/// `round(64·sin(2πk/32))`.
const SINE: [i32; 32] = [
    0, 12, 24, 36, 45, 53, 59, 63, 64, 63, 59, 53, 45, 36, 24, 12, 0, -12, -24, -36, -45, -53, -59,
    -63, -64, -63, -59, -53, -45, -36, -24, -12,
];

/// The sensor's readings of a window, in counts: `[sample][axis]` with the
/// axes forward, lateral, vertical (gravity removed).
pub const fn counts(w: &Window) -> [[i32; C]; L] {
    let mut out = [[0; C]; L];
    // xorshift32; the seed is made nonzero.
    let mut state = w.noise.wrapping_mul(0x9E37_79B9) | 1;
    let mut n = 0;
    while n < L {
        let ph = ((w.phase + w.step * n as u32) % 32) as usize;
        let clean = [
            (w.amplitude * SINE[ph]) >> 6,
            (w.amplitude * SINE[(ph + 8) % 32]) >> 7,
            (w.amplitude * SINE[(2 * ph) % 32]) >> 7,
        ];
        let mut a = 0;
        while a < C {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            // Noise of −3 … 3 counts.
            out[n][a] = clean[a] + (state % 7) as i32 - 3;
            a += 1;
        }
        n += 1;
    }
    out
}

/// The windows as network inputs, in g, flat (`L·C` numbers, axes
/// innermost): `counts / 64`, exact.
#[allow(dead_code)] // the device side
pub fn windows<T: Real, const N: usize>(ws: &[Window; N], out: &mut [[T; D]; N]) {
    let g = T::from_usize(COUNTS_PER_G as usize);
    for (w, x) in ws.iter().zip(out.iter_mut()) {
        for (v, &c) in x.iter_mut().zip(counts(w).as_flattened()) {
            let m = T::from_usize(c.unsigned_abs() as usize) / g;
            *v = if c < 0 { -m } else { m };
        }
    }
}

/// What the regression learns: the amplitude of the forward acceleration,
/// in g (exact).
pub fn target<T: Real>(w: &Window) -> T {
    T::from_usize(w.amplitude as usize) / T::from_usize(64)
}

/// The training targets, one column.
pub fn targets<T: Real>() -> [[T; 1]; N_TRAIN] {
    core::array::from_fn(|i| [target(&TRAIN[i])])
}
