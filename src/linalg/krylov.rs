//! Krylov solvers on a symmetric linear operator given only by its products
//! `A·x`: conjugate gradients for `(A + εI)·x = b`, Lanczos for the extreme
//! eigenvalues, and Lanczos for `g(A)·y` (the exponential of gradient flow).
//!
//! Nothing here reads a matrix: the solvers call
//! [`LinearOperator::apply`], so the same code runs on a dense matrix
//! ([`SymmetricMatrix`]) and on the matrix-free empirical NTK
//! ([`NtkOperator`](crate::empirical::matvec::NtkOperator)), whose product
//! costs O(N·P) and whose memory is O(P + N·K). Every vector and scratch
//! buffer belongs to the caller; the `*_len` functions give their sizes.
//!
//! Each solver takes an explicit tolerance and iteration cap
//! ([`KrylovOptions`]) and either reaches the tolerance or fails with
//! [`Error::NoConvergence`]. **On error every output buffer is filled with
//! zeros**, as in the rest of [`linalg`](crate::linalg).
//!
//! # Examples
//!
//! ```
//! use ntk::linalg::krylov::{conjugate_gradient, cg_workspace_len, KrylovOptions, SymmetricMatrix};
//! let a = [[4.0_f64, 0.0], [1.0, 3.0]]; // lower triangle of [[4, 1], [1, 3]]
//! let mut op = SymmetricMatrix::new(&a)?;
//! let mut work = [0.0; cg_workspace_len(2)];
//! let mut x = [0.0; 2];
//! let opts = KrylovOptions { tolerance: 1e-12, max_iterations: 10 };
//! let report = conjugate_gradient(&mut op, 0.0, &[1.0, 2.0], opts, &mut work, &mut x)?;
//! // [[4, 1], [1, 3]]·x = (1, 2): x = (1, 7)/11
//! assert!((x[0] - 1.0 / 11.0).abs() < 1e-12 && (x[1] - 7.0 / 11.0).abs() < 1e-12);
//! assert!(report.residual <= 1e-12 && report.iterations <= 2);
//! # Ok::<(), ntk::Error>(())
//! ```

use super::eigen::tql;
use crate::outputs::zero_on_error;
use crate::simd::{axpy, check_finite, check_result, dot};
use crate::{Error, Real};

/// A symmetric linear map `x ↦ A·x` on vectors of [`LinearOperator::dim`]
/// elements: what the Krylov solvers need of a matrix.
///
/// # Examples
///
/// ```
/// use ntk::linalg::krylov::LinearOperator;
/// use ntk::Error;
/// /// diag(1, 2, 3)
/// struct Diag;
/// impl LinearOperator<f64> for Diag {
///     fn dim(&self) -> usize { 3 }
///     fn apply(&mut self, x: &[f64], y: &mut [f64]) -> Result<(), Error> {
///         for (i, (yi, xi)) in y.iter_mut().zip(x).enumerate() {
///             *yi = (i + 1) as f64 * xi;
///         }
///         Ok(())
///     }
/// }
/// let mut y = [0.0; 3];
/// Diag.apply(&[1.0, 1.0, 1.0], &mut y)?;
/// assert_eq!(y, [1.0, 2.0, 3.0]);
/// # Ok::<(), Error>(())
/// ```
pub trait LinearOperator<T: Real> {
    /// The number of rows (and columns) of `A`.
    fn dim(&self) -> usize;

    /// Writes `A·x` into `y`. The solvers pass `x` and `y` of exactly
    /// [`LinearOperator::dim`] elements, `x` finite.
    ///
    /// # Errors
    ///
    /// Whatever the operator reports (the solvers pass it on, their outputs
    /// zeroed); the crate's operators report [`Error::Overflow`] for a
    /// non-finite product.
    fn apply(&mut self, x: &[T], y: &mut [T]) -> Result<(), Error>;
}

/// A dense symmetric matrix as a [`LinearOperator`], read from its lower
/// triangle only (the convention of [`linalg`](crate::linalg)).
///
/// # Examples
///
/// ```
/// use ntk::linalg::krylov::{LinearOperator, SymmetricMatrix};
/// let a = [[2.0_f64, 9.0], [1.0, 3.0]]; // the 9 is not read
/// let mut y = [0.0; 2];
/// SymmetricMatrix::new(&a)?.apply(&[1.0, 1.0], &mut y)?;
/// assert_eq!(y, [3.0, 4.0]);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SymmetricMatrix<'a, T, const N: usize> {
    a: &'a [[T; N]; N],
}

impl<'a, T: Real, const N: usize> SymmetricMatrix<'a, T, N> {
    /// Wraps `a`, whose lower triangle holds the matrix.
    ///
    /// # Errors
    ///
    /// [`Error::NonFinite`] if the lower triangle holds NaN or ±∞.
    pub fn new(a: &'a [[T; N]; N]) -> Result<Self, Error> {
        super::check_lower_finite(a, "matrix")?;
        Ok(Self { a })
    }
}

impl<T: Real, const N: usize> LinearOperator<T> for SymmetricMatrix<'_, T, N> {
    fn dim(&self) -> usize {
        N
    }

    /// `y = A·x` from the lower triangle: row `i` contributes its prefix
    /// `a[i][..=i]·x[..=i]` to `y[i]` and `x[i]·a[i][..i]` to `y[..i]`.
    fn apply(&mut self, x: &[T], y: &mut [T]) -> Result<(), Error> {
        zero_on_error(y, |y| {
            if x.len() != N || y.len() != N {
                return Err(Error::InvalidArgument {
                    what: "vector length differs from the matrix size",
                });
            }
            y.fill(T::ZERO);
            for (i, row) in self.a.iter().enumerate() {
                let (head, tail) = y.split_at_mut(i);
                tail[0] = dot(&row[..=i], &x[..=i]);
                axpy(x[i], &row[..i], head);
            }
            check_result(y, "matrix-vector product")
        })
    }
}

/// Convergence controls of the Krylov solvers: a relative tolerance and a
/// finite iteration cap (each iteration is one operator product).
///
/// # Examples
///
/// ```
/// let o = ntk::linalg::krylov::KrylovOptions::<f32>::default();
/// assert_eq!((o.tolerance, o.max_iterations), (1e-4, 500));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct KrylovOptions<T> {
    /// Relative tolerance, finite and > 0; what it bounds is given per solver.
    pub tolerance: T,
    /// Iteration cap, ≥ 1.
    pub max_iterations: usize,
}

impl<T: Real> Default for KrylovOptions<T> {
    /// `tolerance = 1e-4` (about `√ε` of f32), `max_iterations = 500`.
    fn default() -> Self {
        Self {
            tolerance: T::from_f64(1e-4),
            max_iterations: 500,
        }
    }
}

impl<T: Real> KrylovOptions<T> {
    fn validate(&self) -> Result<(), Error> {
        if !(self.tolerance.is_finite() && self.tolerance > T::ZERO) {
            return Err(Error::InvalidArgument {
                what: "Krylov tolerance must be finite and positive",
            });
        }
        if self.max_iterations == 0 {
            return Err(Error::InvalidArgument {
                what: "Krylov iteration cap must be at least 1",
            });
        }
        Ok(())
    }
}

/// What [`conjugate_gradient`] reports on success.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CgReport<T> {
    /// Iterations (operator products, not counting the final residual check).
    pub iterations: usize,
    /// The relative residual `‖b − (A + εI)·x‖ / ‖b‖` of the returned `x`,
    /// recomputed from `x` (not the recursively updated one); 0 for `b = 0`.
    pub residual: T,
}

/// Workspace elements [`conjugate_gradient`] needs for a system of `n`
/// unknowns: three vectors.
///
/// ```
/// assert_eq!(ntk::linalg::krylov::cg_workspace_len(10), 30);
/// ```
pub const fn cg_workspace_len(n: usize) -> usize {
    3 * n
}

fn check_shift<T: Real>(shift: T) -> Result<(), Error> {
    if shift.is_finite() && shift >= T::ZERO {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            what: "regulariser must be finite and non-negative",
        })
    }
}

fn check_len(given: usize, needed: usize, what: &'static str) -> Result<(), Error> {
    if given < needed {
        Err(Error::BufferTooSmall { needed, given })
    } else if given > needed {
        Err(Error::InvalidArgument { what })
    } else {
        Ok(())
    }
}

fn check_work(given: usize, needed: Option<usize>) -> Result<(), Error> {
    let needed = needed.ok_or(Error::Overflow {
        what: "workspace size",
    })?;
    if given < needed {
        Err(Error::BufferTooSmall { needed, given })
    } else {
        Ok(())
    }
}

/// `y = (A + shift·I)·x`.
fn apply_shifted<T: Real, A: LinearOperator<T>>(
    op: &mut A,
    shift: T,
    x: &[T],
    y: &mut [T],
) -> Result<(), Error> {
    op.apply(x, y)?;
    if shift != T::ZERO {
        axpy(shift, x, y);
    }
    check_result(y, "operator product")
}

fn norm<T: Real>(x: &[T]) -> T {
    dot(x, x).sqrt()
}

/// Solves `(A + shift·I)·x = b` for a symmetric positive (semi)definite `A`
/// by conjugate gradients from `x = 0`, writing `x`.
///
/// Stops once `‖b − (A + shift·I)·x‖ ≤ tolerance·‖b‖`, with the residual
/// recomputed from `x` when the recursive one says so (one extra product);
/// if the recomputed residual is still above the tolerance (rounding drift),
/// the iteration restarts from it. This is kernel regression at `t = ∞`
/// (`x = (Θ + εI)⁻¹·Y`, then `f(x*) = Θ(x*, X)·x`) and the NNGP posterior
/// mean with an NNGP operator. `work` holds [`cg_workspace_len`]`(n)`
/// elements (more are left untouched).
///
/// # Examples
///
/// ```
/// use ntk::linalg::krylov::{conjugate_gradient, KrylovOptions, SymmetricMatrix};
/// let a = [[1.0_f64, 0.0, 0.0], [0.5, 1.0, 0.0], [0.25, 0.5, 1.0]];
/// let b = [1.0, 0.0, -1.0];
/// let (mut work, mut x) = ([0.0; 9], [0.0; 3]);
/// let opts = KrylovOptions { tolerance: 1e-10, max_iterations: 20 };
/// let r = conjugate_gradient(&mut SymmetricMatrix::new(&a)?, 0.1, &b, opts, &mut work, &mut x)?;
/// // (A + 0.1·I)·x = b
/// let ax0 = 1.1 * x[0] + 0.5 * x[1] + 0.25 * x[2];
/// assert!((ax0 - 1.0).abs() < 1e-9 && r.residual <= 1e-10);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidArgument`] for a tolerance ≤ 0 or non-finite, a zero
/// iteration cap, a negative or non-finite `shift`, or `b`/`x` longer than
/// [`LinearOperator::dim`]; [`Error::BufferTooSmall`] for a shorter `b`,
/// `x` or `work`; [`Error::NonFinite`] for NaN/∞ in `b`;
/// [`Error::NotPositiveDefinite`] (index 0) if a search direction `p` meets
/// `pᵀ(A + shift·I)p ≤ 0`; [`Error::NoConvergence`] when the cap is
/// reached; [`Error::Overflow`] for a non-finite product; any error of the
/// operator. On error `x` is zeroed.
#[must_use = "the solver can fail"]
pub fn conjugate_gradient<T: Real, A: LinearOperator<T>>(
    op: &mut A,
    shift: T,
    b: &[T],
    opts: KrylovOptions<T>,
    work: &mut [T],
    x: &mut [T],
) -> Result<CgReport<T>, Error> {
    zero_on_error(x, |x| {
        opts.validate()?;
        check_shift(shift)?;
        let n = op.dim();
        check_len(b.len(), n, "right-hand side longer than the operator")?;
        check_len(x.len(), n, "solution buffer longer than the operator")?;
        check_work(work.len(), n.checked_mul(3))?;
        check_finite(b, "right-hand side")?;
        x.fill(T::ZERO);
        let b_norm = norm(b);
        check_result(&[b_norm], "right-hand side norm")?;
        if b_norm == T::ZERO {
            return Ok(CgReport {
                iterations: 0,
                residual: T::ZERO,
            });
        }
        let (r, rest) = work.split_at_mut(n);
        let (p, rest) = rest.split_at_mut(n);
        let q = &mut rest[..n];
        r.copy_from_slice(b);
        p.copy_from_slice(b);
        let mut rr = dot(r, r);
        let goal = opts.tolerance * b_norm;
        for it in 1..=opts.max_iterations {
            apply_shifted(op, shift, p, q)?;
            let pq = dot(p, q);
            check_result(&[pq], "conjugate gradient curvature")?;
            if pq <= T::ZERO {
                return Err(Error::NotPositiveDefinite { index: 0 });
            }
            let alpha = rr / pq;
            axpy(alpha, p, x);
            axpy(-alpha, q, r);
            let rr_new = dot(r, r);
            check_result(&[alpha, rr_new], "conjugate gradient residual")?;
            if rr_new.sqrt() <= goal {
                // The true residual b − (A + εI)·x.
                apply_shifted(op, shift, x, q)?;
                for ((ri, bi), qi) in r.iter_mut().zip(b).zip(q.iter()) {
                    *ri = *bi - *qi;
                }
                let true_norm = norm(r);
                if true_norm <= goal {
                    return Ok(CgReport {
                        iterations: it,
                        residual: true_norm / b_norm,
                    });
                }
                // Restart from the true residual.
                p.copy_from_slice(r);
                rr = true_norm * true_norm;
                continue;
            }
            let beta = rr_new / rr;
            for (pi, ri) in p.iter_mut().zip(r.iter()) {
                *pi = beta.mul_add(*pi, *ri);
            }
            rr = rr_new;
        }
        Err(Error::NoConvergence {
            iterations: opts.max_iterations,
        })
    })
}

/// The extreme eigenvalues of a symmetric operator, from [`lanczos_extremes`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Extremes<T> {
    /// The largest eigenvalue `λ_max`.
    pub max: T,
    /// The smallest eigenvalue `λ_min`.
    pub min: T,
    /// Bound on the distance of `max` to an eigenvalue: the Ritz residual
    /// `β_m·|s_m|` (0 when the Krylov space became invariant).
    pub max_error: T,
    /// The same for `min`.
    pub min_error: T,
    /// Lanczos iterations (operator products).
    pub iterations: usize,
}

/// Which end of the spectrum [`lanczos_extremes`] iterates for.
///
/// Lanczos finds the largest eigenvalue of an NTK Gram matrix in a few
/// dozen products; the smallest, in a cluster of tiny eigenvalues, may take
/// more than `N`. Stop on the end you need; the other is reported as far
/// as it got, with its error bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Extreme {
    /// Until `λ_max` has converged (for the largest stable learning rate).
    Largest,
    /// Until `λ_min` has converged.
    Smallest,
    /// Until both have converged.
    Both,
}

/// Vector workspace elements [`lanczos_extremes`] needs for an operator of
/// dimension `n`: three vectors.
///
/// ```
/// assert_eq!(ntk::linalg::krylov::lanczos_workspace_len(10), 30);
/// ```
pub const fn lanczos_workspace_len(n: usize) -> usize {
    3 * n
}

/// Scratch elements [`lanczos_extremes`] needs for an iteration cap of
/// `max_iterations`: five of the tridiagonal matrix's length.
///
/// ```
/// assert_eq!(ntk::linalg::krylov::lanczos_scratch_len(100), 500);
/// ```
pub const fn lanczos_scratch_len(max_iterations: usize) -> usize {
    5 * max_iterations
}

/// The eigenvalues of the Lanczos matrix `T_m` (diagonal `alpha`,
/// off-diagonal `beta`) in `d`, and in `rows` (`width` columns, one row per
/// Lanczos step, set by the caller) the rows multiplied by `Wᵀ`, `W` the
/// eigenvectors of `T_m`: row `i` of `Wᵀ·R` then belongs to eigenvalue `d[i]`.
fn tridiagonal_eigen<T: Real>(
    alpha: &[T],
    beta: &[T],
    d: &mut [T],
    e: &mut [T],
    rows: &mut [T],
    width: usize,
) -> Result<(), Error> {
    let m = alpha.len();
    d[..m].copy_from_slice(alpha);
    e[..m].copy_from_slice(&beta[..m]);
    e[m - 1] = T::ZERO;
    tql(&mut d[..m], &mut e[..m], T::EPSILON, 64, |i, c, s| {
        let (top, rest) = rows.split_at_mut((i + 1) * width);
        let (a, b) = (&mut top[i * width..], &mut rest[..width]);
        for (x, y) in a.iter_mut().zip(b.iter_mut()) {
            let (xv, yv) = (*x, *y);
            *x = c * xv - s * yv;
            *y = s * xv + c * yv;
        }
    })
}

/// One Lanczos step without reorthogonalisation: from `v` and `v_prev`
/// (unit, or zero at the start), writes `w = A·v −
/// β·v_prev − α·v` and returns `(α, ‖w‖)`.
fn lanczos_step<T: Real, A: LinearOperator<T>>(
    op: &mut A,
    v_prev: &[T],
    v: &[T],
    beta_prev: T,
    w: &mut [T],
) -> Result<(T, T), Error> {
    op.apply(v, w)?;
    check_result(w, "operator product")?;
    axpy(-beta_prev, v_prev, w);
    let alpha = dot(v, w);
    axpy(-alpha, v, w);
    let beta = norm(w);
    check_result(&[alpha, beta], "Lanczos coefficients")?;
    Ok((alpha, beta))
}

/// The largest and smallest eigenvalues of a symmetric operator by the
/// Lanczos iteration from `start` (any vector with a component along the
/// wanted eigenvectors; a random one).
///
/// Stops once the Ritz residual `β_m·|s_m|` of the wanted extreme(s)
/// ([`Extreme`]) is at most `tolerance·max(|λ_max|, |λ_min|)`, or the
/// Krylov space is invariant. The residual bounds the distance of the Ritz
/// value to *an* eigenvalue; the largest (smallest) Ritz value is never
/// above (below) `λ_max` (`λ_min`), so a converged extreme is the extreme
/// eigenvalue unless the start vector is nearly orthogonal to its
/// eigenvector.
/// Without reorthogonalisation (three vectors of memory) the extremes still
/// converge; interior copies of them do no harm here. The largest stable
/// learning rate of gradient descent on the NTK is `2·m / λ_max`
/// ([`max_learning_rate`](crate::predict::max_learning_rate)), `m` the
/// operator's dimension N·K. `work` holds [`lanczos_workspace_len`]`(n)`
/// elements, `scratch` [`lanczos_scratch_len`]`(max_iterations)`.
///
/// # Examples
///
/// ```
/// use ntk::linalg::krylov::{lanczos_extremes, Extreme, KrylovOptions, SymmetricMatrix};
/// let a = [[2.0_f64, 0.0, 0.0], [1.0, 2.0, 0.0], [0.0, 1.0, 2.0]]; // 2 − √2, 2, 2 + √2
/// let (mut work, mut scratch) = ([0.0; 9], [0.0; 50]);
/// let opts = KrylovOptions { tolerance: 1e-12, max_iterations: 10 };
/// let mut op = SymmetricMatrix::new(&a)?;
/// let ex = lanczos_extremes(&mut op, Extreme::Both, &[1.0, 0.3, 0.2], opts, &mut work, &mut scratch)?;
/// assert!((ex.max - (2.0 + 2f64.sqrt())).abs() < 1e-12);
/// assert!((ex.min - (2.0 - 2f64.sqrt())).abs() < 1e-12);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidArgument`] for bad options, a zero `start` or one longer
/// than the operator; [`Error::BufferTooSmall`] for a short `start`,
/// `work` or `scratch`; [`Error::NonFinite`] for NaN/∞ in `start`;
/// [`Error::NoConvergence`] at the cap; [`Error::Overflow`] for non-finite
/// products; any error of the operator.
#[must_use = "the solver can fail"]
pub fn lanczos_extremes<T: Real, A: LinearOperator<T>>(
    op: &mut A,
    which: Extreme,
    start: &[T],
    opts: KrylovOptions<T>,
    work: &mut [T],
    scratch: &mut [T],
) -> Result<Extremes<T>, Error> {
    opts.validate()?;
    let n = op.dim();
    check_len(start.len(), n, "start vector longer than the operator")?;
    check_work(work.len(), n.checked_mul(3))?;
    let cap = opts.max_iterations;
    check_work(scratch.len(), cap.checked_mul(5))?;
    check_finite(start, "start vector")?;
    let s_norm = norm(start);
    check_result(&[s_norm], "start vector norm")?;
    if s_norm == T::ZERO {
        return Err(Error::InvalidArgument {
            what: "Lanczos start vector must be nonzero",
        });
    }
    let (v_prev, rest) = work.split_at_mut(n);
    let (v, rest) = rest.split_at_mut(n);
    let w = &mut rest[..n];
    for (vi, si) in v.iter_mut().zip(start) {
        *vi = *si / s_norm;
    }
    v_prev.fill(T::ZERO);
    let (alpha, rest) = scratch.split_at_mut(cap);
    let (beta, rest) = rest.split_at_mut(cap);
    let (d, rest) = rest.split_at_mut(cap);
    let (e, rest) = rest.split_at_mut(cap);
    let z = &mut rest[..cap];
    let mut beta_prev = T::ZERO;
    for m in 1..=cap {
        let (a, b) = lanczos_step(op, v_prev, v, beta_prev, w)?;
        alpha[m - 1] = a;
        beta[m - 1] = b;
        // Eigenvalues of T_m and the last components of its eigenvectors.
        z[..m].fill(T::ZERO);
        z[m - 1] = T::ONE;
        tridiagonal_eigen(&alpha[..m], &beta[..m], d, e, &mut z[..m], 1)?;
        let (mut hi, mut lo) = (0, 0);
        for i in 0..m {
            if d[i] > d[hi] {
                hi = i;
            }
            if d[i] < d[lo] {
                lo = i;
            }
        }
        let scale = d[hi].abs().max(d[lo].abs());
        let (err_hi, err_lo) = (b * z[hi].abs(), b * z[lo].abs());
        // Without reorthogonalisation β does not vanish at m = n in
        // floating point: only the residual bounds decide.
        let invariant = b <= T::EPSILON * scale;
        let (ok_hi, ok_lo) = (
            err_hi <= opts.tolerance * scale,
            err_lo <= opts.tolerance * scale,
        );
        let done = match which {
            Extreme::Largest => ok_hi,
            Extreme::Smallest => ok_lo,
            Extreme::Both => ok_hi && ok_lo,
        };
        if invariant || done {
            let (max_error, min_error) = if invariant {
                (T::ZERO, T::ZERO)
            } else {
                (err_hi, err_lo)
            };
            return Ok(Extremes {
                max: d[hi],
                min: d[lo],
                max_error,
                min_error,
                iterations: m,
            });
        }
        // v_prev ← v, v ← w/β.
        for ((p, vi), wi) in v_prev.iter_mut().zip(v.iter_mut()).zip(w.iter()) {
            *p = *vi;
            *vi = *wi / b;
        }
        beta_prev = b;
    }
    Err(Error::NoConvergence { iterations: cap })
}

/// What [`lanczos_function`] reports on success.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LanczosReport<T> {
    /// Lanczos iterations (operator products).
    pub iterations: usize,
    /// The error estimate `β_m·|e_mᵀ·g(T_m)·e₁| / ‖g(T_m)·e₁‖` at the stop,
    /// relative to the result; 0 when the Krylov space became invariant.
    pub estimate: T,
}

/// Basis elements [`lanczos_function`] needs for an operator of dimension
/// `n` and an iteration cap of `max_iterations`: `max_iterations + 1`
/// vectors.
///
/// ```
/// assert_eq!(ntk::linalg::krylov::lanczos_basis_len(10, 4), 50);
/// ```
pub const fn lanczos_basis_len(n: usize, max_iterations: usize) -> usize {
    n * (max_iterations + 1)
}

/// Scratch elements [`lanczos_function`] needs for an iteration cap of
/// `max_iterations = m`: `m² + 6·m`.
///
/// ```
/// assert_eq!(ntk::linalg::krylov::lanczos_function_scratch_len(10), 160);
/// ```
pub const fn lanczos_function_scratch_len(max_iterations: usize) -> usize {
    max_iterations * max_iterations + 6 * max_iterations
}

/// `out = g(A)·y` for a symmetric operator `A` and a scalar function `g`
/// (given the eigenvalues of `A`), by the Lanczos approximation
/// `‖y‖·V_m·g(T_m)·e₁`, with full reorthogonalisation against the stored
/// basis `V_m`.
///
/// For gradient flow `g(λ) = e^{−τλ}` with `τ = η·t/m` (the conventions of
/// [`predict`](crate::predict)): `f_t(X) = f₀(X) + (I − e^{−τΘ})·(Y − f₀(X))`,
/// and for test points `g(λ) = (1 − e^{−τλ})/λ` gives the weights `w` with
/// `f_t(x) = f₀(x) + Θ(x, X)·w` (see
/// [`predict::flow_weights_krylov`](crate::predict::flow_weights_krylov)).
/// Stops once the estimate `β_m·|e_mᵀ·g(T_m)·e₁| ≤ tolerance·‖g(T_m)·e₁‖`
/// (the standard a-posteriori estimate, which is accurate for the smooth,
/// quickly converging functions above), or the Krylov space is invariant.
/// `basis` holds [`lanczos_basis_len`]`(n, max_iterations)` elements,
/// `scratch` [`lanczos_function_scratch_len`]`(max_iterations)`.
///
/// # Examples
///
/// ```
/// use ntk::linalg::krylov::{lanczos_function, KrylovOptions, SymmetricMatrix};
/// let a = [[1.0_f64, 0.0], [0.0, 3.0]];
/// let (mut basis, mut scratch, mut out) = ([0.0; 2 * 6], [0.0; 25 + 30], [0.0; 2]);
/// let opts = KrylovOptions { tolerance: 1e-12, max_iterations: 5 };
/// let g = |l: f64| (-0.5 * l).exp();
/// lanczos_function(&mut SymmetricMatrix::new(&a)?, g, &[1.0, 2.0], opts, &mut basis, &mut scratch, &mut out)?;
/// assert!((out[0] - (-0.5f64).exp()).abs() < 1e-12 && (out[1] - 2.0 * (-1.5f64).exp()).abs() < 1e-12);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidArgument`] for bad options or `y`/`out` longer than the
/// operator; [`Error::BufferTooSmall`] for a short `y`, `out`, `basis` or
/// `scratch`; [`Error::NonFinite`] for NaN/∞ in `y`;
/// [`Error::NoConvergence`] at the cap; [`Error::Overflow`] if `g` or a
/// product is not finite; any error of the operator. On error `out` is zeroed.
#[must_use = "the solver can fail"]
pub fn lanczos_function<T: Real, A: LinearOperator<T>>(
    op: &mut A,
    g: impl Fn(T) -> T,
    y: &[T],
    opts: KrylovOptions<T>,
    basis: &mut [T],
    scratch: &mut [T],
    out: &mut [T],
) -> Result<LanczosReport<T>, Error> {
    zero_on_error(out, |out| {
        opts.validate()?;
        let n = op.dim();
        let cap = opts.max_iterations;
        check_len(y.len(), n, "vector longer than the operator")?;
        check_len(out.len(), n, "output longer than the operator")?;
        check_work(
            basis.len(),
            cap.checked_add(1).and_then(|c| c.checked_mul(n)),
        )?;
        check_work(
            scratch.len(),
            cap.checked_mul(cap).and_then(|c| c.checked_add(6 * cap)),
        )?;
        check_finite(y, "vector")?;
        let y_norm = norm(y);
        check_result(&[y_norm], "vector norm")?;
        out.fill(T::ZERO);
        if y_norm == T::ZERO || n == 0 {
            return Ok(LanczosReport {
                iterations: 0,
                estimate: T::ZERO,
            });
        }
        let (alpha, rest) = scratch.split_at_mut(cap);
        let (beta, rest) = rest.split_at_mut(cap);
        let (d, rest) = rest.split_at_mut(cap);
        let (e, rest) = rest.split_at_mut(cap);
        let (pair, rest) = rest.split_at_mut(2 * cap);
        let full = &mut rest[..cap * cap];
        for (b, yi) in basis[..n].iter_mut().zip(y) {
            *b = *yi / y_norm;
        }
        let stop = |m: usize, estimate: T| LanczosReport {
            iterations: m,
            estimate,
        };
        let mut report = None;
        for m in 1..=cap {
            let (done, rest) = basis.split_at_mut(m * n);
            let w = &mut rest[..n];
            let v = &done[(m - 1) * n..];
            op.apply(v, w)?;
            check_result(w, "operator product")?;
            let a = dot(v, w);
            // Full reorthogonalisation, twice (classical Gram–Schmidt twice
            // is as stable as modified Gram–Schmidt and vectorises).
            for _ in 0..2 {
                for q in done.chunks_exact(n) {
                    let c = dot(q, w);
                    axpy(-c, q, w);
                }
            }
            let b = norm(w);
            check_result(&[a, b], "Lanczos coefficients")?;
            alpha[m - 1] = a;
            beta[m - 1] = b;
            // g(T_m)·e₁: its last entry for the estimate, its norm.
            let rows = &mut pair[..2 * m];
            rows.fill(T::ZERO);
            rows[0] = T::ONE;
            rows[2 * (m - 1) + 1] = T::ONE;
            tridiagonal_eigen(&alpha[..m], &beta[..m], d, e, rows, 2)?;
            let (mut last, mut sq) = (T::ZERO, T::ZERO);
            for i in 0..m {
                let gi = g(d[i]);
                let c = gi * rows[2 * i];
                last += c * rows[2 * i + 1];
                sq += c * c;
            }
            check_result(&[last, sq], "matrix function")?;
            let g_norm = sq.sqrt();
            let scale = d[..m].iter().fold(T::ZERO, |s, v| s.max(v.abs()));
            let invariant = b <= T::EPSILON * scale || m == n;
            let estimate = if g_norm > T::ZERO {
                b * last.abs() / g_norm
            } else {
                T::ZERO
            };
            if invariant {
                report = Some(stop(m, T::ZERO));
            } else if estimate <= opts.tolerance {
                report = Some(stop(m, estimate));
            }
            if report.is_some() {
                // c = W·g(Λ)·Wᵀ·e₁ from the full eigenvector matrix.
                let z = &mut full[..m * m];
                z.fill(T::ZERO);
                for i in 0..m {
                    z[i * m + i] = T::ONE;
                }
                tridiagonal_eigen(&alpha[..m], &beta[..m], d, e, z, m)?;
                let coef = &mut pair[..m];
                coef.fill(T::ZERO);
                for i in 0..m {
                    let gi = g(d[i]) * z[i * m];
                    axpy(gi, &z[i * m..(i + 1) * m], coef);
                }
                for (j, q) in done.chunks_exact(n).enumerate() {
                    axpy(coef[j] * y_norm, q, out);
                }
                check_result(out, "matrix function product")?;
                break;
            }
            for wi in w.iter_mut() {
                *wi /= b;
            }
        }
        report.ok_or(Error::NoConvergence { iterations: cap })
    })
}
