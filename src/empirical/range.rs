//! The range check both methods share, so that they agree or refuse together.
//!
//! The two methods round differently: the structured method forms
//! `(ws·a)·(ws·a')` and `δ·δ'` of each dense layer, the Jacobian method the
//! products of the Jacobian entries `ws·aᵢ·δⱼ`. Inside the normal
//! floating-point range both are accurate to a few ulps of the kernel's
//! scale `√(Θ(x,x)·Θ(x',x'))`; outside it one of them overflows where the
//! other does not, or both lose their digits to subnormal arithmetic, and
//! they would return different kernels. So both check, per input and
//! output k, the same two conditions before anything is contracted:
//!
//! - every layer's factors `‖ws·a‖² + bs²` and `‖δ_k‖²` are at most
//!   `MAX·ε` (otherwise the structured products overflow):
//!   [`Error::Overflow`];
//! - the diagonal `Θ_kk(x, x)` (from the factors, or `‖J_k(x)‖²`) is zero or
//!   at least `MIN_POSITIVE/ε` (otherwise the kernel is made of subnormal
//!   products whose rounding is absolute, not relative):
//!   [`Error::PrecisionLoss`].

use crate::{Error, Real};

/// The smallest nonzero diagonal accepted: subnormal rounding of the
/// products (absolute, up to `MIN_POSITIVE·ε` each) stays below ε² of it.
fn low<T: Real>() -> T {
    T::MIN_POSITIVE / T::EPSILON
}

/// The largest factor accepted, with room for the sums over layers and
/// parameters.
fn high<T: Real>() -> T {
    T::MAX * T::EPSILON
}

/// Above `MAX·ε`, or NaN.
fn out_of_range<T: Real>(v: T) -> bool {
    v.is_nan() || v > high()
}

/// `Σ v²`.
fn norm2<T: Real>(v: &[T]) -> T {
    v.iter().fold(T::ZERO, |s, &x| s + x * x)
}

/// The diagonal `Θ_kk(x, x)` of one input and output, accumulated layer by
/// layer or from a Jacobian row, with the verdict on its range.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Diagonal<T> {
    sum: T,
    over: bool,
}

impl<T: Real> Diagonal<T> {
    pub(crate) fn new() -> Self {
        Self {
            sum: T::ZERO,
            over: false,
        }
    }

    /// One dense layer: input `a`, weight scale `ws`, cotangent `dy`, bias
    /// scale `bs` (as a [`GradSink`](crate::nn::GradSink) sees them).
    pub(crate) fn dense(&mut self, a: &[T], ws: T, dy: &[T], bs: T) {
        let aa = a.iter().fold(bs * bs, |s, &x| {
            let v = ws * x;
            s + v * v
        });
        let gg = norm2(dy);
        if out_of_range(aa) || out_of_range(gg) {
            self.over = true;
        }
        self.sum += aa * gg;
    }

    /// One Jacobian row `J_k(x)`.
    pub(crate) fn row(&mut self, j: &[T]) {
        self.sum += norm2(j);
    }

    /// [`Error::Overflow`] if a factor or the diagonal passes `MAX·ε`,
    /// [`Error::PrecisionLoss`] if the diagonal is nonzero but below
    /// `MIN_POSITIVE/ε`.
    pub(crate) fn verdict(&self) -> Result<(), Error> {
        if self.over || out_of_range(self.sum) {
            Err(Error::Overflow {
                what: "empirical NTK",
            })
        } else if self.sum > T::ZERO && self.sum < low() {
            Err(Error::PrecisionLoss {
                what: "empirical NTK",
            })
        } else {
            Ok(())
        }
    }
}

/// Numerical failures (the range check's [`Error::Overflow`] and
/// [`Error::PrecisionLoss`]) zero the output, as a kernel that overflows
/// does; argument errors leave it untouched.
pub(crate) fn zero_on_range<T: Real>(e: Error, out: &mut [T]) -> Error {
    if matches!(e, Error::Overflow { .. } | Error::PrecisionLoss { .. }) {
        out.fill(T::ZERO);
    }
    e
}
