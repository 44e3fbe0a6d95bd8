//! The error catalogue of `linalg`: bad matrices, regularisers and
//! eigensolver options, with the exact error and the zeroed outputs. The
//! policy is stated in `tests/common/catalogue.rs`.

use crate::common::catalogue::{flat, judge_rows, Call, Out, INF, NAN, S};
use ntk::linalg::{
    cholesky, cholesky_append, cholesky_solve, eigh, eigvalsh, is_positive_semidefinite,
    jacobi_eigh, log_det, matrix_function, min_eigenvalue, solve_lower, EigenOptions, Regularizer,
};
use ntk::Error;

const PD: [[f64; 3]; 3] = [[4.0, S, S], [2.0, 3.0, S], [0.5, 1.0, 2.0]];
const SINGULAR: [[f64; 3]; 3] = [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
const INDEFINITE: [[f64; 3]; 3] = [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]];

fn chol(k: [[f64; 3]; 3], reg: Regularizer<f64>) -> (Result<(), Error>, Vec<f64>) {
    let mut l = [[S; 3]; 3];
    let r = cholesky(&k, reg, &mut l);
    (r, flat(&l))
}

fn eig(k: [[f64; 3]; 3], opts: EigenOptions<f64>) -> (Result<(), Error>, Vec<f64>) {
    let (mut v, mut w) = ([S; 3], [[S; 3]; 3]);
    let r = eigh(&k, opts, &mut v, &mut w);
    (r, [v.to_vec(), flat(&w)].concat())
}

fn jac(k: [[f64; 3]; 3], opts: EigenOptions<f64>) -> (Result<(), Error>, Vec<f64>) {
    let (mut v, mut w, mut work) = ([S; 3], [[S; 3]; 3], [[0.0; 3]; 3]);
    let r = jacobi_eigh(&k, opts, &mut work, &mut v, &mut w);
    (r, [v.to_vec(), flat(&w)].concat())
}

fn with(mut k: [[f64; 3]; 3], i: usize, j: usize, v: f64) -> [[f64; 3]; 3] {
    k[i][j] = v;
    k
}

/// The default eigensolver options.
const DEF: EigenOptions<f64> = opts(f64::EPSILON, 64);

const fn opts(tolerance: f64, max_iterations: usize) -> EigenOptions<f64> {
    EigenOptions {
        tolerance,
        max_iterations,
    }
}

#[test]
fn linalg_catalogue() {
    let matrix = Error::NonFinite { what: "matrix" };
    let bad_reg = Error::InvalidArgument {
        what: "regulariser must be finite and non-negative",
    };
    let bad_tol = Error::InvalidArgument {
        what: "eigensolver tolerance must be finite and positive",
    };
    // The matrices of duplicate points are singular; the upper triangle is
    // never read (PD holds the sentinel there).
    #[rustfmt::skip]
    let rows: &[(&str, Call, Result<(), Error>, Out)] = &[
        ("cholesky, NaN in the lower triangle",  || chol(with(PD, 2, 1, NAN), Regularizer::None), Err(matrix), Out::Zeroed),
        ("cholesky, −∞ on the diagonal",         || chol(with(PD, 0, 0, -INF), Regularizer::None), Err(matrix), Out::Zeroed),
        ("cholesky, NaN above the diagonal",     || chol(with(PD, 0, 2, NAN), Regularizer::None), Ok(()), Out::Finite),
        ("cholesky, singular (duplicate points)", || chol(SINGULAR, Regularizer::None), Err(Error::NotPositiveDefinite { index: 1 }), Out::Zeroed),
        ("cholesky, singular + 1e-6 relative",   || chol(SINGULAR, Regularizer::Relative(1e-6)), Ok(()), Out::Finite),
        ("cholesky, indefinite",                 || chol(INDEFINITE, Regularizer::None), Err(Error::NotPositiveDefinite { index: 1 }), Out::Zeroed),
        ("cholesky, zero matrix",                || chol([[0.0; 3]; 3], Regularizer::None), Err(Error::NotPositiveDefinite { index: 0 }), Out::Zeroed),
        ("cholesky, zero matrix + 1 absolute",   || chol([[0.0; 3]; 3], Regularizer::Absolute(1.0)), Ok(()), Out::Finite),
        ("cholesky, −0.0 regulariser",           || chol(PD, Regularizer::Absolute(-0.0)), Ok(()), Out::Finite),
        ("cholesky, negative regulariser",       || chol(PD, Regularizer::Absolute(-1.0)), Err(bad_reg), Out::Zeroed),
        ("cholesky, NaN regulariser",            || chol(PD, Regularizer::Relative(NAN)), Err(bad_reg), Out::Zeroed),
        ("cholesky, relative f64::MAX",          || chol(PD, Regularizer::Relative(f64::MAX)), Err(Error::Overflow { what: "regulariser" }), Out::Zeroed),
        ("cholesky, 1e300 entries",              || chol([[1e300, 0.0, 0.0], [5e299, 1e300, 0.0], [0.0, 0.0, 1e300]], Regularizer::None), Ok(()), Out::Finite),
        ("eigh, NaN",                            || eig(with(PD, 1, 0, NAN), DEF), Err(matrix), Out::Zeroed),
        ("eigh, tolerance 0",                    || eig(PD, opts(0.0, 64)), Err(bad_tol), Out::Zeroed),
        ("eigh, tolerance NaN",                  || eig(PD, opts(NAN, 64)), Err(bad_tol), Out::Zeroed),
        ("eigh, no iterations",                  || eig(PD, opts(f64::EPSILON, 0)), Err(Error::InvalidArgument { what: "eigensolver iteration cap must be at least 1" }), Out::Zeroed),
        ("eigh, one iteration",                  || eig(PD, opts(f64::EPSILON, 1)), Err(Error::NoConvergence { iterations: 1 }), Out::Zeroed),
        ("eigh, eigenvalue beyond the range",    || eig([[f64::MAX, 0.0, 0.0], [f64::MAX, f64::MAX, 0.0], [0.0, 0.0, 1.0]], DEF), Err(Error::Overflow { what: "eigenvalues" }), Out::Zeroed),
        ("eigh, singular",                       || eig(SINGULAR, DEF), Ok(()), Out::Finite),
        ("eigh, indefinite",                     || eig(INDEFINITE, DEF), Ok(()), Out::Finite),
        ("eigh, subnormal entries",              || eig([[0.0; 3], [4e-317, 0.0, 0.0], [0.0, 0.0, 0.0]], DEF), Ok(()), Out::Finite),
        ("eigh, 1e300 entries",                  || eig([[-0.0625, 0.0, 0.0], [-1e300, 0.0, 0.0], [-1e300, 0.0, 0.0]], DEF), Ok(()), Out::Finite),
        ("eigh_jacobi, 1e300 entries",           || jac([[-0.0625, 0.0, 0.0], [-1e300, 0.0, 0.0], [-1e300, 0.0, 0.0]], DEF), Ok(()), Out::Finite),
        ("eigh_jacobi, NaN",                     || jac(with(PD, 2, 2, NAN), DEF), Err(matrix), Out::Zeroed),
        ("eigenvalues, +∞",                      || {
            let (mut v, mut w) = ([S; 3], [[0.0; 3]; 3]);
            let r = eigvalsh(&with(PD, 1, 1, INF), DEF, &mut w, &mut v);
            (r, v.to_vec())
        }, Err(matrix), Out::Zeroed),
        ("solve_lower, zero pivot",              || {
            let mut x = [S; 3];
            let r = solve_lower(&[[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], &[1.0; 3], &mut x);
            (r, x.to_vec())
        }, Err(Error::NotPositiveDefinite { index: 1 }), Out::Zeroed),
        ("cholesky_solve, NaN right-hand side",  || {
            let mut x = [S; 3];
            let r = cholesky_solve(&[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], &[1.0, NAN, 0.0], &mut x);
            (r, x.to_vec())
        }, Err(Error::NonFinite { what: "right-hand side" }), Out::Zeroed),
        ("apply_matrix_function, 2 rotations",   || {
            let (mut out, mut w, mut rot) = ([[S; 1]; 3], [[0.0; 3]; 3], [0.0; 2]);
            let r = matrix_function(&PD, DEF, |l| l, &[[1.0]; 3], &mut w, &mut rot, &mut out);
            (r, flat(&out))
        }, Err(Error::BufferTooSmall { needed: 3, given: 2 }), Out::Zeroed),
        ("apply_matrix_function, g = ∞",         || {
            let (mut out, mut w, mut rot) = ([[S; 1]; 3], [[0.0; 3]; 3], [0.0; 30]);
            let r = matrix_function(&PD, DEF, |_| INF, &[[1.0]; 3], &mut w, &mut rot, &mut out);
            (r, flat(&out))
        }, Err(Error::Overflow { what: "matrix function product" }), Out::Zeroed),
    ];
    judge_rows(rows);

    let mut work = [[0.0; 3]; 3];
    assert_eq!(
        is_positive_semidefinite(&PD, -1.0, &mut work),
        Err(Error::InvalidArgument {
            what: "tolerance must be finite and non-negative"
        })
    );
    assert_eq!(
        is_positive_semidefinite(&SINGULAR, 1e-12, &mut work),
        Ok(true)
    );
    assert_eq!(
        is_positive_semidefinite(&INDEFINITE, 1e-12, &mut work),
        Ok(false)
    );
    assert_eq!(
        min_eigenvalue::<f64, 0>(&[], &mut []),
        Err(Error::InvalidArgument {
            what: "matrix must not be empty"
        })
    );
    assert_eq!(
        log_det(&[[1.0, 0.0], [0.0, -1.0]]),
        Err(Error::NotPositiveDefinite { index: 1 })
    );
    // Online updates: a duplicate point is not positive definite; the factor
    // held is unchanged and the new row zero.
    let mut l = [[0.0; 3]; 3];
    cholesky_append(&mut l, 0, &[], 2.0).unwrap();
    let before = l;
    assert_eq!(
        cholesky_append(&mut l, 1, &[2.0], 2.0),
        Err(Error::NotPositiveDefinite { index: 1 })
    );
    assert_eq!(l, before);
    assert_eq!(
        cholesky_append(&mut l, 1, &[NAN], 2.0),
        Err(Error::NonFinite { what: "kernel row" })
    );
    assert_eq!(
        cholesky_append(&mut l, 1, &[1.0, 1.0], 2.0),
        Err(Error::InvalidArgument {
            what: "kernel row length must equal the number of points held"
        })
    );
    assert_eq!(
        cholesky_append(&mut l, 3, &[1.0; 3], 2.0),
        Err(Error::BufferTooSmall {
            needed: 4,
            given: 3
        })
    );
}
