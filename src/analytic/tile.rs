//! The tile engine: the NNGP and NTK of a square block of pairs, carried
//! through all layers while it is in cache.

use super::collinear::{any_special, deficit};
use super::dual::{erf_pair, gelu_pair, sin_pair};
use super::pair::{worse, Var};
use super::precision::{self, Errors, TILE};
use super::rows::{Rows, RowsMut};
use super::step::{relative_error, Input, Step};
use crate::Real;

/// Copies the entries above the diagonal of a tile to their mirror images.
pub(crate) fn mirror<T: Real, M: RowsMut<T> + ?Sized>(
    m: &mut M,
    (r0, nr): (usize, usize),
    (c0, nc): (usize, usize),
) {
    let mut col = [T::ZERO; TILE];
    for lj in 0..nc {
        let j = c0 + lj;
        // Column j of the tile, rows r0..min(j, r0 + nr).
        let rows = nr.min(j.saturating_sub(r0));
        for (li, v) in col.iter_mut().enumerate().take(rows) {
            *v = m.row_mut(r0 + li).get(j).copied().unwrap_or(T::NAN);
        }
        if let Some(dst) = m.row_mut(j).get_mut(r0..r0 + rows) {
            for (d, v) in dst.iter_mut().zip(&col) {
                *d = *v;
            }
        }
    }
}

/// Where one tile lies: rows `r0..r0 + nr` of the row inputs against
/// columns `c0..c0 + nc` of the column inputs.
#[derive(Clone, Copy)]
pub(crate) struct Tile {
    /// The first row and the number of rows, `(r0, nr)`.
    pub rows: (usize, usize),
    /// The first column and the number of columns, `(c0, nc)`.
    pub cols: (usize, usize),
    /// Only the entries above the diagonal (global column > global row) are
    /// touched.
    pub upper: bool,
}

/// Runs the steps on the tile `at` of the inputs `x1` against `x2`,
/// writing its entries of `nngp` and `ntk`; returns the tile's error bound
/// (see [`super::precision`]).
///
/// With `SMOOTH` false only the piecewise-linear maps are compiled in, and
/// every step must be [`Step::piecewise_linear`].
#[inline(always)]
pub(crate) fn tile<const SMOOTH: bool, T, X1, X2, M>(
    steps: &[Step<T>],
    x1: &X1,
    x2: &X2,
    at: Tile,
    nngp: &mut M,
    ntk: &mut M,
) -> T
where
    T: Real,
    X1: Rows<T> + ?Sized,
    X2: Rows<T> + ?Sized,
    M: RowsMut<T> + ?Sized,
{
    run::<SMOOTH, T, X1, X2, M>(steps, x1, x2, at.rows, at.cols, at.upper, nngp, ntk)
}

/// [`tile`] with the tile's geometry as scalar arguments, which the
/// optimiser keeps in registers (an aggregate argument is passed through
/// memory: 0.8 KiB more code and 4 % more time on a Cortex-M4F).
#[allow(clippy::too_many_arguments)]
fn run<const SMOOTH: bool, T, X1, X2, M>(
    steps: &[Step<T>],
    x1: &X1,
    x2: &X2,
    (r0, nr): (usize, usize),
    (c0, nc): (usize, usize),
    upper: bool,
    nngp: &mut M,
    ntk: &mut M,
) -> T
where
    T: Real,
    X1: Rows<T> + ?Sized,
    X2: Rows<T> + ?Sized,
    M: RowsMut<T> + ?Sized,
{
    let d = x1.row(r0).len();
    if d == 0 {
        return T::ZERO;
    }
    let inv_d = T::ONE / T::from_usize(d);
    let mut qr = [T::ZERO; TILE];
    let mut qc = [T::ZERO; TILE];
    for (li, q) in qr.iter_mut().enumerate().take(nr) {
        let x = x1.row(r0 + li);
        *q = crate::simd::dot(x, x) * inv_d;
    }
    for (lj, q) in qc.iter_mut().enumerate().take(nc) {
        let x = x2.row(c0 + lj);
        *q = crate::simd::dot(x, x) * inv_d;
    }
    // The column range of row `li` within the tile.
    let first = |li: usize| {
        if upper {
            (r0 + li + 1).saturating_sub(c0).min(nc)
        } else {
            0
        }
    };

    // Whether row `li` and column `lj` of the tile are the same input.
    let same = |li: usize, lj: usize| x1.row(r0 + li) == x2.row(c0 + lj);

    // Σ⁰ = x·x′/D, Θ⁰ = 0.
    for li in 0..nr {
        let xi = x1.row(r0 + li);
        let f = first(li);
        let Some(krow) = nngp.row_mut(r0 + li).get_mut(c0 + f..c0 + nc) else {
            continue;
        };
        for (lj, k) in krow.iter_mut().enumerate() {
            *k = crate::simd::dot(xi, x2.row(c0 + f + lj)) * inv_d;
        }
        if let Some(trow) = ntk.row_mut(r0 + li).get_mut(c0 + f..c0 + nc) {
            trow.fill(T::ZERO);
        }
    }
    let mut errors = Errors::new(d);
    if precision::ENABLED {
        let mut vcs = [Var::default(); TILE];
        let mut rcs = [T::ZERO; TILE];
        for ((v, r), q) in vcs.iter_mut().zip(rcs.iter_mut()).zip(&qc).take(nc) {
            *v = Var::new(*q);
            *r = v.r;
        }
        // Most tiles hold no pair that snaps or repeats: one vectorised scan
        // tells, and only the others go pair by pair.
        let m: &M = nngp;
        let special = (0..nr).any(|li| {
            let f = first(li);
            let vi = Var::new(qr.get(li).copied().unwrap_or(T::ZERO));
            let krow = m.row_ref(r0 + li).get(c0 + f..c0 + nc).unwrap_or(&[]);
            any_special(
                vi,
                krow,
                (qc.get(f..nc).unwrap_or(&[]), rcs.get(f..nc).unwrap_or(&[])),
            )
        });
        for li in 0..if special { nr } else { 0 } {
            let f = first(li);
            let vi = Var::new(qr.get(li).copied().unwrap_or(T::ZERO));
            let (Some(krow), Some(vs)) =
                (nngp.row_mut(r0 + li).get(c0 + f..c0 + nc), vcs.get(f..nc))
            else {
                continue;
            };
            for (lj, (&k, &vj)) in krow.iter().zip(vs).enumerate() {
                errors.start(
                    (li, f + lj),
                    (vi, vj, k),
                    || same(li, f + lj),
                    || deficit(x1.row(r0 + li), x2.row(c0 + f + lj)),
                );
            }
        }
    }

    let mut vr = [Var::default(); TILE];
    let mut vc = [Var::default(); TILE];
    let mut csq = [T::ZERO; TILE];
    let mut cr = [T::ZERO; TILE];
    let mut ir = [Input::default(); TILE];
    let mut ic = [Input::default(); TILE];
    let mut q2r = [T::ZERO; TILE];
    let mut q2c = [T::ZERO; TILE];
    let mut sr = [(T::ZERO, T::ZERO); TILE];
    let mut sc = [(T::ZERO, T::ZERO); TILE];
    // The quadrature's error estimates, relative to the diagonal scale: with
    // the error bounds carried through the layers, and without them, the
    // worst of any one layer.
    let mut quad = T::ZERO;
    for step in steps {
        match *step {
            Step::Identity => continue,
            Step::Affine { w2, b2 } => {
                affine_errors(&mut errors, (&qr[..nr], &qc[..nc]), &first, (w2, b2));
                sweep_affine(nngp, ntk, (r0, nr), (c0, nc), &first, |k, t| {
                    let k2 = w2 * k + b2;
                    (k2, k2 + w2 * t)
                });
            }
            Step::AffineStandard { w2, b2, n } => {
                affine_errors(&mut errors, (&qr[..nr], &qc[..nc]), &first, (w2, b2));
                sweep_affine(nngp, ntk, (r0, nr), (c0, nc), &first, |k, t| {
                    (w2 * k + b2, n * k + T::ONE + w2 * t)
                });
            }
            _ => {
                for (v, q) in vr.iter_mut().zip(&qr).take(nr) {
                    *v = Var::new(*q);
                }
                for (v, q) in vc.iter_mut().zip(&qc).take(nc) {
                    *v = Var::new(*q);
                }
                // The per-input error factors and the variances after this
                // step, from the diagonal maps.
                let diagonal = worse(
                    prepare::<SMOOTH, T>(step, &qr[..nr.min(TILE)], &mut ir, &mut q2r, &mut sr),
                    prepare::<SMOOTH, T>(step, &qc[..nc.min(TILE)], &mut ic, &mut q2c, &mut sc),
                );
                let (vr, vc) = (&vr[..nr.min(TILE)], &vc[..nc.min(TILE)]);
                let (ir, ic) = (&ir[..nr.min(TILE)], &ic[..nc.min(TILE)]);
                let (sr, sc) = (&sr[..nr.min(TILE)], &sc[..nc.min(TILE)]);
                let kink = step.kink();
                errors.begin(kink, step.symmetries(), matches!(step, Step::Sin));
                let second = |vi, vj, k, out, cs| step.second_moment(vi, vj, k, out, cs);
                let tiles = Sweep {
                    nngp,
                    ntk,
                    r0,
                    c0,
                    vr,
                    vc,
                    ir,
                    ic,
                    sr,
                    sc,
                    first: &first,
                    errors: &mut errors,
                };
                let exact = |m: (T, T)| (m, (T::ZERO, T::ZERO));
                let pairs = match *step {
                    // With few registers (microcontrollers), one loop through
                    // the generic pair map serves every nonlinearity: the
                    // specialised loops below would cost flash, not time.
                    _ if !crate::simd::WIDE => {
                        sweep(tiles, |a, b, k| step.pair_in::<SMOOTH>(a, b, k), second)
                    }
                    Step::AbRelu(c) => {
                        let Sweep {
                            nngp, ntk, errors, ..
                        } = tiles;
                        for (v, (s, r)) in vc.iter().zip(csq.iter_mut().zip(cr.iter_mut())) {
                            (*s, *r) = (v.sq, v.r);
                        }
                        // |Σ̇₁₂| ≤ (a² + b²)/2 = Σ̇ᵢᵢ: the map contracts.
                        contracting_errors(errors, nngp, (r0, c0), (vr, vc, &cr[..nc]), &first);
                        for (li, &vi) in vr.iter().enumerate() {
                            let f = first(li);
                            let (Some(krow), Some(trow), Some(sq), Some(r)) = (
                                nngp.row_mut(r0 + li).get_mut(c0 + f..c0 + nc),
                                ntk.row_mut(r0 + li).get_mut(c0 + f..c0 + nc),
                                csq.get(f..nc),
                                cr.get(f..nc),
                            ) else {
                                continue;
                            };
                            c.row(vi, sq, r, krow, trow);
                        }
                        T::ZERO
                    }
                    Step::Erf if SMOOTH => sweep(tiles, |a, b, k| exact(erf_pair(a, b, k)), second),
                    Step::Gelu if SMOOTH => {
                        sweep(tiles, |a, b, k| exact(gelu_pair(a, b, k)), second)
                    }
                    Step::Sin if SMOOTH => sweep(tiles, |a, b, k| exact(sin_pair(a, b, k)), second),
                    _ => sweep(tiles, |a, b, k| step.pair_in::<SMOOTH>(a, b, k), second),
                };
                errors.end();
                if precision::ENABLED {
                    errors.quadrature_diagonal(diagonal);
                }
                quad = worse(quad, worse(pairs, diagonal));
                qr = q2r;
                qc = q2c;
            }
        }
        if let Step::Affine { w2, b2 } | Step::AffineStandard { w2, b2, .. } = *step {
            for q in qr.iter_mut().take(nr).chain(qc.iter_mut().take(nc)) {
                *q = w2 * *q + b2;
            }
        }
    }
    if precision::ENABLED {
        worse(errors.estimate(), quad)
    } else {
        quad
    }
}

/// The bends of an affine layer (`w2`, `b2`) on the tile's collinear pairs,
/// from the variances `q` of its rows and columns before it, and its
/// rounding.
fn affine_errors<T: Real>(
    errors: &mut Errors<T>,
    (qr, qc): (&[T], &[T]),
    first: &dyn Fn(usize) -> usize,
    w2b2: (T, T),
) {
    if !precision::ENABLED {
        return;
    }
    if w2b2.1 > T::ZERO && errors.tracking() {
        for (li, &q1) in qr.iter().enumerate() {
            for (lj, &q2) in qc.iter().enumerate().skip(first(li)) {
                errors.affine_pair((li, lj), (q1, q2), w2b2);
            }
        }
    }
    errors.affine();
}

/// The errors of a contracting nonlinearity without curvature (the ABReLU
/// family) on the tile, before its map.
fn contracting_errors<T, M>(
    errors: &mut Errors<T>,
    nngp: &mut M,
    (r0, c0): (usize, usize),
    (vr, vc, rc): (&[Var<T>], &[Var<T>], &[T]),
    first: &dyn Fn(usize) -> usize,
) where
    T: Real,
    M: RowsMut<T> + ?Sized,
{
    if !precision::ENABLED {
        return;
    }
    let nc = vc.len();
    let m: &M = nngp;
    let rows = vr.iter().enumerate().map(|(li, &vi)| {
        let f = first(li);
        (
            li,
            vi,
            f,
            m.row_ref(r0 + li).get(c0 + f..c0 + nc).unwrap_or(&[]),
        )
    });
    errors.contracting(rows, (vc, rc));
}

/// For each variance of `q`, the error factors of `step` and the variance
/// after it (one out-of-line copy of the diagonal maps for rows and columns).
/// Also the scales (√Σ′ᵢᵢ, √Σ̇ᵢᵢ) that the quadrature's pair errors are
/// relative to, and the worst relative quadrature error of the diagonal
/// maps (0 for the closed forms).
#[inline(never)]
fn prepare<const SMOOTH: bool, T: Real>(
    step: &Step<T>,
    q: &[T],
    factors: &mut [Input<T>],
    next: &mut [T],
    scales: &mut [(T, T)],
) -> T {
    // The ABReLU family's wide path bounds its errors without the factors.
    let wanted = precision::ENABLED && !(crate::simd::WIDE && matches!(step, Step::AbRelu(_)));
    let mut worst = T::ZERO;
    for (((&q, f), n), sc) in q
        .iter()
        .zip(factors.iter_mut())
        .zip(next.iter_mut())
        .zip(scales.iter_mut())
    {
        let ((q2, dot), (eq, ed)) = step.diag_in::<SMOOTH>(q);
        if wanted {
            *f = step.input_factors(q, q2, dot);
        }
        *n = q2;
        // The scales only a quadrature's pair estimates are measured against
        // (the closed forms estimate 0 and never read them).
        #[cfg(feature = "quadrature")]
        if matches!(step, Step::Quadrature { .. }) {
            *sc = (q2.abs().sqrt(), dot.abs().sqrt());
        }
        #[cfg(not(feature = "quadrature"))]
        let _ = sc;
        worst = worse(worst, relative_error(eq, q2) + relative_error(ed, dot));
    }
    worst
}

#[inline(always)]
fn sweep_affine<T, M, F>(
    nngp: &mut M,
    ntk: &mut M,
    (r0, nr): (usize, usize),
    (c0, nc): (usize, usize),
    first: &dyn Fn(usize) -> usize,
    f: F,
) where
    T: Real,
    M: RowsMut<T> + ?Sized,
    F: Fn(T, T) -> (T, T),
{
    for li in 0..nr {
        let s = first(li);
        let (Some(krow), Some(trow)) = (
            nngp.row_mut(r0 + li).get_mut(c0 + s..c0 + nc),
            ntk.row_mut(r0 + li).get_mut(c0 + s..c0 + nc),
        ) else {
            continue;
        };
        for (k, t) in krow.iter_mut().zip(trow.iter_mut()) {
            (*k, *t) = f(*k, *t);
        }
    }
}

/// What a nonlinear sweep over a tile needs.
struct Sweep<'a, T, M: ?Sized> {
    nngp: &'a mut M,
    ntk: &'a mut M,
    r0: usize,
    c0: usize,
    vr: &'a [Var<T>],
    vc: &'a [Var<T>],
    ir: &'a [Input<T>],
    ic: &'a [Input<T>],
    /// (√Σ′ᵢᵢ, √Σ̇ᵢᵢ) of the rows and columns after the step.
    sr: &'a [(T, T)],
    sc: &'a [(T, T)],
    first: &'a dyn Fn(usize) -> usize,
    errors: &'a mut Errors<T>,
}

/// Applies the pair map `f` to a tile; returns the largest amplification of
/// correlation errors and the largest sensitivity of Σ̇ over its pairs (see
/// [`super::precision`]), with E[φ″(u)φ″(v)] from `second` (given the
/// Cauchy–Schwarz bound of the per-input factors). `f` gives the pair map
/// and the absolute error estimates of a quadrature (0 for the closed
/// forms); returns the largest of these relative to the diagonal scale.
#[inline(always)]
fn sweep<T, M, F, S>(sweep: Sweep<'_, T, M>, f: F, second: S) -> T
where
    T: Real,
    M: RowsMut<T> + ?Sized,
    F: Fn(Var<T>, Var<T>, T) -> ((T, T), (T, T)),
    S: Fn(Var<T>, Var<T>, T, (T, T), T) -> T,
{
    let Sweep {
        nngp,
        ntk,
        r0,
        c0,
        vr,
        vc,
        ir,
        ic,
        sr,
        sc,
        first,
        errors,
    } = sweep;
    let nc = vc.len();
    let mut worst = T::ZERO;
    for (((li, &vi), fi), &(si, di)) in vr.iter().enumerate().zip(ir).zip(sr) {
        let s = first(li);
        let (Some(krow), Some(trow), Some(vcs), Some(fcs), Some(scs)) = (
            nngp.row_mut(r0 + li).get_mut(c0 + s..c0 + nc),
            ntk.row_mut(r0 + li).get_mut(c0 + s..c0 + nc),
            vc.get(s..),
            ic.get(s..),
            sc.get(s..),
        ) else {
            continue;
        };
        for (lj, ((((k, t), &vj), fj), &(sj, dj))) in krow
            .iter_mut()
            .zip(trow.iter_mut())
            .zip(vcs)
            .zip(fcs)
            .zip(scs)
            .enumerate()
        {
            let ((k2, dot), (ek, et)) = f(vi, vj, *k);
            if precision::ENABLED {
                let e2 = second(vi, vj, *k, (k2, dot), fi.b * fj.b);
                let (amp, curv) = (dot.abs() * fi.g * fj.g, e2 * fi.h * fj.h);
                errors.pair((li, s + lj), (vi, vj, *k), (amp, curv));
            }
            // Closed forms: both 0, and this folds away.
            if ek != T::ZERO || et != T::ZERO {
                let rel = (relative_error(ek, si * sj), relative_error(et, di * dj));
                if precision::ENABLED {
                    errors.quadrature((li, s + lj), rel);
                }
                worst = worse(worst, worse(rel.0, rel.1));
            }
            *k = k2;
            *t *= dot;
        }
    }
    worst
}
