//! Kernels of sequence and image inputs: the position-pair state
//! Σᵢⱼ[s, s′], Θᵢⱼ[s, s′] through convolutions, pooling and per-position
//! layers, down to the flat N × N matrices.
//!
//! For one pair of inputs (a, b) the routine keeps four |S| × |S| tables in
//! the caller's workspace, Σ_aa, Σ_bb (for the variances q_a[s], q_b[s] that
//! the nonlinearities need), Σ_ab and Θ_ab, with one scratch table and two
//! variance vectors: [`Architecture::workspace_bound`] numbers in all. A
//! `gap` or `flatten` layer leaves 1 × 1 tables, on which the flat layers act
//! as in the flat routines.

use super::arch::{Architecture, Shape};
use super::gram::hold;
use super::grid::{input_grid, invalid, next_grid, reduce, shifted_sum, workspace_words, Grid};
use super::layer::Layer;
use super::pair::PairState;
use super::step::apply_pair;
use crate::outputs::zero_on_error;
use crate::{Error, Real};

impl<T: Real, const CAP: usize> Architecture<T, CAP> {
    /// An upper bound of [`workspace_len`](Self::workspace_len) for inputs
    /// of `positions` positions (L for a sequence, H·W for an image), whatever
    /// the architecture: 5·positions² + 2·positions (`usize::MAX` on
    /// overflow). Usable in constant expressions to size a workspace array.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Architecture;
    /// const WS: usize = Architecture::<f64>::workspace_bound(8);
    /// let workspace = [0.0_f64; WS];
    /// assert_eq!(workspace.len(), 5 * 64 + 16);
    /// ```
    pub const fn workspace_bound(positions: usize) -> usize {
        workspace_words(positions)
    }

    /// The exact workspace length that [`gram_spatial`](Self::gram_spatial)
    /// and [`cross_spatial`](Self::cross_spatial) need for inputs of
    /// `shape`, after checking that the architecture fits the shape.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if a size of `shape` is 0 or too large, if
    /// a convolution, pooling, `gap` or `flatten` layer meets flat data (a
    /// flat input, or after `gap`/`flatten`), if a pooling window does not
    /// divide the grid, or if the architecture does not end flat.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{Architecture, Shape};
    /// let a: Architecture<f64> = "conv(3,1,0) relu avg_pool(2) flatten dense(1,0)".parse()?;
    /// let shape = Shape::Sequence { length: 6, channels: 2 };
    /// assert_eq!(a.workspace_len(shape)?, Architecture::<f64>::workspace_bound(6));
    /// assert!(a.workspace_len(Shape::Sequence { length: 5, channels: 2 }).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn workspace_len(&self, shape: Shape) -> Result<usize, Error> {
        if self.is_recurrent() {
            return self.recurrent_workspace_len(shape);
        }
        let (mut g, _) = input_grid(shape)?;
        let start = g.positions();
        for l in self.layers() {
            g = next_grid(l, g)?;
        }
        if !g.flat {
            return Err(invalid(
                "a sequence or image architecture must end flat (gap or flatten)",
            ));
        }
        Ok(Self::workspace_bound(start))
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
    /// `gap` all pairs and `flatten` the diagonal s = s′ (see [`Layer`]). The
    /// Gram matrix is symmetric bit for bit.
    ///
    /// The rounding-error bound of the flat routines (feature
    /// `error-bounds`) is not carried here, nor is the quadrature's error
    /// estimate checked: these kernels are returned without a precision
    /// verdict ([`Error::PrecisionLoss`] is never returned); a recurrent
    /// architecture (first layer `rnn`) is computed by
    /// [`gram_recurrent`](Self::gram_recurrent) instead, with its errors and
    /// precision verdict. Cost: per pair
    /// of inputs, a few |S|² pair maps per layer and |S|²·Q (sequences) or
    /// |S|²·Q² (images) per convolution, |S| = L or H·W.
    ///
    /// # Errors
    ///
    /// Those of [`workspace_len`](Self::workspace_len);
    /// [`Error::InvalidArgument`] if the length of `x` is not a multiple of
    /// the input length; [`Error::BufferTooSmall`] for a short workspace or
    /// output; [`Error::NonFinite`] for a NaN or infinite input;
    /// [`Error::Overflow`] for a non-finite result. On every error both
    /// outputs are zeroed.
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
        zero_on_error(&mut (nngp, ntk), |(nngp, ntk)| {
            let (grid, channels, n) = self.prepare(x, shape, workspace)?;
            hold(n.saturating_mul(n), nngp, ntk)?;
            let d = grid.positions() * channels;
            for i in 0..n {
                let xi = &x[i * d..(i + 1) * d];
                for j in i..n {
                    let xj = &x[j * d..(j + 1) * d];
                    let (k, t) = self.pair(xi, xj, grid, channels, workspace);
                    nngp[i * n + j] = k;
                    nngp[j * n + i] = k;
                    ntk[i * n + j] = t;
                    ntk[j * n + i] = t;
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
        zero_on_error(&mut (nngp, ntk), |(nngp, ntk)| {
            let (grid, channels, m) = self.prepare(x, shape, workspace)?;
            let (_, _, n) = self.prepare(x_train, shape, workspace)?;
            hold(m.saturating_mul(n), nngp, ntk)?;
            let d = grid.positions() * channels;
            for i in 0..m {
                let xi = &x[i * d..(i + 1) * d];
                for j in 0..n {
                    let xj = &x_train[j * d..(j + 1) * d];
                    let (k, t) = self.pair(xi, xj, grid, channels, workspace);
                    nngp[i * n + j] = k;
                    ntk[i * n + j] = t;
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
    fn prepare(
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

    /// Σ and Θ of one pair of inputs (checked by [`prepare`](Self::prepare)).
    fn pair(
        &self,
        xa: &[T],
        xb: &[T],
        mut g: Grid,
        channels: usize,
        workspace: &mut [T],
    ) -> (T, T) {
        let p0 = g.positions();
        let t0 = p0 * p0;
        let (tables, rest) = workspace.split_at_mut(5 * t0);
        let (qa, rest) = rest.split_at_mut(p0);
        let qb = &mut rest[..p0];
        let (sa, tables) = tables.split_at_mut(t0);
        let (sb, tables) = tables.split_at_mut(t0);
        let (sc, tables) = tables.split_at_mut(t0);
        let (tc, scratch) = tables.split_at_mut(t0);
        let inv_c = T::ONE / T::from_usize(channels);
        let dot = |u: &[T], s: usize, v: &[T], t: usize| {
            let a = &u[s * channels..(s + 1) * channels];
            let b = &v[t * channels..(t + 1) * channels];
            crate::simd::dot(a, b) * inv_c
        };
        for s in 0..p0 {
            for t in 0..p0 {
                sa[s * p0 + t] = dot(xa, s, xa, t);
                sb[s * p0 + t] = dot(xb, s, xb, t);
                sc[s * p0 + t] = dot(xa, s, xb, t);
                tc[s * p0 + t] = T::ZERO;
            }
        }
        for layer in self.layers() {
            let p = g.positions();
            let pp = p * p;
            match *layer {
                Layer::Conv {
                    size,
                    weight_std: w,
                    bias_std: b,
                    circular,
                } => {
                    let (w2, b2) = (w * w, b * b);
                    let q = size as usize;
                    let filter = if g.planar { q * q } else { q };
                    let scale = w2 / T::from_usize(filter);
                    for table in [&mut *sa, &mut *sb, &mut *sc] {
                        shifted_sum(&table[..pp], &mut scratch[..pp], g, q, circular);
                        for (m, &a) in table[..pp].iter_mut().zip(&scratch[..pp]) {
                            *m = scale * a + b2;
                        }
                    }
                    shifted_sum(&tc[..pp], &mut scratch[..pp], g, q, circular);
                    for ((m, &a), &s) in tc[..pp].iter_mut().zip(&scratch[..pp]).zip(&sc[..pp]) {
                        *m = s + scale * a;
                    }
                }
                Layer::AvgPool { .. } | Layer::GlobalAvgPool | Layer::Flatten => {
                    let next = next_grid(layer, g).unwrap_or(g);
                    for table in [&mut *sa, &mut *sb, &mut *sc, &mut *tc] {
                        reduce(layer, &table[..pp], &mut scratch[..], g, next);
                        let np = next.positions();
                        table[..np * np].copy_from_slice(&scratch[..np * np]);
                    }
                    g = next;
                }
                _ => {
                    let step = layer.step();
                    for s in 0..p {
                        qa[s] = sa[s * p + s];
                        qb[s] = sb[s * p + s];
                    }
                    for s in 0..p {
                        for t in 0..p {
                            let e = s * p + t;
                            let c = apply_pair(&step, PairState::new(qa[s], sc[e], qb[t], tc[e]));
                            sc[e] = c.sigma12;
                            tc[e] = c.theta12;
                            let a = apply_pair(&step, PairState::new(qa[s], sa[e], qa[t], T::ZERO));
                            sa[e] = a.sigma12;
                            let b = apply_pair(&step, PairState::new(qb[s], sb[e], qb[t], T::ZERO));
                            sb[e] = b.sigma12;
                        }
                    }
                }
            }
        }
        (sc[0], tc[0])
    }
}

/// [`Error::Overflow`] unless every entry is finite.
fn finite<T: Real>(nngp: &[T], ntk: &[T]) -> Result<(), Error> {
    if crate::simd::all_finite(nngp) && crate::simd::all_finite(ntk) {
        Ok(())
    } else {
        Err(Error::Overflow { what: "kernel" })
    }
}
