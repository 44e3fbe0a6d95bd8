//! Public behaviour of `ntk::linalg`: reconstructions, agreement between
//! solvers, online updates, and typed errors on bad input; the refusals of
//! singular kernels (`refusals`) and the error catalogue (`errors`).
#[path = "../common/mod.rs"]
mod common;
mod errors;
mod refusals;

use common::{assert_close, max_abs};
use ntk::linalg::*;
use ntk::Error;
use proptest::prelude::*;

const N: usize = 9;

/// Entries of a random matrix, bounded.
fn entries(n: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-10.0..=10.0_f64, n * n)
}

fn symmetric(v: &[f64]) -> [[f64; N]; N] {
    let mut a = [[0.0; N]; N];
    for i in 0..N {
        for j in 0..=i {
            let x = v[i * N + j];
            a[i][j] = x;
            a[j][i] = x;
        }
    }
    a
}

/// B·Bᵀ + shift·I: symmetric positive definite for shift > 0.
fn spd(v: &[f64], shift: f64) -> [[f64; N]; N] {
    let mut a = [[0.0; N]; N];
    for i in 0..N {
        for j in 0..N {
            a[i][j] = (0..N).map(|p| v[i * N + p] * v[j * N + p]).sum::<f64>();
        }
        a[i][i] += shift;
    }
    a
}

/// Upper triangle filled with garbage: solvers must read the lower one only.
fn poison_upper(a: &[[f64; N]; N]) -> [[f64; N]; N] {
    let mut p = *a;
    for (i, row) in p.iter_mut().enumerate() {
        for v in row[i + 1..].iter_mut() {
            *v = f64::NAN;
        }
    }
    p
}

fn check_eigen(a: &[[f64; N]; N], values: &[f64; N], vectors: &[[f64; N]; N], tol: f64) {
    let scale = max_abs(a.as_flattened()).max(1.0);
    for w in values.windows(2) {
        assert!(w[0] <= w[1], "ascending");
    }
    for i in 0..N {
        for j in 0..N {
            let dot: f64 = (0..N).map(|p| vectors[i][p] * vectors[j][p]).sum();
            assert_close!(dot, if i == j { 1.0 } else { 0.0 }, tol, "orthonormal rows");
            let rec: f64 = (0..N)
                .map(|p| vectors[p][i] * values[p] * vectors[p][j])
                .sum();
            assert_close!(rec, a[i][j], tol * scale, "V·Λ·Vᵀ");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(common::cases(256)))]

    #[test]
    fn cholesky_reconstructs(v in entries(N), shift in 0.1..=10.0_f64) {
        let k = spd(&v, shift);
        let mut l = [[0.0; N]; N];
        cholesky(&poison_upper(&k), Regularizer::None, &mut l).unwrap();
        for i in 0..N {
            for j in 0..N {
                let s: f64 = (0..N).map(|p| l[i][p] * l[j][p]).sum();
                assert_close!(s, k[i][j], 1e-10 * max_abs(k.as_flattened()), "L·Lᵀ");
                if j > i {
                    prop_assert_eq!(l[i][j], 0.0);
                }
            }
        }
        // Solves and the log-determinant agree with the matrix.
        let b: [f64; N] = core::array::from_fn(|i| v[i] + 1.0);
        let mut x = [0.0; N];
        cholesky_solve(&l, &b, &mut x).unwrap();
        for i in 0..N {
            let s: f64 = (0..N).map(|j| k[i][j] * x[j]).sum();
            assert_close!(s, b[i], 1e-8 * max_abs(k.as_flattened()) * (1.0 + max_abs(&x)), "K·x");
        }
        let mut y = [0.0; N];
        solve_lower(&l, &b, &mut y).unwrap();
        let mut z = [0.0; N];
        solve_lower_transpose(&l, &y, &mut z).unwrap();
        for i in 0..N {
            assert_close!(z[i], x[i], 1e-9 * (1.0 + x[i].abs()), "two triangular solves");
        }
        let cols: [[f64; 2]; N] = core::array::from_fn(|i| [b[i], 2.0 * b[i]]);
        let mut xc = [[0.0; 2]; N];
        cholesky_solve_columns(&l, &cols, &mut xc).unwrap();
        let rows: [[f64; N]; 2] = [b, b];
        let mut xr = [[0.0; N]; 2];
        cholesky_solve_rows(&l, &rows, &mut xr).unwrap();
        for i in 0..N {
            assert_close!(xc[i][0], x[i], 1e-9 * (1.0 + x[i].abs()), "columns");
            assert_close!(xc[i][1], 2.0 * x[i], 1e-9 * (1.0 + x[i].abs()), "columns");
            assert_close!(xr[1][i], x[i], 1e-9 * (1.0 + x[i].abs()), "rows");
        }
        let mut values = [0.0; N];
        let mut work = [[0.0; N]; N];
        eigvalsh(&k, EigenOptions::default(), &mut work, &mut values).unwrap();
        let want: f64 = values.iter().map(|v| v.ln()).sum();
        assert_close!(log_det(&l).unwrap(), want, 1e-9 * want.abs().max(1.0), "log det");
    }

    #[test]
    fn eigh_reconstructs(v in entries(N)) {
        let a = symmetric(&v);
        let (mut values, mut vectors) = ([0.0; N], [[0.0; N]; N]);
        eigh(&poison_upper(&a), EigenOptions::default(), &mut values, &mut vectors).unwrap();
        check_eigen(&a, &values, &vectors, 1e-12 * N as f64);
    }

    #[test]
    fn jacobi_reconstructs_and_agrees(v in entries(N)) {
        let a = symmetric(&v);
        let (mut values, mut vectors, mut work) = ([0.0; N], [[0.0; N]; N], [[0.0; N]; N]);
        jacobi_eigh(&poison_upper(&a), EigenOptions::default(), &mut work, &mut values, &mut vectors).unwrap();
        check_eigen(&a, &values, &vectors, 1e-12 * N as f64);
        let (mut ql, mut only) = ([0.0; N], [0.0; N]);
        eigh_tridiagonal_ql(&a, EigenOptions::default(), &mut ql, &mut vectors).unwrap();
        eigvalsh(&a, EigenOptions::default(), &mut work, &mut only).unwrap();
        for i in 0..N {
            assert_close!(values[i], ql[i], 1e-11 * max_abs(a.as_flattened()), "Jacobi vs QL");
            assert_close!(only[i], ql[i], 1e-11 * max_abs(a.as_flattened()), "values only vs QL");
        }
    }

    #[test]
    fn matrix_function_matches_eigenvectors(v in entries(N), rot_len in 3usize..400) {
        let a = symmetric(&v);
        let (mut values, mut vectors) = ([0.0; N], [[0.0; N]; N]);
        eigh(&a, EigenOptions::default(), &mut values, &mut vectors).unwrap();
        let g = |l: f64| (0.3 * l).tanh() + 0.1 * l * l;
        let b: [[f64; 2]; N] = core::array::from_fn(|i| [v[i], 1.0 - v[N + i]]);
        let mut want = [[0.0; 2]; N];
        for i in 0..N {
            for c in 0..2 {
                want[i][c] = (0..N)
                    .map(|j| vectors[j][i] * g(values[j]) * (0..N).map(|p| vectors[j][p] * b[p][c]).sum::<f64>())
                    .sum();
            }
        }
        let (mut out, mut work) = ([[0.0; 2]; N], [[0.0; N]; N]);
        let mut rot = vec![0.0; rot_len];
        matrix_function(&a, EigenOptions::default(), g, &b, &mut work, &mut rot, &mut out).unwrap();
        let scale = want.iter().flatten().fold(1.0, |m: f64, v| m.max(v.abs()));
        for i in 0..N {
            for c in 0..2 {
                assert_close!(out[i][c], want[i][c], 1e-10 * scale, "g(A)·B");
            }
        }
    }

    #[test]
    fn appending_points_equals_factorising(v in entries(N), shift in 0.1..=10.0_f64) {
        let k = spd(&v, shift);
        let mut whole = [[0.0; N]; N];
        cholesky(&k, Regularizer::None, &mut whole).unwrap();
        let mut l = [[0.0; N]; N];
        for n in 0..N {
            cholesky_append(&mut l, n, &k[n][..n], k[n][n]).unwrap();
        }
        let scale = whole.iter().flatten().fold(1.0, |m: f64, v| m.max(v.abs()));
        for i in 0..N {
            for j in 0..N {
                assert_close!(l[i][j], whole[i][j], 1e-10 * scale, "appended factor");
            }
        }
        // Dropping the oldest point factorises the trailing block.
        cholesky_remove_first(&mut l, N).unwrap();
        let mut sub = [[0.0; N]; N];
        for i in 0..N - 1 {
            for j in 0..N - 1 {
                sub[i][j] = k[i + 1][j + 1];
            }
        }
        sub[N - 1][N - 1] = 1.0;
        let mut want = [[0.0; N]; N];
        cholesky(&sub, Regularizer::None, &mut want).unwrap();
        for i in 0..N - 1 {
            for j in 0..N - 1 {
                assert_close!(l[i][j], want[i][j], 1e-9 * scale, "downdated factor");
            }
        }
        prop_assert!(l[N - 1].iter().all(|&x| x == 0.0));
    }

    #[test]
    fn nonfinite_entries_are_rejected(v in entries(N), i in 0..N, j in 0..N, bad in prop::sample::select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY])) {
        let (i, j) = if j > i { (j, i) } else { (i, j) };
        let mut k = spd(&v, 1.0);
        k[i][j] = bad;
        let mut l = [[1.0; N]; N];
        prop_assert_eq!(cholesky(&k, Regularizer::None, &mut l), Err(Error::NonFinite { what: "matrix" }));
        prop_assert!(l.iter().flatten().all(|&x| x == 0.0));
        let (mut values, mut vectors) = ([1.0; N], [[1.0; N]; N]);
        prop_assert_eq!(eigh(&k, EigenOptions::default(), &mut values, &mut vectors), Err(Error::NonFinite { what: "matrix" }));
        prop_assert!(values.iter().chain(vectors.iter().flatten()).all(|&x| x == 0.0));
    }
}

#[test]
fn singular_and_indefinite_matrices_fail_cholesky() {
    let singular = [[1.0_f64, 0.0], [1.0, 1.0]];
    let mut l = [[7.0; 2]; 2];
    assert_eq!(
        cholesky(&singular, Regularizer::None, &mut l),
        Err(Error::NotPositiveDefinite { index: 1 })
    );
    assert_eq!(l, [[0.0; 2]; 2]);
    // A regulariser makes it definite.
    cholesky(&singular, Regularizer::Relative(1e-6), &mut l).unwrap();
    let indefinite = [[1.0_f64, 0.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    let mut l3 = [[0.0; 3]; 3];
    assert_eq!(
        cholesky(&indefinite, Regularizer::None, &mut l3),
        Err(Error::NotPositiveDefinite { index: 1 })
    );
    let negative = [[-1.0_f64]];
    assert_eq!(
        cholesky(&negative, Regularizer::None, &mut [[0.0]]),
        Err(Error::NotPositiveDefinite { index: 0 })
    );
    // Rank-deficient Gram matrix of 3 points in a 2-D space.
    let x = [[1.0_f64, 0.0], [0.0, 1.0], [1.0, 1.0]];
    let mut g = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            g[i][j] = x[i][0] * x[j][0] + x[i][1] * x[j][1];
        }
    }
    assert_eq!(
        cholesky(&g, Regularizer::None, &mut l3),
        Err(Error::NotPositiveDefinite { index: 2 })
    );
    let mut work = [[0.0; 3]; 3];
    assert!(is_positive_semidefinite(&g, 1e-12, &mut work).unwrap());
    assert!(!is_positive_semidefinite(&indefinite, 1e-12, &mut work).unwrap());
    assert!((condition_number(&indefinite, &mut work).unwrap() - 3.0).abs() < 1e-12);
    assert!((min_eigenvalue(&indefinite, &mut work).unwrap() + 1.0).abs() < 1e-12);
    assert!((max_eigenvalue(&indefinite, &mut work).unwrap() - 3.0).abs() < 1e-12);
}

#[test]
fn bad_arguments_are_typed_errors() {
    let k = [[2.0_f64, 0.0], [1.0, 2.0]];
    let mut l = [[0.0; 2]; 2];
    for bad in [-1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            cholesky(&k, Regularizer::Absolute(bad), &mut l),
            Err(Error::InvalidArgument { .. })
        ));
    }
    let (mut values, mut vectors) = ([0.0; 2], [[0.0; 2]; 2]);
    for opts in [
        EigenOptions {
            tolerance: 0.0,
            max_iterations: 10,
        },
        EigenOptions {
            tolerance: f64::NAN,
            max_iterations: 10,
        },
        EigenOptions {
            tolerance: 1e-12,
            max_iterations: 0,
        },
    ] {
        assert!(matches!(
            eigh(&k, opts, &mut values, &mut vectors),
            Err(Error::InvalidArgument { .. })
        ));
    }
    // Solves with a factor that has a zero pivot.
    let bad_l = [[1.0_f64, 0.0], [1.0, 0.0]];
    let mut x = [5.0; 2];
    assert_eq!(
        cholesky_solve(&bad_l, &[1.0, 1.0], &mut x),
        Err(Error::NotPositiveDefinite { index: 1 })
    );
    assert_eq!(x, [0.0; 2]);
    cholesky(&k, Regularizer::None, &mut l).unwrap();
    assert_eq!(
        cholesky_solve(&l, &[f64::NAN, 1.0], &mut x),
        Err(Error::NonFinite {
            what: "right-hand side"
        })
    );
    assert!(matches!(
        matrix_function(
            &k,
            EigenOptions::default(),
            |v| v,
            &[[1.0], [1.0]],
            &mut [[0.0; 2]; 2],
            &mut [0.0; 2],
            &mut [[0.0]; 2]
        ),
        Err(Error::BufferTooSmall {
            needed: 3,
            given: 2
        })
    ));
    // Online updates: full buffer, wrong row length, duplicate point.
    let mut f = [[0.0; 2]; 2];
    cholesky_append(&mut f, 0, &[], 1.0).unwrap();
    assert!(matches!(
        cholesky_append(&mut f, 1, &[1.0, 2.0], 1.0),
        Err(Error::InvalidArgument { .. })
    ));
    assert_eq!(
        cholesky_append(&mut f, 1, &[1.0], 1.0),
        Err(Error::NotPositiveDefinite { index: 1 })
    );
    assert_eq!(f, [[1.0, 0.0], [0.0, 0.0]]);
    assert_eq!(
        cholesky_append(&mut f, 2, &[1.0, 1.0], 1.0),
        Err(Error::BufferTooSmall {
            needed: 3,
            given: 2
        })
    );
    assert!(matches!(
        cholesky_remove_first(&mut f, 0),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn iteration_cap_is_a_typed_error() {
    const M: usize = 12;
    let mut a = [[0.0_f64; M]; M];
    for i in 0..M {
        for j in 0..=i {
            a[i][j] = 1.0 / (1.0 + i as f64 + j as f64) + if i == j { i as f64 } else { 0.0 };
        }
    }
    let (mut values, mut vectors, mut work) = ([0.0; M], [[0.0; M]; M], [[0.0; M]; M]);
    let opts = EigenOptions {
        tolerance: f64::EPSILON,
        max_iterations: 1,
    };
    assert_eq!(
        eigh(&a, opts, &mut values, &mut vectors),
        Err(Error::NoConvergence { iterations: 1 })
    );
    assert!(values
        .iter()
        .chain(vectors.iter().flatten())
        .all(|&x| x == 0.0));
    assert_eq!(
        jacobi_eigh(&a, opts, &mut work, &mut values, &mut vectors),
        Err(Error::NoConvergence { iterations: 1 })
    );
}

#[test]
fn f32_eigendecomposition() {
    let a = [[4.0_f32, 0.0, 0.0], [1.0, 3.0, 0.0], [0.5, 0.25, 2.0]];
    let (mut values, mut vectors) = ([0.0; 3], [[0.0; 3]; 3]);
    eigh(&a, EigenOptions::default(), &mut values, &mut vectors).unwrap();
    let full = |i: usize, j: usize| if j <= i { a[i][j] } else { a[j][i] };
    for i in 0..3 {
        for j in 0..3 {
            let rec: f32 = (0..3)
                .map(|p| vectors[p][i] * values[p] * vectors[p][j])
                .sum();
            assert!((rec - full(i, j)).abs() < 1e-5);
        }
    }
}

/// Removing a point that explains almost all of the next one leaves a
/// trailing pivot far smaller than the removed column's entry (l₁₁ ≪ l₁₀):
/// the rank-one update must still reproduce the trailing block to the
/// working precision (it lost six digits while it divided by c = r/l₁₁).
#[test]
fn removing_a_dominant_point_keeps_the_factor_accurate() {
    let l0 = [[1.0, 0.0, 0.0], [1.0, 1e-6, 0.0], [0.5, 0.3, 1.2]];
    let k: [[f64; 3]; 3] = core::array::from_fn(|i| {
        core::array::from_fn(|j| (0..3).map(|p| l0[i][p] * l0[j][p]).sum())
    });
    let mut l = [[0.0; 3]; 3];
    cholesky(&k, Regularizer::None, &mut l).unwrap();
    cholesky_remove_first(&mut l, 3).unwrap();
    for i in 0..2 {
        for j in 0..=i {
            let llt: f64 = (0..2).map(|p| l[i][p] * l[j][p]).sum();
            assert_close!(llt, k[i + 1][j + 1], 1e-14, "L·Lᵀ of the trailing block");
        }
    }
    assert!(l[2].iter().all(|&x| x == 0.0));
}

/// A zeroed `N × N` matrix on the heap (too large for a test thread's stack
/// at N = 256).
fn boxed<const N: usize>() -> Box<[[f64; N]; N]> {
    match vec![[0.0; N]; N].into_boxed_slice().try_into() {
        Ok(b) => b,
        Err(_) => unreachable!("N rows by construction"),
    }
}

/// `g(A)·Y` through the tridiagonal path ([`matrix_function`], whose rotation
/// log is short enough to be refilled at the larger sizes) against the
/// eigenvectors of cyclic Jacobi, and the eigenvalues of [`eigh`] against
/// Jacobi's, on a random positive definite `A = B·Bᵀ/N + 0.1·I` (spectrum in
/// about [0.1, 4]) and `g(λ) = (1 − e^{−3λ})/λ`, the gradient-flow filter.
/// Both paths are backward stable: the differences stay below a few
/// `N·ε` relative to the largest entry of the result.
fn tridiagonal_path_matches_jacobi<const N: usize>(seed: u64) {
    let mut rng = ntk::Rng::new(seed);
    let mut b = boxed::<N>();
    for row in b.iter_mut() {
        rng.fill_normal(row);
    }
    let mut a = boxed::<N>();
    for i in 0..N {
        for j in 0..=i {
            let s: f64 = b[i].iter().zip(&b[j]).map(|(x, y)| x * y).sum();
            a[i][j] = s / N as f64 + if i == j { 0.1 } else { 0.0 };
        }
    }
    let mut y = [[0.0; 2]; N];
    for row in y.iter_mut() {
        rng.fill_normal(row);
    }
    let g = |l: f64| (1.0 - (-3.0 * l).exp()) / l;
    let (mut work, mut vectors) = (boxed::<N>(), boxed::<N>());
    let mut values = [0.0; N];
    jacobi_eigh(
        &a,
        EigenOptions::default(),
        &mut work,
        &mut values,
        &mut vectors,
    )
    .unwrap();
    let mut want = [[0.0; 2]; N];
    for (v, &l) in vectors.iter().zip(&values) {
        let c: [f64; 2] =
            core::array::from_fn(|k| g(l) * (0..N).map(|i| v[i] * y[i][k]).sum::<f64>());
        for (w, vi) in want.iter_mut().zip(v.iter()) {
            w[0] += vi * c[0];
            w[1] += vi * c[1];
        }
    }
    let mut rot = vec![0.0; 3 * (N * N / 4).max(1)];
    let mut got = [[0.0; 2]; N];
    matrix_function(
        &a,
        EigenOptions::default(),
        g,
        &y,
        &mut work,
        &mut rot,
        &mut got,
    )
    .unwrap();
    let scale = want.iter().flatten().fold(0.0_f64, |m, v| m.max(v.abs()));
    let err = got
        .iter()
        .flatten()
        .zip(want.iter().flatten())
        .fold(0.0_f64, |m, (x, w)| m.max((x - w).abs()));
    assert!(
        err <= 4.0 * N as f64 * f64::EPSILON * scale,
        "N = {N}: {err:e} vs {scale:e}"
    );
    let mut ql_values = [0.0; N];
    eigh(&a, EigenOptions::default(), &mut ql_values, &mut vectors).unwrap();
    for (x, w) in ql_values.iter().zip(&values) {
        assert!(
            (x - w).abs() <= 4.0 * N as f64 * f64::EPSILON * values[N - 1],
            "N = {N}: {x} vs {w}"
        );
    }
}

#[test]
fn tridiagonal_path_matches_jacobi_at_all_sizes() {
    tridiagonal_path_matches_jacobi::<1>(1);
    tridiagonal_path_matches_jacobi::<2>(2);
    tridiagonal_path_matches_jacobi::<3>(3);
    tridiagonal_path_matches_jacobi::<17>(17);
    tridiagonal_path_matches_jacobi::<64>(64);
    tridiagonal_path_matches_jacobi::<256>(256);
}
