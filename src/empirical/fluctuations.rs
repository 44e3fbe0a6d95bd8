//! Finite-width fluctuations of the empirical NNGP and NTK: their spread over
//! random initialisations, and the fit of the finite-width correction.
//!
//! At width n the empirical NTK Θ_n(x, x′) of a network at initialisation is
//! a random variable. Its mean approaches the infinite-width kernel Θ_∞ of
//! [`analytic`](crate::analytic) with a bias of order 1/n, and its variance
//! vanishes like 1/n:
//!
//! E\[Θ_n\] − Θ_∞ ≈ a/n,  Var\[Θ_n\] ≈ v/n.
//!
//! [`Fluctuations`] draws S initialisations and accumulates, for every entry
//! of the N×N Gram matrices, the mean, the unbiased variance and the
//! standard errors of both ([`Moments`]), and the covariance matrix among a
//! list of chosen entries ([`Statistics`]); the updates are Welford's
//! (numerically stable in one pass, no samples kept). [`fit_inverse_width`]
//! then fits a or v over a set of widths. For one hidden layer v is known in
//! closed form ([`analytic::finite_width`](crate::analytic::finite_width)).
//!
//! # Examples
//!
//! ```
//! use ntk::empirical::fluctuations::{Entry, Fluctuations, Statistics};
//! use ntk::empirical::monte_carlo;
//! use ntk::nn::{Dense, Relu};
//! use ntk::Rng;
//!
//! const W: usize = 64;
//! type Net = (Dense<f64, 2, W>, Relu, Dense<f64, W, 1>);
//! let mut rng = Rng::new(0);
//! let mut net: Net = (Dense::ntk(1.0, 0.0, &mut rng), Relu, Dense::ntk(1.0, 0.0, &mut rng));
//! let x = [[1.0, 0.0], [0.6, 0.8]];
//! let entries = [Entry::ntk(0, 0), Entry::ntk(0, 1), Entry::nngp(0, 1)];
//!
//! let mut work = vec![0.0; monte_carlo::workspace_len::<f64, Net>(2, 1)];
//! let mut sample = [[0.0; 2]; 2];
//! let mut stats = Statistics::<f64, 2, 3>::ZEROED;
//! Fluctuations::new(200, 5)?.gram(&mut net, &x, &entries, &mut work, &mut sample, &mut stats)?;
//!
//! // The covariance's diagonal is the per-entry variance.
//! assert!((stats.covariance[0][0] - stats.ntk.variance[0][0]).abs() < 1e-12);
//! assert!((stats.covariance[1][1] - stats.ntk.variance[0][1]).abs() < 1e-12);
//! // The NTK fluctuates by O(1/√W) relative, the NNGP sample by O(1).
//! let rel = |m: &ntk::empirical::fluctuations::Moments<f64, 2>| m.variance[0][1].sqrt() / m.mean[0][1];
//! assert!(rel(&stats.ntk) < 0.5 && rel(&stats.nngp) > 0.5);
//! # Ok::<(), ntk::Error>(())
//! ```

use crate::empirical::{monte_carlo, structured};
use crate::nn::{Module, Params};
use crate::outputs::Output;
use crate::{Error, Real, Rng};

/// Which kernel an [`Entry`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Kernel {
    /// The per-sample NNGP, (1/K)·Σₖ f_k(x)·f_k(x′).
    Nngp,
    /// The per-sample empirical NTK (trace convention: mean over outputs).
    Ntk,
}

/// One entry `(i, j)` of the NNGP or NTK Gram matrix, for the covariance
/// among entries of [`Fluctuations::gram`].
///
/// # Examples
///
/// ```
/// use ntk::empirical::fluctuations::{Entry, Kernel};
/// let e = Entry::ntk(0, 2);
/// assert_eq!((e.kernel, e.i, e.j), (Kernel::Ntk, 0, 2));
/// assert_eq!(Entry::nngp(1, 1).kernel, Kernel::Nngp);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Entry {
    /// The kernel.
    pub kernel: Kernel,
    /// Row: index of the first input.
    pub i: usize,
    /// Column: index of the second input.
    pub j: usize,
}

impl Entry {
    /// The NTK entry Θ(xᵢ, xⱼ).
    pub const fn ntk(i: usize, j: usize) -> Self {
        Self {
            kernel: Kernel::Ntk,
            i,
            j,
        }
    }

    /// The NNGP entry K(xᵢ, xⱼ).
    pub const fn nngp(i: usize, j: usize) -> Self {
        Self {
            kernel: Kernel::Nngp,
            i,
            j,
        }
    }
}

/// Per-entry statistics of an N×N Gram matrix over S initialisations.
///
/// - `mean`: the sample mean m;
/// - `variance`: the unbiased sample variance s² = Σ(x − m)²/(S − 1);
/// - `mean_se`: the standard error of the mean, √(s²/S);
/// - `variance_se`: the standard error of s², √((μ₄ − s⁴·(S − 3)/(S − 1))/S)
///   with μ₄ = Σ(x − m)⁴/S the fourth central moment (no normality
///   assumed; for a Gaussian it is about s²·√(2/(S − 1))).
///
/// All five fields are zero on error. The matrices are symmetric (both
/// triangles are accumulated from the same per-sample values).
///
/// # Examples
///
/// ```
/// use ntk::empirical::fluctuations::Moments;
/// let m = Moments::<f32, 3>::ZEROED;
/// assert_eq!(m.samples, 0);
/// assert_eq!(m.variance, [[0.0; 3]; 3]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Moments<T, const N: usize> {
    /// Number of initialisations S.
    pub samples: usize,
    /// Sample mean of each entry.
    pub mean: [[T; N]; N],
    /// Unbiased sample variance of each entry.
    pub variance: [[T; N]; N],
    /// Standard error of each mean.
    pub mean_se: [[T; N]; N],
    /// Standard error of each variance.
    pub variance_se: [[T; N]; N],
}

impl<T: Real, const N: usize> Moments<T, N> {
    /// All entries zero, no samples.
    pub const ZEROED: Self = Self {
        samples: 0,
        mean: [[T::ZERO; N]; N],
        variance: [[T::ZERO; N]; N],
        mean_se: [[T::ZERO; N]; N],
        variance_se: [[T::ZERO; N]; N],
    };

    fn zero(&mut self) {
        self.samples = 0;
        for m in [
            &mut self.mean,
            &mut self.variance,
            &mut self.mean_se,
            &mut self.variance_se,
        ] {
            m.zero();
        }
    }

    /// Welford's update with the third and fourth central moments
    /// (Terriberry's form): during accumulation `variance`, `mean_se` and
    /// `variance_se` hold the sums M₂, M₃, M₄ of powers of deviations.
    fn push(&mut self, x: &[[T; N]; N]) {
        self.samples += 1;
        let n = T::from_usize(self.samples);
        let n1 = n - T::ONE;
        let c4 = n * n - T::from_f64(3.0) * n + T::from_f64(3.0);
        let c3 = n - T::TWO;
        for i in 0..N {
            for j in 0..N {
                let d = x[i][j] - self.mean[i][j];
                let dn = d / n;
                let dn2 = dn * dn;
                let t1 = d * dn * n1;
                let (m2, m3) = (self.variance[i][j], self.mean_se[i][j]);
                self.mean[i][j] += dn;
                self.variance_se[i][j] +=
                    t1 * dn2 * c4 + T::from_f64(6.0) * dn2 * m2 - T::from_f64(4.0) * dn * m3;
                self.mean_se[i][j] += t1 * dn * c3 - T::from_f64(3.0) * dn * m2;
                self.variance[i][j] += t1;
            }
        }
    }

    /// Turns the sums of powers into the variance and the standard errors.
    fn finish(&mut self) {
        let s = T::from_usize(self.samples);
        let s1 = s - T::ONE;
        for i in 0..N {
            for j in 0..N {
                let var = self.variance[i][j] / s1;
                let mu4 = self.variance_se[i][j] / s;
                let var_var = (mu4 - var * var * (s - T::from_f64(3.0)) / s1) / s;
                self.variance[i][j] = var;
                self.mean_se[i][j] = (var / s).sqrt();
                self.variance_se[i][j] = var_var.max(T::ZERO).sqrt();
            }
        }
    }

    fn all_finite(&self) -> bool {
        [&self.mean, &self.variance, &self.mean_se, &self.variance_se]
            .iter()
            .all(|m| crate::simd::all_finite(m.as_flattened()))
    }
}

/// Everything [`Fluctuations::gram`] measures: per-entry [`Moments`] of the
/// NNGP and the NTK, and the mean and covariance of E chosen entries.
///
/// `covariance[a][b]` is the unbiased sample covariance of entries `a` and
/// `b` of the list given to [`Fluctuations::gram`] (its diagonal equals the
/// entries' `variance`); it is bitwise symmetric.
///
/// # Examples
///
/// ```
/// use ntk::empirical::fluctuations::Statistics;
/// let s = Statistics::<f64, 4, 2>::ZEROED;
/// assert_eq!(s.covariance, [[0.0; 2]; 2]);
/// assert_eq!(s.ntk.samples, 0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Statistics<T, const N: usize, const E: usize> {
    /// Per-entry statistics of the per-sample NNGP (1/K)·Σₖ f_k(xᵢ)·f_k(xⱼ).
    pub nngp: Moments<T, N>,
    /// Per-entry statistics of the per-sample empirical NTK.
    pub ntk: Moments<T, N>,
    /// Sample means of the chosen entries.
    pub entry_mean: [T; E],
    /// Unbiased sample covariance among the chosen entries.
    pub covariance: [[T; E]; E],
}

impl<T: Real, const N: usize, const E: usize> Statistics<T, N, E> {
    /// All entries zero, no samples.
    pub const ZEROED: Self = Self {
        nngp: Moments::ZEROED,
        ntk: Moments::ZEROED,
        entry_mean: [T::ZERO; E],
        covariance: [[T::ZERO; E]; E],
    };

    fn zero(&mut self) {
        self.nngp.zero();
        self.ntk.zero();
        self.entry_mean.zero();
        self.covariance.zero();
    }
}

/// Samples the empirical NNGP and NTK of a finite network over S random
/// initialisations drawn from a seeded generator, and accumulates their
/// per-entry moments and the covariance among chosen entries.
///
/// It draws the same initialisations as [`MonteCarlo`](super::MonteCarlo)
/// with the same seed, so its means are the Monte Carlo kernels (up to
/// rounding: the mean is accumulated by Welford's update, not by a sum).
///
/// # Examples
///
/// See the [module documentation](self).
#[derive(Clone, Debug)]
pub struct Fluctuations {
    samples: usize,
    rng: Rng,
}

impl Fluctuations {
    /// `samples` initialisations drawn from a generator seeded with `seed`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `samples` is below 2 (a variance needs
    /// two samples).
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::empirical::fluctuations::Fluctuations;
    /// assert_eq!(Fluctuations::new(16, 1)?.samples(), 16);
    /// assert!(Fluctuations::new(1, 1).is_err());
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn new(samples: usize, seed: u64) -> Result<Self, Error> {
        if samples < 2 {
            return Err(Error::InvalidArgument {
                what: "fluctuations need at least two samples",
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

    /// Measures the per-entry moments of the NNGP and NTK Gram matrices of
    /// `net` on `x` over [`samples`](Self::samples) initialisations, and the
    /// covariance among `entries`.
    ///
    /// `net` is re-initialised in place ([`Params::reinit`]) before each
    /// sample and holds the last one afterwards; the generator moves on, so
    /// a second call draws new initialisations. `work` needs
    /// [`monte_carlo::workspace_len`]`(N, K)` elements and `sample` receives
    /// each sample's NTK. `stats` is overwritten (not added to).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an entry whose index is not below N,
    /// [`Error::BufferTooSmall`] for a short `work`, [`Error::NonFinite`]
    /// for non-finite inputs, [`Error::Overflow`] if a statistic is not
    /// finite, and the errors of [`structured::ntk`]. On every error
    /// `sample` and every field of `stats` are zeroed.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::empirical::fluctuations::{Entry, Fluctuations, Statistics};
    /// use ntk::empirical::monte_carlo;
    /// use ntk::nn::{Dense, Erf};
    /// use ntk::Rng;
    /// type Net = (Dense<f32, 1, 32>, Erf, Dense<f32, 32, 1>);
    /// let mut rng = Rng::new(3);
    /// let mut net: Net = (Dense::ntk(1.0, 0.0, &mut rng), Erf, Dense::ntk(1.0, 0.0, &mut rng));
    /// let x = [[1.0], [-1.0]];
    /// let mut work = [0.0; monte_carlo::workspace_len::<f32, Net>(2, 1)];
    /// let mut sample = [[0.0; 2]; 2];
    /// let mut stats = Statistics::<f32, 2, 2>::ZEROED;
    /// let entries = [Entry::ntk(0, 0), Entry::ntk(0, 1)];
    /// Fluctuations::new(8, 9)?.gram(&mut net, &x, &entries, &mut work, &mut sample, &mut stats)?;
    /// // erf is odd and there is no bias: Θ(x, −x) = −Θ(x, x) in every sample.
    /// let c = stats.covariance;
    /// assert!((c[0][1] + c[0][0]).abs() < 1e-4 * c[0][0]);
    /// // An index out of range is refused, and the outputs zeroed.
    /// let bad = [Entry::ntk(0, 0), Entry::nngp(2, 0)];
    /// let r = Fluctuations::new(8, 9)?.gram(&mut net, &x, &bad, &mut work, &mut sample, &mut stats);
    /// assert!(r.is_err() && stats.ntk.mean == [[0.0; 2]; 2]);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn gram<T, Net, const D: usize, const K: usize, const N: usize, const E: usize>(
        &mut self,
        net: &mut Net,
        x: &[[T; D]; N],
        entries: &[Entry; E],
        work: &mut [T],
        sample: &mut [[T; N]; N],
        stats: &mut Statistics<T, N, E>,
    ) -> Result<(), Error>
    where
        T: Real,
        Net: Module<T, [T; D], Output = [T; K]> + Params<T>,
    {
        stats.zero();
        let r = self.accumulate(net, x, entries, work, sample, stats);
        if r.is_err() {
            sample.zero();
            stats.zero();
        }
        r
    }

    fn accumulate<T, Net, const D: usize, const K: usize, const N: usize, const E: usize>(
        &mut self,
        net: &mut Net,
        x: &[[T; D]; N],
        entries: &[Entry; E],
        work: &mut [T],
        sample: &mut [[T; N]; N],
        stats: &mut Statistics<T, N, E>,
    ) -> Result<(), Error>
    where
        T: Real,
        Net: Module<T, [T; D], Output = [T; K]> + Params<T>,
    {
        if entries.iter().any(|e| e.i >= N || e.j >= N) {
            return Err(Error::InvalidArgument {
                what: "entry index not below the number of inputs",
            });
        }
        let needed = monte_carlo::workspace_len::<T, Net>(N, K);
        if work.len() < needed {
            return Err(Error::BufferTooSmall {
                needed,
                given: work.len(),
            });
        }
        crate::simd::check_finite(x.as_flattened(), "inputs")?;
        let inv_k = T::ONE / T::from_usize(K.max(1));
        let mut nngp = [[T::ZERO; N]; N];
        for s in 1..=self.samples {
            net.reinit(&mut self.rng);
            for (xi, out) in x.iter().zip(work.chunks_exact_mut(K.max(1))) {
                out.copy_from_slice(&net.eval(xi));
            }
            let outputs = work.get(..N * K).unwrap_or(&[]);
            for (i, fi) in outputs.chunks_exact(K.max(1)).enumerate() {
                for (j, fj) in outputs.chunks_exact(K.max(1)).enumerate().skip(i) {
                    let v = crate::simd::dot(fi, fj) * inv_k;
                    nngp[i][j] = v;
                    nngp[j][i] = v;
                }
            }
            structured::ntk(&*net, x, work, sample)?;
            stats.nngp.push(&nngp);
            stats.ntk.push(sample);
            // Welford's co-moment update, in the form d_a·d_b·(s − 1)/s that
            // is symmetric bit for bit.
            let n = T::from_usize(s);
            let f = (n - T::ONE) / n;
            let mut d = [T::ZERO; E];
            for (a, e) in entries.iter().enumerate() {
                let v = match e.kernel {
                    Kernel::Nngp => nngp[e.i][e.j],
                    Kernel::Ntk => sample[e.i][e.j],
                };
                d[a] = v - stats.entry_mean[a];
                stats.entry_mean[a] += d[a] / n;
            }
            for a in 0..E {
                for b in 0..E {
                    stats.covariance[a][b] += (d[a] * d[b]) * f;
                }
            }
        }
        stats.nngp.finish();
        stats.ntk.finish();
        let s1 = T::from_usize(self.samples - 1);
        for row in stats.covariance.iter_mut() {
            for c in row.iter_mut() {
                *c /= s1;
            }
        }
        if stats.nngp.all_finite()
            && stats.ntk.all_finite()
            && crate::simd::all_finite(&stats.entry_mean)
            && crate::simd::all_finite(stats.covariance.as_flattened())
        {
            Ok(())
        } else {
            Err(Error::Overflow {
                what: "kernel fluctuations",
            })
        }
    }
}

/// The weighted least-squares fit of y(n) − y_∞ ≈ c/n over a set of widths,
/// from [`fit_inverse_width`].
///
/// # Examples
///
/// ```
/// use ntk::empirical::fluctuations::fit_inverse_width;
/// let fit = fit_inverse_width(&[10.0f64, 20.0], &[1.3, 1.15], &[0.01, 0.01], 1.0)?;
/// assert!((fit.coefficient - 3.0).abs() < 1e-12 && fit.chi2 < 1e-20);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct InverseWidthFit<T> {
    /// The fitted coefficient c.
    pub coefficient: T,
    /// Its standard error from the given standard errors,
    /// 1/√(Σ 1/(n²σ²)).
    pub standard_error: T,
    /// χ² = Σ ((y − y_∞ − c/n)/σ)² of the fit.
    pub chi2: T,
    /// Degrees of freedom: the number of widths minus one.
    pub dof: usize,
}

impl<T: Real> InverseWidthFit<T> {
    /// The standard error scaled by √(χ²/dof) when that is above 1 (the
    /// residuals scatter more than the given standard errors say, for
    /// example from terms of order 1/n² the model leaves out); the plain
    /// standard error otherwise, and with no degree of freedom.
    ///
    /// # Examples
    ///
    /// ```
    /// use ntk::empirical::fluctuations::fit_inverse_width;
    /// let fit = fit_inverse_width(&[10.0f64, 20.0, 40.0], &[0.5, 0.1, 0.1], &[0.01; 3], 0.0)?;
    /// assert!(fit.scaled_standard_error() > 5.0 * fit.standard_error);
    /// # Ok::<(), ntk::Error>(())
    /// ```
    pub fn scaled_standard_error(&self) -> T {
        if self.dof == 0 {
            return self.standard_error;
        }
        let r = self.chi2 / T::from_usize(self.dof);
        if r > T::ONE {
            self.standard_error * r.sqrt()
        } else {
            self.standard_error
        }
    }
}

/// Fits the finite-width correction y(n) ≈ y_∞ + c/n by weighted least
/// squares over measurements at several widths.
///
/// `values[w]` is a statistic measured at width `widths[w]` with standard
/// error `standard_errors[w]`, and `limit` is its value at infinite width
/// y_∞. The model has the single parameter c (no intercept: the limit is
/// known), and each width is weighted by 1/σ², so
///
/// c = Σ zᵢ(yᵢ − y_∞)/σᵢ² / Σ zᵢ²/σᵢ²,  SE(c) = 1/√(Σ zᵢ²/σᵢ²),  zᵢ = 1/nᵢ.
///
/// The two uses:
///
/// - the mean bias, E\[Θ_n\] − Θ_∞ ≈ a/n: `values` the Monte Carlo means
///   ([`Moments::mean`]), `standard_errors` their [`Moments::mean_se`],
///   `limit` Θ_∞ from [`analytic`](crate::analytic);
/// - the variance, Var\[Θ_n\] ≈ v/n: `values` the variances
///   ([`Moments::variance`]), `standard_errors` their
///   [`Moments::variance_se`], `limit` 0.
///
/// The standard error assumes independent measurements and a correct
/// model; [`InverseWidthFit::chi2`] tells whether the residuals agree
/// (χ² ≈ dof), and [`InverseWidthFit::scaled_standard_error`] widens the
/// error when they do not.
///
/// # Errors
///
/// [`Error::InvalidArgument`] if the three slices differ in length or are
/// empty, or if a width or a standard error is not positive;
/// [`Error::NonFinite`] for a non-finite value or limit; [`Error::Overflow`]
/// if the fit is not finite.
///
/// # Examples
///
/// ```
/// use ntk::empirical::fluctuations::fit_inverse_width;
/// // Variances 2/n measured with 5 % errors.
/// let widths = [16.0f64, 32.0, 64.0];
/// let var = [0.125, 0.0625, 0.03125];
/// let se = [0.00625, 0.003125, 0.0015625];
/// let fit = fit_inverse_width(&widths, &var, &se, 0.0)?;
/// assert!((fit.coefficient - 2.0).abs() < 1e-12);
/// assert_eq!(fit.dof, 2);
/// assert!(fit_inverse_width(&widths, &var, &se[..2], 0.0).is_err());
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn fit_inverse_width<T: Real>(
    widths: &[T],
    values: &[T],
    standard_errors: &[T],
    limit: T,
) -> Result<InverseWidthFit<T>, Error> {
    if widths.is_empty() || widths.len() != values.len() || widths.len() != standard_errors.len() {
        return Err(Error::InvalidArgument {
            what: "widths, values and standard errors must be non-empty and of one length",
        });
    }
    // `is_finite` also refuses NaN.
    if widths.iter().any(|&n| n <= T::ZERO || !n.is_finite()) {
        return Err(Error::InvalidArgument {
            what: "widths must be positive and finite",
        });
    }
    if standard_errors
        .iter()
        .any(|&s| s <= T::ZERO || !s.is_finite())
    {
        return Err(Error::InvalidArgument {
            what: "standard errors must be positive and finite",
        });
    }
    crate::simd::check_finite(values, "values")?;
    crate::simd::check_finite(&[limit], "limit")?;
    let (mut szz, mut szy) = (T::ZERO, T::ZERO);
    for ((&n, &y), &s) in widths.iter().zip(values).zip(standard_errors) {
        let (z, w) = (T::ONE / n, T::ONE / (s * s));
        szz += w * z * z;
        szy += w * z * (y - limit);
    }
    let c = szy / szz;
    let mut chi2 = T::ZERO;
    for ((&n, &y), &s) in widths.iter().zip(values).zip(standard_errors) {
        let r = (y - limit - c / n) / s;
        chi2 += r * r;
    }
    let fit = InverseWidthFit {
        coefficient: c,
        standard_error: T::ONE / szz.sqrt(),
        chi2,
        dof: widths.len() - 1,
    };
    if fit.coefficient.is_finite() && fit.standard_error.is_finite() && fit.chi2.is_finite() {
        Ok(fit)
    } else {
        Err(Error::Overflow {
            what: "inverse-width fit",
        })
    }
}
