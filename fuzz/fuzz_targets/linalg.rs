//! Cholesky, triangular solves, the symmetric eigensolvers and `g(A)·B` on
//! arbitrary 5×5 matrices, in `f64` and `f32`.
//!
//! The matrix is either arbitrary (any values, NaN and ∞ included, in the
//! lower triangle; the upper triangle always holds garbage, since it must not
//! be read) or `B·Bᵀ + s·I` from an arbitrary `B`, which is symmetric
//! positive semidefinite and exercises the success paths. Properties:
//!
//! - errors are typed and documented: `NonFinite` exactly when the lower
//!   triangle (or right-hand side) holds NaN or ±∞, `InvalidArgument` for a
//!   bad regulariser or bad options, `NotPositiveDefinite { index < N }`,
//!   `NoConvergence { iterations: cap }`, `Overflow`; outputs are zeroed on
//!   every error;
//! - the upper triangle is never read: the results equal, bitwise, those of
//!   the same lower triangle with a clean upper triangle;
//! - Cholesky `Ok` ⇒ `L` lower triangular with a positive diagonal and
//!   `|L·Lᵀ − (K + εI)| ≤ 4γ_{N+2}·|L|·|Lᵀ|` entrywise (Higham, Thm. 10.3);
//!   a matrix whose smallest eigenvalue (independent Jacobi oracle) exceeds
//!   `N²·u·‖K‖` must factor; a clearly indefinite one (smallest eigenvalue
//!   below `−8(N+1)²·u·‖K‖`) and a singular one (`B·Bᵀ` of rank 2, moderate
//!   entries, no regulariser) must be refused;
//! - `cholesky_append` row by row builds a valid factor (same bound) when
//!   it succeeds, must succeed where the batch factor clearly must, and
//!   refuses the singular `B·Bᵀ`; `cholesky_remove_first` of it factors the
//!   trailing block; their argument errors are typed;
//! - solves `Ok` ⇒ finite, residual within `γ`-bounds;
//! - `eigh`, `eigh_jacobi`, `eigenvalues` `Ok` ⇒ ascending finite values,
//!   `V` orthonormal and `Vᵀ·Λ·V ≈ K` within `c·N·u·‖K‖_F`, eigenvalues
//!   within the same bound of the oracle's (Weyl); with the default options
//!   a finite matrix whose entries stay 10 orders of magnitude inside the
//!   range always succeeds;
//! - `min_eigenvalue`, `max_eigenvalue`, `condition_number`,
//!   `is_positive_semidefinite` agree with the spectrum, and every number
//!   they return is finite (an infinite condition number is `Overflow`);
//! - `apply_matrix_function` with `g(λ) = λ` reproduces `K·B`.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ntk::linalg::{
    cholesky, cholesky_append, cholesky_remove_first, cholesky_solve, condition_number, eigh,
    eigvalsh, is_positive_semidefinite, jacobi_eigh, log_det, matrix_function, max_eigenvalue,
    min_eigenvalue, solve_lower, EigenOptions, Regularizer,
};
use ntk::{Error, Real};
use ntk_fuzz::{eigenvalues_jacobi, gamma, Num};

const N: usize = 5;

#[derive(Arbitrary, Debug)]
enum Shape {
    /// The lower triangle as given.
    Raw,
    /// `B·Bᵀ + s·I`.
    Gram(Num),
    /// `B·Bᵀ` of the first two columns of `B`: rank at most 2, singular.
    LowRank,
}

#[derive(Arbitrary, Debug)]
enum Reg {
    None,
    Absolute(Num),
    Relative(Num),
}

#[derive(Arbitrary, Debug)]
struct Input {
    matrix: [[Num; N]; N],
    shape: Shape,
    reg: Reg,
    rhs: [Num; N],
    /// Options of the eigensolvers: `None` for the defaults.
    options: Option<(Num, u8)>,
    /// Rotation log length of `apply_matrix_function`.
    rotations: u8,
    single: bool,
}

/// The lower triangle is the matrix; the upper triangle holds what the
/// caller left there.
fn lower_equal<T: Real>(a: &[[T; N]; N], b: &[[T; N]; N]) -> bool {
    (0..N).all(|i| (0..=i).all(|j| a[i][j].to_f64().to_bits() == b[i][j].to_f64().to_bits()))
}

fn sym(a: &[[f64; N]; N]) -> [[f64; N]; N] {
    core::array::from_fn(|i| core::array::from_fn(|j| if j <= i { a[i][j] } else { a[j][i] }))
}

/// Frobenius norm, scaled so that squares neither overflow nor underflow.
fn frob(a: &[[f64; N]; N]) -> f64 {
    let m = max_abs(a);
    if m == 0.0 || !m.is_finite() {
        return m;
    }
    m * a
        .as_flattened()
        .iter()
        .map(|v| (v / m) * (v / m))
        .sum::<f64>()
        .sqrt()
}

fn zeroed<T: Real>(v: &[T]) -> bool {
    v.iter().all(|x| *x == T::ZERO)
}

fn run<T: Real>(input: &Input, u: f64) {
    let raw = input.matrix.map(|r| r.map(Num::get));
    let k64: [[f64; N]; N] = match input.shape {
        Shape::Raw => raw,
        Shape::LowRank => core::array::from_fn(|i| {
            core::array::from_fn(|j| raw[i][0] * raw[j][0] + raw[i][1] * raw[j][1])
        }),
        Shape::Gram(s) => {
            let s = s.get();
            core::array::from_fn(|i| {
                core::array::from_fn(|j| {
                    let d: f64 = (0..N).map(|p| raw[i][p] * raw[j][p]).sum();
                    if i == j {
                        d + s
                    } else {
                        d
                    }
                })
            })
        }
    };
    // The matrix the library sees: garbage above the diagonal.
    let k: [[T; N]; N] = core::array::from_fn(|i| {
        core::array::from_fn(|j| {
            if j <= i {
                T::from_f64(k64[i][j])
            } else {
                T::NAN
            }
        })
    });
    let clean: [[T; N]; N] =
        core::array::from_fn(|i| core::array::from_fn(|j| if j <= i { k[i][j] } else { T::ZERO }));
    let kf: [[f64; N]; N] = sym(&k.map(|r| r.map(|v| v.to_f64())));
    let lower_finite = (0..N).all(|i| (0..=i).all(|j| k[i][j].is_finite()));
    let b: [T; N] = input.rhs.map(|v| T::from_f64(v.get()));
    let b_finite = b.iter().all(|v| v.is_finite());

    // ---- Cholesky ----
    let reg = match input.reg {
        Reg::None => Regularizer::None,
        Reg::Absolute(e) => Regularizer::Absolute(T::from_f64(e.get())),
        Reg::Relative(e) => Regularizer::Relative(T::from_f64(e.get())),
    };
    let strength_ok = match reg {
        Regularizer::None => true,
        Regularizer::Absolute(e) | Regularizer::Relative(e) => e.is_finite() && e >= T::ZERO,
    };
    let mut l = [[T::from_f64(3.0); N]; N];
    let r = cholesky(&k, reg, &mut l);
    let mut l2 = [[T::ZERO; N]; N];
    let r2 = cholesky(&clean, reg, &mut l2);
    assert_eq!(r, r2, "the upper triangle was read");
    assert!(lower_equal(&l, &l2) && l.iter().zip(&l2).all(|(a, b)| a == b));
    match r {
        Err(Error::NonFinite { what: "matrix" }) => assert!(!lower_finite),
        Err(Error::InvalidArgument { .. }) => assert!(lower_finite && !strength_ok),
        Err(Error::NotPositiveDefinite { index }) => assert!(index < N),
        // A relative regulariser of a finite matrix whose trace overflows.
        Err(Error::Overflow {
            what: "regulariser",
        }) => {
            assert!(matches!(reg, Regularizer::Relative(_)))
        }
        Err(e) => panic!("cholesky: unexpected {e:?}"),
        Ok(()) => {}
    }
    if let Err(e) = r {
        assert!(zeroed(l.as_flattened()), "cholesky {e:?} left output");
        if !lower_finite {
            assert_eq!(e, Error::NonFinite { what: "matrix" });
        } else if !strength_ok {
            assert!(matches!(e, Error::InvalidArgument { .. }));
        }
    }
    let eps = reg.amount(&clean).map(|e| e.to_f64()).unwrap_or(f64::NAN);
    if r.is_ok() {
        let lf = l.map(|r| r.map(|v| v.to_f64()));
        for i in 0..N {
            assert!(lf[i][i] > 0.0, "non-positive pivot");
            for j in 0..N {
                assert!(lf[i][j].is_finite());
                if j > i {
                    assert_eq!(lf[i][j], 0.0);
                }
                let llt: f64 = (0..N).map(|p| lf[i][p] * lf[j][p]).sum();
                let abs: f64 = (0..N).map(|p| (lf[i][p] * lf[j][p]).abs()).sum();
                let target = kf[i][j] + if i == j { eps } else { 0.0 };
                // Underflows cost a subnormal each, times an entry of L.
                let eta = if u > 1e-10 { 1.5e-45 } else { 5e-324 };
                let rows: f64 = (0..N).map(|p| lf[i][p].abs() + lf[j][p].abs()).sum();
                let bound = 4.0 * gamma(N + 2, u) * abs
                    + 4.0 * gamma(2, u) * eps.abs()
                    + 16.0 * (N + 2) as f64 * eta * (1.0 + rows)
                    + 1e-300;
                assert!(
                    (llt - target).abs() <= bound,
                    "L·Lᵀ differs from K at ({i}, {j}): {llt:e} vs {target:e} (bound {bound:e})"
                );
            }
        }
        let ld = log_det(&l).expect("log-determinant of a valid factor");
        assert!(!ld.to_f64().is_nan());

        // Solves.
        let mut x = [T::from_f64(3.0); N];
        let rs = cholesky_solve(&l, &b, &mut x);
        match rs {
            Err(Error::NonFinite { .. }) => assert!(!b_finite),
            Err(Error::Overflow { .. }) => {}
            Err(e) => panic!("cholesky_solve: unexpected {e:?}"),
            Ok(()) => {
                assert!(b_finite);
                let xf = x.map(|v| v.to_f64());
                assert!(xf.iter().all(|v| v.is_finite()));
                // (L·Lᵀ)·x = b with the backward error of two triangular solves.
                let mut llt = [[0.0; N]; N];
                let mut abs = [[0.0; N]; N];
                for i in 0..N {
                    for j in 0..N {
                        llt[i][j] = (0..N).map(|p| lf[i][p] * lf[j][p]).sum();
                        abs[i][j] = (0..N).map(|p| (lf[i][p] * lf[j][p]).abs()).sum();
                    }
                }
                // Away from underflow (every nonzero entry of L, x and b at
                // least √MIN_POSITIVE), the residual has the backward error
                // of two triangular solves.
                let tiny = T::MIN_POSITIVE.sqrt().to_f64();
                let clear = |v: &f64| *v == 0.0 || v.abs() >= tiny;
                let normal = lf.as_flattened().iter().all(clear)
                    && xf.iter().all(clear)
                    && b.iter().all(|v| clear(&v.to_f64()));
                for i in (0..N).filter(|_| normal) {
                    let res: f64 = (0..N).map(|j| llt[i][j] * xf[j]).sum::<f64>() - b[i].to_f64();
                    let scale: f64 = (0..N).map(|j| abs[i][j] * xf[j].abs()).sum();
                    // An underflow in the solves costs up to one subnormal
                    // per operation, multiplied by a row of L or of L·Lᵀ.
                    let eta = if u > 1e-10 { 1.5e-45 } else { 5e-324 };
                    let row: f64 = (0..N).map(|j| lf[i][j].abs() + abs[i][j]).sum();
                    let bound = 8.0 * gamma(2 * N + 4, u) * scale
                        + 16.0 * (2 * N + 4) as f64 * eta * (1.0 + row)
                        + 1e-300;
                    if !(res.is_finite() && bound.is_finite()) {
                        continue; // beyond what the f64 oracle can evaluate
                    }
                    assert!(res.abs() <= bound, "solve residual {res:e} > {bound:e}");
                }
            }
        }
        if let Err(e) = rs {
            assert!(zeroed(&x), "cholesky_solve {e:?} left output");
        }
        let mut y = [T::ZERO; N];
        if b_finite {
            // A forward solve with a valid factor fails only by overflow.
            match solve_lower(&l, &b, &mut y) {
                Ok(()) => assert!(y.iter().all(|v| v.is_finite())),
                Err(Error::Overflow { .. }) => assert!(zeroed(&y)),
                Err(e) => panic!("solve_lower: unexpected {e:?}"),
            }
        }
    }
    // A clearly positive definite finite matrix factors; a clearly
    // indefinite one is refused.
    let mut must_factor = false;
    if lower_finite && strength_ok && max_abs(&kf) < 1e150 && max_abs(&kf) > 1e-150 {
        let ev = eigenvalues_jacobi(&kf.map(|r| r.map(|v| v / max_abs(&kf))));
        let lmin = ev.iter().fold(f64::INFINITY, |m, &v| m.min(v)) * max_abs(&kf);
        let room = max_abs(&kf) + eps < T::MAX.to_f64() * 1e-3;
        if lmin > (N * N) as f64 * 16.0 * u * frob(&kf) && eps >= 0.0 && room {
            must_factor = true;
            assert_eq!(
                r,
                Ok(()),
                "a positive definite matrix (λmin {lmin:e}) did not factor"
            );
        }
        let shifted = frob(&kf) + eps.abs() * N as f64;
        if eps.is_finite() && lmin + eps < -8.0 * ((N + 1) * (N + 1)) as f64 * u * shifted {
            assert!(
                matches!(r, Err(Error::NotPositiveDefinite { .. })),
                "an indefinite matrix (λmin + ε = {:e}) gave {r:?}",
                lmin + eps
            );
        }
    }
    // B·Bᵀ of rank 2 < N, moderate entries (no underflow in the products,
    // no overflow), no regulariser: singular, refused.
    let singular = matches!(input.shape, Shape::LowRank) && eps == 0.0 && lower_finite && {
        let (lo, hi) = if u > 1e-10 {
            (1e-15, 1e15)
        } else {
            (1e-100, 1e100)
        };
        raw.iter()
            .flat_map(|r| &r[..2])
            .all(|v| *v == 0.0 || (v.abs() >= lo && v.abs() <= hi))
    };
    if singular {
        assert!(
            matches!(r, Err(Error::NotPositiveDefinite { .. })),
            "a singular B·Bᵀ gave {r:?}"
        );
    }

    // ---- online updates: append row by row, then remove the first ----
    if lower_finite && eps.is_finite() && strength_ok {
        let mut la = [[T::from_f64(5.0); N]; N];
        let mut appended = 0;
        for n in 0..N {
            let before = la;
            let row: [T; N] = core::array::from_fn(|j| clean[n][j]);
            let ra = cholesky_append(&mut la, n, &row[..n], row[n] + T::from_f64(eps));
            match ra {
                Ok(()) => appended += 1,
                Err(e) => {
                    // The held rows are untouched, row n zeroed.
                    assert!(
                        la[..n] == before[..n],
                        "append {e:?} changed the factor held"
                    );
                    assert!(zeroed(&la[n]), "append {e:?} left row {n}");
                    match e {
                        Error::NotPositiveDefinite { index } => assert_eq!(index, n),
                        // k_self + ε beyond the range.
                        Error::NonFinite {
                            what: "kernel diagonal",
                        } => assert!(!(row[n] + T::from_f64(eps)).is_finite()),
                        _ => panic!("cholesky_append: unexpected {e:?}"),
                    }
                    break;
                }
            }
        }
        if must_factor && (max_abs(&kf) + eps) < T::MAX.to_f64() * 1e-3 {
            assert_eq!(
                appended, N,
                "append refused a clearly positive definite matrix"
            );
        }
        if singular {
            assert!(appended < N, "append accepted a singular B·Bᵀ");
        }
        if appended == N {
            check_factor(&la, &la, &kf, (eps, u), 0, 4.0);
            // Remove the first point: a factor of the trailing block.
            let mut lr = la;
            match cholesky_remove_first(&mut lr, N) {
                Ok(()) => {
                    assert!(zeroed(&lr[N - 1]));
                    assert!(lr.iter().all(|r| r[N - 1] == T::ZERO));
                    check_factor(&lr, &la, &kf, (eps, u), 1, 64.0);
                }
                Err(Error::Overflow { .. }) => assert!(zeroed(lr.as_flattened())),
                Err(e) => panic!("cholesky_remove_first: unexpected {e:?}"),
            }
        }
    }
    // Argument errors of the online updates.
    let mut lx = [[T::ZERO; N]; N];
    assert!(matches!(
        cholesky_append(&mut lx, usize::MAX, &[], T::ONE),
        Err(Error::InvalidArgument { .. })
    ));
    assert_eq!(
        cholesky_append(&mut lx, N, &[T::ONE; N], T::ONE),
        Err(Error::BufferTooSmall {
            needed: N + 1,
            given: N
        })
    );
    assert!(matches!(
        cholesky_remove_first(&mut lx, 0),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        cholesky_remove_first(&mut lx, N + 1),
        Err(Error::InvalidArgument { .. })
    ));

    // ---- eigensolvers ----
    let (opts, default_opts) = match input.options {
        None => (EigenOptions::default(), true),
        Some((tol, cap)) => (
            EigenOptions {
                tolerance: T::from_f64(tol.get()),
                max_iterations: usize::from(cap),
            },
            false,
        ),
    };
    let opts_ok = opts.tolerance.is_finite() && opts.tolerance > T::ZERO && opts.max_iterations > 0;
    // A tolerance of 1 or more asks for no accuracy at all.
    let acc = u.max(opts.tolerance.to_f64()).min(1.0);
    let mut values = [T::from_f64(3.0); N];
    let mut vectors = [[T::from_f64(3.0); N]; N];
    let re = eigh(&k, opts, &mut values, &mut vectors);
    let (mut v2, mut w2) = ([T::ZERO; N], [[T::ZERO; N]; N]);
    assert_eq!(
        re,
        eigh(&clean, opts, &mut v2, &mut w2),
        "eigh read the upper triangle"
    );
    assert!(values
        .iter()
        .zip(&v2)
        .all(|(a, b)| a.to_f64().to_bits() == b.to_f64().to_bits()));
    check_eigen(
        "eigh",
        re,
        &values,
        &vectors,
        &kf,
        lower_finite,
        opts_ok,
        opts.max_iterations,
        (u, acc),
    );
    if default_opts && lower_finite && max_abs(&kf) < T::MAX.to_f64() * 1e-10 {
        assert_eq!(
            re,
            Ok(()),
            "eigh failed on a finite matrix of moderate size"
        );
    }

    let mut jv = [T::from_f64(3.0); N];
    let mut jw = [[T::from_f64(3.0); N]; N];
    let mut work = [[T::from_f64(3.0); N]; N];
    let rj = jacobi_eigh(&k, opts, &mut work, &mut jv, &mut jw);
    check_eigen(
        "eigh_jacobi",
        rj,
        &jv,
        &jw,
        &kf,
        lower_finite,
        opts_ok,
        opts.max_iterations,
        (u, acc),
    );

    let mut only = [T::from_f64(3.0); N];
    let ro = eigvalsh(&k, opts, &mut work, &mut only);
    if let Err(e) = ro {
        assert!(zeroed(&only), "eigenvalues {e:?} left output");
        check_error("eigenvalues", e, lower_finite, opts_ok, opts.max_iterations);
    }
    if let (Ok(()), Ok(())) = (re, ro) {
        let scale = frob(&kf);
        for (a, b) in values.iter().zip(&only) {
            let bound = 64.0 * N as f64 * acc * scale + 1e-300;
            assert!(
                (a.to_f64() - b.to_f64()).abs() <= bound,
                "eigh and eigenvalues disagree"
            );
        }
    }

    // Spectrum summaries with default options.
    let rmin = min_eigenvalue(&k, &mut work);
    let rmax = max_eigenvalue(&k, &mut work);
    let rc = condition_number(&k, &mut work);
    let rp = is_positive_semidefinite(&k, T::from_f64(1e-6), &mut work);
    let mut dv = [T::ZERO; N];
    let rd = eigvalsh(&k, EigenOptions::default(), &mut work, &mut dv);
    match rd {
        Ok(()) => {
            assert_eq!(rmin, Ok(dv[0]));
            assert_eq!(rmax, Ok(dv[N - 1]));
            let lo = dv.iter().fold(T::INFINITY, |m, v| m.min(v.abs()));
            match rc {
                Ok(c) => assert!(c.is_finite() && c.to_f64() >= 1.0 && lo > T::ZERO),
                Err(e) => assert_eq!(
                    e,
                    Error::Overflow {
                        what: "condition number"
                    }
                ),
            }
            if let Ok(v) = rmin {
                assert!(v.is_finite());
            }
            if let Ok(v) = rmax {
                assert!(v.is_finite());
            }
            let scale = dv.iter().fold(T::ZERO, |m, v| m.max(v.abs()));
            assert_eq!(rp, Ok(dv[0] >= -T::from_f64(1e-6) * scale));
        }
        Err(e) => {
            for r in [rmin.err(), rmax.err(), rc.err(), rp.err()] {
                assert_eq!(r, Some(e), "spectrum summaries disagree with eigenvalues");
            }
        }
    }

    // g(A)·B with g(λ) = λ is A·B.
    let rhs: [[T; 2]; N] = core::array::from_fn(|i| [b[i], T::from_f64(i as f64 - 2.0)]);
    let mut out = [[T::from_f64(3.0); 2]; N];
    let mut rot = vec![T::from_f64(3.0); usize::from(input.rotations % 64)];
    let ra = matrix_function(&k, opts, |v| v, &rhs, &mut work, &mut rot, &mut out);
    match ra {
        Ok(()) => {
            assert!(rot.len() >= 3 && b_finite && lower_finite && opts_ok);
            for i in 0..N {
                for c in 0..2 {
                    let exact: f64 = (0..N).map(|j| kf[i][j] * rhs[j][c].to_f64()).sum();
                    let got = out[i][c].to_f64();
                    assert!(got.is_finite());
                    // ‖B‖₁ of the column: its squares may underflow.
                    let col: f64 = rhs.iter().map(|r| r[c].to_f64().abs()).sum();
                    let scale = if frob(&kf) == 0.0 {
                        0.0
                    } else {
                        frob(&kf) * col
                    };
                    if !(scale.is_finite() && exact.is_finite()) {
                        // Beyond what the f64 oracle can evaluate.
                        continue;
                    }
                    // Subnormal entries of B carry absolute errors of a
                    // subnormal each, which A multiplies.
                    let eta = if u > 1e-10 { 1.5e-45 } else { 5e-324 };
                    let bound = 256.0 * (N * N) as f64 * acc * scale
                        + 65536.0 * (N * N) as f64 * eta * (1.0 + frob(&kf)) * (1.0 + col)
                        + 1e-300;
                    assert!(
                        (got - exact).abs() <= bound,
                        "g(A)·B with g = id: {got:e} vs {exact:e} (bound {bound:e})"
                    );
                }
            }
        }
        Err(e) => {
            assert!(
                zeroed(out.as_flattened()),
                "apply_matrix_function {e:?} left output"
            );
            match e {
                Error::BufferTooSmall { needed: 3, given } => assert_eq!(given, rot.len()),
                Error::NonFinite {
                    what: "right-hand side",
                } => assert!(!b_finite),
                _ => check_error(
                    "apply_matrix_function",
                    e,
                    lower_finite,
                    opts_ok,
                    opts.max_iterations,
                ),
            }
        }
    }
}

/// The leading `N − skip` block of `l` (lower triangular, positive
/// diagonal, finite) factors `K + εI` without its first `skip` rows and
/// columns, within `c·γ_{N+2}·|L|·|Lᵀ|` entrywise, with the terms of the
/// factor `before` the removal of the first `skip` points added (or `l`).
fn check_factor<T: Real>(
    l: &[[T; N]; N],
    before: &[[T; N]; N],
    kf: &[[f64; N]; N],
    (eps, u): (f64, f64),
    skip: usize,
    c: f64,
) {
    let m = N - skip;
    let lf = l.map(|r| r.map(|v| v.to_f64()));
    let bf = before.map(|r| r.map(|v| v.to_f64()));
    let eta = if u > 1e-10 { 1.5e-45 } else { 5e-324 };
    for i in 0..m {
        assert!(lf[i][i] > 0.0, "non-positive pivot");
        for j in 0..m {
            assert!(lf[i][j].is_finite());
            if j > i {
                assert_eq!(lf[i][j], 0.0);
            }
            let llt: f64 = (0..m).map(|p| lf[i][p] * lf[j][p]).sum();
            let abs: f64 = (0..m).map(|p| (lf[i][p] * lf[j][p]).abs()).sum::<f64>()
                + (0..N)
                    .map(|p| (bf[i + skip][p] * bf[j + skip][p]).abs())
                    .sum::<f64>();
            let target = kf[i + skip][j + skip] + if i == j { eps } else { 0.0 };
            let rows: f64 = (0..m).map(|p| lf[i][p].abs() + lf[j][p].abs()).sum::<f64>()
                + (0..N)
                    .map(|p| bf[i + skip][p].abs() + bf[j + skip][p].abs())
                    .sum::<f64>();
            let bound = c * gamma(N + 2, u) * (abs + target.abs())
                + 4.0 * gamma(2, u) * eps.abs()
                + 16.0 * c * (N + 2) as f64 * eta * (1.0 + rows)
                + 1e-300;
            if !(llt.is_finite() && bound.is_finite()) {
                continue;
            }
            assert!(
                (llt - target).abs() <= bound,
                "online factor differs from K at ({i}, {j}) (skip {skip}): {llt:e} vs {target:e} (bound {bound:e})"
            );
        }
    }
}

fn max_abs(a: &[[f64; N]; N]) -> f64 {
    ntk_fuzz::max_abs(a.as_flattened())
}

fn check_error(name: &str, e: Error, lower_finite: bool, opts_ok: bool, cap: usize) {
    match e {
        Error::InvalidArgument { .. } => assert!(!opts_ok, "{name}: {e:?} with valid options"),
        Error::NonFinite { what: "matrix" } => assert!(!lower_finite && opts_ok, "{name}: {e:?}"),
        Error::NoConvergence { iterations } => {
            assert_eq!(iterations, cap, "{name}: {e:?}");
            assert!(lower_finite && opts_ok);
        }
        Error::Overflow { .. } => assert!(lower_finite && opts_ok, "{name}: {e:?}"),
        _ => panic!("{name}: unexpected {e:?}"),
    }
}

#[allow(clippy::too_many_arguments)]
fn check_eigen<T: Real>(
    name: &str,
    r: Result<(), Error>,
    values: &[T; N],
    vectors: &[[T; N]; N],
    kf: &[[f64; N]; N],
    lower_finite: bool,
    opts_ok: bool,
    cap: usize,
    (u, acc): (f64, f64),
) {
    let vals = values.map(|v| v.to_f64());
    let vecs = vectors.map(|r| r.map(|v| v.to_f64()));
    match r {
        Err(e) => {
            assert!(
                zeroed(&vals) && zeroed(vecs.as_flattened()),
                "{name} {e:?} left output"
            );
            check_error(name, e, lower_finite, opts_ok, cap);
        }
        Ok(()) => {
            assert!(lower_finite && opts_ok);
            assert!(vals
                .iter()
                .chain(vecs.as_flattened())
                .all(|v| v.is_finite()));
            assert!(
                vals.windows(2).all(|w| w[0] <= w[1]),
                "{name}: not ascending {vals:?}"
            );
            let scale = frob(kf);
            // Accuracy is set by the tolerance asked for, at best by rounding.
            let bound = 256.0 * (N * N) as f64 * acc * scale + 1e-300;
            // Orthonormal rows.
            for i in 0..N {
                for j in 0..N {
                    let d: f64 = (0..N).map(|p| vecs[i][p] * vecs[j][p]).sum();
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!(
                        (d - want).abs() <= 256.0 * (N * N) as f64 * u,
                        "{name}: V·Vᵀ ≠ I ({d})"
                    );
                }
            }
            // Vᵀ·Λ·V = K, evaluated on K/‖K‖∞ (the oracle must not overflow).
            let m = max_abs(kf).max(f64::MIN_POSITIVE);
            for i in 0..N {
                for j in 0..N {
                    let rec: f64 = (0..N)
                        .map(|p| vecs[p][i] * (vals[p] / m) * vecs[p][j])
                        .sum();
                    assert!(
                        (rec - kf[i][j] / m).abs() <= bound / m + 1e-15,
                        "{name}: Vᵀ·Λ·V differs from K at ({i}, {j}): {rec:e} vs {:e} (bound {bound:e})",
                        kf[i][j]
                    );
                }
            }
            // Weyl: each eigenvalue within the bound of the oracle's.
            let m = max_abs(kf);
            if m > 0.0 && m < 1e300 {
                let mut oracle = eigenvalues_jacobi(&kf.map(|r| r.map(|v| v / m)));
                oracle.sort_by(f64::total_cmp);
                for (a, o) in vals.iter().zip(oracle) {
                    assert!(
                        (a - o * m).abs() <= bound + 1e-12 * scale,
                        "{name}: eigenvalue {a:e} vs oracle {:e}",
                        o * m
                    );
                }
            }
        }
    }
}

fuzz_target!(|input: Input| {
    if input.single {
        run::<f32>(&input, f64::from(f32::EPSILON) / 2.0);
    } else {
        run::<f64>(&input, f64::EPSILON / 2.0);
    }
});
