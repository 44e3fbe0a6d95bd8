//! Full-batch gradient descent of a finite network on the MSE loss, and how
//! far its empirical NTK moves while it trains.
//!
//! The loss is `L(θ) = ‖f(X; θ) − Y‖² / (2·N·K)`, the convention of
//! [`crate::predict`], so a network trained here for `k` steps with learning
//! rate `η` is what [`crate::predict::GradientDescentMse`] predicts for `k`
//! steps (or time `t = k` in the gradient-flow limit) from its NTK at
//! initialisation; the wider the network, the closer the two
//! ([`ntk_drift`] measures how much the kernel itself changed).
//!
//! The gradient has the network's own type: `grad` is a caller-owned value of
//! the same type as the network (its parameters are overwritten each step).
//!
//! # Lazy versus rich
//!
//! The same gradient descent trains the network, its linearisation
//! ([`Linearized`](crate::nn::Linearized): `f(θ₀) + J(θ₀)·(θ − θ₀)`, which
//! the kernel prediction from the empirical NTK at `θ₀` describes exactly
//! for one output) and its Chizat–Bach scaling
//! ([`OutputScaled`](crate::nn::OutputScaled): `α·(f − f₀)` trained with
//! learning rate `η/α²`, lazy as `α → ∞`). Which of them a wide network
//! follows depends on its [`Parameterization`](crate::nn::Parameterization):
//! in the NTK parameterisation the network approaches its linearisation as
//! the width grows; in μP its features move by `Θ(1)` at every width and no
//! fixed kernel describes it.
//!
//! ```
//! use ntk::empirical::structured;
//! use ntk::nn::{Dense, Linearized, Relu};
//! use ntk::predict::{GradientDescentMse, Spectrum};
//! use ntk::train::{outputs, train};
//! use ntk::Rng;
//! type Net = (Dense<f64, 1, 256>, Relu, Dense<f64, 256, 1>);
//! let mut rng = Rng::new(7);
//! let net: Net = (Dense::ntk(1.5, 0.1, &mut rng), Relu, Dense::ntk(1.5, 0.1, &mut rng));
//! let xs = [[-1.0], [-0.3], [0.4], [1.0]];
//! let y = [[0.5], [-0.5], [0.2], [0.5]];
//! let (eta, steps) = (0.5, 100);
//!
//! // The kernel prediction from the empirical NTK at θ₀.
//! let mut ws = [0.0; structured::workspace_len::<f64, Net>(4, 1)];
//! let mut k0 = [[0.0; 4]; 4];
//! structured::ntk(&net, &xs, &mut ws, &mut k0)?;
//! let mut f0 = [[0.0; 1]; 4];
//! outputs(&net, &xs, &mut f0)?;
//! let gd = GradientDescentMse::new(&y, eta)?.with_initial_outputs(&f0)?;
//! let mut spectrum = Spectrum::new();
//! gd.spectrum(&k0, &mut spectrum)?;
//! let mut kernel = [[0.0; 1]; 4];
//! gd.train_outputs_after_steps(&spectrum, steps, &mut kernel)?;
//!
//! // The linearised network follows it to rounding; the network, nearly.
//! let mut lin = Linearized::new(net.clone())?;
//! let mut grad = lin.clone();
//! train(&mut lin, &xs, &y, eta, steps, &mut grad)?;
//! let mut wide = net.clone();
//! let mut grad = net.clone();
//! train(&mut wide, &xs, &y, eta, steps, &mut grad)?;
//! let (mut f_lin, mut f_net) = ([[0.0; 1]; 4], [[0.0; 1]; 4]);
//! outputs(&lin, &xs, &mut f_lin)?;
//! outputs(&wide, &xs, &mut f_net)?;
//! let (mut gap, mut moved) = (0.0_f64, 0.0_f64);
//! for i in 0..4 {
//!     assert!((f_lin[i][0] - kernel[i][0]).abs() < 1e-10);
//!     gap = gap.max((f_net[i][0] - kernel[i][0]).abs());
//!     moved = moved.max((kernel[i][0] - f0[i][0]).abs());
//! }
//! assert!(gap < 0.1 * moved); // closer the wider the network
//! # Ok::<(), ntk::Error>(())
//! ```
//!
//! # Examples
//!
//! ```
//! use ntk::nn::{Dense, Relu};
//! use ntk::train::{mse_loss, train};
//! use ntk::Rng;
//! type Net = (Dense<f64, 1, 64>, Relu, Dense<f64, 64, 1>);
//! let mut rng = Rng::new(3);
//! let mut net: Net = (Dense::ntk(1.5, 0.1, &mut rng), Relu, Dense::ntk(1.5, 0.1, &mut rng));
//! let mut grad = net.clone();
//! let xs = [[-1.0], [0.0], [1.0]];
//! let y = [[0.5], [-0.5], [0.5]];
//! let before = mse_loss(&net, &xs, &y)?;
//! let after = train(&mut net, &xs, &y, 0.5, 500, &mut grad)?;
//! assert!(after < 0.1 * before);
//! # Ok::<(), ntk::Error>(())
//! ```

use crate::nn::{Module, Params, Zeroed};
use crate::outputs::zero_on_error;
use crate::simd::{check_finite, check_result};
use crate::{Error, Real};

/// `‖f(X) − Y‖² / (2·N·K)` of `net` on inputs `xs` and targets `y`; 0 for
/// an empty data set (`N = 0` or `K = 0`), the empty sum.
///
/// # Examples
///
/// ```
/// use ntk::nn::{Dense, Parameterization};
/// use ntk::train::mse_loss;
/// let net: Dense<f64, 1, 1> = Dense::zeros(1.0, 1.0, Parameterization::Ntk);
/// assert_eq!(mse_loss(&net, &[[1.0], [2.0]], &[[1.0], [3.0]])?, (1.0 + 9.0) / 4.0);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::NonFinite`] for NaN/∞ inputs or targets; [`Error::Overflow`] if
/// the outputs or the loss are not finite.
pub fn mse_loss<T, Net, const D: usize, const K: usize, const N: usize>(
    net: &Net,
    xs: &[[T; D]; N],
    y: &[[T; K]; N],
) -> Result<T, Error>
where
    T: Real,
    Net: Module<T, [T; D], Output = [T; K]>,
{
    check_data(xs, y)?;
    if N * K == 0 {
        return Ok(T::ZERO);
    }
    let mut sum = T::ZERO;
    for (x, yi) in xs.iter().zip(y) {
        let f = net.eval(x);
        for (a, b) in f.iter().zip(yi) {
            sum += (*a - *b) * (*a - *b);
        }
    }
    let loss = sum / T::from_usize(2 * N * K);
    check_result(&[loss], "loss")?;
    Ok(loss)
}

fn check_data<T: Real, const D: usize, const K: usize, const N: usize>(
    xs: &[[T; D]; N],
    y: &[[T; K]; N],
) -> Result<(), Error> {
    xs.iter().try_for_each(|x| check_finite(x, "inputs"))?;
    y.iter().try_for_each(|r| check_finite(r, "targets"))
}

/// Writes the network's outputs on `xs` into `out`.
///
/// # Examples
///
/// ```
/// use ntk::nn::{Dense, Parameterization};
/// let net: Dense<f64, 1, 1> = Dense::zeros(1.0, 2.0, Parameterization::Ntk);
/// let mut out = [[9.0]; 2];
/// ntk::train::outputs(&net, &[[1.0], [2.0]], &mut out)?;
/// assert_eq!(out, [[0.0], [0.0]]);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::NonFinite`] for NaN/∞ inputs, [`Error::Overflow`] for
/// non-finite outputs; on error `out` is zeroed.
pub fn outputs<T, Net, const D: usize, const K: usize, const N: usize>(
    net: &Net,
    xs: &[[T; D]; N],
    out: &mut [[T; K]; N],
) -> Result<(), Error>
where
    T: Real,
    Net: Module<T, [T; D], Output = [T; K]>,
{
    zero_on_error(out, |out| {
        for (o, x) in out.iter_mut().zip(xs) {
            check_finite(x, "inputs")?;
            *o = net.eval(x);
            check_result(o, "outputs")?;
        }
        Ok(())
    })
}

/// One full-batch gradient-descent step `θ ← θ − η·∇L(θ)`; returns the loss
/// **before** the step. `grad` receives `∇L` (a value of the network's type).
/// On an empty data set (`N = 0` or `K = 0`) the loss is 0 and so is the
/// gradient: the step leaves the network as it is.
///
/// # Examples
///
/// ```
/// use ntk::nn::{Dense, Parameterization};
/// use ntk::train::step;
/// // f(x) = w·x + b with w = b = 0 (NTK scales 1): ∇L = −(y·x, y)/(N·K) for one point.
/// let mut net: Dense<f64, 1, 1> = Dense::zeros(1.0, 1.0, Parameterization::Ntk);
/// let mut grad = net.clone();
/// let loss = step(&mut net, &[[2.0]], &[[1.0]], 0.5, &mut grad)?;
/// assert_eq!(loss, 0.5);
/// assert_eq!(ntk::nn::Module::eval(&net, &[2.0])[0], 0.5 * (2.0 * 2.0 + 1.0));
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidArgument`] for `η ≤ 0` or non-finite;
/// [`Error::NonFinite`] for NaN/∞ data; [`Error::Overflow`] if the loss, the
/// gradient or the updated parameters would not be finite (training has
/// diverged); the network is then left as it was.
pub fn step<T, Net, const D: usize, const K: usize, const N: usize>(
    net: &mut Net,
    xs: &[[T; D]; N],
    y: &[[T; K]; N],
    learning_rate: T,
    grad: &mut Net,
) -> Result<T, Error>
where
    T: Real,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T>,
{
    if !(learning_rate.is_finite() && learning_rate > T::ZERO) {
        return Err(Error::InvalidArgument {
            what: "learning rate must be finite and positive",
        });
    }
    check_data(xs, y)?;
    step_unchecked(net, xs, y, learning_rate, grad)
}

fn step_unchecked<T, Net, const D: usize, const K: usize, const N: usize>(
    net: &mut Net,
    xs: &[[T; D]; N],
    y: &[[T; K]; N],
    learning_rate: T,
    grad: &mut Net,
) -> Result<T, Error>
where
    T: Real,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T>,
{
    grad.fill(T::ZERO);
    if N * K == 0 {
        return Ok(T::ZERO);
    }
    let inv_m = T::ONE / T::from_usize(N * K);
    let mut sum = T::ZERO;
    let mut cache = Net::Cache::zeroed();
    for (x, yi) in xs.iter().zip(y) {
        let f = net.forward(x, &mut cache);
        let mut dy = [T::ZERO; K];
        for ((d, a), b) in dy.iter_mut().zip(&f).zip(yi) {
            let r = *a - *b;
            sum += r * r;
            *d = r * inv_m;
        }
        net.backward(&cache, &dy, grad);
    }
    let loss = sum * inv_m / T::TWO;
    check_result(&[loss], "loss")?;
    // Check the update before making it, so that a diverging step leaves the
    // network as it was.
    let mut finite = grad.is_finite();
    net.zip(grad, &mut |theta, g| {
        finite &= theta.iter().zip(g).fold(true, |ok, (&t, &d)| {
            ok & (-learning_rate).mul_add(d, t).is_finite()
        });
    });
    if !finite {
        return Err(Error::Overflow { what: "parameters" });
    }
    net.axpy(-learning_rate, grad);
    Ok(loss)
}

/// `steps` full-batch gradient-descent steps; returns the loss after the
/// last one.
///
/// # Errors
///
/// As [`step`].
pub fn train<T, Net, const D: usize, const K: usize, const N: usize>(
    net: &mut Net,
    xs: &[[T; D]; N],
    y: &[[T; K]; N],
    learning_rate: T,
    steps: u32,
    grad: &mut Net,
) -> Result<T, Error>
where
    T: Real,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T>,
{
    for i in 0..steps {
        if i == 0 {
            step(net, xs, y, learning_rate, grad)?;
        } else {
            step_unchecked(net, xs, y, learning_rate, grad)?;
        }
    }
    mse_loss(net, xs, y)
}

/// Relative change of an empirical NTK during training:
/// `‖Θ_t − Θ₀‖_F / ‖Θ₀‖_F`. Small for wide networks (the lazy/kernel
/// regime), shrinking roughly like `1/√width`.
///
/// # Examples
///
/// ```
/// let a = [[1.0_f64, 0.0], [0.0, 1.0]];
/// let b = [[1.0, 0.0], [0.0, 2.0]];
/// assert!((ntk::train::ntk_drift(&a, &b)? - 0.5_f64.sqrt()).abs() < 1e-15);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::NonFinite`] for NaN/∞ entries; [`Error::InvalidArgument`] if
/// `Θ₀` is zero; [`Error::Overflow`] if the relative change is beyond the
/// floating-point range.
pub fn ntk_drift<T: Real, const M: usize, const N: usize>(
    theta_0: &[[T; N]; M],
    theta_t: &[[T; N]; M],
) -> Result<T, Error> {
    for (a, b) in theta_0.iter().zip(theta_t) {
        check_finite(a, "initial kernel")?;
        check_finite(b, "trained kernel")?;
    }
    // Each Frobenius norm is taken of its matrix divided by its largest
    // entry, so that no square overflows or underflows, and the two scales
    // are divided last. Where a difference overflows, halves are subtracted.
    let pairs = || {
        theta_0
            .iter()
            .flatten()
            .zip(theta_t.iter().flatten())
            .map(|(p, q)| (*p, *q))
    };
    let f = if pairs().all(|(p, q)| (q - p).is_finite()) {
        T::ONE
    } else {
        T::HALF
    };
    let diff_of = |p: T, q: T| q * f - p * f;
    let scale_0 = pairs().fold(T::ZERO, |m, (p, _)| m.max(p.abs()));
    if scale_0 == T::ZERO {
        return Err(Error::InvalidArgument {
            what: "initial kernel is zero",
        });
    }
    let scale_d = pairs().fold(T::ZERO, |m, (p, q)| m.max(diff_of(p, q).abs()));
    if scale_d == T::ZERO {
        return Ok(T::ZERO);
    }
    let (mut diff, mut base) = (T::ZERO, T::ZERO);
    for (p, q) in pairs() {
        let d = diff_of(p, q) / scale_d;
        let b = p / scale_0;
        diff += d * d;
        base += b * b;
    }
    let drift = (scale_d / scale_0) / f * (diff / base).sqrt();
    check_result(&[drift], "kernel drift")?;
    Ok(drift)
}
