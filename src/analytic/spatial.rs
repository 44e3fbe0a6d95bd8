//! Kernels of sequence and image inputs: the position-pair state
//! Σᵢⱼ[s, s′], Θᵢⱼ[s, s′] through convolutions, pooling and per-position
//! layers, down to the flat N × N matrices (one pair by
//! [`super::table`], in the bands of [`super::band`]).
//!
//! The Gram routines compute the diagonal K(x, x), Θ(x, x) of every input
//! first, so that each pair's error bound is held against the diagonal
//! scale √(K(x, x)·K(x′, x′)) as in the flat routines.

use super::arch::{Architecture, Shape};
use super::gram::hold;
use super::grid::{bound_words, input_grid, invalid, next_grid, Grid};
use super::table::{self, Kernels, Sides};
use crate::outputs::zero_on_error;
use crate::{Error, Real};

#[cfg(feature = "rayon")]
mod parallel;

impl<T: Real, const CAP: usize> Architecture<T, CAP> {
    /// An upper bound of [`workspace_len`](Self::workspace_len) for inputs
    /// of `positions` positions (L for a sequence, H·W for an image, 1 for
    /// flat data), whatever the architecture of up to `CAP` layers:
    /// (8 + 4D)·positions² + (12 + 4D)·positions + 3D with D = ⌊(`CAP` − 1)/2⌋,
    /// the deepest nesting of residual blocks that `CAP` layers hold
    /// (`usize::MAX` on overflow). Five tables and twelve vectors serve
    /// every architecture, attention adds three |S| × |S| matrices, and each
    /// level of residual nesting a saved state. Usable in constant
    /// expressions to size a workspace array.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Architecture;
    /// const WS: usize = Architecture::<f64, 4>::workspace_bound(8);
    /// let workspace = [0.0_f64; WS];
    /// // D = 1 for four layers (`[ dense ]` and one more).
    /// assert_eq!(workspace.len(), 12 * 64 + 16 * 8 + 3);
    /// ```
    pub const fn workspace_bound(positions: usize) -> usize {
        bound_words(positions, CAP.saturating_sub(1) / 2)
    }

    /// The exact workspace length that [`gram_spatial`](Self::gram_spatial)
    /// and [`cross_spatial`](Self::cross_spatial) need for inputs of
    /// `shape`, after checking that the architecture fits the shape.
    ///
    /// The tables hold only the offsets of position pairs that the readout
    /// reads (see [`gram_spatial`](Self::gram_spatial)): a `flatten`
    /// readout after convolutions needs O(|S|) numbers, where `gap` needs
    /// O(|S|²).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if a size of `shape` is 0 or too large, if
    /// a convolution, pooling, attention, `gap` or `flatten` layer meets flat
    /// data (a flat input, or after `gap`/`flatten`), if a pooling window
    /// does not divide the grid, if the architecture does not end flat, or
    /// if it breaks the Gaussianity and nesting rules of attention, layer
    /// norm and residual blocks (see [`parse`](Self::parse)).
    ///
    /// Attention needs every table whole and three |S| × |S| matrices, and
    /// each level of residual nesting keeps a copy of the state (four tables,
    /// four vectors and three numbers).
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{Architecture, Shape};
    /// let a: Architecture<f64> = "conv(3,1,0) relu avg_pool(2) flatten dense(1,0)".parse()?;
    /// let shape = Shape::Sequence { length: 64, channels: 2 };
    /// // Offsets −1 ..= 1 before the pooling: 5 tables of 64 × 3 and 12 vectors.
    /// assert_eq!(a.workspace_len(shape)?, 5 * 64 * 3 + 12 * 64);
    /// assert!(a.workspace_len(shape)? < Architecture::<f64>::workspace_bound(64));
    /// let gap: Architecture<f64> = "conv(3,1,0) relu gap dense(1,0)".parse()?;
    /// assert_eq!(gap.workspace_len(shape)?, 3 * 64 * 64 + 2 * 64 + 12 * 64);
    /// assert!(a.workspace_len(Shape::Sequence { length: 5, channels: 2 }).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn workspace_len(&self, shape: Shape) -> Result<usize, Error> {
        if self.is_recurrent() {
            return self.recurrent_workspace_len(shape);
        }
        super::syntax::structure(self.layers()).map_err(|(_, what)| invalid(what))?;
        let (mut g, _) = input_grid(shape)?;
        for l in self.layers() {
            g = next_grid(l, g)?;
        }
        if !g.flat {
            return Err(invalid(
                "a sequence or image architecture must end flat (gap or flatten)",
            ));
        }
        let (g, _) = input_grid(shape)?;
        Ok(table::words(self.layers(), g))
    }

    /// An upper bound of [`gram_workspace_len`](Self::gram_workspace_len)
    /// for `count` inputs of `positions` positions, whatever the
    /// architecture of up to `CAP` layers:
    /// [`workspace_bound`](Self::workspace_bound)`(positions)` and, per
    /// input, 5·(`CAP` + 1)·positions + `CAP`·(positions² + 2·positions)
    /// (`usize::MAX` on overflow). Usable in constant expressions.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{Architecture, Shape};
    /// const WS: usize = Architecture::<f64, 8>::gram_workspace_bound(4, 3);
    /// let a: Architecture<f64, 8> = "conv(3,1.5,0.1) relu gap dense(1,0)".parse()?;
    /// let shape = Shape::Sequence { length: 4, channels: 2 };
    /// assert!(a.gram_workspace_len(shape, 3)? <= WS);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub const fn gram_workspace_bound(positions: usize, count: usize) -> usize {
        let p = positions;
        let per_layer = match p.checked_mul(p) {
            Some(p2) => p2.saturating_add(p.saturating_mul(2)),
            None => usize::MAX,
        };
        let tape = p
            .saturating_mul(5)
            .saturating_mul(CAP.saturating_add(1))
            .saturating_add(per_layer.saturating_mul(CAP));
        Self::workspace_bound(p).saturating_add(tape.saturating_mul(count))
    }

    /// The workspace length with which [`gram_spatial`](Self::gram_spatial)
    /// of `count` inputs of `shape` computes the tables of each input alone
    /// once per input instead of once per pair (for
    /// [`cross_spatial`](Self::cross_spatial) with N training inputs,
    /// `count` = N + 1): [`workspace_len`](Self::workspace_len) and, per
    /// input, its state through every layer (the variances and scales of
    /// each position, and the attention weights of each attention layer).
    ///
    /// Given a workspace of at least this length, the Gram routines of
    /// sequences and images keep each input's own state, O(layers·|S|)
    /// numbers plus |S|² per attention layer, and compute per pair only the
    /// tables between the two inputs; the kernels, their error bounds and
    /// the errors are the same bit for bit. A shorter workspace of at least
    /// [`workspace_len`](Self::workspace_len) computes everything per pair.
    /// Recurrent architectures and, with the feature `error-bounds`,
    /// architectures with a nonlinearity outside the ReLU family (whose
    /// bound reads the error of the pair on each input's own tables; and
    /// the ReLU family too on targets with narrow vectors) are computed per
    /// pair whatever the workspace, and this is
    /// [`workspace_len`](Self::workspace_len) for them; so are all
    /// architectures on targets whose vectors hold fewer than 16 numbers
    /// ([`LANES`](crate::simd::LANES), microcontrollers), where the
    /// routines keep only their smaller per-pair code.
    ///
    /// # Errors
    ///
    /// Those of [`workspace_len`](Self::workspace_len).
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{Architecture, Shape};
    /// let a: Architecture<f64> = "conv(3,1.5,0.1) relu gap dense(1,0)".parse()?;
    /// let shape = Shape::Sequence { length: 4, channels: 2 };
    /// let x: Vec<f64> = (0..3 * 8).map(|i| ((i * 7 % 5) as f64) - 2.0).collect();
    /// let (mut k, mut t) = ([0.0; 9], [0.0; 9]);
    /// let mut ws = vec![0.0; a.gram_workspace_len(shape, 3)?];
    /// a.gram_spatial(&x, shape, &mut ws, &mut k, &mut t)?;
    /// // The same kernels per pair, with the smallest workspace.
    /// let (mut kp, mut tp) = ([0.0; 9], [0.0; 9]);
    /// let mut small = vec![0.0; a.workspace_len(shape)?];
    /// a.gram_spatial(&x, shape, &mut small, &mut kp, &mut tp)?;
    /// assert_eq!((k, t), (kp, tp));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn gram_workspace_len(&self, shape: Shape, count: usize) -> Result<usize, Error> {
        let base = self.workspace_len(shape)?;
        if self.is_recurrent() || !table::tapes_exact(self.layers()) {
            return Ok(base);
        }
        let (g, _) = input_grid(shape)?;
        let tape = table::tape_words(self.layers(), g);
        tape.checked_mul(count)
            .and_then(|t| t.checked_add(base))
            .ok_or(invalid("the workspace length overflows"))
    }

    /// The workspace of the Gram routines split in the workspace of a pair
    /// and `count` tapes of each input's own state, when it holds them and
    /// the tapes give the per-pair results (see
    /// [`gram_workspace_len`](Self::gram_workspace_len)); a tape length of
    /// 0 otherwise.
    pub(super) fn split_tapes<'w>(
        &self,
        grid: Grid,
        count: usize,
        workspace: &'w mut [T],
    ) -> Pairs<'w, T> {
        if count < 2 || !table::tapes_exact(self.layers()) {
            return Pairs {
                work: workspace,
                tapes: &mut [],
                tape: 0,
            };
        }
        let base = table::words(self.layers(), grid);
        let tape = table::tape_words(self.layers(), grid);
        let fits = count
            .checked_mul(tape)
            .and_then(|t| t.checked_add(base))
            .is_some_and(|n| n <= workspace.len());
        if fits {
            let (work, tapes) = workspace.split_at_mut(base);
            Pairs { work, tapes, tape }
        } else {
            Pairs {
                work: workspace,
                tapes: &mut [],
                tape: 0,
            }
        }
    }

    /// NNGP and NTK matrices of N inputs of `shape` (sequences or images,
    /// flat vectors too), stored row-major in `x` (each input L·C or H·W·C
    /// numbers, channels innermost, images row by row), into the row-major
    /// N × N `nngp` and `ntk`, with `workspace` of at least
    /// [`workspace_len`](Self::workspace_len) numbers (unspecified after the
    /// call).
    ///
    /// The kernel state of a pair of inputs is the full position-pair
    /// covariance, Σ⁰ᵢⱼ[s, s′] = Σ_c xᵢ[s, c]·xⱼ[s′, c]/C, Θ⁰ = 0. Dense
    /// layers and nonlinearities act on every entry [s, s′] (a nonlinearity
    /// with the variances qᵢ\[s\] = Σᵢᵢ\[s, s\] and qⱼ\[s′\]); convolutions average
    /// the entries shifted by the same offset, `avg_pool` the window pairs,
    /// `gap` all pairs and `flatten` the diagonal s = s′ (see [`Layer`](super::Layer)). The
    /// Gram matrix is symmetric bit for bit.
    ///
    /// Only the offsets s′ − s that the readout reads are computed: offset 0
    /// for `flatten`, widened to p·B + p − 1 by each `avg_pool(p)` before
    /// it, all of them for `gap`. The tables of each input alone are kept
    /// on their diagonal (their variances), unless pooling or a
    /// nonlinearity after `gap` reads more.
    ///
    /// As the flat routines, the kernels carry a bound on their rounding
    /// error (feature `error-bounds`) and the quadrature's error estimate of
    /// every table entry, and are refused with [`Error::PrecisionLoss`] when
    /// it passes [`PRECISION_LIMIT`](super::PRECISION_LIMIT) of the diagonal
    /// scale (see the [module docs](super#sequences-and-images)). Cost: per
    /// pair of inputs, one pair map per table entry and layer, and Q
    /// (sequences) or Q² (images) additions per entry and convolution; an
    /// entry per position and offset, |S|² entries for `gap`.
    ///
    /// A recurrent architecture (first layer `rnn`) is computed by
    /// [`gram_recurrent`](Self::gram_recurrent) instead, with its errors and
    /// precision verdict.
    ///
    /// # Errors
    ///
    /// Those of [`workspace_len`](Self::workspace_len);
    /// [`Error::InvalidArgument`] if the length of `x` is not a multiple of
    /// the input length; [`Error::BufferTooSmall`] for a short workspace or
    /// output; [`Error::NonFinite`] for a NaN or infinite input;
    /// [`Error::Overflow`] for a non-finite result;
    /// [`Error::PrecisionLoss`] when the error bound of a kernel passes the
    /// limit. On every error both outputs are zeroed.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{Architecture, Shape};
    /// let a: Architecture<f64> = "conv(3,1.5,0.1) relu gap dense(1,0)".parse()?;
    /// let shape = Shape::Sequence { length: 4, channels: 2 };
    /// let x = [1.0, 0.0, 0.5, 0.5, 0.0, 1.0, -1.0, 0.0, // input 0
    ///          0.0, 1.0, 1.0, 1.0, 0.5, 0.0, 0.0, 2.0]; // input 1
    /// let mut ws = [0.0; Architecture::<f64>::workspace_bound(4)];
    /// let (mut k, mut t) = ([0.0; 4], [0.0; 4]);
    /// a.gram_spatial(&x, shape, &mut ws, &mut k, &mut t)?;
    /// assert_eq!(k[1], k[2]);
    /// assert!(k[0] > 0.0 && t[0] > k[0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn gram_spatial(
        &self,
        x: &[T],
        shape: Shape,
        workspace: &mut [T],
        nngp: &mut [T],
        ntk: &mut [T],
    ) -> Result<(), Error> {
        if self.is_recurrent() {
            return self.gram_recurrent(x, shape, workspace, nngp, ntk);
        }
        self.gram_grid(x, shape, workspace, nngp, ntk)
    }

    /// [`gram_spatial`](Self::gram_spatial) for an architecture without a
    /// recurrent layer: the same kernels, errors and zeroing, and
    /// [`Error::InvalidArgument`] for a recurrent architecture (first layer
    /// `rnn`) instead of handing it to
    /// [`gram_recurrent`](Self::gram_recurrent).
    ///
    /// A program that calls this entry rather than `gram_spatial` does not
    /// link the recurrent routines (about 6 KiB of code on a Cortex-M).
    ///
    /// # Errors
    ///
    /// As [`gram_spatial`](Self::gram_spatial), and
    /// [`Error::InvalidArgument`] for a recurrent architecture. On every
    /// error both outputs are zeroed.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{Architecture, Shape};
    /// use ntk::Error;
    /// let a: Architecture<f64> = "conv(3,1,0) relu flatten dense(1,0)".parse()?;
    /// let shape = Shape::Sequence { length: 3, channels: 1 };
    /// let x = [1.0, 2.0, 3.0, 0.0, 1.0, 0.0];
    /// let mut ws = [0.0; Architecture::<f64>::workspace_bound(3)];
    /// let (mut k, mut t) = ([0.0; 4], [0.0; 4]);
    /// a.gram_grid(&x, shape, &mut ws, &mut k, &mut t)?;
    /// let (mut ks, mut ts) = ([0.0; 4], [0.0; 4]);
    /// a.gram_spatial(&x, shape, &mut ws, &mut ks, &mut ts)?;
    /// assert_eq!((k, t), (ks, ts));
    /// let rnn: Architecture<f64> = "rnn(1,1,0,relu) last dense(1,0)".parse()?;
    /// let r = rnn.gram_grid(&x, shape, &mut ws, &mut k, &mut t);
    /// assert!(matches!(r, Err(Error::InvalidArgument { .. })));
    /// assert_eq!((k, t), ([0.0; 4], [0.0; 4]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn gram_grid(
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
            hold(n.saturating_mul(n), nngp, ntk)?;
            let d = grid.positions() * channels;
            let input = |i: usize| &x[i * d..(i + 1) * d];
            let mut pairs = self.split_tapes(grid, n, workspace);
            let layers = (self.layers(), grid, channels);
            // The diagonal first: the scale of every pair's bound.
            for i in 0..n {
                let r = pairs.own(layers, input(i), i)?;
                let e = i * n + i;
                (nngp[e], ntk[e]) = (r.k, r.t);
                check(r, (r.k, r.k), (r.t, r.t))?;
            }
            for i in 0..n {
                for j in i + 1..n {
                    let same = input(i) == input(j);
                    let r = pairs.cross(layers, (input(i), input(j), same), (i, j))?;
                    let (ii, jj) = (i * n + i, j * n + j);
                    check(r, (nngp[ii], nngp[jj]), (ntk[ii], ntk[jj]))?;
                    nngp[i * n + j] = r.k;
                    nngp[j * n + i] = r.k;
                    ntk[i * n + j] = r.t;
                    ntk[j * n + i] = r.t;
                }
            }
            finite(&nngp[..n * n], &ntk[..n * n])
        })
    }

    /// NNGP and NTK between M inputs `x` and N inputs `x_train` of `shape`,
    /// into the row-major M × N `nngp` and `ntk` (entry \[i\]\[j\] =
    /// K(xᵢ, x_train,ⱼ)); otherwise as [`gram_spatial`](Self::gram_spatial).
    ///
    /// # Errors
    ///
    /// As [`gram_spatial`](Self::gram_spatial).
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{Architecture, Shape};
    /// let a: Architecture<f64> = "conv_circ(3,1,0) erf flatten dense(1,0)".parse()?;
    /// let shape = Shape::Sequence { length: 3, channels: 1 };
    /// let (x, train) = ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 0.0, 1.0, 0.0]);
    /// let mut ws = [0.0; Architecture::<f64>::workspace_bound(3)];
    /// let (mut k, mut t) = ([0.0; 2], [0.0; 2]);
    /// a.cross_spatial(&x, &train, shape, &mut ws, &mut k, &mut t)?;
    /// let (mut kg, mut tg) = ([0.0; 4], [0.0; 4]);
    /// a.gram_spatial(&train, shape, &mut ws, &mut kg, &mut tg)?;
    /// assert_eq!(k, [kg[0], kg[1]]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cross_spatial(
        &self,
        x: &[T],
        x_train: &[T],
        shape: Shape,
        workspace: &mut [T],
        nngp: &mut [T],
        ntk: &mut [T],
    ) -> Result<(), Error> {
        if self.is_recurrent() {
            return self.cross_recurrent(x, x_train, shape, workspace, nngp, ntk);
        }
        self.cross_grid(x, x_train, shape, workspace, nngp, ntk)
    }

    /// [`cross_spatial`](Self::cross_spatial) for an architecture without a
    /// recurrent layer, as [`gram_grid`](Self::gram_grid) is for
    /// [`gram_spatial`](Self::gram_spatial).
    ///
    /// # Errors
    ///
    /// As [`cross_spatial`](Self::cross_spatial), and
    /// [`Error::InvalidArgument`] for a recurrent architecture. On every
    /// error both outputs are zeroed.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{Architecture, Shape};
    /// use ntk::Error;
    /// let a: Architecture<f64> = "conv_circ(3,1,0) erf flatten dense(1,0)".parse()?;
    /// let shape = Shape::Sequence { length: 3, channels: 1 };
    /// let (x, train) = ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 0.0, 1.0, 0.0]);
    /// let mut ws = [0.0; Architecture::<f64>::workspace_bound(3)];
    /// let (mut k, mut t) = ([0.0; 2], [0.0; 2]);
    /// a.cross_grid(&x, &train, shape, &mut ws, &mut k, &mut t)?;
    /// let (mut ks, mut ts) = ([0.0; 2], [0.0; 2]);
    /// a.cross_spatial(&x, &train, shape, &mut ws, &mut ks, &mut ts)?;
    /// assert_eq!((k, t), (ks, ts));
    /// let rnn: Architecture<f64> = "rnn(1,1,0,relu) last dense(1,0)".parse()?;
    /// let r = rnn.cross_grid(&x, &train, shape, &mut ws, &mut k, &mut t);
    /// assert!(matches!(r, Err(Error::InvalidArgument { .. })));
    /// assert_eq!((k, t), ([0.0; 2], [0.0; 2]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cross_grid(
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
            hold(m.saturating_mul(n), nngp, ntk)?;
            let d = grid.positions() * channels;
            let input = |i: usize| &x[i * d..(i + 1) * d];
            let train = |j: usize| &x_train[j * d..(j + 1) * d];
            // Tapes 0..n for the training inputs, n for the input of the row.
            let count = if m > 0 { n + 1 } else { 0 };
            let mut pairs = self.split_tapes(grid, count, workspace);
            let layers = (self.layers(), grid, channels);
            // The diagonals of the training inputs wait in the last row,
            // each read before its entry is written.
            let last = m.saturating_sub(1) * n;
            if m > 0 {
                for j in 0..n {
                    let r = pairs.own(layers, train(j), j)?;
                    check(r, (r.k, r.k), (r.t, r.t))?;
                    (nngp[last + j], ntk[last + j]) = (r.k, r.t);
                }
            }
            for i in 0..m {
                let own = pairs.own(layers, input(i), n)?;
                check(own, (own.k, own.k), (own.t, own.t))?;
                for j in 0..n {
                    let (kj, tj) = (nngp[last + j], ntk[last + j]);
                    let same = input(i) == train(j);
                    let r = pairs.cross(layers, (input(i), train(j), same), (n, j))?;
                    check(r, (own.k, kj), (own.t, tj))?;
                    nngp[i * n + j] = r.k;
                    ntk[i * n + j] = r.t;
                }
            }
            finite(&nngp[..m * n], &ntk[..m * n])
        })
    }

    /// NNGP and NTK matrices of N sequences of L positions × C channels;
    /// as [`gram_spatial`](Self::gram_spatial) with
    /// [`Shape::Sequence`].
    ///
    /// # Errors
    ///
    /// As [`gram_spatial`](Self::gram_spatial).
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Architecture;
    /// let a: Architecture<f64> = "conv(3,1,0) identity flatten dense(1,0)".parse()?;
    /// let x = [[[1.0], [0.0], [2.0]], [[0.0], [1.0], [1.0]]];
    /// let mut ws = [0.0; Architecture::<f64>::workspace_bound(3)];
    /// let (mut k, mut t) = ([[0.0; 2]; 2], [[0.0; 2]; 2]);
    /// a.gram_sequence(&x, &mut ws, &mut k, &mut t)?;
    /// assert_eq!(k[0][1], k[1][0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn gram_sequence<const N: usize, const L: usize, const C: usize>(
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
            self.gram_spatial(
                x.as_flattened().as_flattened(),
                shape,
                workspace,
                k.as_flattened_mut(),
                t.as_flattened_mut(),
            )
        })
    }

    /// NNGP and NTK matrices of N images of H × W positions × C channels
    /// (positions row by row); as [`gram_spatial`](Self::gram_spatial) with
    /// [`Shape::Image`].
    ///
    /// # Errors
    ///
    /// As [`gram_spatial`](Self::gram_spatial).
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Architecture;
    /// let a: Architecture<f64> = "conv(3,1,0) relu gap dense(1,0)".parse()?;
    /// let x = [[[[1.0], [0.0]], [[2.0], [1.0]]], [[[0.0], [1.0]], [[1.0], [1.0]]]];
    /// let mut ws = [0.0; Architecture::<f64>::workspace_bound(4)];
    /// let (mut k, mut t) = ([[0.0; 2]; 2], [[0.0; 2]; 2]);
    /// a.gram_image(&x, &mut ws, &mut k, &mut t)?;
    /// assert_eq!(k[0][1], k[1][0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn gram_image<const N: usize, const H: usize, const W: usize, const C: usize>(
        &self,
        x: &[[[[T; C]; W]; H]; N],
        workspace: &mut [T],
        nngp: &mut [[T; N]; N],
        ntk: &mut [[T; N]; N],
    ) -> Result<(), Error> {
        let shape = Shape::Image {
            height: H,
            width: W,
            channels: C,
        };
        zero_on_error(&mut (nngp, ntk), |(k, t)| {
            self.gram_spatial(
                x.as_flattened().as_flattened().as_flattened(),
                shape,
                workspace,
                k.as_flattened_mut(),
                t.as_flattened_mut(),
            )
        })
    }

    /// Checks the architecture against `shape`, the inputs and the
    /// workspace; returns the input grid, the channels and the number of
    /// inputs.
    pub(super) fn prepare(
        &self,
        x: &[T],
        shape: Shape,
        workspace: &[T],
    ) -> Result<(Grid, usize, usize), Error> {
        let needed = self.workspace_len(shape)?;
        let (grid, channels) = input_grid(shape)?;
        let d = grid.positions() * channels;
        if !x.len().is_multiple_of(d) {
            return Err(invalid(
                "the input length must be a multiple of the length of one input",
            ));
        }
        if workspace.len() < needed {
            return Err(Error::BufferTooSmall {
                needed,
                given: workspace.len(),
            });
        }
        crate::simd::check_finite(x, "inputs")?;
        Ok((grid, channels, x.len() / d))
    }

    /// [`Error::InvalidArgument`] for a recurrent architecture, which the
    /// grid routines do not compute.
    pub(super) fn not_recurrent(&self) -> Result<(), Error> {
        if self.is_recurrent() {
            return Err(invalid(
                "a recurrent architecture: use gram_spatial or gram_recurrent",
            ));
        }
        Ok(())
    }
}

/// The layers, the input grid and the channels of a Gram routine.
pub(super) type Net<'l, T> = (&'l [super::Layer<T>], Grid, usize);

/// The workspace of a pair and the tapes of the inputs' own state (none
/// when `tape` is 0: every pair computes its inputs' own tables).
pub(super) struct Pairs<'w, T> {
    work: &'w mut [T],
    tapes: &'w mut [T],
    tape: usize,
}

impl<T: Real> Pairs<'_, T> {
    /// Σ and Θ of input `x` with itself (checked by
    /// [`prepare`](Architecture::prepare)), with their error bounds; its own
    /// state goes to tape `slot`.
    pub(super) fn own(
        &mut self,
        (layers, g, channels): Net<'_, T>,
        x: &[T],
        slot: usize,
    ) -> Result<Kernels<T>, Error> {
        let n = self.tape;
        match self.tapes.get_mut(slot * n..(slot + 1) * n) {
            Some(t) if crate::simd::WIDE && n > 0 => {
                let sides = Sides::Record(t);
                table::pair_with(layers, (x, x, true), g, channels, self.work, false, sides)
            }
            _ => table::pair(layers, (x, x, true), g, channels, self.work, false),
        }
    }

    /// Σ and Θ of a pair of inputs, with their error bounds, reading their
    /// own state from tapes `slots` if there are tapes.
    pub(super) fn cross(
        &mut self,
        (layers, g, channels): Net<'_, T>,
        inputs: (&[T], &[T], bool),
        (i, j): (usize, usize),
    ) -> Result<Kernels<T>, Error> {
        let n = self.tape;
        let tape = |s: usize| self.tapes.get(s * n..(s + 1) * n);
        match (tape(i), tape(j)) {
            (Some(a), Some(b)) if crate::simd::WIDE && n > 0 => {
                let sides = Sides::Replay(a, b);
                table::pair_with(layers, inputs, g, channels, self.work, false, sides)
            }
            _ => table::pair(layers, inputs, g, channels, self.work, false),
        }
    }
}

/// [`Error::PrecisionLoss`] unless the bounds of `r` are within the limit
/// of the diagonal scales (K(x, x), K(x′, x′)) and (Θ(x, x), Θ(x′, x′))
/// (always accepted without the `error-bounds` feature).
pub(super) fn check<T: Real>(r: Kernels<T>, k: (T, T), t: (T, T)) -> Result<(), Error> {
    if !super::precision::ENABLED {
        return Ok(());
    }
    let within = |b: T, (x, y): (T, T)| {
        let scale = x.abs().sqrt() * y.abs().sqrt();
        b.to_f64() <= super::PRECISION_LIMIT * scale.to_f64()
    };
    if within(r.bk, k) && within(r.bt, t) {
        Ok(())
    } else {
        Err(Error::PrecisionLoss { what: "kernel" })
    }
}

/// [`Error::Overflow`] unless every entry is finite.
pub(super) fn finite<T: Real>(nngp: &[T], ntk: &[T]) -> Result<(), Error> {
    if crate::simd::all_finite(nngp) && crate::simd::all_finite(ntk) {
        Ok(())
    } else {
        Err(Error::Overflow { what: "kernel" })
    }
}
