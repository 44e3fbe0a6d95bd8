//! The multi-core Gram matrices of sequences and images (feature `rayon`):
//! the pairs of [`gram_grid`](Architecture::gram_grid) and
//! [`cross_grid`](Architecture::cross_grid) in bands of rows, one band per
//! pair workspace, on rayon's threads.
//!
//! Each pair runs the single-thread pair routine on the same tapes of its
//! inputs' own state (or without tapes, which gives the same bits), each
//! entry is written by one thread and the lower triangle is a bitwise copy:
//! the matrices are the single-thread ones bit for bit, and the error
//! returned is the first in the single-thread order (the diagonal, then the
//! pairs row by row).

use super::super::arch::{Architecture, Shape};
use super::super::gram::hold;
use super::super::gram::parallel::mirror_lower;
use super::super::grid::{input_grid, Grid};
use super::super::table::{self, Kernels, Sides};
use super::super::Layer;
use super::{check, finite};
use crate::outputs::zero_on_error;
use crate::{Error, Real};

/// The layers, input grid and channels, and the input length.
#[derive(Clone, Copy)]
struct Net<'l, T> {
    layers: &'l [Layer<T>],
    grid: Grid,
    channels: usize,
}

impl<T: Real> Net<'_, T> {
    /// Σ and Θ of `x` with itself; its own state goes to `tape` if given.
    fn own(&self, x: &[T], work: &mut [T], tape: &mut [T]) -> Result<Kernels<T>, Error> {
        let (l, g, c) = (self.layers, self.grid, self.channels);
        if crate::simd::WIDE && !tape.is_empty() {
            table::pair_with(l, (x, x, true), g, c, work, false, Sides::Record(tape))
        } else {
            table::pair(l, (x, x, true), g, c, work, false)
        }
    }

    /// Σ and Θ of a pair, from the tapes of both inputs if given.
    fn cross(
        &self,
        inputs: (&[T], &[T], bool),
        work: &mut [T],
        (a, b): (&[T], &[T]),
    ) -> Result<Kernels<T>, Error> {
        let (l, g, c) = (self.layers, self.grid, self.channels);
        if crate::simd::WIDE && !a.is_empty() && !b.is_empty() {
            table::pair_with(l, inputs, g, c, work, false, Sides::Replay(a, b))
        } else {
            table::pair(l, inputs, g, c, work, false)
        }
    }
}

/// A workspace split for the threads: the diagonal stash (2·count
/// numbers), `count` tapes of `tape` numbers, and the workers, each a pair
/// workspace of `base` numbers and a tape.
struct Split<'w, T> {
    stash: &'w mut [T],
    tapes: &'w mut [T],
    workers: &'w mut [T],
    base: usize,
    tape: usize,
}

impl<'w, T: Real> Split<'w, T> {
    fn worker_len(&self) -> usize {
        self.base + self.tape
    }
}

/// Splits `workspace` for `count` inputs; [`Error::BufferTooSmall`] below a
/// stash and one pair workspace.
fn split<'w, T: Real>(
    layers: &[Layer<T>],
    grid: Grid,
    count: usize,
    workspace: &'w mut [T],
) -> Result<Split<'w, T>, Error> {
    let base = table::words(layers, grid);
    let stash_len = count.saturating_mul(2);
    let needed = stash_len.saturating_add(base);
    if workspace.len() < needed {
        return Err(Error::BufferTooSmall {
            needed,
            given: workspace.len(),
        });
    }
    let (stash, rest) = workspace.split_at_mut(stash_len);
    let tape = if table::tapes_exact(layers) {
        table::tape_words(layers, grid)
    } else {
        0
    };
    let fits = count
        .checked_mul(tape)
        .and_then(|t| t.checked_add(base + tape))
        .is_some_and(|t| t <= rest.len());
    let tape = if fits { tape } else { 0 };
    let (tapes, workers) = rest.split_at_mut(count * tape);
    Ok(Split {
        stash,
        tapes,
        workers,
        base,
        tape,
    })
}

/// Tape `i` of `tapes` (empty without tapes).
fn tape_of<T>(tapes: &[T], len: usize, i: usize) -> &[T] {
    tapes.get(i * len..(i + 1) * len).unwrap_or(&[])
}

/// The diagonal of inputs `first..first + k.len()` (`k`, `t` their stash
/// entries, `tapes` their tapes), split over the workers; the first error
/// in input order.
#[allow(clippy::too_many_arguments)]
fn diagonal<'x, T: Real + Send + Sync>(
    net: Net<'_, T>,
    input: &(dyn Fn(usize) -> &'x [T] + Sync),
    first: usize,
    (k, t): (&mut [T], &mut [T]),
    (tapes, tape): (&mut [T], usize),
    (workers, wlen): (&mut [T], usize),
) -> Result<(), Error> {
    let count = workers.len() / wlen;
    if count <= 1 || k.len() <= 1 {
        let (work, own) = workers[..wlen].split_at_mut(wlen - tape);
        for (i, (kv, tv)) in k.iter_mut().zip(t.iter_mut()).enumerate() {
            let slot = if tape > 0 {
                &mut tapes[i * tape..(i + 1) * tape]
            } else {
                &mut own[..0]
            };
            let r = net.own(input(first + i), work, slot)?;
            check(r, (r.k, r.k), (r.t, r.t))?;
            (*kv, *tv) = (r.k, r.t);
        }
        return Ok(());
    }
    let half = count / 2;
    let h = k.len() * half / count;
    let (k1, k2) = k.split_at_mut(h);
    let (t1, t2) = t.split_at_mut(h);
    let (p1, p2) = tapes.split_at_mut((h * tape).min(tapes.len()));
    let (w1, w2) = workers.split_at_mut(half * wlen);
    let (a, b) = rayon::join(
        || diagonal(net, input, first, (k1, t1), (p1, tape), (w1, wlen)),
        || diagonal(net, input, first + h, (k2, t2), (p2, tape), (w2, wlen)),
    );
    a.and(b)
}

/// What the rows of a band read.
struct Rows<'a, T> {
    net: Net<'a, T>,
    row_input: &'a (dyn Fn(usize) -> &'a [T] + Sync),
    col_input: &'a (dyn Fn(usize) -> &'a [T] + Sync),
    /// The diagonal K and Θ of the row inputs (`None` in a cross matrix,
    /// whose rows compute their own) and of the column inputs.
    row_diag: Option<(&'a [T], &'a [T])>,
    col_diag: (&'a [T], &'a [T]),
    /// The column inputs' tapes (the row inputs' too in a Gram matrix).
    tapes: &'a [T],
    tape: usize,
    /// Columns.
    n: usize,
}

impl<T: Real + Send + Sync> Rows<'_, T> {
    /// Columns of row `i` that are computed: above the diagonal in a Gram
    /// matrix.
    fn from(&self, i: usize) -> usize {
        if self.row_diag.is_some() {
            i + 1
        } else {
            0
        }
    }

    /// Rows `i0..` (their entries in `k`, `t`) on the workers, split in
    /// bands of about equal work; the first error in row order.
    fn bands(
        &self,
        i0: usize,
        (k, t): (&mut [T], &mut [T]),
        (workers, wlen): (&mut [T], usize),
    ) -> Result<(), Error> {
        let rows = k.len() / self.n.max(1);
        let count = workers.len() / wlen;
        if count <= 1 || rows <= 1 {
            return self.band(i0, (k, t), &mut workers[..wlen]);
        }
        let half = count / 2;
        let cost = |i: usize| self.n - self.from(i) + 1;
        let total: usize = (i0..i0 + rows).map(cost).sum();
        let target = total * half / count;
        let (mut h, mut acc) = (1, cost(i0));
        while h + 1 < rows && acc + cost(i0 + h) <= target {
            acc += cost(i0 + h);
            h += 1;
        }
        let at = h * self.n;
        let (k1, k2) = k.split_at_mut(at);
        let (t1, t2) = t.split_at_mut(at);
        let (w1, w2) = workers.split_at_mut(half * wlen);
        let (a, b) = rayon::join(
            || self.bands(i0, (k1, t1), (w1, wlen)),
            || self.bands(i0 + h, (k2, t2), (w2, wlen)),
        );
        a.and(b)
    }

    /// Rows `i0..` on one worker, in the single-thread order.
    fn band(&self, i0: usize, (k, t): (&mut [T], &mut [T]), worker: &mut [T]) -> Result<(), Error> {
        let n = self.n;
        let (work, own) = worker.split_at_mut(worker.len() - self.tape);
        for (li, (krow, trow)) in k.chunks_exact_mut(n).zip(t.chunks_exact_mut(n)).enumerate() {
            let i = i0 + li;
            let xi = (self.row_input)(i);
            let (ki, ti, row_tape): (T, T, &[T]) = match self.row_diag {
                Some((kd, td)) => (kd[i], td[i], tape_of(self.tapes, self.tape, i)),
                None => {
                    let r = self.net.own(xi, work, own)?;
                    check(r, (r.k, r.k), (r.t, r.t))?;
                    (r.k, r.t, &*own)
                }
            };
            for j in self.from(i)..n {
                let xj = (self.col_input)(j);
                let col_tape = tape_of(self.tapes, self.tape, j);
                let r = self
                    .net
                    .cross((xi, xj, xi == xj), work, (row_tape, col_tape))?;
                let (kd, td) = self.col_diag;
                check(r, (ki, kd[j]), (ti, td[j]))?;
                krow[j] = r.k;
                trow[j] = r.t;
            }
        }
        Ok(())
    }
}

impl<T: Real + Send + Sync, const CAP: usize> Architecture<T, CAP> {
    /// The workspace length with which
    /// [`gram_spatial_parallel`](Self::gram_spatial_parallel) of `count`
    /// inputs of `shape` (or
    /// [`cross_spatial_parallel`](Self::cross_spatial_parallel) with
    /// `count` training inputs) runs `workers` pairs at once, each input's
    /// own state kept: the diagonal of the `count` inputs (2·`count`
    /// numbers), their tapes (as in
    /// [`gram_workspace_len`](Self::gram_workspace_len)), and per worker a
    /// pair workspace of [`workspace_len`](Self::workspace_len) numbers and
    /// one tape. Give `workers` the number of threads (rayon's
    /// `current_num_threads()`), or a small multiple of it for a finer
    /// balance.
    ///
    /// # Errors
    ///
    /// Those of [`workspace_len`](Self::workspace_len), and
    /// [`Error::InvalidArgument`] if the length overflows.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{Architecture, Shape};
    /// let a: Architecture<f64> = "conv(3,1.5,0.1) relu gap dense(1,0)".parse()?;
    /// let shape = Shape::Sequence { length: 4, channels: 2 };
    /// let one = a.gram_parallel_workspace_len(shape, 3, 1)?;
    /// let two = a.gram_parallel_workspace_len(shape, 3, 2)?;
    /// assert!(two > one && one > a.gram_workspace_len(shape, 3)?);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
    pub fn gram_parallel_workspace_len(
        &self,
        shape: Shape,
        count: usize,
        workers: usize,
    ) -> Result<usize, Error> {
        let base = self.workspace_len(shape)?;
        let (g, _) = input_grid(shape)?;
        let tape = if !self.is_recurrent() && table::tapes_exact(self.layers()) {
            table::tape_words(self.layers(), g)
        } else {
            0
        };
        let overflow = super::super::grid::invalid("the workspace length overflows");
        let per_worker = base.checked_add(tape).ok_or(overflow)?;
        count
            .checked_mul(tape.checked_add(2).ok_or(overflow)?)
            .and_then(|s| per_worker.checked_mul(workers.max(1))?.checked_add(s))
            .ok_or(overflow)
    }

    /// [`gram_grid`](Self::gram_grid) on several cores: the same matrices
    /// bit for bit, the same errors.
    ///
    /// The workspace is split into the diagonal of the inputs, the tapes of
    /// their own state when they fit, and as many pair workspaces
    /// ("workers") as the rest holds (see
    /// [`gram_parallel_workspace_len`](Self::gram_parallel_workspace_len));
    /// the rows of the upper triangle go in bands of about equal work, one
    /// per worker, to the threads of rayon's current pool — the global pool
    /// (as many threads as cores, or `RAYON_NUM_THREADS`) or the pool of an
    /// enclosing `rayon::ThreadPool::install` — and the lower triangle is
    /// copied in blocks. A workspace of one worker computes on one thread.
    /// Nothing is allocated beyond what rayon's threads need.
    ///
    /// # Errors
    ///
    /// As [`gram_grid`](Self::gram_grid) (a recurrent architecture is
    /// [`Error::InvalidArgument`]: use
    /// [`gram_recurrent`](Self::gram_recurrent)), with
    /// [`Error::BufferTooSmall`] for a workspace shorter than 2·N +
    /// [`workspace_len`](Self::workspace_len). On every error both outputs
    /// are zeroed.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{Architecture, Shape};
    /// let a: Architecture<f64> = "conv(3,1.5,0.1) relu gap dense(1,0)".parse()?;
    /// let shape = Shape::Sequence { length: 4, channels: 2 };
    /// let x: Vec<f64> = (0..5 * 8).map(|i| ((i * 7 % 5) as f64) - 2.0).collect();
    /// let (mut k, mut t) = ([0.0; 25], [0.0; 25]);
    /// let mut ws = vec![0.0; a.gram_parallel_workspace_len(shape, 5, 2)?];
    /// a.gram_spatial_parallel(&x, shape, &mut ws, &mut k, &mut t)?;
    /// let (mut k1, mut t1) = ([0.0; 25], [0.0; 25]);
    /// a.gram_grid(&x, shape, &mut ws, &mut k1, &mut t1)?;
    /// assert_eq!((k, t), (k1, t1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
    pub fn gram_spatial_parallel(
        &self,
        x: &[T],
        shape: Shape,
        workspace: &mut [T],
        nngp: &mut [T],
        ntk: &mut [T],
    ) -> Result<(), Error> {
        zero_on_error(&mut (nngp, ntk), |(nngp, ntk)| {
            self.not_recurrent()?;
            let (grid, channels, n) = self.prepare(x, shape, workspace)?;
            let nn = n.saturating_mul(n);
            hold(nn, nngp, ntk)?;
            let (nngp, ntk) = (&mut nngp[..nn], &mut ntk[..nn]);
            let d = grid.positions() * channels;
            let input = |i: usize| &x[i * d..(i + 1) * d];
            let net = Net {
                layers: self.layers(),
                grid,
                channels,
            };
            let s = split(self.layers(), grid, n, workspace)?;
            let wlen = s.worker_len();
            let (kd, td) = s.stash.split_at_mut(n);
            diagonal(
                net,
                &input,
                0,
                (kd, td),
                (s.tapes, s.tape),
                (s.workers, wlen),
            )?;
            let rows = Rows {
                net,
                row_input: &input,
                col_input: &input,
                row_diag: Some((kd, td)),
                col_diag: (kd, td),
                tapes: s.tapes,
                tape: s.tape,
                n,
            };
            rows.bands(0, (nngp, ntk), (s.workers, wlen))?;
            for i in 0..n {
                (nngp[i * n + i], ntk[i * n + i]) = (kd[i], td[i]);
            }
            rayon::join(|| mirror_lower(nngp, n, 0), || mirror_lower(ntk, n, 0));
            finite(nngp, ntk)
        })
    }

    /// [`cross_grid`](Self::cross_grid) on several cores, as
    /// [`gram_spatial_parallel`](Self::gram_spatial_parallel): the rows of
    /// the M × N matrices in bands, one per worker (each with its own tape
    /// for the input of its row); the same matrices bit for bit and the
    /// same errors. The workspace of
    /// [`gram_parallel_workspace_len`](Self::gram_parallel_workspace_len)`(shape,
    /// N, workers)` keeps every input's own state.
    ///
    /// # Errors
    ///
    /// As [`gram_spatial_parallel`](Self::gram_spatial_parallel), with a
    /// workspace of at least 2·N + [`workspace_len`](Self::workspace_len)
    /// numbers.
    #[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
    pub fn cross_spatial_parallel(
        &self,
        x: &[T],
        x_train: &[T],
        shape: Shape,
        workspace: &mut [T],
        nngp: &mut [T],
        ntk: &mut [T],
    ) -> Result<(), Error> {
        zero_on_error(&mut (nngp, ntk), |(nngp, ntk)| {
            self.not_recurrent()?;
            let (grid, channels, m) = self.prepare(x, shape, workspace)?;
            let (_, _, n) = self.prepare(x_train, shape, workspace)?;
            let mn = m.saturating_mul(n);
            hold(mn, nngp, ntk)?;
            if m == 0 || n == 0 {
                return Ok(());
            }
            let (nngp, ntk) = (&mut nngp[..mn], &mut ntk[..mn]);
            let d = grid.positions() * channels;
            let input = |i: usize| &x[i * d..(i + 1) * d];
            let train = |j: usize| &x_train[j * d..(j + 1) * d];
            let net = Net {
                layers: self.layers(),
                grid,
                channels,
            };
            let s = split(self.layers(), grid, n, workspace)?;
            let wlen = s.worker_len();
            let (kd, td) = s.stash.split_at_mut(n);
            diagonal(
                net,
                &train,
                0,
                (kd, td),
                (s.tapes, s.tape),
                (s.workers, wlen),
            )?;
            let rows = Rows {
                net,
                row_input: &input,
                col_input: &train,
                row_diag: None,
                col_diag: (kd, td),
                tapes: s.tapes,
                tape: s.tape,
                n,
            };
            rows.bands(0, (nngp, ntk), (s.workers, wlen))?;
            finite(nngp, ntk)
        })
    }

    /// [`gram_sequence`](Self::gram_sequence) on several cores: as
    /// [`gram_spatial_parallel`](Self::gram_spatial_parallel) with
    /// [`Shape::Sequence`], the same matrices bit for bit.
    ///
    /// # Errors
    ///
    /// As [`gram_spatial_parallel`](Self::gram_spatial_parallel).
    #[cfg_attr(docsrs, doc(cfg(feature = "rayon")))]
    pub fn gram_sequence_parallel<const N: usize, const L: usize, const C: usize>(
        &self,
        x: &[[[T; C]; L]; N],
        workspace: &mut [T],
        nngp: &mut [[T; N]; N],
        ntk: &mut [[T; N]; N],
    ) -> Result<(), Error> {
        let shape = Shape::Sequence {
            length: L,
            channels: C,
        };
        zero_on_error(&mut (nngp, ntk), |(k, t)| {
            self.gram_spatial_parallel(
                x.as_flattened().as_flattened(),
                shape,
                workspace,
                k.as_flattened_mut(),
                t.as_flattened_mut(),
            )
        })
    }
}
