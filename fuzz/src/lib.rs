//! Typed fuzz inputs and the oracles shared by the `ntk` fuzz targets.
//!
//! Raw `f64` bits almost never land on the values that break numerical code
//! (±0, ±∞, NaN, 1e300, the edge of the `f32` range, subnormals), so every
//! scalar of a fuzz input is a [`Num`]: mostly small dyadic values that give
//! well-conditioned problems, and now and then a special value, a value of any
//! scale, or raw bits.

use arbitrary::{Arbitrary, Unstructured};

/// A scalar of a fuzz input.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Num {
    /// `v / 16`: moderate values on a fine dyadic grid, exactly representable
    /// in `f32` and `f64`.
    Small(i8),
    /// `m · 2^(e mod 1100 − 550) / 2^15`: any scale from subnormal to beyond
    /// the `f64` range.
    Scaled(i16, i16),
    /// A value chosen to break things.
    Special(Special),
    /// Raw bits.
    Bits(u64),
}

/// Values that break numerical code.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    /// 0.
    Zero,
    /// −0.
    NegZero,
    /// NaN.
    Nan,
    /// +∞.
    Inf,
    /// −∞.
    NegInf,
    /// 1e30, overflows once squared in `f32`.
    E30,
    /// −1e30.
    NegE30,
    /// 1e300, overflows once squared in `f64`.
    E300,
    /// −1e300.
    NegE300,
    /// 1e-300.
    Tiny,
    /// The largest finite `f64`.
    Max,
    /// The largest finite `f32`.
    F32Max,
    /// Just above the largest finite `f32`: finite in `f64`, ∞ in `f32`.
    AboveF32Max,
    /// The smallest positive normal `f64`.
    MinPositive,
    /// The smallest positive subnormal `f64`.
    Subnormal,
    /// 1 + 2⁻⁵², the neighbour of 1.
    OnePlusUlp,
}

impl Num {
    /// The value as `f64`.
    pub fn get(self) -> f64 {
        match self {
            Num::Small(v) => f64::from(v) / 16.0,
            Num::Scaled(m, e) => {
                let e = i32::from(e).rem_euclid(1100) - 550;
                f64::from(m) / 32768.0 * pow2(e)
            }
            Num::Special(s) => match s {
                Special::Zero => 0.0,
                Special::NegZero => -0.0,
                Special::Nan => f64::NAN,
                Special::Inf => f64::INFINITY,
                Special::NegInf => f64::NEG_INFINITY,
                Special::E30 => 1e30,
                Special::NegE30 => -1e30,
                Special::E300 => 1e300,
                Special::NegE300 => -1e300,
                Special::Tiny => 1e-300,
                Special::Max => f64::MAX,
                Special::F32Max => f64::from(f32::MAX),
                Special::AboveF32Max => 3.5e38,
                Special::MinPositive => f64::MIN_POSITIVE,
                Special::Subnormal => f64::from_bits(1),
                Special::OnePlusUlp => 1.0 + f64::EPSILON,
            },
            Num::Bits(b) => f64::from_bits(b),
        }
    }
}

/// 2^e for any `e`, saturating to 0 and ∞ outside the `f64` range.
fn pow2(e: i32) -> f64 {
    let mut v = 1.0_f64;
    let step = if e >= 0 { 2.0 } else { 0.5 };
    for _ in 0..e.unsigned_abs().min(1100) {
        v *= step;
    }
    v
}

/// Values of an array of [`Num`].
pub fn values<const N: usize>(nums: &[Num; N]) -> [f64; N] {
    nums.map(Num::get)
}

/// Values of a matrix of [`Num`].
pub fn matrix<const R: usize, const C: usize>(nums: &[[Num; C]; R]) -> [[f64; C]; R] {
    nums.map(|row| row.map(Num::get))
}

/// Rounds to `f32` and back: the value an `f32` computation starts from.
pub fn round_f32(x: f64) -> f64 {
    f64::from(x as f32)
}

/// Unit roundoff of `f32`, 2⁻²⁴.
pub const U32: f64 = 1.0 / 16_777_216.0;

/// Unit roundoff of `f64`, 2⁻⁵³.
pub const U64: f64 = 1.0 / 9_007_199_254_740_992.0;

/// Higham's γₙ = n·u / (1 − n·u): the relative error bound of a sum or dot
/// product of `n` terms in any order, rounding unit `u`.
pub fn gamma(n: usize, u: f64) -> f64 {
    let nu = n as f64 * u;
    nu / (1.0 - nu)
}

/// The bound model of the `empirical` target.
pub mod empirical_bounds;

/// The structured-kernel oracle of the `analytic` target (convolutions,
/// pooling, attention, layer norm, residual blocks: the CNTK and more), a
/// plain `f64` recursion written from `reference/FORMAT.md` independently
/// of the library's `analytic` module and checked against every reference
/// kernel of `structured_public.txt` by `tests/cntk_oracle.rs`.
pub mod cntk;

/// The bound model of the `empirical` target's convolutional arm.
pub mod conv_bounds;

/// The checks the `empirical` target's sequence arms (convolution,
/// recurrence, attention) share.
pub mod sequence_checks;

/// Random valid architectures of format version 2 (attention, layer norm,
/// residual blocks among convolutions, pooling, dense layers and
/// activations) and small inputs, for the `analytic` target's structured
/// arm.
pub mod structured;

/// Oracles independent of the library's own algorithms, shared with the
/// integration tests: the Jacobi eigenvalues, the Gauss–Legendre rule and
/// Gaussian expectations by adaptive quadrature.
#[path = "../../tests/common/oracle.rs"]
pub mod oracle;
pub use oracle::{Cuts, GaussOracle};

/// Eigenvalues of a small symmetric matrix by cyclic Jacobi in `f64`
/// ([`oracle::eigenvalues`]): an oracle independent of the library's own
/// solvers. `a` must be finite.
pub fn eigenvalues_jacobi<const N: usize>(a: &[[f64; N]; N]) -> [f64; N] {
    let v = oracle::eigenvalues(a.as_flattened(), N);
    core::array::from_fn(|i| v[i])
}

/// `true` when every value is finite.
pub fn all_finite(v: &[f64]) -> bool {
    v.iter().all(|x| x.is_finite())
}

/// Largest absolute value (NaN counts as ∞).
pub fn max_abs<'a>(v: impl IntoIterator<Item = &'a f64>) -> f64 {
    v.into_iter().fold(0.0_f64, |m, &x| {
        if x.is_nan() {
            f64::INFINITY
        } else {
            m.max(x.abs())
        }
    })
}

/// Builds a value from raw bytes, for targets that take a few typed fields
/// and free-form bytes.
pub fn take<'a, T: Arbitrary<'a>>(u: &mut Unstructured<'a>) -> Option<T> {
    T::arbitrary(u).ok()
}

/// The `kernel` example's reader and writer (`run`), compiled from the
/// example's own source so that the `text` target exercises its code path.
#[allow(dead_code)]
#[path = "../../examples/kernel.rs"]
pub mod kernel_example;

/// `(line, column)` of byte `offset` of `text`, both from 1, columns in
/// characters: the characters before `offset` counted one by one (an oracle
/// for `ntk::analytic::text::locate`).
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before: Vec<char> = text[..offset].chars().collect();
    let line = 1 + before.iter().filter(|&&c| c == '\n').count();
    let column = 1 + before.iter().rev().take_while(|&&c| c != '\n').count();
    (line, column)
}
