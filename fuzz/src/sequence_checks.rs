//! The checks the sequence arms of the `empirical` target (convolution,
//! recurrence, attention) share: one network in one precision, its kernel
//! by both methods on `CN` training and `CM` test inputs, and every property
//! that does not depend on which layers it is made of.

use crate::conv_bounds::{pair_tolerance, CM, CN};
use crate::eigenvalues_jacobi;
use crate::empirical_bounds::Scalar;
use ntk::empirical::{jacobian, structured};
use ntk::nn::{Module, Params};
use ntk::{Error, Real};

/// Written into every output before a call: an error must replace it by 0.
pub const SENTINEL: f64 = 7.0;

/// Largest absolute value of `v`, as `f64`.
pub fn largest<T: Real>(v: &[T]) -> f64 {
    v.iter().fold(0.0_f64, |m, x| m.max(x.to_f64().abs()))
}

/// What an arm knows of its network beyond what the kernels show.
pub struct Expect<F: Fn(f64) -> bool> {
    /// Given the largest |input| of the sets that are finite, `true` when
    /// the data are moderate enough that both methods must succeed (by the
    /// arm's own range bound).
    pub accepted: F,
    /// `true` if the kernel is a sum of products of the same per-input
    /// gradients in both methods (no factored convolution or recurrence,
    /// whose position sums can cancel): then structured = Jacobian within
    /// [`pair_tolerance`] and the kernel is positive semidefinite within
    /// the Weyl bound of that tolerance.
    pub gradient_form: bool,
}

/// Runs the structured and Jacobian kernels of `net` (the parameters set
/// by the arm, non-finite ones included) on `xs` and `xt` and checks:
///
/// - a workspace `shortfall` elements short is reported first, whatever the
///   data, as `BufferTooSmall` with a zeroed output;
/// - every error zeroes its output; a non-finite training input gives
///   `NonFinite { what: "inputs" }` (the structured method checks every
///   input before the parameters, the Jacobian method meets inputs and
///   parameters input by input), a non-finite test input the same for the
///   cross kernels, a non-finite parameter or scale
///   `NonFinite { what: "network parameters" }`; finite data give `Ok`,
///   `Overflow` or `PrecisionLoss` only, and `Ok` where
///   [`Expect::accepted`] says so;
/// - an `Ok` kernel is finite, bitwise symmetric, has a non-negative
///   diagonal and equals the cross kernel of the inputs with themselves
///   bitwise; an `Ok` cross kernel is finite;
/// - in gradient form ([`Expect::gradient_form`]), structured = Jacobian
///   within [`pair_tolerance`] and the smallest eigenvalue (by the Jacobi
///   oracle, independent of the library) is at least minus the Weyl bound.
pub fn check_methods<T, Net, F, const D: usize, const K: usize>(
    net: &Net,
    xs: &[[T; D]; CN],
    xt: &[[T; D]; CM],
    shortfall: u8,
    expect: Expect<F>,
) where
    T: Scalar,
    Net: Params<T> + Module<T, [T; D], Output = [T; K]>,
    F: Fn(f64) -> bool,
{
    let finite = |v: &[T]| v.iter().all(|x| x.is_finite());
    let train_ok = finite(xs.as_flattened());
    let test_ok = finite(xt.as_flattened());
    let params_ok = net.is_finite();

    let sentinel = T::from_f64(SENTINEL);
    let zeroed = |out: &[T]| out.iter().all(|v| *v == T::ZERO);
    let ns = structured::workspace_len::<T, Net>(2 * CN, K);
    let nj = jacobian::workspace_len::<T, [T; D], Net>(CN + CM);
    let mut ws = vec![sentinel; ns];
    let mut wj = vec![sentinel; nj];

    // a short workspace is reported first, whatever the data
    let short = usize::from(shortfall);
    if short > 0 {
        let needed = structured::workspace_len::<T, Net>(CN, K);
        let given = needed.saturating_sub(short);
        let mut out = [[sentinel; CN]; CN];
        let r = structured::ntk(net, xs, &mut ws[..given], &mut out);
        assert_eq!(r, Err(Error::BufferTooSmall { needed, given }));
        assert!(zeroed(out.as_flattened()));
        let needed = jacobian::workspace_len::<T, [T; D], Net>(CN);
        let given = needed.saturating_sub(short);
        let mut out = [[sentinel; CN]; CN];
        let r = jacobian::ntk(net, xs, &mut wj[..given], &mut out);
        assert_eq!(r, Err(Error::BufferTooSmall { needed, given }));
        assert!(zeroed(out.as_flattened()));
    }

    let mut s = [[sentinel; CN]; CN];
    let mut j = [[sentinel; CN]; CN];
    let rs = structured::ntk(net, xs, &mut ws, &mut s);
    let rj = jacobian::ntk(net, xs, &mut wj, &mut j);
    let mut sc = [[sentinel; CN]; CM];
    let rsc = structured::ntk_cross(net, xt, xs, &mut ws, &mut sc);
    let mut jc = [[sentinel; CN]; CM];
    let rjc = jacobian::ntk_cross(net, xt, xs, &mut wj, &mut jc);
    let mut selfc = [[sentinel; CN]; CN];
    let rself = structured::ntk_cross(net, xs, xs, &mut ws, &mut selfc);
    for (r, out) in [
        (&rs, s.as_flattened()),
        (&rj, j.as_flattened()),
        (&rsc, sc.as_flattened()),
        (&rjc, jc.as_flattened()),
        (&rself, selfc.as_flattened()),
    ] {
        if r.is_err() {
            assert!(zeroed(out), "{r:?} left {out:?}");
        }
    }
    let inputs = Err(Error::NonFinite { what: "inputs" });
    let params = Err(Error::NonFinite {
        what: "network parameters",
    });
    if !train_ok {
        assert_eq!(rs, inputs);
        assert_eq!(rsc, inputs);
        // the Jacobian method meets inputs and parameters input by input
        assert!(rj == inputs || (!params_ok && rj == params), "{rj:?}");
        assert!(rjc == inputs || (!params_ok && rjc == params), "{rjc:?}");
        return;
    }
    if !test_ok {
        assert_eq!(rsc, inputs);
        assert!(rjc == inputs || (!params_ok && rjc == params), "{rjc:?}");
    }
    if !params_ok {
        assert_eq!(rs, params);
        assert_eq!(rj, params);
        if test_ok {
            assert_eq!(rsc, params);
            assert_eq!(rjc, params);
        }
        return;
    }
    let checked = if test_ok { 5 } else { 3 };
    for r in [&rs, &rj, &rself, &rsc, &rjc].into_iter().take(checked) {
        assert!(
            matches!(
                r,
                Ok(()) | Err(Error::Overflow { .. } | Error::PrecisionLoss { .. })
            ),
            "{r:?}"
        );
    }
    assert_eq!(rself, rs, "the cross kernel of the inputs with themselves");

    let x_max = largest(xs.as_flattened()).max(if test_ok {
        largest(xt.as_flattened())
    } else {
        0.0
    });
    if (expect.accepted)(x_max) {
        assert_eq!(rs, Ok(()), "moderate data");
        assert_eq!(rj, Ok(()), "moderate data");
        if test_ok {
            assert_eq!(rsc, Ok(()), "moderate data");
            assert_eq!(rjc, Ok(()), "moderate data");
        }
    }

    for (r, k) in [(&rs, &s), (&rj, &j)] {
        if r.is_err() {
            continue;
        }
        for a in 0..CN {
            assert!(k[a][a] >= T::ZERO && k[a][a].is_finite());
            for b in 0..CN {
                assert_eq!(k[a][b].to_f64().to_bits(), k[b][a].to_f64().to_bits());
                assert!(k[a][b].is_finite());
            }
        }
    }
    for (r, k) in [(&rsc, &sc), (&rjc, &jc)] {
        if r.is_ok() {
            assert!(k.as_flattened().iter().all(|v| v.is_finite()));
        }
    }
    if rs.is_ok() {
        for (a, b) in s.as_flattened().iter().zip(selfc.as_flattened()) {
            assert_eq!(a.to_f64().to_bits(), b.to_f64().to_bits());
        }
    }

    if expect.gradient_form && rs.is_ok() && rj.is_ok() {
        // Both methods contract the same per-input gradient entries (the
        // same backward code), in different orders and with a few more
        // roundings where a dense layer's factors are multiplied out: by
        // Cauchy–Schwarz each entry is within γ_{P+8}·√(Θ_aa·Θ_bb) of the
        // exact contraction, a relative tolerance of the diagonal.
        let terms = Net::NUM_PARAMS;
        let tol = |k: &[[T; CN]; CN], a: usize, b: usize| {
            pair_tolerance(k[a][a].to_f64(), k[b][b].to_f64(), terms, 8, T::U, T::ETA)
        };
        // relative to the largest diagonal entry, so that nothing underflows
        let top = (0..CN).fold(0.0_f64, |m, a| m.max(s[a][a].to_f64()));
        let scale = if top > 0.0 { top } else { 1.0 };
        let mut weyl = 0.0_f64;
        for a in 0..CN {
            for b in 0..CN {
                let (sv, jv) = (s[a][b].to_f64(), j[a][b].to_f64());
                let t = tol(&s, a, b) + tol(&j, a, b);
                assert!(
                    (sv - jv).abs() <= t,
                    "[{a}][{b}]: {sv:e} vs {jv:e}, tol {t:e}"
                );
                weyl += (tol(&s, a, b) / scale).powi(2);
            }
        }
        let s64: [[f64; CN]; CN] = s.map(|r| r.map(|v| v.to_f64() / scale));
        let low = eigenvalues_jacobi(&s64)
            .into_iter()
            .fold(f64::INFINITY, f64::min);
        // the Jacobi oracle's own error is a few f64 units of the largest entry
        assert!(
            low >= -(weyl.sqrt() + 1e-13),
            "smallest eigenvalue {low:e} (relative), bound {:e}",
            weyl.sqrt()
        );
    }
}
