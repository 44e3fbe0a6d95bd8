//! Finite-width corrections that have a closed form: the exact variance of
//! a one-hidden-layer network's empirical NTK at initialisation, and the
//! relative variance of deep ReLU networks' NTK predicted by Hanin and Nica.
//!
//! # One hidden layer
//!
//! In NTK parameterisation (the convention of [`nn::Dense`](crate::nn::Dense)
//! and of this module's [`Layer::Dense`]) a network with one hidden layer of
//! width n is
//!
//! f(x) = (σ₂/√n)·Σᵢ vᵢ·φ(hᵢ(x)) + β₂·b,  hᵢ(x) = (σ₁/√D)·wᵢ·x + β₁·cᵢ,
//!
//! with wᵢ ∈ ℝᴰ, cᵢ, vᵢ, b independent standard normal. Its empirical NTK is
//!
//! Θ_n(x, x′) = β₂² + (σ₂²/n)·Σᵢ Zᵢ,  Zᵢ = φ(hᵢ)φ(hᵢ′) + vᵢ²·φ′(hᵢ)φ′(hᵢ′)·Σ₁,
//!
//! where hᵢ = hᵢ(x), hᵢ′ = hᵢ(x′) and Σ₁ = σ₁²·x·x′/D + β₁²: the first term is
//! the readout weight's gradient, the second the hidden weights' and
//! biases'. The Zᵢ are independent and identically distributed, so Θ_n is
//! an average of n i.i.d. terms: its mean is the infinite-width NTK exactly
//! (no 1/n bias) and its variance is exactly v/n, with
//!
//! Θ_∞ = β₂² + σ₂²·(E\[A\] + Σ₁·E\[B\]),
//! v = σ₂⁴·(E\[A²\] + 2Σ₁·E\[AB\] + 3Σ₁²·E\[B²\] − (E\[A\] + Σ₁·E\[B\])²),
//!
//! A = φ(u)φ(u′), B = φ′(u)φ′(u′), (u, u′) ~ N(0, [[Σ₁(x, x), Σ₁], [Σ₁, Σ₁(x′, x′)]]);
//! the 3 is E\[vᵢ⁴\]. Each expectation is of the form E[g(u)g(u′)] with g = φ,
//! φ′, φ², φφ′ or φ′².
//!
//! For the ABReLU family (ReLU, leaky ReLU, abs, identity:
//! φ(u) = a·min(u, 0) + b·max(u, 0)) the functions g are p·|u|ᵏ for u > 0
//! and q·|u|ᵏ for u < 0, and the arc-cosine kernels of Cho and Saul give
//! them in closed form: with θ = arccos ρ,
//!
//! E[g(u)g(u′)] = (Σ₁₁Σ₂₂)^(k/2)/(2π)·((p² + q²)·Jₖ(θ) + 2pq·Jₖ(π − θ)),
//!
//! J₀ = π − θ, J₁ = sin θ + (π − θ)·cos θ, J₂ = 3 sin θ cos θ + (π − θ)(1 + 2cos²θ).
//!
//! erf, GELU, sin and tanh use the crate's Gaussian quadrature (feature
//! `quadrature`; see [`analytic`](super#quadrature)); user activations
//! (`Layer::Custom`) are not supported, since φ² and φφ′ cannot be formed
//! from their function pointers.
//!
//! # Deep ReLU networks (Hanin and Nica 2019)
//!
//! Hanin and Nica ("Finite depth and width corrections to the neural tangent
//! kernel", ICLR 2020, Theorem 1) consider a fully connected ReLU network
//! with d layers, hidden widths n₁ … n_{d−1}, He initialisation (weights
//! N(0, 2/fan-in), that is σw = √2) and biases zero, and prove for the
//! diagonal entry of its NTK at one input that
//!
//! E[Θ(x, x)²]/E[Θ(x, x)]² ≃ exp(5β),  β = Σⱼ 1/nⱼ,
//!
//! where ≃ holds up to multiplicative constants bounded uniformly in d and
//! n, and the statement is about the joint regime where β = d/n (equal
//! widths) may stay of order one as d, n → ∞. The 5 is the relative
//! variance of a ReLU layer's squared norm: with g standard normal,
//! E[relu(g)⁴]/E[relu(g)²]² − 1 = 6 − 1 = 5, so the second moment of the
//! forward (and backward) norm grows by (1 + 5/n) per layer.
//! [`hanin_nica_log_ratio`] gives the prediction 5β of ln(E\[Θ²\]/E\[Θ\]²).
//!
//! The ≃ leaves the constant in the exponent unspecified: it is not the
//! first-order coefficient. To first order in 1/n the crate derives it
//! for NTK parameterisation ([`relu_ntk_relative_variance`]): with L = d + 1
//! dense layers and no bias the diagonal is a sum of L terms of equal mean,
//! Θ = Σₗ |δₗ|²·(2/n_{l−1})·|a_{l−1}|², the term of layer l carries the
//! forward fluctuation Rₖ = (2/nₖ)·Σᵢ relu(gᵢ)² of every hidden layer k < l
//! and the backward fluctuation Qₖ = (2/nₖ)·Σᵢ 1{gᵢ > 0}·γᵢ² of every
//! hidden layer k ≥ l (gᵢ, γᵢ independent standard normal), with
//! Var Rₖ = Var Qₖ = 5/nₖ and Cov(Rₖ, Qₖ) = 1/nₖ (the shared activation
//! pattern), independent across layers. Hence
//!
//! Var\[Θ\]/E\[Θ\]² ≈ Σₖ (5(L − k)² + 5k² + 2k(L − k))/(L²·nₖ),
//!
//! which for equal widths is 13.6/n at d = 4 (0.68 of Hanin and Nica's
//! 5d/n = 20/n) and tends to (11/15)·5d/n for deep networks. The measured
//! ln(E\[Θ²\]/E\[Θ\]²) follows this coefficient (not 5d) within a few per cent
//! at d = 4 and n = 16 … 128, and keeps growing like an exponential in
//! 1/n as Hanin and Nica predict: the first-order value C/n matches the
//! log-ratio itself better than ln(1 + C/n) does. The figures are in the
//! README and in `tests/empirical/fluctuations.rs`.

use super::layer::Layer;
#[cfg(feature = "quadrature")]
use super::pair::Var;
#[cfg(feature = "quadrature")]
use super::quadrature;
use crate::{Error, Real};

/// A network with one hidden layer in NTK parameterisation:
/// `dense(σ₁, β₁) φ dense(σ₂, β₂)`, whose empirical NTK's mean and exact
/// variance at width n [`ntk_fluctuation`](Self::ntk_fluctuation) gives.
///
/// # Examples
///
/// ```
/// use ntk::analytic::finite_width::OneHidden;
/// use ntk::analytic::{Architecture, Layer};
/// let net = OneHidden { first: (1.5, 0.1), activation: Layer::Relu, readout: (1.2, 0.3) };
/// let (x, y) = ([1.0, 0.0], [0.6, 0.8]);
/// let f = net.ntk_fluctuation(&x, &y)?;
/// // The mean is the infinite-width NTK.
/// let arch: Architecture<f64> = "dense(1.5,0.1) relu dense(1.2,0.3)".parse()?;
/// let (mut k, mut t) = ([[0.0; 2]; 2], [[0.0; 2]; 2]);
/// arch.gram(&[x, y], &mut k, &mut t)?;
/// assert!((f.mean - t[0][1]).abs() < 1e-12 * t[0][1]);
/// // At width 256 the NTK entry fluctuates by √(v/256).
/// assert!(f.variance > 0.0 && (f.variance / 256.0).sqrt() < 0.2 * f.mean);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OneHidden<T> {
    /// The hidden layer's (σw, σb).
    pub first: (T, T),
    /// The activation φ: [`Layer::Relu`], [`Layer::LeakyRelu`],
    /// [`Layer::Abs`], [`Layer::AbRelu`], [`Layer::Identity`], and with the
    /// `quadrature` feature [`Layer::Erf`], [`Layer::Gelu`], [`Layer::Sin`]
    /// and `Layer::Tanh`.
    pub activation: Layer<T>,
    /// The readout layer's (σw, σb).
    pub readout: (T, T),
}

/// The mean and the 1/n variance coefficient of one entry of a
/// one-hidden-layer network's empirical NTK, from
/// [`OneHidden::ntk_fluctuation`]: E\[Θ_n\] = `mean` and
/// Var\[Θ_n\] = `variance`/n at every width n.
///
/// # Examples
///
/// ```
/// use ntk::analytic::finite_width::OneHidden;
/// use ntk::analytic::Layer;
/// // Identity activation, no bias, D = 1: Θ_n(x, x) = (1/n)·Σ (wᵢ² + vᵢ²)·x²,
/// // mean 2x², variance Var[wᵢ² + vᵢ²]·x⁴/n = 4x⁴/n.
/// let net = OneHidden { first: (1.0f64, 0.0), activation: Layer::Identity, readout: (1.0, 0.0) };
/// let f = net.ntk_fluctuation(&[1.0], &[1.0])?;
/// assert!((f.mean - 2.0).abs() < 1e-14 && (f.variance - 4.0).abs() < 1e-13);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NtkFluctuation<T> {
    /// E[Θ_n(x, x′)], equal to the infinite-width NTK at every width.
    pub mean: T,
    /// v in Var[Θ_n(x, x′)] = v/n.
    pub variance: T,
}

/// E[g(u)g(u′)] for g = φ, φ′, φ², φφ′, φ′²: the five Gaussian expectations
/// of the one-hidden-layer variance.
struct Expectations<T> {
    a: T,
    b: T,
    a2: T,
    ab: T,
    b2: T,
}

impl<T: Real> OneHidden<T> {
    /// The mean (the infinite-width NTK) and the exact 1/n variance
    /// coefficient of the entry Θ(x, y) of this network's empirical NTK at
    /// initialisation; see the [module documentation](self).
    ///
    /// # Errors
    ///
    /// [`Error::NonFinite`] for non-finite inputs or scales;
    /// [`Error::InvalidArgument`] for a negative scale, an unsupported
    /// activation, or an input whose pre-activation variance
    /// σ₁²·|x|²/D + β₁² is zero; [`Error::PrecisionLoss`] if the quadrature's
    /// error estimate passes [`PRECISION_LIMIT`](super::PRECISION_LIMIT)
    /// relative to the scale of an expectation; [`Error::Overflow`] if the
    /// result is not finite.
    ///
    /// # Examples
    ///
    /// See [`OneHidden`].
    pub fn ntk_fluctuation<const D: usize>(
        &self,
        x: &[T; D],
        y: &[T; D],
    ) -> Result<NtkFluctuation<T>, Error> {
        let (s1, b1) = self.first;
        let (s2, b2) = self.readout;
        crate::simd::check_finite(x, "inputs")?;
        crate::simd::check_finite(y, "inputs")?;
        crate::simd::check_finite(&[s1, b1, s2, b2], "scales")?;
        if [s1, b1, s2, b2].iter().any(|&s| s < T::ZERO) {
            return Err(Error::InvalidArgument {
                what: "weight and bias scales must be non-negative",
            });
        }
        let d = T::from_usize(D.max(1));
        let sigma = |p: &[T; D], q: &[T; D]| s1 * s1 * crate::simd::dot(p, q) / d + b1 * b1;
        let (q1, q2, c) = (sigma(x, x), sigma(y, y), sigma(x, y));
        if q1 <= T::ZERO || q2 <= T::ZERO {
            return Err(Error::InvalidArgument {
                what: "pre-activation variance is zero",
            });
        }
        let same = x == y;
        let e = expectations(&self.activation, q1, q2, c, same)?;
        let mean_z = e.a + c * e.b;
        let second = e.a2 + T::TWO * c * e.ab + T::from_f64(3.0) * c * c * e.b2;
        let s4 = (s2 * s2) * (s2 * s2);
        let f = NtkFluctuation {
            mean: b2 * b2 + s2 * s2 * mean_z,
            variance: s4 * (second - mean_z * mean_z).max(T::ZERO),
        };
        if f.mean.is_finite() && f.variance.is_finite() {
            Ok(f)
        } else {
            Err(Error::Overflow {
                what: "finite-width variance",
            })
        }
    }
}

/// The five expectations for the activation `act` at variances `q1`, `q2`
/// and covariance `c`.
fn expectations<T: Real>(
    act: &Layer<T>,
    q1: T,
    q2: T,
    c: T,
    same: bool,
) -> Result<Expectations<T>, Error> {
    let (a, b) = match *act {
        Layer::Relu => (T::ZERO, T::ONE),
        Layer::LeakyRelu { alpha } => (alpha, T::ONE),
        Layer::Abs => (-T::ONE, T::ONE),
        Layer::AbRelu { a, b } => (a, b),
        Layer::Identity => (T::ONE, T::ONE),
        #[cfg(feature = "quadrature")]
        Layer::Erf => return by_quadrature::<T, ErfFns>(q1, q2, c, same),
        #[cfg(feature = "quadrature")]
        Layer::Gelu => return by_quadrature::<T, GeluFns>(q1, q2, c, same),
        #[cfg(feature = "quadrature")]
        Layer::Sin => return by_quadrature::<T, SinFns>(q1, q2, c, same),
        #[cfg(feature = "quadrature")]
        Layer::Tanh => return by_quadrature::<T, TanhFns>(q1, q2, c, same),
        _ => {
            return Err(Error::InvalidArgument {
                what: "no finite-width variance for this activation",
            })
        }
    };
    if !(a.is_finite() && b.is_finite()) {
        return Err(Error::NonFinite {
            what: "activation slopes",
        });
    }
    let rho = if same {
        T::ONE
    } else {
        let r = c / (q1.sqrt() * q2.sqrt());
        r.max(-T::ONE).min(T::ONE)
    };
    let theta = rho.acos();
    let (s, co) = (theta.sin(), rho);
    let j = |k: u32, t: T, cos: T, sin: T| -> T {
        let pi_t = T::PI - t;
        match k {
            0 => pi_t,
            1 => sin + pi_t * cos,
            _ => T::from_f64(3.0) * sin * cos + pi_t * (T::ONE + T::TWO * cos * cos),
        }
    };
    // E[g(u)g(u′)] for g = p·|u|ᵏ (u > 0), q·|u|ᵏ (u < 0).
    let e = |k: u32, p: T, q: T| -> T {
        let scale = match k {
            0 => T::ONE,
            1 => q1.sqrt() * q2.sqrt(),
            _ => q1 * q2,
        };
        let same_side = j(k, theta, co, s);
        let opposite = j(k, T::PI - theta, -co, s);
        scale / (T::TWO * T::PI) * ((p * p + q * q) * same_side + T::TWO * p * q * opposite)
    };
    Ok(Expectations {
        // φ = b|u| (u > 0), −a|u| (u < 0); φ′ = b, a.
        a: e(1, b, -a),
        b: e(0, b, a),
        // φ² = b²|u|², a²|u|²; φφ′ = b²|u|, −a²|u|; φ′² = b², a².
        a2: e(2, b * b, a * a),
        ab: e(1, b * b, -(a * a)),
        b2: e(0, b * b, a * a),
    })
}

/// An activation's φ and φ′ and the products φ², φφ′, φ′² as plain
/// functions, for the quadrature.
#[cfg(feature = "quadrature")]
trait Fns<T: Real> {
    fn phi(x: T) -> T;
    fn dphi(x: T) -> T;
    fn phi2(x: T) -> T {
        let p = Self::phi(x);
        p * p
    }
    fn phi_dphi(x: T) -> T {
        Self::phi(x) * Self::dphi(x)
    }
    fn dphi2(x: T) -> T {
        let d = Self::dphi(x);
        d * d
    }
}

#[cfg(feature = "quadrature")]
struct ErfFns;
#[cfg(feature = "quadrature")]
impl<T: Real> Fns<T> for ErfFns {
    fn phi(x: T) -> T {
        x.erf()
    }
    fn dphi(x: T) -> T {
        T::TWO / T::PI.sqrt() * (-(x * x)).exp()
    }
}

#[cfg(feature = "quadrature")]
struct GeluFns;
#[cfg(feature = "quadrature")]
impl<T: Real> Fns<T> for GeluFns {
    fn phi(x: T) -> T {
        x * cdf(x)
    }
    fn dphi(x: T) -> T {
        cdf(x) + x * (-(x * x) * T::HALF).exp() / (T::TWO * T::PI).sqrt()
    }
}

#[cfg(feature = "quadrature")]
fn cdf<T: Real>(x: T) -> T {
    T::HALF * (T::ONE + (x / T::TWO.sqrt()).erf())
}

#[cfg(feature = "quadrature")]
struct SinFns;
#[cfg(feature = "quadrature")]
impl<T: Real> Fns<T> for SinFns {
    fn phi(x: T) -> T {
        x.sin()
    }
    fn dphi(x: T) -> T {
        x.cos()
    }
}

#[cfg(feature = "quadrature")]
struct TanhFns;
#[cfg(feature = "quadrature")]
impl<T: Real> Fns<T> for TanhFns {
    fn phi(x: T) -> T {
        x.tanh()
    }
    fn dphi(x: T) -> T {
        let t = x.tanh();
        T::ONE - t * t
    }
}

/// The five expectations by quadrature: E[g(u)g(u′)] for (g, h) = (φ, φ′),
/// (φ², φ′²) and (φφ′, φφ′), each pair of integrands in one pass, with
/// each error estimate held against the scale √(E[g(u)²]·E[g(u′)²]).
#[cfg(feature = "quadrature")]
fn by_quadrature<T: Real, F: Fns<T>>(
    q1: T,
    q2: T,
    c: T,
    same: bool,
) -> Result<Expectations<T>, Error> {
    let limit = T::from_f64(super::PRECISION_LIMIT);
    let one = |g: fn(T) -> T, h: fn(T) -> T| -> Result<(T, T), Error> {
        // Scales from the diagonal integrals of g² and h², i.e. the
        // diagonal of (g, h) itself: E[g(u)²] and E[h(u)²].
        let ((g1, h1), (eg1, eh1)) = quadrature::diag(g, h, q1);
        let ((g2, h2), (eg2, eh2)) = quadrature::diag(g, h, q2);
        let ((vg, vh), (eg, eh)) = if same {
            ((g1, h1), (eg1, eh1))
        } else {
            let (vi, vj) = (Var::new(q1), Var::new(q2));
            quadrature::pair(g, h, vi, vj, c)
        };
        let (sg, sh) = ((g1 * g2).sqrt(), (h1 * h2).sqrt());
        let ok = |v: T, e: T, s: T| v.is_finite() && e <= limit * s;
        if ok(vg, eg, sg)
            && ok(vh, eh, sh)
            && ok(g1, eg1, g1)
            && ok(g2, eg2, g2)
            && ok(h1, eh1, h1)
            && ok(h2, eh2, h2)
        {
            Ok((vg, vh))
        } else {
            Err(Error::PrecisionLoss {
                what: "finite-width variance",
            })
        }
    };
    let (a, b) = one(F::phi, F::dphi)?;
    let (a2, b2) = one(F::phi2, F::dphi2)?;
    let (ab, _) = one(F::phi_dphi, F::phi_dphi)?;
    Ok(Expectations { a, b, a2, ab, b2 })
}

/// Hanin and Nica's prediction 5·Σⱼ 1/nⱼ of ln(E[Θ(x, x)²]/E[Θ(x, x)]²)
/// for a ReLU network with He initialisation (σw = √2, σb = 0) and hidden
/// widths `widths`; see the [module documentation](self) for the
/// statement and its regime.
///
/// # Examples
///
/// ```
/// use ntk::analytic::finite_width::hanin_nica_log_ratio;
/// // Four hidden layers of width 64: 5·4/64.
/// let r: f64 = hanin_nica_log_ratio(&[64; 4]);
/// assert!((r - 0.3125).abs() < 1e-15);
/// ```
pub fn hanin_nica_log_ratio<T: Real>(widths: &[usize]) -> T {
    let beta = widths
        .iter()
        .fold(T::ZERO, |s, &n| s + T::ONE / T::from_usize(n));
    T::from_f64(5.0) * beta
}

/// The first-order relative variance Var[Θ(x, x)]/E[Θ(x, x)]² of the NTK
/// diagonal of a ReLU network in NTK parameterisation with σw = √2, σb = 0
/// and hidden widths `widths` (d = `widths.len()` hidden layers, L = d + 1
/// dense layers): Σₖ (5(L − k)² + 5k² + 2k(L − k))/(L²·nₖ), k = 1 … d; see
/// the [module documentation](self) for the derivation. It is also the
/// first-order value of ln(E\[Θ²\]/E\[Θ\]²), the quantity of
/// [`hanin_nica_log_ratio`].
///
/// # Examples
///
/// ```
/// use ntk::analytic::finite_width::{hanin_nica_log_ratio, relu_ntk_relative_variance};
/// // Four hidden layers of width 64: 13.6/64, against Hanin and Nica's 20/64.
/// let c: f64 = relu_ntk_relative_variance(&[64; 4]);
/// assert!((c - 13.6 / 64.0).abs() < 1e-15);
/// let hn: f64 = hanin_nica_log_ratio(&[64; 4]);
/// assert!((c / hn - 0.68).abs() < 1e-12);
/// ```
pub fn relu_ntk_relative_variance<T: Real>(widths: &[usize]) -> T {
    let l = T::from_usize(widths.len() + 1);
    let five = T::from_f64(5.0);
    let mut sum = T::ZERO;
    for (i, &n) in widths.iter().enumerate() {
        let k = T::from_usize(i + 1);
        let up = l - k;
        sum += (five * up * up + five * k * k + T::TWO * k * up) / T::from_usize(n);
    }
    sum / (l * l)
}
