//! NNGP and NTK matrices of an [`Architecture`], tile by tile.
//!
//! The matrices are computed in square tiles of [`TILE`] × [`TILE`] entries.
//! A tile runs through all layers while it is in cache; the per-input
//! variances it needs are recomputed for its rows and columns in small stack
//! arrays, so no workspace proportional to the number of inputs is needed and
//! the stack use is a few kilobytes whatever the matrix size. The diagonal of
//! a Gram matrix is computed once per input, by the exact diagonal maps.

use super::arch::Architecture;
use super::dual::{apply_pair_traced, erf_pair, gelu_pair, relative_error, sin_pair, Input, Step};
use super::pair::{worse, PairState, Var};
use super::precision::{self, Errors, TILE};
use crate::{Error, Real};

/// Read access to the rows of an input matrix.
pub(crate) trait Rows<T> {
    fn count(&self) -> usize;
    /// Row `i` (empty past the end).
    fn row(&self, i: usize) -> &[T];
}

/// Write access to the rows of an output matrix.
pub(crate) trait RowsMut<T> {
    fn count(&self) -> usize;
    /// Row `i` (empty past the end).
    fn row_mut(&mut self, i: usize) -> &mut [T];
    /// Row `i`, read only (empty past the end).
    fn row_ref(&self, i: usize) -> &[T];
}

impl<T, const D: usize> Rows<T> for [[T; D]] {
    fn count(&self) -> usize {
        self.len()
    }
    fn row(&self, i: usize) -> &[T] {
        self.get(i).map_or(&[], |r| r.as_slice())
    }
}

impl<T, const D: usize> RowsMut<T> for [[T; D]] {
    fn count(&self) -> usize {
        self.len()
    }
    fn row_mut(&mut self, i: usize) -> &mut [T] {
        self.get_mut(i).map_or(&mut [], |r| r.as_mut_slice())
    }
    fn row_ref(&self, i: usize) -> &[T] {
        self.get(i).map_or(&[], |r| r.as_slice())
    }
}

/// A row-major matrix in a flat slice.
pub(crate) struct Flat<'a, T> {
    pub data: &'a [T],
    pub width: usize,
}

impl<T> Rows<T> for Flat<'_, T> {
    fn count(&self) -> usize {
        self.data.len().checked_div(self.width).unwrap_or(0)
    }
    fn row(&self, i: usize) -> &[T] {
        let start = i.saturating_mul(self.width);
        self.data
            .get(start..start.saturating_add(self.width))
            .unwrap_or(&[])
    }
}

/// A mutable row-major matrix in a flat slice.
pub(crate) struct FlatMut<'a, T> {
    pub data: &'a mut [T],
    pub width: usize,
}

impl<T> RowsMut<T> for FlatMut<'_, T> {
    fn count(&self) -> usize {
        self.data.len().checked_div(self.width).unwrap_or(0)
    }
    fn row_mut(&mut self, i: usize) -> &mut [T] {
        let start = i.saturating_mul(self.width);
        self.data
            .get_mut(start..start.saturating_add(self.width))
            .unwrap_or(&mut [])
    }
    fn row_ref(&self, i: usize) -> &[T] {
        let start = i.saturating_mul(self.width);
        self.data
            .get(start..start.saturating_add(self.width))
            .unwrap_or(&[])
    }
}

/// Checks that all `x.count()` rows have the same nonzero length and finite
/// entries; returns that length.
fn check_inputs<T: Real, X: Rows<T> + ?Sized>(x: &X, d: Option<usize>) -> Result<usize, Error> {
    let d = match d {
        Some(d) => d,
        None => x.row(0).len(),
    };
    if d == 0 && x.count() > 0 {
        return Err(Error::InvalidArgument {
            what: "inputs must have at least one feature",
        });
    }
    for i in 0..x.count() {
        let r = x.row(i);
        if r.len() != d {
            return Err(Error::InvalidArgument {
                what: "all inputs must have the same length",
            });
        }
        crate::simd::check_finite(r, "inputs")?;
    }
    Ok(d)
}

/// Checks that `m` has at least `rows` rows of at least `cols` entries.
fn check_output<T, M: RowsMut<T> + ?Sized>(
    m: &mut M,
    rows: usize,
    cols: usize,
) -> Result<(), Error> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    if m.count() < rows {
        return Err(Error::BufferTooSmall {
            needed: rows,
            given: m.count(),
        });
    }
    for i in 0..rows {
        let len = m.row_mut(i).len();
        if len < cols {
            return Err(Error::BufferTooSmall {
                needed: cols,
                given: len,
            });
        }
    }
    Ok(())
}

/// Zeroes the leading `rows × cols` block, so that a failed computation
/// leaves no partial kernel behind (the crate's policy for every output).
fn poison<T: Real, M: RowsMut<T> + ?Sized>(m: &mut M, rows: usize, cols: usize) {
    for i in 0..rows {
        for v in m.row_mut(i).iter_mut().take(cols) {
            *v = T::ZERO;
        }
    }
}

/// The verdict on finished `rows × cols` outputs with error bound `error`:
/// [`Error::Overflow`] if an entry is not finite, [`Error::PrecisionLoss`] if
/// the bound passes [`PRECISION_LIMIT`](super::PRECISION_LIMIT); both
/// outputs are zeroed then.
fn judge<T: Real, M: RowsMut<T> + ?Sized>(
    nngp: &mut M,
    ntk: &mut M,
    (rows, cols): (usize, usize),
    error: T,
) -> Result<(), Error> {
    let verdict = if !(all_finite(nngp, rows, cols) && all_finite(ntk, rows, cols)) {
        Err(Error::Overflow { what: "kernel" })
    } else if !precision::accepted(error) {
        Err(Error::PrecisionLoss { what: "kernel" })
    } else {
        Ok(())
    };
    if verdict.is_err() {
        poison(nngp, rows, cols);
        poison(ntk, rows, cols);
    }
    verdict
}

fn all_finite<T: Real, M: RowsMut<T> + ?Sized>(m: &mut M, rows: usize, cols: usize) -> bool {
    (0..rows).all(|i| {
        let row = m.row_mut(i);
        crate::simd::all_finite(&row[..cols.min(row.len())])
    })
}

/// Copies the entries above the diagonal of a tile to their mirror images.
fn mirror<T: Real, M: RowsMut<T> + ?Sized>(
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

/// Runs `steps` on one tile: rows `r0..r0 + nr` of `x1` against columns
/// `c0..c0 + nc` of `x2`; with `upper`, only entries above the diagonal
/// (global column > global row) are touched. Returns the tile's error bound
/// (see [`super::precision`]).
#[allow(clippy::too_many_arguments)]
fn tile<T, X1, X2, M>(
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
            precision::any_special(
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
                    || precision::deficit(x1.row(r0 + li), x2.row(c0 + f + lj)),
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
                    prepare(step, &qr[..nr.min(TILE)], &mut ir, &mut q2r, &mut sr),
                    prepare(step, &qc[..nc.min(TILE)], &mut ic, &mut q2c, &mut sc),
                );
                let (vr, vc) = (&vr[..nr.min(TILE)], &vc[..nc.min(TILE)]);
                let (ir, ic) = (&ir[..nr.min(TILE)], &ic[..nc.min(TILE)]);
                let (sr, sc) = (&sr[..nr.min(TILE)], &sc[..nc.min(TILE)]);
                let kink = step.kink();
                errors.begin(kink, step.symmetries(), matches!(step, Step::Sin));
                let second = |vi, vj, k, out, cs| step.second_moment(vi, vj, k, out, cs);
                let tiles = Tile {
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
                        sweep(tiles, |a, b, k| step.pair_estimated(a, b, k), second)
                    }
                    Step::AbRelu(c) => {
                        let Tile {
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
                    Step::Erf => sweep(tiles, |a, b, k| exact(erf_pair(a, b, k)), second),
                    Step::Gelu => sweep(tiles, |a, b, k| exact(gelu_pair(a, b, k)), second),
                    Step::Sin => sweep(tiles, |a, b, k| exact(sin_pair(a, b, k)), second),
                    _ => sweep(tiles, |a, b, k| step.pair_estimated(a, b, k), second),
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
fn prepare<T: Real>(
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
        let ((q2, dot), (eq, ed)) = step.diag_estimated(q);
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
struct Tile<'a, T, M: ?Sized> {
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
fn sweep<T, M, F, S>(tile: Tile<'_, T, M>, f: F, second: S) -> T
where
    T: Real,
    M: RowsMut<T> + ?Sized,
    F: Fn(Var<T>, Var<T>, T) -> ((T, T), (T, T)),
    S: Fn(Var<T>, Var<T>, T, (T, T), T) -> T,
{
    let Tile {
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
    } = tile;
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

impl<T: Real, const CAP: usize> Architecture<T, CAP> {
    fn steps(&self) -> ([Step<T>; CAP], usize) {
        let mut steps = [Step::Identity; CAP];
        for (s, l) in steps.iter_mut().zip(self.layers()) {
            *s = l.step();
        }
        (steps, self.len())
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
        let (steps, len) = self.steps();
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
    fn diagonal(&self, steps: &[Step<T>], x: &[T]) -> Result<(T, T, T), Error> {
        let mut q = crate::simd::dot(x, x) * (T::ONE / T::from_usize(x.len().max(1)));
        input_in_range(x, q)?;
        let mut t = T::ZERO;
        let mut error = T::ZERO;
        for s in steps {
            let ((q2, t2), e) = s.diag_ntk_estimated(q, t);
            step_in_range(s, q, q2)?;
            (q, t) = (q2, t2);
            error += e;
        }
        Ok((q, t, error))
    }

    fn gram_impl<X, M>(&self, x: &X, nngp: &mut M, ntk: &mut M) -> Result<(), Error>
    where
        X: Rows<T> + ?Sized,
        M: RowsMut<T> + ?Sized,
    {
        let n = x.count();
        check_inputs(x, None)?;
        check_output(nngp, n, n)?;
        check_output(ntk, n, n)?;
        let (steps, len) = self.steps();
        let steps = steps.get(..len).unwrap_or(&[]);
        // Diagonal, once per input.
        let mut error = T::ZERO;
        for i in 0..n {
            let (q, t, e) = match self.diagonal(steps, x.row(i)) {
                Ok(d) => d,
                Err(e) => {
                    poison(nngp, n, n);
                    poison(ntk, n, n);
                    return Err(e);
                }
            };
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
                let e = tile(steps, x, x, (r0, nr), (c0, nc), c0 == r0, nngp, ntk);
                error = worse(error, e);
                // The lower triangle is a bitwise copy, made while the tile is in cache.
                mirror(nngp, (r0, nr), (c0, nc));
                mirror(ntk, (r0, nr), (c0, nc));
            }
        }
        judge(nngp, ntk, (n, n), error)
    }

    fn cross_impl<X1, X2, M>(
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
        let (steps, len) = self.steps();
        let steps = steps.get(..len).unwrap_or(&[]);
        if m == 0 || n == 0 {
            return Ok(());
        }
        // The range check, once per input (the tiles do not look at the
        // diagonal maps); nothing has been written yet.
        for i in 0..m {
            self.diagonal(steps, x1.row(i))?;
        }
        for j in 0..n {
            self.diagonal(steps, x2.row(j))?;
        }
        let mut error = T::ZERO;
        for r0 in (0..m).step_by(TILE) {
            let nr = TILE.min(m - r0);
            for c0 in (0..n).step_by(TILE) {
                let nc = TILE.min(n - c0);
                let e = tile(steps, x1, x2, (r0, nr), (c0, nc), false, nngp, ntk);
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
    /// [`Error::NonFinite`] if an input holds NaN or ±∞ (the outputs are
    /// untouched), [`Error::Overflow`] if any result is not finite,
    /// [`Error::PrecisionLoss`] if a nonzero input or a layer gives a
    /// variance below `MIN_POSITIVE/ε` (about 1e-292 in `f64`, 1e-31 in
    /// `f32`: inputs under about 1e-146 and 3e-16) or the error bound passes
    /// the limit (both outputs are zeroed for these two).
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
        self.gram_impl(&x[..], &mut nngp[..], &mut ntk[..])
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
        self.cross_impl(&x[..], &x_train[..], &mut nngp[..], &mut ntk[..])
    }

    /// [`gram`](Self::gram) on row-major slices with sizes known at run time:
    /// `x` holds `n = x.len() / d` inputs of dimension `d`, and the leading
    /// `n × n` entries of `nngp` and `ntk` receive the matrices (row-major).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `d` is 0 or does not divide `x.len()`,
    /// [`Error::BufferTooSmall`] if an output holds fewer than `n²` entries,
    /// and the errors of [`gram`](Self::gram).
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
        let n = flat_count(x.len(), d)?;
        let needed = n.saturating_mul(n);
        for out in [&*nngp, &*ntk] {
            if out.len() < needed {
                return Err(Error::BufferTooSmall {
                    needed,
                    given: out.len(),
                });
            }
        }
        let x = Flat { data: x, width: d };
        let mut k = FlatMut {
            data: nngp,
            width: n,
        };
        let mut t = FlatMut {
            data: ntk,
            width: n,
        };
        self.gram_impl(&x, &mut k, &mut t)
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
        let m = flat_count(x.len(), d)?;
        let n = flat_count(x_train.len(), d)?;
        let needed = m.saturating_mul(n);
        for out in [&*nngp, &*ntk] {
            if out.len() < needed {
                return Err(Error::BufferTooSmall {
                    needed,
                    given: out.len(),
                });
            }
        }
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

fn flat_count(len: usize, d: usize) -> Result<usize, Error> {
    if d == 0 || !len.is_multiple_of(d) {
        return Err(Error::InvalidArgument {
            what: "the input length must be a nonzero multiple of the dimension",
        });
    }
    Ok(len / d)
}
