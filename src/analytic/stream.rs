//! [`RecurrentStream`]: the `last`-readout recurrent kernels of N sequences
//! updated one time step at a time.

use super::arch::Architecture;
use super::recurrent::{input_dot, verdict, Cell, Link, Own};
use crate::outputs::zero_on_error;
use crate::{Error, Real};

/// The NNGP and NTK of `rnn(W,U,B,ACT) last dense(V,BV)` over N sequences,
/// advanced one time step at a time: [`push`](Self::push) takes step t of
/// every sequence and updates the kernel state of all N² pairs in O(N²·D)
/// (O(1) state per pair: no recomputation from the first step), and
/// [`gram`](Self::gram) reads the N × N matrices of the steps so far.
///
/// After L steps the matrices equal those of
/// [`Architecture::gram_recurrent`] on the L-step sequences bit for bit
/// (both run the same step functions in the same order), with the same
/// error bound and precision verdict. Train and test sequences advance
/// together: put them all in the N sequences and read the test × train
/// block of the Gram matrix. The state is inline: about
/// 4·N² + 8·N numbers.
///
/// # Examples
///
/// ```
/// use ntk::analytic::{Architecture, RecurrentStream, Shape};
/// let a: Architecture<f64> = "rnn(1.2,1,0.1,relu) last dense(1,0.1)".parse()?;
/// let steps = [[[1.0], [0.0]], [[0.5], [2.0]], [[-1.0], [1.0]]]; // [t][sequence][channel]
/// let mut stream = RecurrentStream::<f64, 2>::new(&a)?;
/// let (mut k, mut t) = ([[0.0; 2]; 2], [[0.0; 2]; 2]);
/// for x in &steps {
///     stream.push(x)?;
///     stream.gram(&mut k, &mut t)?; // the kernels of the steps so far
/// }
/// // The batch routine on the whole sequences gives the same bits.
/// let x = [1.0, 0.5, -1.0, 0.0, 2.0, 1.0];
/// let (mut kb, mut tb) = ([0.0; 4], [0.0; 4]);
/// let shape = Shape::Sequence { length: 3, channels: 1 };
/// a.gram_recurrent(&x, shape, &mut [], &mut kb, &mut tb)?;
/// assert_eq!(k.as_flattened(), &kb);
/// assert_eq!(t.as_flattened(), &tb);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct RecurrentStream<T, const N: usize> {
    cell: Cell<T>,
    own: [Own<T>; N],
    link: [[Link<T>; N]; N],
    steps: usize,
}

impl<T: Real, const N: usize> RecurrentStream<T, N> {
    /// A stream at step 0 (h_0 = 0: NNGP = NTK = σbv² everywhere).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] unless the architecture is
    /// `rnn(W,U,B,ACT) last dense(V,BV)` (the `gap` readout needs all
    /// time-step pairs and has no O(1) update); the errors of
    /// [`Layer::validate`](super::Layer::validate).
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{Architecture, RecurrentStream};
    /// let gap: Architecture<f32> = "rnn(1,1,0,erf) gap dense(1,0)".parse()?;
    /// assert!(RecurrentStream::<f32, 4>::new(&gap).is_err());
    /// # Ok::<(), ntk::error::ParseError>(())
    /// ```
    pub fn new<const CAP: usize>(arch: &Architecture<T, CAP>) -> Result<Self, Error> {
        let cell = Cell::new(arch)?;
        if cell.gap {
            return Err(Error::InvalidArgument {
                what: "rnn stream: only the `last` readout updates step by step",
            });
        }
        Ok(Self {
            cell,
            own: [Own::default(); N],
            link: [[Link::default(); N]; N],
            steps: 0,
        })
    }

    /// The number of steps taken.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Back to step 0, keeping the architecture.
    pub fn reset(&mut self) {
        self.own = [Own::default(); N];
        self.link = [[Link::default(); N]; N];
        self.steps = 0;
    }

    /// Takes time step t = [`steps`](Self::steps) + 1 of every sequence:
    /// `x[i]` is x_{i,t} (D channels; D may differ between steps, each
    /// step's covariance being x_t·x′_t/D).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for D = 0, [`Error::NonFinite`] for a NaN
    /// or infinite input; the stream is then unchanged. Overflow and
    /// precision loss are reported by [`gram`](Self::gram).
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{Architecture, RecurrentStream};
    /// let a: Architecture<f64> = "rnn(1,1,0,relu) last dense(1,0)".parse()?;
    /// let mut s = RecurrentStream::<f64, 1>::new(&a)?;
    /// s.push(&[[1.0, 2.0]])?;
    /// assert!(s.push(&[[f64::NAN, 0.0]]).is_err());
    /// assert_eq!(s.steps(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push<const D: usize>(&mut self, x: &[[T; D]; N]) -> Result<(), Error> {
        if D == 0 {
            return Err(Error::InvalidArgument {
                what: "rnn stream: every step needs at least one channel",
            });
        }
        crate::simd::check_finite(x.as_flattened(), "inputs")?;
        let inv = T::ONE / T::from_usize(D);
        let eps = T::from_usize(D + 2) * T::EPSILON;
        let mut norms = [(T::ZERO, T::ZERO); N];
        for ((o, n), xi) in self.own.iter_mut().zip(&mut norms).zip(x) {
            let q = crate::simd::dot(xi, xi) * inv;
            *n = (q, eps * q);
            *o = self.cell.own(o, *n);
        }
        for i in 0..N {
            for j in i + 1..N {
                let c = input_dot(&x[i], &x[j], norms[i].0, norms[j].0);
                let prev = self.link[i][j];
                self.link[i][j] = self.cell.link(prev, &self.own[i], &self.own[j], c);
            }
        }
        self.steps += 1;
        Ok(())
    }

    /// The N × N NNGP and NTK after the steps taken so far (the kernels of
    /// the sequences cut at step [`steps`](Self::steps)).
    ///
    /// # Errors
    ///
    /// [`Error::Overflow`] for a non-finite entry, [`Error::PrecisionLoss`]
    /// as for [`Architecture::gram_recurrent`]; both outputs are then zeroed.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::analytic::{Architecture, RecurrentStream};
    /// let a: Architecture<f64> = "rnn(1,1,0,identity) last dense(1,0)".parse()?;
    /// let mut s = RecurrentStream::<f64, 2>::new(&a)?;
    /// s.push(&[[1.0], [2.0]])?;
    /// let (mut k, mut t) = ([[0.0; 2]; 2], [[0.0; 2]; 2]);
    /// s.gram(&mut k, &mut t)?;
    /// assert_eq!(k, [[1.0, 2.0], [2.0, 4.0]]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn gram(&self, nngp: &mut [[T; N]; N], ntk: &mut [[T; N]; N]) -> Result<(), Error> {
        zero_on_error(&mut (nngp, ntk), |(nngp, ntk)| {
            let c = &self.cell;
            let mut ok = true;
            let scale = |o: &Own<T>| c.scales(o.v.abs().sqrt(), o.p.abs().sqrt());
            for i in 0..N {
                for j in i..N {
                    let (oa, ob) = (&self.own[i], &self.own[j]);
                    let link = if i == j {
                        (*oa).into()
                    } else {
                        self.link[i][j]
                    };
                    let (k, t, fine) = c.readout(link, scale(oa), scale(ob));
                    ok &= fine;
                    nngp[i][j] = k;
                    nngp[j][i] = k;
                    ntk[i][j] = t;
                    ntk[j][i] = t;
                }
            }
            verdict(nngp.as_flattened(), ntk.as_flattened(), ok)
        })
    }
}
