//! Singular kernels are refused by every route that inverts them, with one
//! rank decision (smallest pivot or eigenvalue against `N·ε·‖K‖`): the
//! Cholesky factor, `cholesky_append`, the spectrum at `t = ∞`, the
//! eigenvector-free path at `t = ∞` and the ensemble at `t = ∞`. Well
//! conditioned kernels pass every route and agree with an independent
//! Gaussian elimination; numbers returned are finite or refused.

use crate::common::max_abs;
use ntk::linalg::{cholesky, cholesky_append, condition_number, log_det, Regularizer};
use ntk::predict::{
    Ensemble, Factor, GradientDescentMse, NngpKernels, OnlineGp, Scratch, Spectrum,
};
use ntk::Error;
use proptest::prelude::*;

/// `K = X·Xᵀ + c` for points `x` in 2-D: rank at most 3.
fn gram_plus_constant<const N: usize>(x: &[[f64; 2]; N], c: f64) -> [[f64; N]; N] {
    core::array::from_fn(|i| core::array::from_fn(|j| x[i][0] * x[j][0] + x[i][1] * x[j][1] + c))
}

/// Solves `A·X = B` by Gaussian elimination with partial pivoting (the
/// oracle; `a` is the full symmetric matrix).
fn solve_oracle<const N: usize, const K: usize>(
    a: &[[f64; N]; N],
    b: &[[f64; K]; N],
) -> [[f64; K]; N] {
    let (mut a, mut b) = (*a, *b);
    for c in 0..N {
        let p = (c..N)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap();
        a.swap(c, p);
        b.swap(c, p);
        for r in c + 1..N {
            let f = a[r][c] / a[c][c];
            for k in c..N {
                a[r][k] -= f * a[c][k];
            }
            for k in 0..K {
                b[r][k] -= f * b[c][k];
            }
        }
    }
    let mut x = [[0.0; K]; N];
    for r in (0..N).rev() {
        for k in 0..K {
            let s: f64 = (r + 1..N).map(|j| a[r][j] * x[j][k]).sum();
            x[r][k] = (b[r][k] - s) / a[r][r];
        }
    }
    x
}

/// What each route makes of `k` at `t = ∞`: the Cholesky factor, the
/// spectrum's test outputs, the eigenvector-free test outputs, the online
/// factor (points pushed one by one), and the three ensemble outputs.
struct Routes<const N: usize> {
    factor: Result<(), Error>,
    append: Result<(), Error>,
    online: Result<(), Error>,
    spectrum: Result<[[f64; 1]; 1], Error>,
    direct: Result<[[f64; 1]; 1], Error>,
    cholesky_out: Option<[[f64; 1]; 1]>,
    ensemble_mean: Result<(), Error>,
    nngp_covariance: Result<(), Error>,
    ntk_covariance: Result<(), Error>,
}

fn routes<const N: usize>(
    k: &[[f64; N]; N],
    k_test: &[[f64; N]; 1],
    y: &[[f64; 1]; N],
) -> Routes<N> {
    let gd = GradientDescentMse::new(y, 1.0).unwrap();
    let mut factor = Factor::new();
    let rf = gd.factor(k, &mut factor);
    let cholesky_out = rf.ok().map(|()| {
        let mut o = [[0.0; 1]; 1];
        gd.test_outputs_at_infinity(&factor, k_test, None, &mut o)
            .expect("t = ∞ from a factor");
        o
    });
    if rf.is_err() {
        assert!(
            factor.l().iter().flatten().all(|&v| v == 0.0),
            "factor not zeroed"
        );
    }

    let mut l = [[0.0; N]; N];
    let append = (0..N).try_for_each(|n| cholesky_append(&mut l, n, &k[n][..n], k[n][n]));
    let mut gp = OnlineGp::<f64, N>::new(0.0);
    let online = (0..N).try_for_each(|n| gp.push(&k[n][..n], k[n][n], y[n]));

    let mut s = Spectrum::new();
    gd.spectrum(k, &mut s).expect("spectrum of a finite kernel");
    let mut o = [[7.0; 1]; 1];
    let spectrum = gd
        .test_outputs(&s, k_test, None, f64::INFINITY, &mut o)
        .map(|()| o);
    if spectrum.is_err() {
        assert_eq!(o, [[0.0]], "output not zeroed");
    }

    let (mut work, mut rot) = ([[0.0; N]; N], vec![0.0; 3 * N * N]);
    let mut o = [[7.0; 1]; 1];
    let direct = gd
        .direct_test_outputs(
            k,
            k_test,
            None,
            f64::INFINITY,
            Scratch {
                matrix: &mut work,
                rotations: &mut rot,
            },
            &mut o,
        )
        .map(|()| o);
    if direct.is_err() {
        assert_eq!(o, [[0.0]], "output not zeroed");
    }

    let ens = Ensemble::new(y, 1.0).unwrap();
    let mut mean = [[7.0; 1]; 1];
    let ensemble_mean = ens.mean(&s, k_test, f64::INFINITY, &mut mean);
    let (mut cov, mut w) = ([[7.0; 1]; 1], [[0.0; N]; 1]);
    let k_tt = [[k_test[0][0] + 1.0]];
    let nngp_covariance = ens.covariance_nngp(&s, k_test, &k_tt, f64::INFINITY, &mut w, &mut cov);
    if nngp_covariance.is_err() {
        assert_eq!(cov, [[0.0]], "covariance not zeroed");
    }
    let kernels = NngpKernels {
        train_train: k,
        test_train: k_test,
        test_test: &k_tt,
    };
    let mut cov2 = [[7.0; 1]; 1];
    let ntk_covariance = ens.covariance_ntk(&s, k_test, kernels, f64::INFINITY, &mut w, &mut cov2);
    if ntk_covariance.is_err() {
        assert_eq!(cov2, [[0.0]], "covariance not zeroed");
    }
    Routes {
        factor: rf,
        append,
        online,
        spectrum,
        direct,
        cholesky_out,
        ensemble_mean,
        nngp_covariance,
        ntk_covariance,
    }
}

fn assert_all_refuse<const N: usize>(r: &Routes<N>, what: &str) {
    let npd = |e: &Result<(), Error>| matches!(e, Err(Error::NotPositiveDefinite { .. }));
    assert!(npd(&r.factor), "{what}: Cholesky gave {:?}", r.factor);
    assert!(
        npd(&r.append),
        "{what}: cholesky_append gave {:?}",
        r.append
    );
    assert!(npd(&r.online), "{what}: OnlineGp::push gave {:?}", r.online);
    assert_eq!(
        r.spectrum,
        Err(Error::NotPositiveDefinite { index: 0 }),
        "{what}: spectrum"
    );
    assert_eq!(
        r.direct,
        Err(Error::NotPositiveDefinite { index: 0 }),
        "{what}: direct"
    );
    assert_eq!(
        r.ensemble_mean,
        Err(Error::NotPositiveDefinite { index: 0 }),
        "{what}: ensemble mean"
    );
    assert_eq!(
        r.nngp_covariance,
        Err(Error::NotPositiveDefinite { index: 0 }),
        "{what}: NNGP covariance"
    );
    assert_eq!(
        r.ntk_covariance,
        Err(Error::NotPositiveDefinite { index: 0 }),
        "{what}: NTK covariance"
    );
}

#[test]
fn gram_plus_constant_of_four_points_in_2d_is_refused_by_every_route() {
    // Rank 3 (two coordinates and the constant) in a 4 × 4 matrix.
    let x = [[1.0, 0.5], [-0.5, 1.0], [2.0, -1.0], [0.25, 0.75]];
    let k = gram_plus_constant(&x, 0.1);
    // k(x, X) of the test point (0.3, −0.2).
    let kt = [core::array::from_fn(|j| {
        0.3 * x[j][0] - 0.2 * x[j][1] + 0.1
    })];
    let y = [[1.0], [-1.0], [0.5], [0.25]];
    let r = routes(&k, &kt, &y);
    assert_all_refuse(&r, "X·Xᵀ + 0.1");
    // Also the plain factorisation, without a regulariser.
    let mut l = [[0.0; 4]; 4];
    assert!(matches!(
        cholesky(&k, Regularizer::None, &mut l),
        Err(Error::NotPositiveDefinite { .. })
    ));
}

#[test]
fn train_outputs_at_infinity_of_a_singular_kernel_are_the_projection_on_its_range() {
    // The range of X·Xᵀ + c·11ᵀ is the span of the columns of A = [X, 1];
    // the oracle projects with the normal equations (AᵀA)⁻¹Aᵀ.
    let x = [
        [1.0, 0.5],
        [-0.5, 1.0],
        [2.0, -1.0],
        [0.25, 0.75],
        [1.5, 1.0],
    ];
    let k = gram_plus_constant(&x, 0.1);
    let y = [[1.0], [-1.0], [0.5], [0.25], [2.0]];
    let a: [[f64; 3]; 5] = core::array::from_fn(|i| [x[i][0], x[i][1], 1.0]);
    let ata: [[f64; 3]; 3] =
        core::array::from_fn(|p| core::array::from_fn(|q| (0..5).map(|i| a[i][p] * a[i][q]).sum()));
    let aty: [[f64; 1]; 3] = core::array::from_fn(|p| [(0..5).map(|i| a[i][p] * y[i][0]).sum()]);
    let coef = solve_oracle(&ata, &aty);
    let want: [f64; 5] = core::array::from_fn(|i| (0..3).map(|p| a[i][p] * coef[p][0]).sum());

    let gd = GradientDescentMse::new(&y, 1.0).unwrap();
    let mut s = Spectrum::new();
    gd.spectrum(&k, &mut s).unwrap();
    let mut f = [[0.0; 1]; 5];
    gd.train_outputs(&s, f64::INFINITY, &mut f).unwrap();
    for i in 0..5 {
        assert!(
            (f[i][0] - want[i]).abs() < 1e-12,
            "{i}: {} vs {}",
            f[i][0],
            want[i]
        );
    }
}

/// `H·diag(λ)·H` with the symmetric orthogonal `H = I − ½·11ᵀ` (entries ±½,
/// so every entry is exact for dyadic `λ`), and its inverse `H·diag(1/λ)·H`.
fn reflected(lambda: [f64; 4]) -> ([[f64; 4]; 4], [[f64; 4]; 4]) {
    let h = |i: usize, j: usize| if i == j { 0.5 } else { -0.5 };
    let m = |f: &dyn Fn(f64) -> f64| -> [[f64; 4]; 4] {
        core::array::from_fn(|i| {
            core::array::from_fn(|j| (0..4).map(|p| h(i, p) * f(lambda[p]) * h(p, j)).sum())
        })
    };
    (m(&|l| l), m(&|l| 1.0 / l))
}

#[test]
fn smallest_eigenvalue_decides_on_either_side_of_the_tolerance() {
    let y = [[1.0], [-2.0], [0.5], [3.0]];
    let kt = [[0.5, -0.25, 1.0, 0.125]];
    // Well above N·ε·‖K‖ (about 1e-15 here): every route, and the closed form.
    for small in [1.0 / 64.0, 1.0 / 1024.0, 1.0 / 1048576.0] {
        let (k, inv) = reflected([1.0, 2.0, 0.5, small]);
        let w: [f64; 4] = core::array::from_fn(|i| (0..4).map(|j| inv[i][j] * y[j][0]).sum());
        let want: f64 = (0..4).map(|j| kt[0][j] * w[j]).sum();
        let r = routes(&k, &kt, &y);
        assert_eq!((r.factor, r.append, r.online), (Ok(()), Ok(()), Ok(())));
        assert_eq!(
            (r.ensemble_mean, r.nngp_covariance, r.ntk_covariance),
            (Ok(()), Ok(()), Ok(()))
        );
        let cond = 2.0 / small;
        for (name, got) in [
            ("Cholesky", r.cholesky_out.unwrap()[0][0]),
            ("spectrum", r.spectrum.unwrap()[0][0]),
            ("direct", r.direct.unwrap()[0][0]),
        ] {
            let tol = 64.0 * f64::EPSILON * cond * want.abs().max(1.0);
            assert!(
                (got - want).abs() <= tol,
                "{name}: {got} vs {want} (λ {small})"
            );
        }
    }
    // Zero, below the tolerance, and negative: refused everywhere.
    for small in [0.0, 1e-17, 2.0_f64.powi(-60), -1.0 / 1024.0] {
        let (k, _) = reflected([1.0, 2.0, 0.5, small]);
        assert_all_refuse(&routes(&k, &kt, &y), &format!("λ_min = {small:e}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::common::cases(256)))]

    /// Five points in 2-D plus a constant: rank 3 of 5, refused everywhere.
    #[test]
    fn rank_deficient_gram_matrices_are_refused_by_every_route(
        x in prop::array::uniform5(prop::array::uniform2(-2.0..=2.0_f64)),
        c in prop::sample::select(vec![0.0, 0.1, 1.0, 3.0]),
        scale in prop::sample::select(vec![1e-200, 1e-3, 1.0, 1e3, 1e150]),
        y in prop::array::uniform5(prop::array::uniform1(-3.0..=3.0_f64)),
    ) {
        let k = gram_plus_constant(&x, c).map(|r| r.map(|v| v * scale));
        let kt = [k[0].map(|v| 0.5 * v)];
        assert_all_refuse(&routes(&k, &kt, &y), "rank 3 of 5");
    }

    /// The same points with a ridge of at least 10⁻⁶ relative: accepted by
    /// every route, and the three `t = ∞` outputs equal the oracle's solve.
    #[test]
    fn regularised_gram_matrices_pass_every_route_and_match_an_independent_solve(
        x in prop::array::uniform5(prop::array::uniform2(-2.0..=2.0_f64)),
        c in prop::sample::select(vec![0.0, 0.1, 1.0]),
        ridge in prop::sample::select(vec![1e-6, 1e-3, 1.0]),
        y in prop::array::uniform5(prop::array::uniform1(-3.0..=3.0_f64)),
        t in prop::array::uniform5(-2.0..=2.0_f64),
    ) {
        let mut k = gram_plus_constant(&x, c);
        let top = max_abs(k.as_flattened()).max(1e-3);
        for (i, row) in k.iter_mut().enumerate() {
            row[i] += ridge * top;
        }
        let kt = [t];
        let w = solve_oracle(&k, &y);
        let want: f64 = (0..5).map(|j| kt[0][j] * w[j][0]).sum();
        let scale: f64 = (0..5).map(|j| (kt[0][j] * w[j][0]).abs()).sum();
        let r = routes(&k, &kt, &y);
        prop_assert_eq!((r.factor, r.append, r.online), (Ok(()), Ok(()), Ok(())));
        let tol = 1e3 * f64::EPSILON / ridge * scale.max(1.0);
        for (name, got) in [
            ("Cholesky", r.cholesky_out.unwrap()[0][0]),
            ("spectrum", r.spectrum.unwrap()[0][0]),
            ("direct", r.direct.unwrap()[0][0]),
        ] {
            prop_assert!((got - want).abs() <= tol, "{}: {} vs {} (tol {})", name, got, want, tol);
        }
    }
}

#[test]
fn cholesky_append_past_usize_max_is_a_typed_error() {
    let mut l = [[0.0; 2]; 2];
    assert!(matches!(
        cholesky_append(&mut l, usize::MAX, &[], 1.0),
        Err(Error::InvalidArgument { .. })
    ));
    assert_eq!(l, [[0.0; 2]; 2]);
    assert_eq!(
        cholesky_append(&mut l, 2, &[1.0, 1.0], 1.0),
        Err(Error::BufferTooSmall {
            needed: 3,
            given: 2
        })
    );
}

#[test]
fn condition_number_of_a_singular_matrix_is_refused_not_infinite() {
    let mut work = [[0.0; 2]; 2];
    assert_eq!(
        condition_number(&[[1.0, 0.0], [0.0, 0.0]], &mut work),
        Err(Error::Overflow {
            what: "condition number"
        })
    );
    // Finite but beyond the range: 1e300 / 1e-300.
    assert_eq!(
        condition_number(&[[1e300, 0.0], [0.0, 1e-300]], &mut work),
        Err(Error::Overflow {
            what: "condition number"
        })
    );
    // In range: |λ|max / |λ|min of a diagonal matrix.
    assert_eq!(
        condition_number(&[[-4.0, 0.0], [0.0, 0.5]], &mut work),
        Ok(8.0)
    );
}

#[test]
fn log_det_of_a_valid_factor_is_finite() {
    // Subnormal and huge pivots: ln stays in range, the sum too.
    let l = [[f64::MIN_POSITIVE / 1024.0, 0.0], [0.0, 1e300]];
    let got = log_det(&l).unwrap();
    let want = 2.0 * ((f64::MIN_POSITIVE / 1024.0).ln() + 1e300_f64.ln());
    assert!((got - want).abs() < 1e-9 * want.abs());
}
