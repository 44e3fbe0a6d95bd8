//! Monte Carlo NNGP and NTK of a finite network: averages over random
//! initialisations, to compare with the infinite-width kernels.
//!
//! For a network with K outputs and S initialisations θ₁…θ_S,
//!
//! - NNGP: K̂(x, x′) = 1/(S·K) Σₛ Σₖ f_k(x; θₛ)·f_k(x′; θₛ),
//! - NTK: Θ̂(x, x′) = 1/S Σₛ Θ(x, x′; θₛ), the empirical NTK of
//!   [`empirical::structured`](crate::empirical::structured) (trace
//!   convention: mean over outputs).
//!
//! They converge to the kernels of the corresponding
//! [`Architecture`](crate::analytic::Architecture) (NTK parameterisation): the NTK
//! of one wide network is already close to its limit (relative fluctuations
//! of order 1/√width, averaged down by √S), while the NNGP estimate is a
//! sample covariance of the outputs, with a relative error of order √(2/S)
//! whatever the width.

use crate::empirical::structured;
use crate::nn::{Module, Params};
use crate::outputs::Output;
use crate::{Error, Real, Rng};

/// Workspace elements [`MonteCarlo::gram`] needs for `inputs` inputs of a
/// network with `outputs` outputs.
///
/// # Examples
///
/// ```
/// use ntk::empirical::monte_carlo;
/// use ntk::nn::{Dense, Relu};
/// type Net = (Dense<f64, 2, 8>, Relu, Dense<f64, 8, 1>);
/// assert_eq!(
///     monte_carlo::workspace_len::<f64, Net>(3, 1),
///     ntk::empirical::structured::workspace_len::<f64, Net>(3, 1)
/// );
/// ```
pub const fn workspace_len<T: Real, Net: Params<T>>(inputs: usize, outputs: usize) -> usize {
    let s = structured::workspace_len::<T, Net>(inputs, outputs);
    let f = inputs * outputs;
    if s > f {
        s
    } else {
        f
    }
}

/// Monte Carlo estimates of the NNGP and NTK from S random initialisations
/// of a finite network, drawn from a seeded generator.
///
/// # Examples
///
/// ```
/// use ntk::analytic::Architecture;
/// use ntk::empirical::monte_carlo::{self, MonteCarlo};
/// use ntk::nn::{Dense, Relu};
/// use ntk::Rng;
///
/// const W: usize = 128;
/// type Net = (Dense<f64, 2, W>, Relu, Dense<f64, W, 1>);
/// let mut rng = Rng::new(0);
/// let mut net: Net = (Dense::ntk(1.5, 0.1, &mut rng), Relu, Dense::ntk(1.5, 0.1, &mut rng));
/// let x = [[1.0, 0.0], [0.6, 0.8]];
///
/// let mut mc = MonteCarlo::new(400, 7)?;
/// let mut work = vec![0.0; monte_carlo::workspace_len::<f64, Net>(2, 1)];
/// let (mut sample, mut k, mut t) = ([[0.0; 2]; 2], [[0.0; 2]; 2], [[0.0; 2]; 2]);
/// mc.gram(&mut net, &x, &mut work, &mut sample, &mut k, &mut t)?;
///
/// let arch: Architecture<f64> = "dense(1.5,0.1) relu dense(1.5,0.1)".parse()?;
/// let (mut k0, mut t0) = ([[0.0; 2]; 2], [[0.0; 2]; 2]);
/// arch.gram(&x, &mut k0, &mut t0)?;
/// // The NTK concentrates as the width grows; the NNGP estimate is a sample
/// // covariance of the outputs, with a relative error of order √(2/S).
/// assert!((t[0][1] - t0[0][1]).abs() < 0.05 * t0[0][0]);
/// assert!((k[0][1] - k0[0][1]).abs() < 0.2 * k0[0][0]);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct MonteCarlo {
    samples: usize,
    rng: Rng,
}

impl MonteCarlo {
    /// `samples` initialisations drawn from a generator seeded with `seed`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `samples` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::empirical::MonteCarlo;
    /// assert_eq!(MonteCarlo::new(16, 1)?.samples(), 16);
    /// assert!(MonteCarlo::new(0, 1).is_err());
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn new(samples: usize, seed: u64) -> Result<Self, Error> {
        if samples == 0 {
            return Err(Error::InvalidArgument {
                what: "Monte Carlo needs at least one sample",
            });
        }
        Ok(Self {
            samples,
            rng: Rng::new(seed),
        })
    }

    /// Number of initialisations per estimate.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// Averages the NNGP and NTK Gram matrices of `net` on `x` over
    /// [`samples`](Self::samples) initialisations.
    ///
    /// `net` is re-initialised in place ([`Params::reinit`], keeping its
    /// scales and parameterisation) before each sample, and holds the last
    /// sample afterwards; the generator moves on, so a second call draws new
    /// initialisations. `work` needs [`workspace_len`]`(N, K)` elements and
    /// `sample` receives each sample's NTK. Both outputs are bitwise
    /// symmetric.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] for a short `work` and [`Error::NonFinite`]
    /// for non-finite inputs; [`Error::Overflow`] if a sample overflows, and
    /// the errors of [`structured::ntk`]. On every error `sample`, `nngp`
    /// and `ntk` are zeroed.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::empirical::{monte_carlo, MonteCarlo};
    /// use ntk::nn::{Dense, Erf};
    /// use ntk::Rng;
    /// type Net = (Dense<f32, 1, 64>, Erf, Dense<f32, 64, 2>);
    /// let mut rng = Rng::new(3);
    /// let mut net: Net = (Dense::ntk(1.0, 0.0, &mut rng), Erf, Dense::ntk(1.0, 0.0, &mut rng));
    /// let x = [[1.0], [-1.0]];
    /// let mut work = [0.0; monte_carlo::workspace_len::<f32, Net>(2, 2)];
    /// let (mut s, mut k, mut t) = ([[0.0; 2]; 2], [[0.0; 2]; 2], [[0.0; 2]; 2]);
    /// MonteCarlo::new(4, 9)?.gram(&mut net, &x, &mut work, &mut s, &mut k, &mut t)?;
    /// // erf is odd and the network has no bias: x and −x are anticorrelated.
    /// assert!((k[0][1] + k[0][0]).abs() < 1e-5 && (t[0][1] + t[0][0]).abs() < 1e-4);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn gram<T, Net, const D: usize, const K: usize, const N: usize>(
        &mut self,
        net: &mut Net,
        x: &[[T; D]; N],
        work: &mut [T],
        sample: &mut [[T; N]; N],
        nngp: &mut [[T; N]; N],
        ntk: &mut [[T; N]; N],
    ) -> Result<(), Error>
    where
        T: Real,
        Net: Module<T, [T; D], Output = [T; K]> + Params<T>,
    {
        let r = (|| {
            let needed = workspace_len::<T, Net>(N, K);
            if work.len() < needed {
                return Err(Error::BufferTooSmall {
                    needed,
                    given: work.len(),
                });
            }
            crate::simd::check_finite(x.as_flattened(), "inputs")?;
            nngp.zero();
            ntk.zero();
            for _ in 0..self.samples {
                net.reinit(&mut self.rng);
                // Outputs f(x_i) into the workspace, then the NNGP's upper triangle.
                for (xi, out) in x.iter().zip(work.chunks_exact_mut(K)) {
                    out.copy_from_slice(&net.eval(xi));
                }
                let outputs = work.get(..N * K).unwrap_or(&[]);
                for (i, (fi, row)) in outputs.chunks_exact(K).zip(nngp.iter_mut()).enumerate() {
                    for (fj, v) in outputs.chunks_exact(K).zip(row.iter_mut()).skip(i) {
                        *v += crate::simd::dot(fi, fj);
                    }
                }
                structured::ntk(&*net, x, work, sample)?;
                for (acc, s) in ntk.iter_mut().zip(sample.iter()) {
                    for (a, v) in acc.iter_mut().zip(s) {
                        *a += *v;
                    }
                }
            }
            let inv_s = T::ONE / T::from_usize(self.samples);
            let inv_sk = inv_s / T::from_usize(K);
            for i in 0..N {
                for j in i..N {
                    let k = nngp[i][j] * inv_sk;
                    nngp[i][j] = k;
                    nngp[j][i] = k;
                }
            }
            for row in ntk.iter_mut() {
                for v in row.iter_mut() {
                    *v *= inv_s;
                }
            }
            if crate::simd::all_finite(nngp.as_flattened())
                && crate::simd::all_finite(ntk.as_flattened())
            {
                Ok(())
            } else {
                Err(Error::Overflow {
                    what: "Monte Carlo kernel",
                })
            }
        })();
        if r.is_err() {
            for out in [sample, nngp, ntk] {
                out.zero();
            }
        }
        r
    }
}
