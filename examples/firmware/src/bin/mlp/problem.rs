//! The MLP program's problem, defined once.
//!
//! `build.rs` includes this file to compute the reference values on the host in
//! `f64`, and `main.rs` beside it includes it to compute the same quantities on the
//! device in `f32`: the seed, the architecture, the inputs and the targets
//! cannot drift apart.
//!
//! All inputs and targets are dyadic rationals with few significant bits, so
//! they are exact in `f32` and `f64` alike: host and device start from the
//! same numbers, and every difference in the results comes from the
//! arithmetic (and, under `micromath`, from the approximate elementary
//! functions).

use ntk::analytic::{Architecture, Layer};
use ntk::empirical::structured;
use ntk::nn::{Dense, Relu};
use ntk::{Error, Real, Rng};

/// Seed of the network's initialisation.
pub const SEED: u64 = 1690;
/// Weight standard deviation σw of every dense layer.
pub const WEIGHT_STD: f64 = 1.5;
/// Bias standard deviation σb of every dense layer.
pub const BIAS_STD: f64 = 0.1;
/// Input dimension.
pub const D: usize = 2;
/// Width of the two hidden layers.
pub const WIDTH: usize = 16;
/// Number of training points.
pub const N_TRAIN: usize = 8;
/// Number of test points.
pub const N_TEST: usize = 4;
/// Diagonal regulariser of the kernel regression, relative to the mean
/// diagonal of the training kernel (neural-tangents' `diag_reg`).
pub const RIDGE: f64 = 1e-3;

/// The 2-16-16-1 ReLU MLP in NTK parameterization.
pub type Mlp<T> = (
    Dense<T, D, WIDTH>,
    Relu,
    Dense<T, WIDTH, WIDTH>,
    Relu,
    Dense<T, WIDTH, 1>,
);

/// Workspace elements of the structured empirical NTK for the training and
/// test inputs together.
pub const WORKSPACE: usize = structured::workspace_len::<f32, Mlp<f32>>(N_TRAIN + N_TEST, 1);

/// The infinite-width limit of [`Mlp`], layer for layer.
pub type Arch<T> = Architecture<T, 5>;

/// The layers of [`Arch`]: the NTK-parameterized dense layers and ReLUs of
/// [`Mlp`].
pub fn architecture<T: Real>() -> Result<Arch<T>, Error> {
    let dense = Layer::dense(T::from_f64(WEIGHT_STD), T::from_f64(BIAS_STD));
    Architecture::from_layers(&[dense, Layer::Relu, dense, Layer::Relu, dense])
}

/// The network, initialised from [`SEED`] (layers drawn in forward order).
pub fn network<T: Real>() -> Mlp<T> {
    let mut rng = Rng::new(SEED);
    let l1 = Dense::ntk(WEIGHT_STD, BIAS_STD, &mut rng);
    let l2 = Dense::ntk(WEIGHT_STD, BIAS_STD, &mut rng);
    let l3 = Dense::ntk(WEIGHT_STD, BIAS_STD, &mut rng);
    (l1, Relu, l2, Relu, l3)
}

/// Training inputs.
pub const X_TRAIN: [[f64; D]; N_TRAIN] = [
    [1.0, 0.5],
    [-0.75, 1.0],
    [0.25, -1.25],
    [-1.0, -0.5],
    [1.5, -0.25],
    [0.125, 0.75],
    [-0.5, -1.5],
    [0.625, 1.125],
];

/// Test inputs.
pub const X_TEST: [[f64; D]; N_TEST] = [
    [0.5, 0.25],
    [-1.25, 0.375],
    [0.875, -0.875],
    [-0.25, -0.625],
];

/// Converts inputs to the scalar type (exact: they are dyadic).
#[allow(dead_code)] // the host side
pub fn inputs<T: Real, const N: usize>(xs: &[[f64; D]; N]) -> [[T; D]; N] {
    core::array::from_fn(|i| core::array::from_fn(|d| T::from_f64(xs[i][d])))
}

/// [`inputs`] for `f32`, at compile time: the device converts nothing from
/// `f64` (which would link soft double-precision routines).
#[allow(dead_code)] // the device side
pub const fn inputs_f32<const N: usize>(xs: &[[f64; D]; N]) -> [[f32; D]; N] {
    let mut out = [[0.0; D]; N];
    let mut i = 0;
    while i < N {
        let mut d = 0;
        while d < D {
            out[i][d] = xs[i][d] as f32;
            d += 1;
        }
        i += 1;
    }
    out
}

/// The function the regression learns, `y = x₀·x₁ + x₀/2 − x₁²/4`: exact in
/// `f32` for the inputs above.
pub fn target<T: Real>(x: &[T; D]) -> T {
    x[0] * x[1] + T::HALF * x[0] - T::HALF * T::HALF * x[1] * x[1]
}

/// The training targets, one column.
pub fn targets<T: Real>(xs: &[[T; D]; N_TRAIN]) -> [[T; 1]; N_TRAIN] {
    core::array::from_fn(|i| [target(&xs[i])])
}
