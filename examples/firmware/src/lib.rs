//! What the firmware programs share: start-up and exit, the clock, the stack
//! measurement, text output to the host, the comparison with the host's
//! references, the kernel regression and a small `memcpy`/`memset`.
//!
//! Each program (`src/bin/mlp`, `src/bin/cnn`) defines its problem in a
//! `problem.rs` of its own, which `build.rs` also includes to compute the
//! references on the host, and links only the library code its problem
//! reaches: the MLP program contains no convolution code.

#![no_std]

pub mod clock;
mod mem;
pub mod out;
pub mod report;
pub mod stack;
mod vectors;

use ntk::linalg::Regularizer;
use ntk::predict::{posterior_mean, Factor};
use ntk::Error;

/// Kernel regression at t = ∞ (the trained infinitely wide network, or the
/// NTK-GP mean): `Θ(x, X)·(Θ(X, X) + εI)⁻¹·Y` through the Cholesky factor of
/// the train kernel regularised by `ridge` times its mean diagonal.
///
/// # Errors
///
/// Those of [`Factor::compute`] and [`posterior_mean`].
#[inline(never)]
pub fn regression<const N: usize, const M: usize>(
    k_train: &[[f32; N]; N],
    k_test: &[[f32; N]; M],
    y: &[[f32; 1]; N],
    ridge: f32,
) -> Result<[[f32; 1]; M], Error> {
    let mut factor = Factor::new();
    factor.compute(k_train, Regularizer::Relative(ridge))?;
    let mut pred = [[0.0; 1]; M];
    posterior_mean(&factor, y, k_test, &mut pred)?;
    Ok(pred)
}
