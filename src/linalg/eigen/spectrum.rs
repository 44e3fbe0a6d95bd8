//! The eigendecomposition of a regularised kernel as an owned value.

use super::{eigh, EigenOptions};
use crate::linalg::Regularizer;
use crate::outputs::{zero_on_error, Output};
use crate::simd::axpy;
use crate::simd::check_result;
use crate::{Error, Real};

/// The eigendecomposition `Θ + ε·I = V·Λ·Vᵀ` of a regularised train kernel,
/// in caller-owned storage (`N² + N + 1` scalars: with the largest absolute
/// entry of `Θ + ε·I`, for the rank decision at `t = ∞`): what finite-time
/// predictions need.
///
/// Compute it with [`GradientDescentMse::spectrum`](crate::predict::GradientDescentMse::spectrum) or
/// [`Ensemble::spectrum`](crate::predict::Ensemble::spectrum) (which apply the regulariser), or with
/// [`Spectrum::compute`].
///
/// # Examples
///
/// ```
/// use ntk::linalg::{Regularizer, Spectrum};
/// let mut s = Spectrum::<f64, 2>::new();
/// s.compute(&[[2.0, 0.0], [1.0, 2.0]], Regularizer::Absolute(0.5))?;
/// assert!((s.values()[0] - 1.5).abs() < 1e-12 && (s.values()[1] - 3.5).abs() < 1e-12);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Spectrum<T, const N: usize> {
    values: [T; N],
    vectors: [[T; N]; N],
    norm: T,
}

impl<T: Real, const N: usize> Default for Spectrum<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

/// [`Spectrum::new`]: every byte zero.
impl<T: Real, const N: usize> crate::nn::Zeroed for Spectrum<T, N> {
    const ZEROED: Self = Self::new();
}

/// A failed [`Spectrum::compute`] rebuilds the whole value: it is zeroed,
/// in place (`*self = Self::new()` would build an N² temporary on the stack
/// in an unoptimised build).
impl<T: Real, const N: usize> Output for Spectrum<T, N> {
    fn zero(&mut self) {
        self.values.fill(T::ZERO);
        for row in self.vectors.iter_mut() {
            row.fill(T::ZERO);
        }
        self.norm = T::ZERO;
    }
}

impl<T: Real, const N: usize> Spectrum<T, N> {
    /// An all-zero spectrum (usable in a `static`).
    pub const fn new() -> Self {
        Self {
            values: [T::ZERO; N],
            vectors: [[T::ZERO; N]; N],
            norm: T::ZERO,
        }
    }

    /// Eigendecomposes `k + ε·I` (lower triangle of `k` read), `ε` from `reg`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::linalg::{Regularizer, Spectrum};
    /// use ntk::Error;
    /// let mut s = Spectrum::<f64, 2>::new();
    /// s.compute(&[[2.0, 0.0], [1.0, 2.0]], Regularizer::None)?;
    /// // A failed compute leaves no stale spectrum behind.
    /// assert!(s.compute(&[[2.0, 0.0], [1.0, 2.0]], Regularizer::Absolute(-1.0)).is_err());
    /// assert_eq!(s.values(), &[0.0; 2]);
    /// // 1e308 + 1e308 is beyond the range.
    /// assert_eq!(
    ///     s.compute(&[[1e308, 0.0], [0.0, 1.0]], Regularizer::Absolute(1e308)),
    ///     Err(Error::Overflow { what: "eigenvalues" })
    /// );
    /// # Ok::<(), ntk::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`eigh`] and [`Regularizer::amount`]; [`Error::Overflow`] if an
    /// eigenvalue plus the regulariser leaves the floating-point range. On
    /// error the spectrum is zeroed.
    pub fn compute(&mut self, k: &[[T; N]; N], reg: Regularizer<T>) -> Result<(), Error> {
        zero_on_error(self, |s| s.compute_inner(k, reg))
    }

    fn compute_inner(&mut self, k: &[[T; N]; N], reg: Regularizer<T>) -> Result<(), Error> {
        let eps = reg.amount(k)?;
        eigh(
            k,
            EigenOptions::default(),
            &mut self.values,
            &mut self.vectors,
        )?;
        for v in self.values.iter_mut() {
            *v += eps;
        }
        check_result(&self.values, "eigenvalues")?;
        self.norm = crate::linalg::lower_max_abs(k, eps);
        check_result(&[self.norm], "eigenvalues")
    }

    /// Refuses a numerically singular kernel, for what needs its inverse
    /// (the rank decision of [`crate::linalg::cholesky`], on the smallest
    /// eigenvalue).
    pub(crate) fn check_invertible(&self) -> Result<(), Error> {
        if N > 0 && crate::linalg::is_singular(self.values[0], N, self.norm) {
            Err(Error::NotPositiveDefinite { index: 0 })
        } else {
            Ok(())
        }
    }

    /// The largest absolute entry of the regularised kernel: the norm of
    /// the rank decision at `t = ∞`.
    pub(crate) fn norm(&self) -> T {
        self.norm
    }

    /// Eigenvalues of the regularised kernel, ascending.
    pub fn values(&self) -> &[T; N] {
        &self.values
    }

    /// Unit eigenvectors as **rows** (`vectors()[j]` belongs to `values()[j]`).
    pub fn vectors(&self) -> &[[T; N]; N] {
        &self.vectors
    }

    /// `out = V·diag(f(λ))·Vᵀ·b` for the `K` columns of `b`.
    pub(crate) fn apply<const K: usize>(
        &self,
        f: impl Fn(T) -> T,
        b: &[[T; K]; N],
        out: &mut [[T; K]; N],
    ) {
        for row in out.iter_mut() {
            row.fill(T::ZERO);
        }
        for (v, &lambda) in self.vectors.iter().zip(&self.values) {
            let w = f(lambda);
            if w == T::ZERO {
                continue;
            }
            let mut c = [T::ZERO; K];
            for (vi, bi) in v.iter().zip(b) {
                axpy(*vi, bi, &mut c);
            }
            for cv in c.iter_mut() {
                *cv *= w;
            }
            for (vi, oi) in v.iter().zip(out.iter_mut()) {
                axpy(*vi, &c, oi);
            }
        }
    }
}
