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
/// [`OnlineWindow`] owns the inputs as well and evaluates the kernel rows
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

/// An [`OnlineGp`] that owns its inputs: a sliding window over the latest
/// `SLOTS − 1` points `x ∈ [T; D]`, for on-device learning without a heap.
///
/// [`Self::push`] evaluates the kernel between the new point and the points
/// held, appends it, and then drops the oldest point if the window was
/// full; [`Self::predict`] and [`Self::predict_with_variance`] evaluate the
/// kernel rows themselves. The inputs are kept oldest first in a
/// [`heapless::Deque`]. One of the `SLOTS` slots of storage is the room for
/// the incoming point: it is appended *before* the oldest is dropped, so a
/// refused point (a numerical duplicate of the others, say) leaves the window
/// exactly as it was. Storage is inline, `2·SLOTS² + SLOTS·(2·K + D)`
/// scalars: keep a large window in a `static` (`new` is `const`) or in a
/// `Box` (`boxed::online_window` with the `alloc` feature).
///
/// The kernel is any `Fn(&[T; D], &[T; D]) -> T`; a kernel that can fail,
/// such as [`Architecture::kernel`](crate::analytic::Architecture::kernel),
/// reports its failure as a NaN, which the window refuses with
/// [`Error::NonFinite`].
///
/// # Examples
///
/// ```
/// use ntk::predict::OnlineWindow;
/// let k = |a: &[f64; 1], b: &[f64; 1]| (-(a[0] - b[0]) * (a[0] - b[0])).exp();
/// let mut window = OnlineWindow::<f64, 1, 4>::new(1e-9); // the latest 3 points
/// for x in [0.0, 0.5, 1.0, 1.5] {
///     window.push([x], [x.sin()], k)?;
/// }
/// assert!(window.inputs().iter().eq(&[[0.5], [1.0], [1.5]]));
/// let mut mean = [0.0];
/// let var = window.predict_with_variance(&[1.0], k, &mut mean)?;
/// assert!((mean[0] - 1.0_f64.sin()).abs() < 1e-6 && var.abs() < 1e-6);
///
/// // The infinite-width NNGP of a network as the kernel.
/// let arch: ntk::analytic::Architecture<f64> = "dense(1.5,0.1) relu dense(1.5,0.1)".parse()?;
/// let nngp = |a: &[f64; 2], b: &[f64; 2]| arch.kernel(a, b).map_or(f64::NAN, |s| s.sigma12);
/// let mut window = OnlineWindow::<f64, 2, 8>::new(1e-6);
/// for i in 0..20 {
///     let x = [(i as f64).cos(), (i as f64).sin()];
///     window.push(x, [x[0] * x[1]], nngp)?;
/// }
/// assert_eq!(window.len(), 7);
/// window.predict(&[0.6, 0.8], nngp, &mut mean)?;
/// assert!(mean[0].is_finite());
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct OnlineWindow<T, const D: usize, const SLOTS: usize, const K: usize = 1> {
    pub(crate) gp: OnlineGp<T, SLOTS, K>,
    pub(crate) inputs: heapless::Deque<[T; D], SLOTS>,
}

#[cfg(feature = "defmt")]
#[cfg_attr(docsrs, doc(cfg(feature = "defmt")))]
impl<T: Real, const D: usize, const SLOTS: usize, const K: usize> defmt::Format
    for OnlineWindow<T, D, SLOTS, K>
{
    fn format(&self, fmt: defmt::Formatter<'_>) {
        defmt::write!(
            fmt,
            "OnlineWindow {{ len: {=usize}, capacity: {=usize} }}",
            self.len(),
            self.capacity()
        );
    }
}

impl<T: Real, const D: usize, const SLOTS: usize, const K: usize> OnlineWindow<T, D, SLOTS, K> {
    pub(crate) const AT_LEAST_TWO_SLOTS: () =
        assert!(SLOTS >= 2, "an online window needs SLOTS ≥ 2");

    /// An empty window with diagonal regulariser (observation noise
    /// variance) `noise ≥ 0`, checked at the first [`Self::push`].
    pub const fn new(noise: T) -> Self {
        let () = Self::AT_LEAST_TWO_SLOTS;
        Self {
            gp: OnlineGp::new(noise),
            inputs: heapless::Deque::new(),
        }
    }

    /// Sets the diagonal regulariser of an empty window, as
    /// [`OnlineGp::set_noise`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `noise` is negative or not finite, or if
    /// the window holds points; the window is unchanged then.
    pub fn set_noise(&mut self, noise: T) -> Result<(), Error> {
        self.gp.set_noise(noise)
    }

    /// Number of points held.
    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    /// `true` when no point is held.
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    /// Maximum number of points held, `SLOTS − 1`.
    pub fn capacity(&self) -> usize {
        SLOTS - 1
    }

    /// The inputs held, oldest first.
    pub fn inputs(&self) -> &heapless::Deque<[T; D], SLOTS> {
        &self.inputs
    }

    /// The model over the points held: Gram matrix, factor, targets, in the
    /// order of [`Self::inputs`].
    pub fn gp(&self) -> &OnlineGp<T, SLOTS, K> {
        &self.gp
    }

    /// Removes every point.
    pub fn clear(&mut self) {
        self.gp.clear();
        self.inputs.clear();
    }

    /// `k(x, xⱼ)` for the points held, oldest first.
    fn kernel_row(
        &self,
        x: &[T; D],
        kernel: &impl Fn(&[T; D], &[T; D]) -> T,
    ) -> Result<[T; SLOTS], Error> {
        check_finite(x, "inputs")?;
        let mut row = [T::ZERO; SLOTS];
        for (r, p) in row.iter_mut().zip(self.inputs.iter()) {
            *r = kernel(x, p);
        }
        Ok(row)
    }

    /// Adds the point `x` with targets `y`, dropping the oldest point if the
    /// window is full. O(SLOTS²) and `len() + 1` kernel evaluations.
    ///
    /// # Errors
    ///
    /// [`Error::NonFinite`] for NaN/∞ in `x`, `y` or the kernel values; the
    /// errors of [`OnlineGp::push`] (a bad `noise`, overflow, and
    /// [`Error::NotPositiveDefinite`] for a numerical duplicate of the points
    /// held, the oldest included while it is still held: raise `noise`).
    /// On these errors the window is unchanged. If dropping the oldest point
    /// overflows ([`OnlineGp::pop_oldest`], which a valid factor does not
    /// do) the window is emptied.
    pub fn push(
        &mut self,
        x: [T; D],
        y: [T; K],
        kernel: impl Fn(&[T; D], &[T; D]) -> T,
    ) -> Result<(), Error> {
        let row = self.kernel_row(&x, &kernel)?;
        let n = self.len();
        self.gp.push(&row[..n], kernel(&x, &x), y)?;
        if self.inputs.push_back(x).is_err() {
            // Unreachable: the window holds at most SLOTS − 1 points here.
            self.clear();
            return Err(Error::BufferTooSmall {
                needed: n + 1,
                given: SLOTS,
            });
        }
        if self.inputs.len() == SLOTS {
            if let Err(e) = self.gp.pop_oldest() {
                self.clear();
                return Err(e);
            }
            self.inputs.pop_front();
        }
        Ok(())
    }

    /// Posterior mean `k(x, X)·(K + noise·I)⁻¹·Y` at `x`; 0 with no points held.
    ///
    /// # Errors
    ///
    /// [`Error::NonFinite`] for NaN/∞ in `x` or the kernel values, and the
    /// errors of [`OnlineGp::predict`]; on error `out` is zeroed.
    pub fn predict(
        &self,
        x: &[T; D],
        kernel: impl Fn(&[T; D], &[T; D]) -> T,
        out: &mut [T; K],
    ) -> Result<(), Error> {
        zero_on_error(out, |out| {
            let row = self.kernel_row(x, &kernel)?;
            self.gp.predict(&row[..self.len()], out)
        })
    }

    /// Posterior mean (into `out`) and variance (returned) of the latent
    /// function at `x`.
    ///
    /// # Errors
    ///
    /// As [`Self::predict`], and those of [`OnlineGp::predict_with_variance`];
    /// on error `out` is zeroed.
    pub fn predict_with_variance(
        &self,
        x: &[T; D],
        kernel: impl Fn(&[T; D], &[T; D]) -> T,
        out: &mut [T; K],
    ) -> Result<T, Error> {
        zero_on_error(out, |out| {
            let row = self.kernel_row(x, &kernel)?;
            self.gp
                .predict_with_variance(&row[..self.len()], kernel(x, x), out)
        })
    }
}
