//! Symmetric eigensolvers: Householder tridiagonalisation with implicit QL,
//! and cyclic Jacobi; spectrum-only helpers, `g(A)·B` without eigenvectors,
//! and the [`Spectrum`] of a regularised kernel.
//!
//! Every eigensolver runs in one frame ([`decompose`]): validate the options
//! and the matrix, copy it scaled by a power of two, run the algorithm on the
//! copy, undo the scaling, sort ascending.

mod function;
mod jacobi;
mod spectrum;
mod tridiagonal;
mod values;

pub(crate) use function::apply_matrix_function_checked;
pub use function::matrix_function;
pub use spectrum::Spectrum;
pub use values::{
    condition_number, eigvalsh, is_positive_semidefinite, max_eigenvalue, min_eigenvalue,
};
#[allow(deprecated)]
pub use {function::apply_matrix_function, values::eigenvalues};

use super::check_lower_finite;
use crate::outputs::zero_on_error;
use crate::simd::check_result;
use crate::{Error, Real};
pub(super) use tridiagonal::tql;
use tridiagonal::{form_qt, rotate_rows, tridiagonalize};

/// Convergence controls of the eigensolvers: an explicit tolerance and a
/// finite iteration cap.
///
/// * Tridiagonal QL: an off-diagonal entry `eᵢ` of the tridiagonal matrix is
///   taken as zero once `|eᵢ| ≤ tolerance·(|dᵢ| + |dᵢ₊₁|)`; at most
///   `max_iterations` QL iterations are spent on each eigenvalue.
/// * Jacobi: an entry `a_pq` is not rotated once `|a_pq| ≤ tolerance·√|a_pp·a_qq|`
///   (plus `tolerance²·N·max|aᵢⱼ|`, so that exact zero eigenvalues terminate); at most
///   `max_iterations` sweeps over all pairs.
///
/// The default is `tolerance = T::EPSILON`, `max_iterations = 64` (QL needs
/// 1–2 iterations per eigenvalue, Jacobi 6–10 sweeps in practice).
///
/// # Examples
///
/// ```
/// use ntk::linalg::EigenOptions;
/// let o = EigenOptions::<f64>::default();
/// assert_eq!(o.tolerance, f64::EPSILON);
/// let loose = EigenOptions { tolerance: 1e-10_f64, max_iterations: 20 };
/// assert!(loose.tolerance > o.tolerance);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EigenOptions<T> {
    /// Relative size below which an off-diagonal entry counts as zero; finite and > 0.
    pub tolerance: T,
    /// Iteration cap: QL iterations per eigenvalue, or Jacobi sweeps; ≥ 1.
    pub max_iterations: usize,
}

impl<T: Real> Default for EigenOptions<T> {
    fn default() -> Self {
        Self {
            tolerance: T::EPSILON,
            max_iterations: 64,
        }
    }
}

impl<T: Real> EigenOptions<T> {
    fn validate(&self) -> Result<(), Error> {
        if !(self.tolerance.is_finite() && self.tolerance > T::ZERO) {
            return Err(Error::InvalidArgument {
                what: "eigensolver tolerance must be finite and positive",
            });
        }
        if self.max_iterations == 0 {
            return Err(Error::InvalidArgument {
                what: "eigensolver iteration cap must be at least 1",
            });
        }
        Ok(())
    }
}

/// Which algorithm a symmetric eigendecomposition uses.
///
/// [`eigh`] uses [`EigenMethod::DEFAULT`], the faster one on the benchmarks
/// of `benches/linalg.rs` (f64, ReLU kernel matrices, eigenvalues and
/// eigenvectors): tridiagonal + QL 0.14 ms against Jacobi 1.27 ms at N = 64,
/// 5.3 ms against 510 ms at N = 256.
///
/// # Examples
///
/// ```
/// assert_eq!(ntk::linalg::EigenMethod::DEFAULT, ntk::linalg::EigenMethod::TridiagonalQl);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EigenMethod {
    /// Householder tridiagonalisation, then implicit QL with Wilkinson-type shifts: [`eigh_tridiagonal_ql`].
    TridiagonalQl,
    /// Cyclic Jacobi rotations on the full matrix: [`jacobi_eigh`].
    Jacobi,
}

impl EigenMethod {
    /// The method of [`eigh`].
    pub const DEFAULT: EigenMethod = EigenMethod::TridiagonalQl;
}

/// A power of two (exact to apply) that brings `big` to about 1; 1 for 0 or
/// a non-finite `big`.
pub(super) fn pow2_scale<T: Real>(big: T) -> T {
    if big > T::ZERO && big.is_finite() {
        // 2^−k must stay finite when `big` is subnormal (log₂ MAX rounds
        // to the first power of two beyond the range).
        let top = (T::MAX.ln() / T::TWO.ln()).to_f64() as i32 - 1;
        let k = ((big.ln() / T::TWO.ln()).to_f64() as i32).max(-top);
        T::TWO.powi(-k)
    } else {
        T::ONE
    }
}

/// Copies the lower triangle of `a` into `w` (upper triangle zeroed), scaled
/// by a power of two so that its largest entry is about 1, and returns the
/// factor that undoes the scaling: near either end of the floating-point
/// range the reflections would overflow or underflow and yield a wrong
/// decomposition.
pub(super) fn copy_lower_scaled<T: Real, const N: usize>(
    a: &[[T; N]; N],
    w: &mut [[T; N]; N],
) -> T {
    let big = a
        .iter()
        .enumerate()
        .flat_map(|(i, row)| &row[..=i])
        .fold(T::ZERO, |m, v| m.max(v.abs()));
    let scale = pow2_scale(big);
    for (i, (dst, src)) in w.iter_mut().zip(a).enumerate() {
        for (d, &v) in dst[..=i].iter_mut().zip(&src[..=i]) {
            *d = v * scale;
        }
        dst[i + 1..].fill(T::ZERO);
    }
    T::ONE / scale
}

/// Sorts `values` ascending, permuting the rows of `vectors` alike.
fn sort_ascending<T: Real, const N: usize>(
    values: &mut [T; N],
    mut vectors: Option<&mut [[T; N]; N]>,
) {
    for i in 0..N {
        let mut k = i;
        for j in i + 1..N {
            if values[j] < values[k] {
                k = j;
            }
        }
        if k != i {
            values.swap(i, k);
            if let Some(v) = vectors.as_deref_mut() {
                v.swap(i, k);
            }
        }
    }
}

/// Where an eigensolver leaves its eigenvectors (as rows), to be sorted
/// along with the eigenvalues.
pub(super) enum Vectors<'a, T, const N: usize> {
    /// Eigenvalues only.
    None,
    /// In the scaled working copy itself.
    InWork,
    /// In a separate matrix.
    In(&'a mut [[T; N]; N]),
}

/// The frame of every eigensolver: validates the options and the lower
/// triangle of `a`, copies it into `w` scaled by a power of two
/// ([`copy_lower_scaled`]), runs `solve` on the copy (writing the unsorted
/// eigenvalues of the scaled matrix into `values`, and the eigenvectors
/// where `vectors` says), undoes the scaling and sorts ascending.
pub(super) fn decompose<T: Real, const N: usize>(
    a: &[[T; N]; N],
    opts: &EigenOptions<T>,
    values: &mut [T; N],
    w: &mut [[T; N]; N],
    mut vectors: Vectors<'_, T, N>,
    solve: impl FnOnce(&mut [[T; N]; N], &mut [T; N], Option<&mut [[T; N]; N]>) -> Result<(), Error>,
) -> Result<(), Error> {
    opts.validate()?;
    check_lower_finite(a, "matrix")?;
    let unscale = copy_lower_scaled(a, w);
    let separate = match &mut vectors {
        Vectors::In(v) => Some(&mut **v),
        _ => None,
    };
    solve(w, values, separate)?;
    for v in values.iter_mut() {
        *v *= unscale;
    }
    match vectors {
        Vectors::None => sort_ascending(values, None),
        Vectors::InWork => sort_ascending(values, Some(w)),
        Vectors::In(v) => sort_ascending(values, Some(v)),
    }
    Ok(())
}

/// Runs `f` on the two outputs of an eigendecomposition, checks them
/// finite; zeros both on error.
fn eigen_outputs<T: Real, const N: usize>(
    values: &mut [T; N],
    vectors: &mut [[T; N]; N],
    f: impl FnOnce(&mut [T; N], &mut [[T; N]; N]) -> Result<(), Error>,
) -> Result<(), Error> {
    zero_on_error(&mut (values, vectors), |(values, vectors)| {
        let (values, vectors) = (&mut **values, &mut **vectors);
        f(values, vectors)?;
        check_result(values, "eigenvalues")?;
        for row in vectors.iter() {
            check_result(row, "eigenvectors")?;
        }
        Ok(())
    })
}

/// Symmetric eigendecomposition `A = V·Λ·Vᵀ` by the default method
/// ([`EigenMethod::DEFAULT`], tridiagonal + QL), reading the lower triangle of `a`.
///
/// `values` receives the eigenvalues in ascending order; **row** `j` of
/// `vectors` is the unit eigenvector of `values[j]` (so `vectors` holds `Vᵀ`).
/// No workspace beyond the outputs is needed.
///
/// # Examples
///
/// ```
/// use ntk::linalg::{eigh, EigenOptions};
/// let a = [[2.0_f64, 0.0], [1.0, 2.0]]; // [[2, 1], [1, 2]]
/// let (mut values, mut vectors) = ([0.0; 2], [[0.0; 2]; 2]);
/// eigh(&a, EigenOptions::default(), &mut values, &mut vectors)?;
/// assert!((values[0] - 1.0).abs() < 1e-12 && (values[1] - 3.0).abs() < 1e-12);
/// let v = vectors[1]; // eigenvector of 3: ±(1, 1)/√2
/// assert!((v[0] - v[1]).abs() < 1e-12 && (v[0].abs() - 0.5_f64.sqrt()).abs() < 1e-12);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::NonFinite`] for NaN/∞ in the lower triangle,
/// [`Error::InvalidArgument`] for bad options, [`Error::NoConvergence`] when
/// the iteration cap is hit, [`Error::Overflow`] if the result is not finite.
/// On error both outputs are filled with zeros.
#[must_use = "the eigensolver can fail"]
pub fn eigh<T: Real, const N: usize>(
    a: &[[T; N]; N],
    opts: EigenOptions<T>,
    values: &mut [T; N],
    vectors: &mut [[T; N]; N],
) -> Result<(), Error> {
    eigh_tridiagonal_ql(a, opts, values, vectors)
}

/// Symmetric eigendecomposition by Householder tridiagonalisation, explicit
/// `Qᵀ`, and implicit QL with the rotations applied to the rows of `Qᵀ`
/// (about 9N³ flops, all in contiguous row operations).
///
/// Outputs as [`eigh`].
///
/// # Examples
///
/// ```
/// use ntk::linalg::{eigh_tridiagonal_ql, EigenOptions};
/// let a = [[1.0_f64, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, -1.0]];
/// let (mut values, mut vectors) = ([0.0; 3], [[0.0; 3]; 3]);
/// eigh_tridiagonal_ql(&a, EigenOptions::default(), &mut values, &mut vectors)?;
/// assert_eq!(values, [-1.0, 1.0, 2.0]);
/// assert_eq!(vectors[0][2].abs(), 1.0);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// As [`eigh`].
#[must_use = "the eigensolver can fail"]
pub fn eigh_tridiagonal_ql<T: Real, const N: usize>(
    a: &[[T; N]; N],
    opts: EigenOptions<T>,
    values: &mut [T; N],
    vectors: &mut [[T; N]; N],
) -> Result<(), Error> {
    eigen_outputs(values, vectors, |values, vectors| {
        decompose(
            a,
            &opts,
            values,
            vectors,
            Vectors::InWork,
            |w, values, _| {
                let mut e = [T::ZERO; N];
                tridiagonalize(w, values, &mut e);
                form_qt(w);
                tql(
                    values,
                    &mut e,
                    opts.tolerance,
                    opts.max_iterations,
                    |i, c, s| rotate_rows(w, i, c, s),
                )
            },
        )
    })
}

/// Symmetric eigendecomposition by cyclic Jacobi rotations; `work` is an
/// `N × N` scratch matrix (the rotated copy of `a`). Slower than
/// [`eigh_tridiagonal_ql`] (see [`EigenMethod`]) but with small relative
/// errors in tiny eigenvalues of well-scaled positive definite matrices.
///
/// Outputs as [`eigh`].
///
/// # Examples
///
/// ```
/// use ntk::linalg::{jacobi_eigh, EigenOptions};
/// let a = [[2.0_f64, 0.0], [1.0, 2.0]];
/// let (mut work, mut values, mut vectors) = ([[0.0; 2]; 2], [0.0; 2], [[0.0; 2]; 2]);
/// jacobi_eigh(&a, EigenOptions::default(), &mut work, &mut values, &mut vectors)?;
/// assert!((values[0] - 1.0).abs() < 1e-12 && (values[1] - 3.0).abs() < 1e-12);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// As [`eigh`]; the iteration cap counts sweeps.
#[must_use = "the eigensolver can fail"]
pub fn jacobi_eigh<T: Real, const N: usize>(
    a: &[[T; N]; N],
    opts: EigenOptions<T>,
    work: &mut [[T; N]; N],
    values: &mut [T; N],
    vectors: &mut [[T; N]; N],
) -> Result<(), Error> {
    eigen_outputs(values, vectors, |values, vectors| {
        decompose(
            a,
            &opts,
            values,
            work,
            Vectors::In(vectors),
            |w, values, vectors| match vectors {
                Some(vectors) => jacobi::rotate(w, values, vectors, &opts),
                None => Ok(()),
            },
        )
    })
}

/// The former form of [`jacobi_eigh`], with the outputs before the workspace.
///
/// # Errors
///
/// As [`jacobi_eigh`].
#[deprecated(
    since = "0.2.0",
    note = "use `jacobi_eigh`, which takes `work` before `values` and `vectors`"
)]
#[must_use = "the eigensolver can fail"]
pub fn eigh_jacobi<T: Real, const N: usize>(
    a: &[[T; N]; N],
    opts: EigenOptions<T>,
    values: &mut [T; N],
    vectors: &mut [[T; N]; N],
    work: &mut [[T; N]; N],
) -> Result<(), Error> {
    jacobi_eigh(a, opts, work, values, vectors)
}
