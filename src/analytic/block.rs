//! Blocks of the NNGP and NTK matrices: rows `a..b` × columns `c..d`,
//! bitwise the same entries as the whole matrix, so that machines (a job
//! array, each task one block) can compute a Gram matrix in parts.
//!
//! Every entry of the whole matrix is the result of one pair of inputs, the
//! row input first in the upper triangle; the lower triangle is its mirror
//! image. A block computes each of its entries the same way: an entry above
//! the diagonal as the pair (row input, column input), one below as the
//! pair (column input, row input), one on the diagonal by the diagonal maps.

use core::ops::Range;

use super::arch::{Architecture, Shape};
use super::gram::{flat_count, judge};
use super::grid::input_grid;
use super::pair::worse;
use super::precision::TILE;
use super::recurrent::{verdict, Cell};
use super::rows::{check_inputs, Flat, FlatMut, Rows};
use super::spatial::{check, finite};
use super::step::Step;
use super::tile::{tile, Tile};
use crate::block::{cols_of, holds, rows_of};
use crate::outputs::zero_on_error;
use crate::{Error, Real};

/// Rows of the scratch tiles the engine fills before their entries are
/// placed in a block (a strip of `STRIP` × [`TILE`] pairs).
const STRIP: usize = 16;

/// The rows `start..` of an input matrix.
struct From<'a, X: ?Sized> {
    x: &'a X,
    start: usize,
}

impl<T, X: Rows<T> + ?Sized> Rows<T> for From<'_, X> {
    fn count(&self) -> usize {
        self.x.count().saturating_sub(self.start)
    }
    fn row(&self, i: usize) -> &[T] {
        self.x.row(self.start.saturating_add(i))
    }
}

/// Runs the tile engine on the pairs (p, q) of inputs of `x` with `p` in
/// `ps`, `q` in `qs` and q > p, input p as the engine's row (as the whole
/// matrix computes its upper triangle), and hands each entry to
/// `put(p, q, nngp, ntk)`; returns the worst error bound of the tiles.
fn upper_pairs<T, X, F>(
    steps: &[Step<T>],
    x: &X,
    ps: Range<usize>,
    qs: Range<usize>,
    mut put: F,
) -> T
where
    T: Real,
    X: Rows<T> + ?Sized,
    F: FnMut(usize, usize, T, T),
{
    let mut k = [[T::ZERO; TILE]; STRIP];
    let mut t = [[T::ZERO; TILE]; STRIP];
    let mut error = T::ZERO;
    let mut s0 = ps.start;
    while s0 < ps.end {
        let s1 = (s0 + STRIP).min(ps.end);
        let ns = s1 - s0;
        let rows = From { x, start: s0 };
        // The columns that meet the strip's diagonal: an upper tile, its
        // rows and columns counted from s0.
        let (m0, m1) = (qs.start.max(s0 + 1), qs.end.min(s1));
        if m0 < m1 {
            let at = Tile {
                rows: (0, ns),
                cols: (m0 - s0, m1 - m0),
                upper: true,
            };
            error = worse(
                error,
                tile::<true, _, _, _, _>(steps, &rows, &rows, at, &mut k[..], &mut t[..]),
            );
            for (p, (kr, tr)) in (s0..s1).zip(k.iter().zip(&t)) {
                for q in m0.max(p + 1)..m1 {
                    put(p, q, kr[q - s0], tr[q - s0]);
                }
            }
        }
        // The columns past the strip: whole tiles.
        let mut c0 = qs.start.max(s1);
        while c0 < qs.end {
            let c1 = (c0 + TILE).min(qs.end);
            let cols = From { x, start: c0 };
            let at = Tile {
                rows: (0, ns),
                cols: (0, c1 - c0),
                upper: false,
            };
            error = worse(
                error,
                tile::<true, _, _, _, _>(steps, &rows, &cols, at, &mut k[..], &mut t[..]),
            );
            for (p, (kr, tr)) in (s0..s1).zip(k.iter().zip(&t)) {
                for (q, (&kv, &tv)) in (c0..c1).zip(kr.iter().zip(tr)) {
                    put(p, q, kv, tv);
                }
            }
            c0 = c1;
        }
        s0 = s1;
    }
    error
}

/// The inputs `x[start·len .. end·len]` of a flat row-major set.
fn slice<'a, T>(x: &'a [T], r: &Range<usize>, len: usize) -> &'a [T] {
    x.get(r.start * len..r.end * len).unwrap_or(&[])
}

impl<T: Real, const CAP: usize> Architecture<T, CAP> {
    fn gram_block_impl<X: Rows<T> + ?Sized>(
        &self,
        x: &X,
        (rows, cols): (Range<usize>, Range<usize>),
        nngp: &mut [T],
        ntk: &mut [T],
    ) -> Result<(), Error> {
        let n = x.count();
        check_inputs(x, None)?;
        let (h, w) = (rows_of(&rows, n)?, cols_of(&cols, n)?);
        holds(nngp.len().min(ntk.len()), h, w, 1)?;
        let (steps, len) = self.steps::<true>()?;
        let steps = steps.get(..len).unwrap_or(&[]);
        let (a, c) = (rows.start, cols.start);
        // The range check of every input the block reads; the diagonal, as
        // the whole matrix has it.
        let mut error = T::ZERO;
        for i in rows.clone().chain(cols.clone()) {
            let (q, t, e) = self.diagonal::<true>(steps, x.row(i))?;
            if rows.contains(&i) && cols.contains(&i) {
                error = worse(error, e);
                let at = (i - a) * w + (i - c);
                (nngp[at], ntk[at]) = (q, t);
            }
        }
        // Above the diagonal: the row input is the engine's row.
        let above = upper_pairs(steps, x, rows.clone(), cols.clone(), |i, j, k, t| {
            let at = (i - a) * w + (j - c);
            (nngp[at], ntk[at]) = (k, t);
        });
        // Below: the mirror image of entry (j, i).
        let below = upper_pairs(steps, x, cols.clone(), rows.clone(), |j, i, k, t| {
            let at = (i - a) * w + (j - c);
            (nngp[at], ntk[at]) = (k, t);
        });
        let mut k = FlatMut {
            data: nngp,
            width: w,
        };
        let mut t = FlatMut {
            data: ntk,
            width: w,
        };
        judge(&mut k, &mut t, (h, w), worse(error, worse(above, below)))
    }

    /// Rows `rows` × columns `cols` of the NNGP and NTK Gram matrices of
    /// [`gram_flat`](Self::gram_flat) (`x` holds `n = x.len() / d` inputs
    /// of dimension `d`), bitwise equal to the same entries of the whole
    /// matrices, into the leading `h × w` entries of `nngp` and `ntk`
    /// (row-major, `h = rows.len()`, `w = cols.len()`).
    ///
    /// Each entry is computed as the whole matrix computes it: above the
    /// diagonal from the pair (row input, column input), below it as the
    /// mirror image of the entry above, on it by the diagonal maps. The
    /// blocks of a partition of the n × n matrix, computed anywhere (a job
    /// array, each task one block), assemble into the matrix of
    /// `gram_flat`, bit for bit. Cost: the pairs of the block and the
    /// diagonal maps of its rows and columns (once more per strip of 16
    /// rows or columns); stack: that of `gram_flat` and two scratch tiles
    /// of 16 × 32 numbers (8 KiB in f64).
    ///
    /// A block is checked as a whole: an entry not finite or an error bound
    /// past the limit refuses the block (another block of the same matrix
    /// may be accepted).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `d` is 0 or does not divide `x.len()`,
    /// or unless `rows.start ≤ rows.end ≤ n` and `cols.start ≤ cols.end ≤
    /// n`; [`Error::BufferTooSmall`] if an output holds fewer than `h·w`
    /// entries; otherwise the errors of [`gram`](Self::gram) (for the inputs
    /// of the block's rows and columns; every input is checked for NaN and
    /// ±∞). On every error every entry of both outputs is zeroed.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Architecture;
    /// let a: Architecture<f64> = "dense(1.5,0.1) relu dense(1,0)".parse()?;
    /// let x = [1.0, 0.0, 0.0, 2.0, 1.0, 1.0, -1.0, 0.5]; // 4 inputs of 2
    /// let (mut k, mut t) = ([0.0; 16], [0.0; 16]);
    /// a.gram_flat(&x, 2, &mut k, &mut t)?;
    /// // Rows 1..4 × columns 0..2, both sides of the diagonal.
    /// let (mut kb, mut tb) = ([0.0; 6], [0.0; 6]);
    /// a.gram_block_flat(&x, 2, 1..4, 0..2, &mut kb, &mut tb)?;
    /// for i in 0..3 {
    ///     for j in 0..2 {
    ///         assert_eq!(kb[i * 2 + j].to_bits(), k[(i + 1) * 4 + j].to_bits());
    ///         assert_eq!(tb[i * 2 + j].to_bits(), t[(i + 1) * 4 + j].to_bits());
    ///     }
    /// }
    /// assert!(a.gram_block_flat(&x, 2, 3..2, 0..2, &mut kb, &mut tb).is_err());
    /// assert_eq!(kb, [0.0; 6]);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn gram_block_flat(
        &self,
        x: &[T],
        d: usize,
        rows: Range<usize>,
        cols: Range<usize>,
        nngp: &mut [T],
        ntk: &mut [T],
    ) -> Result<(), Error> {
        zero_on_error(&mut (nngp, ntk), |(nngp, ntk)| {
            flat_count(x.len(), d)?;
            let x = Flat { data: x, width: d };
            self.gram_block_impl(&x, (rows, cols), nngp, ntk)
        })
    }

    /// Rows `rows` × columns `cols` of the NNGP and NTK of
    /// [`cross_flat`](Self::cross_flat) (`x` holds `m` inputs, `x_train`
    /// `n`, of dimension `d`), bitwise equal to the same entries of the
    /// whole matrices, into the leading `h × w` entries of `nngp` and `ntk`
    /// (row-major).
    ///
    /// # Errors
    ///
    /// As [`gram_block_flat`](Self::gram_block_flat), with `rows.end ≤ m`
    /// and `cols.end ≤ n`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Architecture;
    /// let a: Architecture<f32> = "dense(1,0) erf dense(1,0)".parse()?;
    /// let (test, train) = ([0.5_f32, 0.5, -1.0, 0.0], [1.0_f32, 0.5, -0.3, 0.2, 0.0, 1.0]);
    /// let (mut k, mut t) = ([0.0_f32; 6], [0.0_f32; 6]);
    /// a.cross_flat(&test, &train, 2, &mut k, &mut t)?;
    /// let (mut kb, mut tb) = ([0.0_f32; 2], [0.0_f32; 2]);
    /// a.cross_block_flat(&test, &train, 2, 1..2, 1..3, &mut kb, &mut tb)?;
    /// assert_eq!((kb[0], kb[1]), (k[4], k[5]));
    /// assert_eq!((tb[0], tb[1]), (t[4], t[5]));
    /// # Ok::<(), ntk::Error>(())
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn cross_block_flat(
        &self,
        x: &[T],
        x_train: &[T],
        d: usize,
        rows: Range<usize>,
        cols: Range<usize>,
        nngp: &mut [T],
        ntk: &mut [T],
    ) -> Result<(), Error> {
        zero_on_error(&mut (nngp, ntk), |(nngp, ntk)| {
            let (m, n) = (flat_count(x.len(), d)?, flat_count(x_train.len(), d)?);
            let (h, w) = (rows_of(&rows, m)?, cols_of(&cols, n)?);
            holds(nngp.len().min(ntk.len()), h, w, 1)?;
            check_inputs(&Flat { data: x, width: d }, None)?;
            check_inputs(
                &Flat {
                    data: x_train,
                    width: d,
                },
                Some(d),
            )?;
            let x1 = Flat {
                data: slice(x, &rows, d),
                width: d,
            };
            let x2 = Flat {
                data: slice(x_train, &cols, d),
                width: d,
            };
            // With w = 0 there is nothing to write; a width of 1 keeps the view valid.
            let mut k = FlatMut {
                data: nngp,
                width: w.max(1),
            };
            let mut t = FlatMut {
                data: ntk,
                width: w.max(1),
            };
            self.cross_impl(&x1, &x2, &mut k, &mut t)
        })
    }

    /// Rows `rows` × columns `cols` of the NNGP and NTK matrices of
    /// [`gram_spatial`](Self::gram_spatial) (sequences, images, flat inputs
    /// with layer norm or residual blocks, recurrent architectures), bitwise
    /// equal to the same entries of the whole matrices, into the leading
    /// `h × w` entries of `nngp` and `ntk` (row-major), with `workspace` of
    /// at least [`workspace_len`](Self::workspace_len) numbers.
    ///
    /// A workspace of
    /// [`gram_workspace_len`](Self::gram_workspace_len)`(shape, h + w)`
    /// numbers keeps the own state of the block's row and column inputs, as
    /// the whole-matrix routine keeps every input's (the same results,
    /// fewer operations). Entries are computed as in
    /// [`gram_block_flat`](Self::gram_block_flat): above the diagonal from
    /// (row input, column input), below as the mirror image, on it from the
    /// input alone.
    ///
    /// # Errors
    ///
    /// Those of [`gram_spatial`](Self::gram_spatial) (for the inputs of the
    /// block's rows and columns; every input is checked for NaN and ±∞);
    /// [`Error::InvalidArgument`] unless `rows.start ≤ rows.end ≤ n` and
    /// `cols.start ≤ cols.end ≤ n`; [`Error::BufferTooSmall`] if an output
    /// holds fewer than `h·w` entries. On every error both outputs are
    /// zeroed.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{Architecture, Shape};
    /// let a: Architecture<f64> = "conv(3,1.5,0.1) relu gap dense(1,0)".parse()?;
    /// let shape = Shape::Sequence { length: 4, channels: 2 };
    /// let x: Vec<f64> = (0..3 * 8).map(|i| ((i * 7 % 5) as f64) - 2.0).collect();
    /// let mut ws = vec![0.0; a.gram_workspace_len(shape, 3)?];
    /// let (mut k, mut t) = ([0.0; 9], [0.0; 9]);
    /// a.gram_spatial(&x, shape, &mut ws, &mut k, &mut t)?;
    /// let (mut kb, mut tb) = ([0.0; 2], [0.0; 2]);
    /// a.gram_block_spatial(&x, shape, 2..3, 0..2, &mut ws, &mut kb, &mut tb)?;
    /// assert_eq!((kb[0], kb[1], tb[1]), (k[6], k[7], t[7]));
    /// assert_eq!(kb[0].to_bits(), k[2].to_bits());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn gram_block_spatial(
        &self,
        x: &[T],
        shape: Shape,
        rows: Range<usize>,
        cols: Range<usize>,
        workspace: &mut [T],
        nngp: &mut [T],
        ntk: &mut [T],
    ) -> Result<(), Error> {
        zero_on_error(&mut (nngp, ntk), |(nngp, ntk)| {
            if self.is_recurrent() {
                self.recurrent_block(x, shape, (rows, cols), workspace, (nngp, ntk))
            } else {
                self.grid_block(x, shape, (rows, cols), workspace, (nngp, ntk))
            }
        })
    }

    /// The block of [`gram_block_spatial`](Self::gram_block_spatial) for an
    /// architecture without a recurrent layer.
    fn grid_block(
        &self,
        x: &[T],
        shape: Shape,
        (rows, cols): (Range<usize>, Range<usize>),
        workspace: &mut [T],
        (nngp, ntk): (&mut [T], &mut [T]),
    ) -> Result<(), Error> {
        let (grid, channels, n) = self.prepare(x, shape, workspace)?;
        let (h, w) = (rows_of(&rows, n)?, cols_of(&cols, n)?);
        holds(nngp.len().min(ntk.len()), h, w, 1)?;
        if h == 0 || w == 0 {
            return Ok(());
        }
        let (a, c) = (rows.start, cols.start);
        let d = grid.positions() * channels;
        let input = |i: usize| &x[i * d..(i + 1) * d];
        // Tapes 0..h for the rows, h..h + w for the columns.
        let mut pairs = self.split_tapes(grid, h + w, workspace);
        let layers = (self.layers(), grid, channels);
        // The columns' own kernels wait in the last row, each read before
        // its entry is written.
        let last = (h - 1) * w;
        for j in cols.clone() {
            let r = pairs.own(layers, input(j), h + j - c)?;
            check(r, (r.k, r.k), (r.t, r.t))?;
            (nngp[last + j - c], ntk[last + j - c]) = (r.k, r.t);
        }
        for i in rows {
            let own = pairs.own(layers, input(i), i - a)?;
            check(own, (own.k, own.k), (own.t, own.t))?;
            for j in cols.clone() {
                let (kj, tj) = (nngp[last + j - c], ntk[last + j - c]);
                let same = input(i) == input(j);
                let r = match i.cmp(&j) {
                    core::cmp::Ordering::Equal => own,
                    core::cmp::Ordering::Less => {
                        pairs.cross(layers, (input(i), input(j), same), (i - a, h + j - c))?
                    }
                    core::cmp::Ordering::Greater => {
                        pairs.cross(layers, (input(j), input(i), same), (h + j - c, i - a))?
                    }
                };
                check(r, (own.k, kj), (own.t, tj))?;
                let at = (i - a) * w + (j - c);
                (nngp[at], ntk[at]) = (r.k, r.t);
            }
        }
        finite(&nngp[..h * w], &ntk[..h * w])
    }

    /// The block of [`gram_block_spatial`](Self::gram_block_spatial) for a
    /// recurrent architecture.
    fn recurrent_block(
        &self,
        x: &[T],
        shape: Shape,
        (rows, cols): (Range<usize>, Range<usize>),
        workspace: &mut [T],
        (nngp, ntk): (&mut [T], &mut [T]),
    ) -> Result<(), Error> {
        let (cell, d, n): (Cell<T>, usize, usize) = self.recurrent_prepare(x, shape, workspace)?;
        let (h, w) = (rows_of(&rows, n)?, cols_of(&cols, n)?);
        holds(nngp.len().min(ntk.len()), h, w, 1)?;
        let len = d * shape.positions();
        let seq = |i: usize| &x[i * len..(i + 1) * len];
        let mut ok = true;
        for (li, i) in rows.enumerate() {
            for (lj, j) in cols.clone().enumerate() {
                let (p, q) = if i <= j { (i, j) } else { (j, i) };
                let (k, t, fine) = cell.entry(seq(p), seq(q), p == q, d, workspace);
                ok &= fine;
                (nngp[li * w + lj], ntk[li * w + lj]) = (k, t);
            }
        }
        verdict(&nngp[..h * w], &ntk[..h * w], ok)
    }

    /// Rows `rows` × columns `cols` of the NNGP and NTK of
    /// [`cross_spatial`](Self::cross_spatial) (`x` holds `m` inputs of
    /// `shape`, `x_train` `n`), bitwise equal to the same entries of the
    /// whole matrices, into the leading `h × w` entries of `nngp` and `ntk`
    /// (row-major); a workspace of
    /// [`gram_workspace_len`](Self::gram_workspace_len)`(shape, w + 1)`
    /// numbers keeps the inputs' own state.
    ///
    /// # Errors
    ///
    /// As [`gram_block_spatial`](Self::gram_block_spatial), with
    /// `rows.end ≤ m` and `cols.end ≤ n`.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{Architecture, Shape};
    /// let a: Architecture<f64> = "conv_circ(3,1,0) erf flatten dense(1,0)".parse()?;
    /// let shape = Shape::Sequence { length: 3, channels: 1 };
    /// let (x, train) = ([1.0, 2.0, 3.0, 0.0, 0.0, 1.0], [1.0, 2.0, 3.0, 0.0, 1.0, 0.0]);
    /// let mut ws = [0.0; Architecture::<f64>::workspace_bound(3)];
    /// let (mut k, mut t) = ([0.0; 4], [0.0; 4]);
    /// a.cross_spatial(&x, &train, shape, &mut ws, &mut k, &mut t)?;
    /// let (mut kb, mut tb) = ([0.0; 1], [0.0; 1]);
    /// a.cross_block_spatial(&x, &train, shape, 1..2, 0..1, &mut ws, &mut kb, &mut tb)?;
    /// assert_eq!((kb[0], tb[0]), (k[2], t[2]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn cross_block_spatial(
        &self,
        x: &[T],
        x_train: &[T],
        shape: Shape,
        rows: Range<usize>,
        cols: Range<usize>,
        workspace: &mut [T],
        nngp: &mut [T],
        ntk: &mut [T],
    ) -> Result<(), Error> {
        zero_on_error(&mut (nngp, ntk), |(nngp, ntk)| {
            let (grid, channels) = input_grid(shape)?;
            let len = grid.positions() * channels;
            if !x.len().is_multiple_of(len) || !x_train.len().is_multiple_of(len) {
                return Err(Error::InvalidArgument {
                    what: "the input length must be a multiple of the length of one input",
                });
            }
            let (h, w) = (
                rows_of(&rows, x.len() / len)?,
                cols_of(&cols, x_train.len() / len)?,
            );
            holds(nngp.len().min(ntk.len()), h, w, 1)?;
            crate::simd::check_finite(x, "inputs")?;
            crate::simd::check_finite(x_train, "inputs")?;
            let (x1, x2) = (slice(x, &rows, len), slice(x_train, &cols, len));
            self.cross_spatial(x1, x2, shape, workspace, nngp, ntk)
        })
    }
}
