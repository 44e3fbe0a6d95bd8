//! The multi-core Gram matrices of flat inputs (feature `rayon`): the tiles
//! of [`super::tile`] in bands of rows on rayon's threads, and the mirror of
//! the upper triangle in blocks.
//!
//! Every tile is the single-thread tile (same rows, same columns, same
//! per-input variances recomputed in the tile), each entry is written by
//! exactly one thread, the lower triangle is a bitwise copy, and the error
//! bound is the worst of the tiles' (an order-free maximum): the matrices
//! and the verdict are those of [`gram`](Architecture::gram) and
//! [`cross`](Architecture::cross) bit for bit.

use super::super::arch::Architecture;
use super::super::pair::worse;
use super::super::precision::TILE;
use super::super::rows::{check_inputs, FlatMut, RowsMut};
use super::super::step::Step;
use super::super::tile::{tile, Tile};
use super::judge;
use crate::outputs::zero_on_error;
use crate::{Error, Real};

/// Rows `first..` of a row-major matrix of `width` columns, addressed by
/// their global index (rows outside are empty).
struct BandMut<'a, T> {
    data: &'a mut [T],
    width: usize,
    first: usize,
}

impl<T> RowsMut<T> for BandMut<'_, T> {
    fn count(&self) -> usize {
        self.first + self.data.len().checked_div(self.width).unwrap_or(0)
    }
    fn row_mut(&mut self, i: usize) -> &mut [T] {
        let Some(li) = i.checked_sub(self.first) else {
            return &mut [];
        };
        let start = li.saturating_mul(self.width);
        self.data
            .get_mut(start..start.saturating_add(self.width))
            .unwrap_or(&mut [])
    }
    fn row_ref(&self, i: usize) -> &[T] {
        let Some(li) = i.checked_sub(self.first) else {
            return &[];
        };
        let start = li.saturating_mul(self.width);
        self.data
            .get(start..start.saturating_add(self.width))
            .unwrap_or(&[])
    }
}

/// Rows per block below which [`mirror_lower`] copies on one thread.
const LEAF: usize = 64;

/// Copies the upper triangle of the square block of rows `first..first +
/// len` (`rows` holds those rows of a row-major matrix of `width` columns)
/// below its diagonal: `rows[i][first + j] = rows[j][first + i]` for
/// `j < i`. The two halves are mirrored on two threads after the block
/// between them, which reads only the upper half.
pub(in crate::analytic) fn mirror_lower<T: Copy + Send + Sync>(
    rows: &mut [T],
    width: usize,
    first: usize,
) {
    let len = rows.len().checked_div(width).unwrap_or(0);
    if len <= LEAF {
        for i in 1..len {
            let (above, below) = rows.split_at_mut(i * width);
            for j in 0..i {
                below[first + j] = above[j * width + first + i];
            }
        }
        return;
    }
    let s = len / 2;
    let (top, bottom) = rows.split_at_mut(s * width);
    below_block(top, bottom, width, (first, s), first + s);
    rayon::join(
        || mirror_lower(top, width, first),
        || mirror_lower(bottom, width, first + s),
    );
}

/// `bottom[i][c0 + j] = top[j][src + i]` for the `s` rows of `top` and the
/// rows of `bottom`, in halves of `bottom` on two threads.
fn below_block<T: Copy + Send + Sync>(
    top: &[T],
    bottom: &mut [T],
    width: usize,
    (c0, s): (usize, usize),
    src: usize,
) {
    let len = bottom.len().checked_div(width).unwrap_or(0);
    if len <= LEAF {
        for (i, row) in bottom.chunks_exact_mut(width).enumerate() {
            for (j, v) in row[c0..c0 + s].iter_mut().enumerate() {
                *v = top[j * width + src + i];
            }
        }
        return;
    }
    let h = len / 2;
    let (a, b) = bottom.split_at_mut(h * width);
    rayon::join(
        || below_block(top, a, width, (c0, s), src),
        || below_block(top, b, width, (c0, s), src + h),
    );
}

/// The inputs and steps of one Gram or cross matrix.
struct Job<'a, T, const D: usize> {
    steps: &'a [Step<T>],
    x1: &'a [[T; D]],
    x2: &'a [[T; D]],
    /// Columns (inputs of `x2`).
    n: usize,
    /// Only the tiles on and above the diagonal (a Gram matrix).
    upper: bool,
}

impl<T: Real + Send + Sync, const D: usize> Job<'_, T, D> {
    /// Tiles in the band of tile rows `b0..b1`, whose rows `nngp` and `ntk`
    /// hold, split in two halves of about equal work on two threads while
    /// more than one tile row is left; the worst error bound.
    fn bands(&self, (b0, b1): (usize, usize), nngp: &mut [T], ntk: &mut [T]) -> T {
        if b1 - b0 <= 1 {
            return self.band(b0, nngp, ntk);
        }
        let tiles = |b: usize| {
            if self.upper {
                self.n.div_ceil(TILE) - b
            } else {
                1
            }
        };
        let total: usize = (b0..b1).map(tiles).sum();
        let mut mid = b0 + 1;
        let mut acc = tiles(b0);
        while mid + 1 < b1 && 2 * (acc + tiles(mid)) <= total {
            acc += tiles(mid);
            mid += 1;
        }
        let at = ((mid - b0) * TILE * self.n).min(nngp.len());
        let (k1, k2) = nngp.split_at_mut(at);
        let (t1, t2) = ntk.split_at_mut(at);
        let (e1, e2) = rayon::join(
            || self.bands((b0, mid), k1, t1),
            || self.bands((mid, b1), k2, t2),
        );
        worse(e1, e2)
    }

    /// The tiles of tile row `b` (rows `b·TILE..`), in the single-thread
    /// order.
    fn band(&self, b: usize, nngp: &mut [T], ntk: &mut [T]) -> T {
        let r0 = b * TILE;
        let m = self.x1.len();
        if r0 >= m {
            return T::ZERO;
        }
        let nr = TILE.min(m - r0);
        let (mut k, mut t) = (
            BandMut {
                data: nngp,
                width: self.n,
                first: r0,
            },
            BandMut {
                data: ntk,
                width: self.n,
                first: r0,
            },
        );
        let mut error = T::ZERO;
        let c_start = if self.upper { r0 } else { 0 };
        for c0 in (c_start..self.n).step_by(TILE) {
            let nc = TILE.min(self.n - c0);
            let at = Tile {
                rows: (r0, nr),
                cols: (c0, nc),
                upper: self.upper && c0 == r0,
            };
            let e = tile::<true, _, _, _, _>(self.steps, self.x1, self.x2, at, &mut k, &mut t);
            error = worse(error, e);
        }
        error
    }
}

impl<T: Real + Send + Sync, const CAP: usize> Architecture<T, CAP> {
    fn gram_parallel_impl<const D: usize>(
        &self,
        x: &[[T; D]],
        nngp: &mut [T],
        ntk: &mut [T],
    ) -> Result<(), Error> {
        let n = x.len();
        check_inputs(x, None)?;
        let (steps, len) = self.steps::<true>()?;
        let steps = steps.get(..len).unwrap_or(&[]);
        // Diagonal, once per input, in input order (the first refusal is
        // the single-thread one).
        let mut error = T::ZERO;
        for (i, xi) in x.iter().enumerate() {
            let (q, t, e) = self.diagonal::<true>(steps, xi)?;
            error = worse(error, e);
            nngp[i * n + i] = q;
            ntk[i * n + i] = t;
        }
        let job = Job {
            steps,
            x1: x,
            x2: x,
            n,
            upper: true,
        };
        let e = job.bands((0, n.div_ceil(TILE)), nngp, ntk);
        error = worse(error, e);
        rayon::join(|| mirror_lower(nngp, n, 0), || mirror_lower(ntk, n, 0));
        let mut k = FlatMut {
            data: nngp,
            width: n,
        };
        let mut t = FlatMut {
            data: ntk,
            width: n,
        };
        judge(&mut k, &mut t, (n, n), error)
    }

    fn cross_parallel_impl<const D: usize>(
        &self,
        x1: &[[T; D]],
        x2: &[[T; D]],
        nngp: &mut [T],
        ntk: &mut [T],
    ) -> Result<(), Error> {
        let (m, n) = (x1.len(), x2.len());
        let d = check_inputs(x1, None)?;
        if m > 0 {
            check_inputs(x2, Some(d))?;
        } else {
            check_inputs(x2, None)?;
        }
        let (steps, len) = self.steps::<true>()?;
        let steps = steps.get(..len).unwrap_or(&[]);
        if m == 0 || n == 0 {
            return Ok(());
        }
        for xi in x1.iter().chain(x2) {
            self.diagonal::<true>(steps, xi)?;
        }
        let job = Job {
            steps,
            x1,
            x2,
            n,
            upper: false,
        };
        let error = job.bands((0, m.div_ceil(TILE)), nngp, ntk);
        let mut k = FlatMut {
            data: nngp,
            width: n,
        };
        let mut t = FlatMut {
            data: ntk,
            width: n,
        };
        judge(&mut k, &mut t, (m, n), error)
    }

    /// [`gram`](Self::gram) on several cores: the same matrices bit for
    /// bit, the same errors.
    ///
    /// The square tiles of the single-thread routine go in bands of tile
    /// rows to the threads of rayon's current pool — the global pool (as
    /// many threads as cores, or `RAYON_NUM_THREADS`) or the pool of an
    /// enclosing `rayon::ThreadPool::install` — and the lower triangle is
    /// copied in blocks on the threads too. Each tile is computed as on
    /// one thread, so the result does not depend on the number of threads.
    /// No memory is allocated beyond what rayon's threads need.
    ///
    /// # Errors
    ///
    /// As [`gram`](Self::gram). On every error both outputs are zeroed.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Architecture;
    /// let a: Architecture<f64> = "dense(1.5,0.1) relu dense(1.5,0.1)".parse()?;
    /// let x: [[f64; 2]; 80] = core::array::from_fn(|i| [(i as f64).sin(), (i as f64).cos()]);
    /// let (mut k, mut t) = ([[0.0; 80]; 80], [[0.0; 80]; 80]);
    /// // Two threads of a pool of our own; the global pool by default.
    /// let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    /// pool.install(|| a.gram_parallel(&x, &mut k, &mut t))?;
    /// let (mut k1, mut t1) = ([[0.0; 80]; 80], [[0.0; 80]; 80]);
    /// a.gram(&x, &mut k1, &mut t1)?;
    /// assert!(k == k1 && t == t1);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
    pub fn gram_parallel<const N: usize, const D: usize>(
        &self,
        x: &[[T; D]; N],
        nngp: &mut [[T; N]; N],
        ntk: &mut [[T; N]; N],
    ) -> Result<(), Error> {
        const { assert!(D > 0, "inputs need at least one feature") };
        zero_on_error(&mut (nngp, ntk), |(k, t)| {
            self.gram_parallel_impl(&x[..], k.as_flattened_mut(), t.as_flattened_mut())
        })
    }

    /// [`cross`](Self::cross) on several cores, as
    /// [`gram_parallel`](Self::gram_parallel): the same matrices bit for
    /// bit, the same errors.
    ///
    /// # Errors
    ///
    /// As [`cross`](Self::cross). On every error both outputs are zeroed.
    #[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
    pub fn cross_parallel<const M: usize, const N: usize, const D: usize>(
        &self,
        x: &[[T; D]; M],
        x_train: &[[T; D]; N],
        nngp: &mut [[T; N]; M],
        ntk: &mut [[T; N]; M],
    ) -> Result<(), Error> {
        const { assert!(D > 0, "inputs need at least one feature") };
        zero_on_error(&mut (nngp, ntk), |(k, t)| {
            self.cross_parallel_impl(
                &x[..],
                &x_train[..],
                k.as_flattened_mut(),
                t.as_flattened_mut(),
            )
        })
    }
}
