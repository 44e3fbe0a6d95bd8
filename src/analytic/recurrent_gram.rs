//! The routines of recurrent architectures on [`Architecture`]: workspace,
//! Gram and cross kernels, by the recursion of [`super::recurrent`].

use super::arch::{Architecture, Shape};
use super::gram::hold;
use super::layer::Layer;
use super::recurrent::{sequence, verdict, Cell};
use crate::outputs::zero_on_error;
use crate::{Error, Real};

impl<T: Real, const CAP: usize> Architecture<T, CAP> {
    /// `true` when the first layer is [`Layer::Rnn`] or [`Layer::RnnWith`]: the sequence routines
    /// ([`gram_spatial`](Self::gram_spatial), [`cross_spatial`](Self::cross_spatial),
    /// [`workspace_len`](Self::workspace_len)) then hand over to the
    /// recurrent ones.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Architecture;
    /// let a: Architecture<f64> = "rnn(1,1,0,relu) last dense(1,0)".parse()?;
    /// assert!(a.is_recurrent());
    /// # Ok::<(), ntk::error::ParseError>(())
    /// ```
    pub fn is_recurrent(&self) -> bool {
        self.layers().first().is_some_and(Layer::is_recurrent)
    }

    /// An upper bound of [`recurrent_workspace_len`](Self::recurrent_workspace_len)
    /// for sequences of `length` steps, whatever the recurrent architecture
    /// and the number of sequences: 10·`length` (`usize::MAX` on overflow).
    /// [`workspace_bound`](Self::workspace_bound)`(length)` is another.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::Architecture;
    /// const WS: usize = Architecture::<f64>::recurrent_workspace_bound(8);
    /// assert_eq!(WS, 80);
    /// ```
    pub const fn recurrent_workspace_bound(length: usize) -> usize {
        match length.checked_mul(10) {
            Some(v) => v,
            None => usize::MAX,
        }
    }

    /// The exact workspace of [`gram_recurrent`](Self::gram_recurrent) and
    /// [`cross_recurrent`](Self::cross_recurrent) for sequences of `shape`:
    /// 10·L numbers for `gap` (both sequences' variances at every step),
    /// none for `last` or L = 1.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if the architecture is not
    /// `rnn(W,U,B,ACT) last|gap dense(V,BV)`, if `shape` is not a sequence
    /// or a size is 0 or too large; the errors of [`Layer::validate`].
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{Architecture, Shape};
    /// let a: Architecture<f64> = "rnn(1,1,0,erf) gap dense(1,0)".parse()?;
    /// assert_eq!(a.recurrent_workspace_len(Shape::Sequence { length: 4, channels: 2 })?, 40);
    /// let a: Architecture<f64> = "rnn(1,1,0,erf) last dense(1,0)".parse()?;
    /// assert_eq!(a.recurrent_workspace_len(Shape::Sequence { length: 4, channels: 2 })?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recurrent_workspace_len(&self, shape: Shape) -> Result<usize, Error> {
        let cell = Cell::new(self)?;
        let (l, _) = sequence(shape)?;
        Ok(if cell.gap && l > 1 {
            Self::recurrent_workspace_bound(l)
        } else {
            0
        })
    }

    /// NNGP and NTK matrices of N sequences of `shape` under
    /// `rnn(W,U,B,ACT) last|gap dense(V,BV)` (`reference/RNN.md`), stored
    /// row-major in `x` (each sequence L·D numbers, steps outer, channels
    /// inner), into the row-major N × N `nngp` and `ntk`, with `workspace`
    /// of at least [`recurrent_workspace_len`](Self::recurrent_workspace_len)
    /// numbers (unspecified after the call).
    ///
    /// With K_ts = σw²V_{t−1,s−1} + σu²·x_t·x′_s/D + σb², V_ts = E[φ(u)φ(v)],
    /// V̇_ts = E[φ′(u)φ′(v)] over the variances K_tt(x, x), K_ss(x′, x′), and
    /// Θ_ts = K_ts + σw²V̇_{t−1,s−1}Θ_{t−1,s−1}: `last` gives
    /// NNGP = σv²V_LL + σbv², NTK = NNGP + σv²V̇_LLΘ_LL; `gap` the same with
    /// the means over all L² pairs (t, s). Cost per pair of sequences: L
    /// pair maps (`last`) or L² (`gap`). The matrices are symmetric bit for
    /// bit, and for `last` bitwise equal to those of
    /// [`RecurrentStream`](super::RecurrentStream) after L steps.
    ///
    /// A first-order bound of the rounding error is carried through the
    /// steps, as in the flat routines (see the [precision](super#precision)
    /// section; the quadrature's error estimate of tanh joins it): an entry
    /// whose bound passes [`PRECISION_LIMIT`](super::PRECISION_LIMIT) of √(K(x, x)·K(x′, x′)) (for
    /// `gap`, of an upper bound of it from the per-step variances) is
    /// [`Error::PrecisionLoss`].
    ///
    /// # Errors
    ///
    /// Those of [`recurrent_workspace_len`](Self::recurrent_workspace_len);
    /// [`Error::InvalidArgument`] if the length of `x` is not a multiple of
    /// L·D; [`Error::BufferTooSmall`] for a short workspace or output;
    /// [`Error::NonFinite`] for a NaN or infinite input; [`Error::Overflow`]
    /// for a non-finite result; [`Error::PrecisionLoss`]. On every error
    /// both outputs are zeroed.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{Architecture, Shape};
    /// let a: Architecture<f64> = "rnn(1.2,1,0.1,relu) gap dense(1,0)".parse()?;
    /// let shape = Shape::Sequence { length: 3, channels: 1 };
    /// let x = [1.0, 0.5, -1.0, 0.0, 2.0, 1.0];
    /// let mut ws = [0.0; Architecture::<f64>::recurrent_workspace_bound(3)];
    /// let (mut k, mut t) = ([0.0; 4], [0.0; 4]);
    /// a.gram_recurrent(&x, shape, &mut ws, &mut k, &mut t)?;
    /// assert_eq!(k[1], k[2]);
    /// assert!(t[0] > k[0] && k[0] > 0.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn gram_recurrent(
        &self,
        x: &[T],
        shape: Shape,
        workspace: &mut [T],
        nngp: &mut [T],
        ntk: &mut [T],
    ) -> Result<(), Error> {
        zero_on_error(&mut (nngp, ntk), |(nngp, ntk)| {
            let (cell, d, n) = self.recurrent_prepare(x, shape, workspace)?;
            hold(n.saturating_mul(n), nngp, ntk)?;
            let len = d * shape.positions();
            let mut ok = true;
            for i in 0..n {
                let xi = &x[i * len..(i + 1) * len];
                for j in i..n {
                    let xj = &x[j * len..(j + 1) * len];
                    let (k, t, fine) = cell.entry(xi, xj, i == j, d, workspace);
                    ok &= fine;
                    nngp[i * n + j] = k;
                    nngp[j * n + i] = k;
                    ntk[i * n + j] = t;
                    ntk[j * n + i] = t;
                }
            }
            verdict(&nngp[..n * n], &ntk[..n * n], ok)
        })
    }

    /// NNGP and NTK between M sequences `x` and N sequences `x_train` of
    /// `shape`, into the row-major M × N `nngp` and `ntk` (entry \[i\]\[j\] =
    /// K(xᵢ, x_train,ⱼ)); otherwise as [`gram_recurrent`](Self::gram_recurrent).
    ///
    /// # Errors
    ///
    /// As [`gram_recurrent`](Self::gram_recurrent).
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{Architecture, Shape};
    /// let a: Architecture<f64> = "rnn(1,1,0.1,erf) last dense(1,0)".parse()?;
    /// let shape = Shape::Sequence { length: 2, channels: 1 };
    /// let (x, train) = ([1.0, 2.0], [1.0, 2.0, 0.0, 1.0]);
    /// let (mut k, mut t) = ([0.0; 2], [0.0; 2]);
    /// a.cross_recurrent(&x, &train, shape, &mut [], &mut k, &mut t)?;
    /// let (mut kg, mut tg) = ([0.0; 4], [0.0; 4]);
    /// a.gram_recurrent(&train, shape, &mut [], &mut kg, &mut tg)?;
    /// assert_eq!(k, [kg[0], kg[1]]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cross_recurrent(
        &self,
        x: &[T],
        x_train: &[T],
        shape: Shape,
        workspace: &mut [T],
        nngp: &mut [T],
        ntk: &mut [T],
    ) -> Result<(), Error> {
        zero_on_error(&mut (nngp, ntk), |(nngp, ntk)| {
            let (cell, d, m) = self.recurrent_prepare(x, shape, workspace)?;
            let (_, _, n) = self.recurrent_prepare(x_train, shape, workspace)?;
            hold(m.saturating_mul(n), nngp, ntk)?;
            let len = d * shape.positions();
            let mut ok = true;
            for i in 0..m {
                let xi = &x[i * len..(i + 1) * len];
                for j in 0..n {
                    let xj = &x_train[j * len..(j + 1) * len];
                    let (k, t, fine) = cell.entry(xi, xj, xi == xj, d, workspace);
                    ok &= fine;
                    nngp[i * n + j] = k;
                    ntk[i * n + j] = t;
                }
            }
            verdict(&nngp[..m * n], &ntk[..m * n], ok)
        })
    }

    /// Checks the architecture, `shape`, the inputs and the workspace;
    /// returns the cell, the channels D and the number of sequences.
    pub(super) fn recurrent_prepare(
        &self,
        x: &[T],
        shape: Shape,
        workspace: &[T],
    ) -> Result<(Cell<T>, usize, usize), Error> {
        let needed = self.recurrent_workspace_len(shape)?;
        let cell = Cell::new(self)?;
        let (l, d) = sequence(shape)?;
        if !x.len().is_multiple_of(l * d) {
            return Err(Error::InvalidArgument {
                what: "the input length must be a multiple of the length of one input",
            });
        }
        if workspace.len() < needed {
            return Err(Error::BufferTooSmall {
                needed,
                given: workspace.len(),
            });
        }
        crate::simd::check_finite(x, "inputs")?;
        Ok((cell, d, x.len() / (l * d)))
    }
}
