//! A sliding window over the latest inputs, owning them, around an
//! [`OnlineGp`].

use super::OnlineGp;
use crate::outputs::zero_on_error;
use crate::simd::check_finite;
use crate::{Error, Real};

/// An [`OnlineGp`] that owns its inputs: a sliding window over the latest
/// `SLOTS − 1` points `x ∈ [T; D]`, for on-device learning without a heap.
///
/// [`Self::push`] evaluates the kernel between the new point and the points
/// held, appends it, and then drops the oldest point if the window was
/// full; [`Self::predict`] and [`Self::predict_with_variance`] evaluate the
/// kernel rows themselves. The inputs are kept oldest first in a ring of
/// `SLOTS` slots ([`WindowInputs`]). One of the `SLOTS` slots of storage is the room for
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
    inputs: WindowInputs<T, D, SLOTS>,
}

/// The inputs an [`OnlineWindow`] holds, oldest first ([`OnlineWindow::inputs`]):
/// a ring of `SLOTS` slots of `[T; D]`.
///
/// All its bytes zero is the empty ring, so that a window can be allocated
/// zeroed (`boxed::online_window`) or placed in `.bss`.
///
/// # Examples
///
/// ```
/// use ntk::predict::OnlineWindow;
/// let k = |a: &[f64; 1], b: &[f64; 1]| (-(a[0] - b[0]) * (a[0] - b[0])).exp();
/// let mut window = OnlineWindow::<f64, 1, 3>::new(1e-9); // the latest 2 points
/// for x in [0.0, 0.5, 1.0] {
///     window.push([x], [x], k)?;
/// }
/// let inputs = window.inputs();
/// assert_eq!((inputs.len(), inputs.is_empty()), (2, false));
/// assert!(inputs.iter().eq(&[[0.5], [1.0]]));
/// assert_eq!(inputs.iter().rev().next(), Some(&[1.0]));
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Clone)]
pub struct WindowInputs<T, const D: usize, const SLOTS: usize> {
    slots: [[T; D]; SLOTS],
    front: usize,
    len: usize,
}

impl<T: Real, const D: usize, const SLOTS: usize> WindowInputs<T, D, SLOTS> {
    const fn new() -> Self {
        Self {
            slots: [[T::ZERO; D]; SLOTS],
            front: 0,
            len: 0,
        }
    }
}

impl<T, const D: usize, const SLOTS: usize> WindowInputs<T, D, SLOTS> {
    /// Number of inputs held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` when no input is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The inputs held, oldest first.
    pub fn iter(
        &self,
    ) -> impl DoubleEndedIterator<Item = &[T; D]> + ExactSizeIterator + Clone + '_ {
        (0..self.len).map(move |i| &self.slots[(self.front + i) % SLOTS])
    }

    /// Appends `x`, or gives it back when every slot is taken.
    fn push_back(&mut self, x: [T; D]) -> Result<(), [T; D]> {
        if self.len == SLOTS {
            return Err(x);
        }
        self.slots[(self.front + self.len) % SLOTS] = x;
        self.len += 1;
        Ok(())
    }

    /// Drops the oldest input, if any.
    fn pop_front(&mut self) {
        if self.len > 0 {
            self.front = (self.front + 1) % SLOTS;
            self.len -= 1;
        }
    }

    fn clear(&mut self) {
        self.front = 0;
        self.len = 0;
    }
}

impl<T: core::fmt::Debug, const D: usize, const SLOTS: usize> core::fmt::Debug
    for WindowInputs<T, D, SLOTS>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: Real, const D: usize, const SLOTS: usize, const K: usize> crate::nn::Zeroed
    for OnlineWindow<T, D, SLOTS, K>
{
    const ZEROED: Self = Self::new(T::ZERO);
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
            inputs: WindowInputs::new(),
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
    pub fn inputs(&self) -> &WindowInputs<T, D, SLOTS> {
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
