//! NNGP and NTK matrices of an [`Architecture`], tile by tile.
//!
//! The matrices are computed in square tiles of [`TILE`] × [`TILE`] entries.
//! A tile runs through all layers while it is in cache; the per-input
//! variances it needs are recomputed for its rows and columns in small stack
//! arrays, so no workspace proportional to the number of inputs is needed and
//! the stack use is a few kilobytes whatever the matrix size. The diagonal of
//! a Gram matrix is computed once per input, by the exact diagonal maps.

use super::arch::Architecture;
use super::pair::{worse, PairState};
use super::precision::{self, TILE};
use super::rows::{check_inputs, check_output, Flat, FlatMut, Rows, RowsMut};
use super::step::{apply_pair_traced, Step};
use super::tile::{mirror, tile, Tile};
use crate::outputs::zero_on_error;
use crate::{Error, Real};

#[cfg(feature = "rayon")]
pub(super) mod parallel;

/// [`Error::BufferTooSmall`] unless both flat outputs hold `needed` entries.
pub(super) fn hold<T>(needed: usize, nngp: &[T], ntk: &[T]) -> Result<(), Error> {
    match nngp.len().min(ntk.len()) {
        given if given < needed => Err(Error::BufferTooSmall { needed, given }),
        _ => Ok(()),
    }
}

/// The verdict on finished `rows × cols` outputs with error bound `error`:
/// [`Error::Overflow`] if an entry is not finite, [`Error::PrecisionLoss`] if
/// the bound passes [`PRECISION_LIMIT`](super::PRECISION_LIMIT) (the caller
/// zeroes the outputs then, as on every error).
pub(super) fn judge<T: Real, M: RowsMut<T> + ?Sized>(
    nngp: &mut M,
    ntk: &mut M,
    (rows, cols): (usize, usize),
    error: T,
) -> Result<(), Error> {
    if !(all_finite(nngp, rows, cols) && all_finite(ntk, rows, cols)) {
        Err(Error::Overflow { what: "kernel" })
    } else if !precision::accepted(error) {
        Err(Error::PrecisionLoss { what: "kernel" })
    } else {
        Ok(())
    }
}

fn all_finite<T: Real, M: RowsMut<T> + ?Sized>(m: &mut M, rows: usize, cols: usize) -> bool {
    (0..rows).all(|i| {
        let row = m.row_mut(i);
        crate::simd::all_finite(&row[..cols.min(row.len())])
    })
}

impl<T: Real, const CAP: usize> Architecture<T, CAP> {
    /// The steps of a flat architecture; [`Error::InvalidArgument`] for a
    /// layer that needs positions, and without `SMOOTH` for a nonlinearity
    /// that is not piecewise linear (`Layer::piecewise_linear_step`).
    pub(super) fn steps<const SMOOTH: bool>(&self) -> Result<([Step<T>; CAP], usize), Error> {
        let mut steps = [Step::Identity; CAP];
        for (s, l) in steps.iter_mut().zip(self.layers()) {
            if l.is_spatial() {
                return Err(Error::InvalidArgument {
                    what: "spatial layer on flat inputs",
                });
            }
            if l.is_structured() {
                return Err(Error::InvalidArgument {
                    what: "layer norm and residual blocks: use gram_spatial with Shape::Flat",
                });
            }
            *s = if SMOOTH {
                l.step()
            } else {
                l.piecewise_linear_step().ok_or(Error::InvalidArgument {
                    what: "gram_piecewise_linear: a nonlinearity outside the ABReLU family (use gram)",
                })?
            };
        }
        Ok((steps, self.len()))
    }

    /// NNGP and NTK of one pair of inputs, with the final variances.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `x1` and `x2` differ in length or are
    /// empty, [`Error::NonFinite`] for a NaN or infinite input,
    /// [`Error::Overflow`] if a result is not finite,
    /// [`Error::PrecisionLoss`] as for [`gram`](Self::gram).
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Architecture;
    /// let a: Architecture<f64> = "dense(1,0) relu".parse()?;
    /// let s = a.kernel(&[1.0, 0.0], &[0.0, 1.0])?;
    /// // Orthogonal inputs of variance 1/2: Σ = (1/2)/(2π), Θ = Σ⁰·(π − π/2)/(2π) = 0.
    /// assert!((s.sigma12 - 0.25 / core::f64::consts::PI).abs() < 1e-15);
    /// assert_eq!(s.sigma11, 0.25);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn kernel(&self, x1: &[T], x2: &[T]) -> Result<PairState<T>, Error> {
        if x1.len() != x2.len() || x1.is_empty() {
            return Err(Error::InvalidArgument {
                what: "the two inputs must have the same nonzero length",
            });
        }
        crate::simd::check_finite(x1, "inputs")?;
        crate::simd::check_finite(x2, "inputs")?;
        let mut s = PairState::from_inputs(x1, x2);
        input_in_range(x1, s.sigma11)?;
        input_in_range(x2, s.sigma22)?;
        let mut errors = precision::pair_start(x1, x2, &s);
        // The worst quadrature error estimate of one layer (see `tile`).
        let mut quad = T::ZERO;
        let (steps, len) = self.steps::<true>()?;
        for step in steps.get(..len).unwrap_or(&[]) {
            let (next, traced) = apply_pair_traced(step, s);
            step_in_range(step, s.sigma11, next.sigma11)?;
            step_in_range(step, s.sigma22, next.sigma22)?;
            if precision::ENABLED {
                precision::pair_step(&mut errors, step, &s, traced.as_ref());
            }
            if let Some(t) = traced {
                quad = worse(quad, worse(worse(t.quad.0, t.quad.1), t.quad.2));
            }
            s = next;
        }
        crate::simd::check_result(&[s.sigma11, s.sigma12, s.sigma22, s.theta12], "kernel")?;
        let error = if precision::ENABLED {
            worse(errors.estimate(), quad)
        } else {
            quad
        };
        if !precision::accepted(error) {
            return Err(Error::PrecisionLoss { what: "kernel" });
        }
        Ok(s)
    }

    /// NNGP and NTK of a single input with itself, by the exact diagonal
    /// maps, with the sum of the quadrature's relative error estimates;
    /// [`Error::PrecisionLoss`] if a variance on the way leaves the normal
    /// range (see [`input_in_range`]).
    pub(super) fn diagonal<const SMOOTH: bool>(
        &self,
        steps: &[Step<T>],
        x: &[T],
    ) -> Result<(T, T, T), Error> {
        let mut q = crate::simd::dot(x, x) * (T::ONE / T::from_usize(x.len().max(1)));
        input_in_range(x, q)?;
        let mut t = T::ZERO;
        let mut error = T::ZERO;
        for s in steps {
            let ((q2, t2), e) = s.diag_ntk_estimated::<SMOOTH>(q, t);
            step_in_range(s, q, q2)?;
            (q, t) = (q2, t2);
            error += e;
        }
        Ok((q, t, error))
    }

    /// The Gram matrices; with `SMOOTH` false only the piecewise-linear
    /// maps are linked, and an architecture with another nonlinearity is
    /// refused.
    fn gram_impl<const SMOOTH: bool, X, M>(
        &self,
        x: &X,
        nngp: &mut M,
        ntk: &mut M,
    ) -> Result<(), Error>
    where
        X: Rows<T> + ?Sized,
        M: RowsMut<T> + ?Sized,
    {
        let n = x.count();
        check_inputs(x, None)?;
        check_output(nngp, n, n)?;
        check_output(ntk, n, n)?;
        let (steps, len) = self.steps::<SMOOTH>()?;
        let steps = steps.get(..len).unwrap_or(&[]);
        // Diagonal, once per input.
        let mut error = T::ZERO;
        for i in 0..n {
            let (q, t, e) = self.diagonal::<SMOOTH>(steps, x.row(i))?;
            error = worse(error, e);
            if let Some(v) = nngp.row_mut(i).get_mut(i) {
                *v = q;
            }
            if let Some(v) = ntk.row_mut(i).get_mut(i) {
                *v = t;
            }
        }
        // Upper triangle, tile by tile.
        for r0 in (0..n).step_by(TILE) {
            let nr = TILE.min(n - r0);
            for c0 in (r0..n).step_by(TILE) {
                let nc = TILE.min(n - c0);
                let e = tile::<SMOOTH, _, _, _, _>(
                    steps,
                    x,
                    x,
                    Tile {
                        rows: (r0, nr),
                        cols: (c0, nc),
                        upper: c0 == r0,
                    },
                    nngp,
                    ntk,
                );
                error = worse(error, e);
                // The lower triangle is a bitwise copy, made while the tile is in cache.
                mirror(nngp, (r0, nr), (c0, nc));
                mirror(ntk, (r0, nr), (c0, nc));
            }
        }
        judge(nngp, ntk, (n, n), error)
    }

    pub(super) fn cross_impl<X1, X2, M>(
        &self,
        x1: &X1,
        x2: &X2,
        nngp: &mut M,
        ntk: &mut M,
    ) -> Result<(), Error>
    where
        X1: Rows<T> + ?Sized,
        X2: Rows<T> + ?Sized,
        M: RowsMut<T> + ?Sized,
    {
        let (m, n) = (x1.count(), x2.count());
        let d = check_inputs(x1, None)?;
        if m > 0 {
            check_inputs(x2, Some(d))?;
        } else {
            check_inputs(x2, None)?;
        }
        check_output(nngp, m, n)?;
        check_output(ntk, m, n)?;
        let (steps, len) = self.steps::<true>()?;
        let steps = steps.get(..len).unwrap_or(&[]);
        if m == 0 || n == 0 {
            return Ok(());
        }
        // The range check, once per input (the tiles do not look at the
        // diagonal maps); nothing has been written yet.
        for i in 0..m {
            self.diagonal::<true>(steps, x1.row(i))?;
        }
        for j in 0..n {
            self.diagonal::<true>(steps, x2.row(j))?;
        }
        let mut error = T::ZERO;
        for r0 in (0..m).step_by(TILE) {
            let nr = TILE.min(m - r0);
            for c0 in (0..n).step_by(TILE) {
                let nc = TILE.min(n - c0);
                let e = tile::<true, _, _, _, _>(
                    steps,
                    x1,
                    x2,
                    Tile {
                        rows: (r0, nr),
                        cols: (c0, nc),
                        upper: false,
                    },
                    nngp,
                    ntk,
                );
                error = worse(error, e);
            }
        }
        judge(nngp, ntk, (m, n), error)
    }

    /// NNGP and NTK Gram matrices of `N` inputs of dimension `D`:
    /// `nngp[i][j] = K(xᵢ, xⱼ)`, `ntk[i][j] = Θ(xᵢ, xⱼ)`.
    ///
    /// Both matrices are exactly (bitwise) symmetric: one triangle is computed
    /// and mirrored. The diagonal is computed once per input by the exact
    /// diagonal maps (ReLU maps a variance q to q/2 exactly). Extra memory is
    /// a few kilobytes of stack, whatever `N`; the outputs may live anywhere
    /// (a `static`, a `Box`, …).
    ///
    /// # Errors
    ///
    /// [`Error::NonFinite`] if an input holds NaN or ±∞, [`Error::Overflow`]
    /// if any result is not finite, [`Error::PrecisionLoss`] if a nonzero
    /// input or a layer gives a variance below `MIN_POSITIVE/ε` (about
    /// 1e-292 in `f64`, 1e-31 in `f32`: inputs under about 1e-146 and 3e-16)
    /// or the error bound passes the limit. On every error both outputs are
    /// zeroed.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Architecture;
    /// let a: Architecture<f64> = "dense(1.5,0.1) relu dense(1.5,0.1)".parse()?;
    /// let x = [[1.0, 0.0], [0.0, 2.0], [1.0, 0.0]];
    /// let (mut k, mut t) = ([[0.0; 3]; 3], [[0.0; 3]; 3]);
    /// a.gram(&x, &mut k, &mut t)?;
    /// assert_eq!(k[0][1].to_bits(), k[1][0].to_bits());
    /// assert!((k[0][2] - k[0][0]).abs() < 1e-15);
    /// assert!(t[0][0] > k[0][0]);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn gram<const N: usize, const D: usize>(
        &self,
        x: &[[T; D]; N],
        nngp: &mut [[T; N]; N],
        ntk: &mut [[T; N]; N],
    ) -> Result<(), Error> {
        const { assert!(D > 0, "inputs need at least one feature") };
        zero_on_error(&mut (nngp, ntk), |(k, t)| {
            self.gram_impl::<true, _, _>(&x[..], &mut k[..], &mut t[..])
        })
    }

    /// [`gram`](Self::gram) for architectures whose nonlinearities are all
    /// of the ABReLU family (ReLU, leaky ReLU, abs, ABReLU) or the identity,
    /// with the same results bit for bit: only their closed forms are
    /// linked, not those of erf, GELU, sin or the quadrature (1.8 KiB of
    /// flash on a Cortex-M4F), which matters when a firmware's
    /// architecture is fixed at compile time.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if a layer is another nonlinearity (erf,
    /// GELU, sin, tanh, a custom activation), and the errors of
    /// [`gram`](Self::gram). On every error both outputs are zeroed.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Architecture;
    /// let a: Architecture<f32> = "dense(1.5,0.1) relu dense(1.5,0.1)".parse()?;
    /// let x = [[1.0, 0.0], [0.0, 2.0], [0.5, -1.0]];
    /// let (mut k, mut t) = ([[0.0; 3]; 3], [[0.0; 3]; 3]);
    /// a.gram_piecewise_linear(&x, &mut k, &mut t)?;
    /// let (mut k2, mut t2) = ([[0.0; 3]; 3], [[0.0; 3]; 3]);
    /// a.gram(&x, &mut k2, &mut t2)?;
    /// assert_eq!((k, t), (k2, t2));
    /// let erf: Architecture<f32> = "dense(1,0) erf".parse()?;
    /// assert!(erf.gram_piecewise_linear(&x, &mut k, &mut t).is_err());
    /// assert_eq!(k, [[0.0; 3]; 3]);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn gram_piecewise_linear<const N: usize, const D: usize>(
        &self,
        x: &[[T; D]; N],
        nngp: &mut [[T; N]; N],
        ntk: &mut [[T; N]; N],
    ) -> Result<(), Error> {
        const { assert!(D > 0, "inputs need at least one feature") };
        zero_on_error(&mut (nngp, ntk), |(k, t)| {
            self.gram_impl::<false, _, _>(&x[..], &mut k[..], &mut t[..])
        })
    }

    /// NNGP and NTK between `M` inputs `x` (test points, rows) and `N`
    /// inputs `x_train` (columns): `nngp[i][j] = K(xᵢ, x_train_j)`.
    ///
    /// # Errors
    ///
    /// As [`gram`](Self::gram).
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Architecture;
    /// let a: Architecture<f64> = "dense(1,0) erf dense(1,0)".parse()?;
    /// let train = [[1.0, 0.5], [-0.3, 0.2], [0.0, 1.0]];
    /// let test = [[0.5, 0.5]];
    /// let (mut k, mut t) = ([[0.0; 3]; 1], [[0.0; 3]; 1]);
    /// a.cross(&test, &train, &mut k, &mut t)?;
    /// let s = a.kernel(&test[0], &train[2])?;
    /// assert!((k[0][2] - s.sigma12).abs() < 1e-15 && (t[0][2] - s.theta12).abs() < 1e-15);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn cross<const M: usize, const N: usize, const D: usize>(
        &self,
        x: &[[T; D]; M],
        x_train: &[[T; D]; N],
        nngp: &mut [[T; N]; M],
        ntk: &mut [[T; N]; M],
    ) -> Result<(), Error> {
        const { assert!(D > 0, "inputs need at least one feature") };
        zero_on_error(&mut (nngp, ntk), |(k, t)| {
            self.cross_impl(&x[..], &x_train[..], &mut k[..], &mut t[..])
        })
    }

    /// [`gram`](Self::gram) on row-major slices with sizes known at run time:
    /// `x` holds `n = x.len() / d` inputs of dimension `d`, and the leading
    /// `n × n` entries of `nngp` and `ntk` receive the matrices (row-major).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `d` is 0 or does not divide `x.len()`,
    /// [`Error::BufferTooSmall`] if an output holds fewer than `n²` entries,
    /// and the errors of [`gram`](Self::gram). On every error every entry
    /// of both outputs is zeroed (all they hold, not only the leading
    /// `n × n`).
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Architecture;
    /// let a: Architecture<f32> = "dense(1,0.1) gelu".parse()?;
    /// let x = [0.5_f32, -1.0, 2.0, 0.0];
    /// let (mut k, mut t) = ([0.0_f32; 4], [0.0_f32; 4]);
    /// a.gram_flat(&x, 2, &mut k, &mut t)?;
    /// assert_eq!(k[1], k[2]);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn gram_flat(&self, x: &[T], d: usize, nngp: &mut [T], ntk: &mut [T]) -> Result<(), Error> {
        zero_on_error(&mut (nngp, ntk), |(nngp, ntk)| {
            let n = flat_count(x.len(), d)?;
            let needed = n.saturating_mul(n);
            hold(needed, nngp, ntk)?;
            let x = Flat { data: x, width: d };
            let mut k = FlatMut {
                data: nngp,
                width: n,
            };
            let mut t = FlatMut {
                data: ntk,
                width: n,
            };
            self.gram_impl::<true, _, _>(&x, &mut k, &mut t)
        })
    }

    /// [`cross`](Self::cross) on row-major slices: `x` holds `m` inputs and
    /// `x_train` holds `n` inputs of dimension `d`; the leading `m × n`
    /// entries of `nngp` and `ntk` receive the matrices (row-major).
    ///
    /// # Errors
    ///
    /// As [`gram_flat`](Self::gram_flat).
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Architecture;
    /// let a: Architecture<f64> = "dense(1,0) sin".parse()?;
    /// let (mut k, mut t) = ([0.0; 2], [0.0; 2]);
    /// a.cross_flat(&[1.0], &[1.0, -1.0], 1, &mut k, &mut t)?;
    /// assert!((k[0] - (1.0 - (-2.0_f64).exp()) / 2.0).abs() < 1e-15);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn cross_flat(
        &self,
        x: &[T],
        x_train: &[T],
        d: usize,
        nngp: &mut [T],
        ntk: &mut [T],
    ) -> Result<(), Error> {
        zero_on_error(&mut (nngp, ntk), |(nngp, ntk)| {
            let m = flat_count(x.len(), d)?;
            let n = flat_count(x_train.len(), d)?;
            let needed = m.saturating_mul(n);
            hold(needed, nngp, ntk)?;
            let x1 = Flat { data: x, width: d };
            let x2 = Flat {
                data: x_train,
                width: d,
            };
            // With n = 0 there is nothing to write; a width of 1 keeps the view valid.
            let mut k = FlatMut {
                data: nngp,
                width: n.max(1),
            };
            let mut t = FlatMut {
                data: ntk,
                width: n.max(1),
            };
            self.cross_impl(&x1, &x2, &mut k, &mut t)
        })
    }
}

/// The smallest nonzero variance accepted, `MIN_POSITIVE/ε`: the maps
/// multiply variances by correlations, sines and angles resolved down to ε,
/// and every such product must stay a normal number for its rounding to be
/// relative (subnormal rounding is absolute, and an underflow to 0 switches
/// ReLU-type maps to their zero-variance convention).
fn tiny<T: Real>() -> T {
    T::MIN_POSITIVE / T::EPSILON
}

/// An input's variance `q = x·x/d`: [`Error::PrecisionLoss`] if `x` is not
/// zero but `q` is below [`tiny`] (it may have underflowed to 0).
fn input_in_range<T: Real>(x: &[T], q: T) -> Result<(), Error> {
    if q < tiny() && x.iter().any(|&v| v != T::ZERO) {
        return Err(Error::PrecisionLoss { what: "kernel" });
    }
    Ok(())
}

/// A step's output variance `q2` from `q`: [`Error::PrecisionLoss`] if it is
/// nonzero but below [`tiny`], or if an affine step with nonzero weights
/// took a nonzero variance to exactly 0 (`w²·q` underflowed).
fn step_in_range<T: Real>(step: &Step<T>, q: T, q2: T) -> Result<(), Error> {
    let underflowed = match *step {
        Step::Affine { w2, .. } | Step::AffineStandard { w2, .. } => {
            q2 == T::ZERO && w2 > T::ZERO && q > T::ZERO
        }
        _ => false,
    };
    if underflowed || (q2 > T::ZERO && q2 < tiny()) {
        return Err(Error::PrecisionLoss { what: "kernel" });
    }
    Ok(())
}

pub(super) fn flat_count(len: usize, d: usize) -> Result<usize, Error> {
    if d == 0 || !len.is_multiple_of(d) {
        return Err(Error::InvalidArgument {
            what: "the input length must be a nonzero multiple of the dimension",
        });
    }
    Ok(len / d)
}
