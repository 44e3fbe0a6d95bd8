//! Online Gaussian-process regression: points pushed and dropped one at a
//! time, each in O(n²).

use crate::linalg::{cholesky_append, cholesky_remove_first};
use crate::outputs::zero_on_error;
use crate::simd::{axpy, dot};
use crate::simd::{check_finite, check_result};
use crate::{Error, Real};

/// Online Gaussian-process (kernel) regression for on-device learning:
/// samples arrive one by one, the oldest can be dropped, each in O(n²).
///
/// Holds the Gram matrix of up to `CAP` points, the Cholesky factor of
/// `Gram + noise·I`, the targets (`K` columns) and `L⁻¹·Y`. The regulariser
/// `noise` is absolute (a relative one would change with every point). All
/// storage is inline: `2·CAP² + 2·CAP·K` scalars, so for large `CAP` keep it
/// in a `static` or a `Box`.
///
/// [`OnlineWindow`](super::OnlineWindow) owns the inputs as well and evaluates the kernel rows
/// itself: the sliding window over the latest points, as on firmware.
///
/// # Examples
///
/// ```
/// use ntk::predict::{OnlineGp, OnlineWindow};
/// let k = |a: &[f64; 1], b: &[f64; 1]| (-(a[0] - b[0]) * (a[0] - b[0])).exp();
/// // The latest 3 points; the fourth slot is the room for the incoming one.
/// let mut window = OnlineWindow::<f64, 1, 4>::new(1e-9);
/// for x in [0.0, 0.5, 1.0, 1.5] {
///     window.push([x], [x.sin()], k)?;
/// }
/// assert!(window.inputs().iter().eq(&[[0.5], [1.0], [1.5]]));
/// let gp: &OnlineGp<f64, 4> = window.gp();
/// assert_eq!(gp.len(), 3);
/// // The same model by hand: kernel rows against the points held, oldest first.
/// let row = [k(&[1.0], &[0.5]), k(&[1.0], &[1.0]), k(&[1.0], &[1.5])];
/// let mut mean = [0.0];
/// let var = gp.predict_with_variance(&row, 1.0, &mut mean)?;
/// assert!((mean[0] - 1.0_f64.sin()).abs() < 1e-6 && var.abs() < 1e-6);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct OnlineGp<T, const CAP: usize, const K: usize = 1> {
    gram: [[T; CAP]; CAP],
    factor: [[T; CAP]; CAP],
    y: [[T; K]; CAP],
    beta: [[T; K]; CAP],
    len: usize,
    noise: T,
}

/// An empty model with `noise` = 0 (`OnlineGp::new(0.0)`): every byte zero.
/// Set the noise with [`OnlineGp::set_noise`].
impl<T: Real, const CAP: usize, const K: usize> crate::nn::Zeroed for OnlineGp<T, CAP, K> {
    const ZEROED: Self = Self::new(T::ZERO);
}

impl<T: Real, const CAP: usize, const K: usize> OnlineGp<T, CAP, K> {
    /// An empty model with diagonal regulariser (observation noise variance)
    /// `noise ≥ 0`, checked at the first [`Self::push`].
    pub const fn new(noise: T) -> Self {
        Self {
            gram: [[T::ZERO; CAP]; CAP],
            factor: [[T::ZERO; CAP]; CAP],
            y: [[T::ZERO; K]; CAP],
            beta: [[T::ZERO; K]; CAP],
            len: 0,
            noise,
        }
    }

    /// Sets the diagonal regulariser of an empty model in place: with
    /// [`Zeroed::ZEROED`](crate::nn::Zeroed::ZEROED) in a `static` or a
    /// zeroed heap allocation, this builds a model of any capacity without a
    /// temporary on the stack.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `noise` is negative or not finite, or if
    /// the model holds points (call [`Self::clear`] first); the model is
    /// unchanged then.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::nn::Zeroed;
    /// use ntk::predict::OnlineGp;
    /// use std::sync::Mutex;
    /// static GP: Mutex<OnlineGp<f64, 256>> = Mutex::new(OnlineGp::ZEROED);
    /// let mut gp = GP.lock().unwrap();
    /// gp.set_noise(1e-3)?;
    /// gp.push(&[], 1.0, [0.5])?;
    /// assert_eq!(gp.factor()[0][0], (1.0 + 1e-3_f64).sqrt());
    /// assert!(gp.set_noise(1e-2).is_err());
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn set_noise(&mut self, noise: T) -> Result<(), Error> {
        if !(noise.is_finite() && noise >= T::ZERO) {
            return Err(Error::InvalidArgument {
                what: "noise must be finite and non-negative",
            });
        }
        if self.len != 0 {
            return Err(Error::InvalidArgument {
                what: "noise can only be set on an empty model",
            });
        }
        self.noise = noise;
        Ok(())
    }

    /// Number of points held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` when no point is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Maximum number of points, `CAP`.
    pub fn capacity(&self) -> usize {
        CAP
    }

    /// The Gram matrix; its leading `len() × len()` block is valid, oldest point first.
    pub fn gram(&self) -> &[[T; CAP]; CAP] {
        &self.gram
    }

    /// The Cholesky factor of `Gram + noise·I` (leading `len() × len()` block).
    pub fn factor(&self) -> &[[T; CAP]; CAP] {
        &self.factor
    }

    /// The targets held (first `len()` rows).
    pub fn targets(&self) -> &[[T; K]; CAP] {
        &self.y
    }

    /// Appends a point: `k_row[j] = k(x_new, xⱼ)` for the `len()` points held
    /// (oldest first), `k_self = k(x_new, x_new)`, `y` its targets. O(len²).
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] when full (call [`Self::pop_oldest`] first);
    /// [`Error::InvalidArgument`] for a wrong row length or a bad `noise`;
    /// [`Error::NonFinite`] for NaN/∞ inputs; [`Error::Overflow`] if
    /// `k_self + noise` or the update overflows; [`Error::NotPositiveDefinite`]
    /// if the point duplicates the span of the others, by the rank decision
    /// of [`cholesky_append`] (raise `noise`). On error the model is unchanged.
    pub fn push(&mut self, k_row: &[T], k_self: T, y: [T; K]) -> Result<(), Error> {
        let n = self.len;
        if !(self.noise.is_finite() && self.noise >= T::ZERO) {
            return Err(Error::InvalidArgument {
                what: "noise must be finite and non-negative",
            });
        }
        if n >= CAP {
            return Err(Error::BufferTooSmall {
                needed: n + 1,
                given: CAP,
            });
        }
        check_finite(&y, "targets")?;
        if k_row.len() != n {
            return Err(Error::InvalidArgument {
                what: "kernel row length must equal the number of points held",
            });
        }
        check_finite(k_row, "kernel row")?;
        check_finite(&[k_self], "kernel diagonal")?;
        let diag = k_self + self.noise;
        if !diag.is_finite() {
            return Err(Error::Overflow {
                what: "kernel diagonal plus noise",
            });
        }
        cholesky_append(&mut self.factor, n, k_row, diag)?;
        let mut b = y;
        for j in 0..n {
            axpy(-self.factor[n][j], &self.beta[j], &mut b);
        }
        let inv = T::ONE / self.factor[n][n];
        for v in b.iter_mut() {
            *v *= inv;
        }
        if check_result(&b, "targets").is_err() {
            self.factor[n].fill(T::ZERO);
            return Err(Error::Overflow {
                what: "online update",
            });
        }
        self.beta[n] = b;
        self.y[n] = y;
        for (j, &v) in k_row.iter().enumerate() {
            self.gram[n][j] = v;
            self.gram[j][n] = v;
        }
        self.gram[n][n] = k_self;
        self.len = n + 1;
        Ok(())
    }

    /// Drops the oldest point in O(len²) (a Givens re-triangularisation of the factor).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when empty (the model is unchanged then);
    /// [`Error::Overflow`] if the update of the factor or of `L⁻¹·Y`
    /// overflows, which the rotation cannot undo: then the model is emptied.
    pub fn pop_oldest(&mut self) -> Result<(), Error> {
        let n = self.len;
        if n == 0 {
            return Err(Error::InvalidArgument {
                what: "no point to remove",
            });
        }
        if let Err(e) = cholesky_remove_first(&mut self.factor, n) {
            self.clear();
            return Err(e);
        }
        for i in 0..n - 1 {
            let (top, rest) = self.gram.split_at_mut(i + 1);
            top[i][..n - 1].copy_from_slice(&rest[0][1..n]);
            self.y[i] = self.y[i + 1];
        }
        self.gram[n - 1].fill(T::ZERO);
        for row in self.gram.iter_mut() {
            row[n - 1] = T::ZERO;
        }
        self.y[n - 1] = [T::ZERO; K];
        self.len = n - 1;
        // β = L⁻¹·Y afresh.
        for i in 0..self.len {
            let mut b = self.y[i];
            for j in 0..i {
                axpy(-self.factor[i][j], &self.beta[j], &mut b);
            }
            let inv = T::ONE / self.factor[i][i];
            for v in b.iter_mut() {
                *v *= inv;
            }
            self.beta[i] = b;
        }
        self.beta[self.len] = [T::ZERO; K];
        if self.beta[..self.len]
            .iter()
            .any(|b| check_result(b, "targets").is_err())
        {
            self.clear();
            return Err(Error::Overflow {
                what: "online update",
            });
        }
        Ok(())
    }

    /// Removes every point.
    pub fn clear(&mut self) {
        for m in [&mut self.gram, &mut self.factor] {
            for row in m.iter_mut() {
                row.fill(T::ZERO);
            }
        }
        self.y = [[T::ZERO; K]; CAP];
        self.beta = [[T::ZERO; K]; CAP];
        self.len = 0;
    }

    /// `z = L⁻¹·k_row` after checks.
    fn whiten(&self, k_row: &[T]) -> Result<[T; CAP], Error> {
        if k_row.len() != self.len {
            return Err(Error::InvalidArgument {
                what: "kernel row length must equal the number of points held",
            });
        }
        check_finite(k_row, "kernel row")?;
        let mut z = [T::ZERO; CAP];
        z[..self.len].copy_from_slice(k_row);
        crate::linalg::forward_in_place(&self.factor, &mut z[..self.len]);
        Ok(z)
    }

    /// Posterior mean `k(x, X)·(K + noise·I)⁻¹·Y` at a point with kernel row
    /// `k_row` (as in [`Self::push`]). With no points held the mean is 0.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a wrong row length, [`Error::NonFinite`]
    /// for NaN/∞; on error `out` is zeroed.
    pub fn predict(&self, k_row: &[T], out: &mut [T; K]) -> Result<(), Error> {
        zero_on_error(out, |out| {
            let z = self.whiten(k_row)?;
            *out = [T::ZERO; K];
            for (zi, bi) in z[..self.len].iter().zip(&self.beta) {
                axpy(*zi, bi, out);
            }
            check_result(out, "prediction")
        })
    }

    /// Posterior mean (into `out`) and variance (returned) of the latent
    /// function, `k_self = k(x, x)`.
    ///
    /// # Errors
    ///
    /// As [`Self::predict`], [`Error::NonFinite`] for a NaN/∞ `k_self`, and
    /// [`Error::Overflow`] if the variance is not finite; on error `out` is zeroed.
    pub fn predict_with_variance(
        &self,
        k_row: &[T],
        k_self: T,
        out: &mut [T; K],
    ) -> Result<T, Error> {
        zero_on_error(out, |out| {
            check_finite(&[k_self], "kernel diagonal")?;
            self.predict(k_row, out)?;
            let z = self.whiten(k_row)?;
            let var = k_self - dot(&z[..self.len], &z[..self.len]);
            check_result(&[var], "posterior variance")?;
            Ok(var)
        })
    }
}
