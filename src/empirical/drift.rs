//! How far the empirical NTK moves under training, predicted before
//! training: the kernel's time derivative at initialisation.
//!
//! Under gradient flow on the loss `L(θ) = ‖f(X; θ) − Y‖² / (2·N·K)` of
//! [`crate::train`], `θ̇ = −η·∇θL`, the empirical NTK moves at the rate
//!
//! ```text
//! dΘ(x, x')/dt = ∇θΘ(x, x')·θ̇ = (1/K)·Σ_k [ (H_k(x)·θ̇)·∇θf_k(x') + ∇θf_k(x)·(H_k(x')·θ̇) ]
//! ```
//!
//! (the first equation of the neural tangent hierarchy, Huang & Yau 2020),
//! with `H_k(x)·θ̇` the Hessian-vector product of output `k`: the
//! directional derivative of its parameter gradient along `θ̇`. It is
//! computed exactly, by forward-mode differentiation of the forward and
//! backward passes ([`Module::forward_tangent`],
//! [`Module::backward_tangent`]), not by a finite difference. Time is
//! counted as in [`crate::predict`]: `k` steps of gradient descent with
//! learning rate `η` are time `t = k`.
//!
//! To first order the relative change of the kernel after time `t` is
//! `‖Θ(t) − Θ(0)‖_F / ‖Θ(0)‖_F ≈ t·‖dΘ/dt‖_F / ‖Θ(0)‖_F`
//! ([`predicted_drift`]), the figure [`crate::train::ntk_drift`] measures
//! after training. In NTK parameterisation it shrinks like `1/√width`: the
//! kernel regime of wide networks.
//!
//! The derivative is a Jacobian-style contraction: each input's gradient
//! rows `∇θf_k(x)` and their tangents are written into the workspace
//! (`2·N·K·P` elements for `P` parameters) and contracted.
//!
//! # Examples
//!
//! ```
//! use ntk::empirical::{drift, structured};
//! use ntk::nn::{Dense, Tanh, Zeroed};
//! use ntk::predict::max_learning_rate;
//! use ntk::Rng;
//! type Net = (Dense<f64, 2, 256>, Tanh, Dense<f64, 256, 1>);
//! let mut rng = Rng::new(1);
//! let mut net: Net = (Dense::ntk(1.5, 0.1, &mut rng), Tanh, Dense::ntk(1.5, 0.1, &mut rng));
//! let xs = [[1.0, 0.0], [0.0, 1.0], [0.6, -0.8], [-0.3, 0.2]];
//! let y = [[0.5], [-0.5], [1.0], [0.0]];
//!
//! // Before training: the kernel, a learning rate and the kernel's rate of change.
//! let mut ws = vec![0.0; structured::workspace_len::<f64, Net>(4, 1)];
//! let mut theta_0 = [[0.0; 4]; 4];
//! structured::ntk(&net, &xs, &mut ws, &mut theta_0)?;
//! let eta = 0.005 * max_learning_rate(&theta_0, 1, &mut [[0.0; 4]; 4])?;
//! let mut velocity = Net::ZEROED;
//! let mut wd = vec![0.0; drift::workspace_len::<f64, Net>(4, 1)];
//! let mut rate = [[0.0; 4]; 4];
//! drift::ntk_velocity(&net, &xs, &y, eta, &mut velocity, &mut wd, &mut rate)?;
//! let predicted = drift::predicted_drift(&theta_0, &rate, 10.0)?;
//!
//! // Train for 10 steps and measure.
//! let mut grad = Net::ZEROED;
//! ntk::train::train(&mut net, &xs, &y, eta, 10, &mut grad)?;
//! let mut theta_t = [[0.0; 4]; 4];
//! structured::ntk(&net, &xs, &mut ws, &mut theta_t)?;
//! let measured = ntk::train::ntk_drift(&theta_0, &theta_t)?;
//! assert!(measured > 1e-4 && (measured / predicted - 1.0).abs() < 0.1);
//! # Ok::<(), ntk::Error>(())
//! ```

use crate::nn::{Module, Params, TangentSink, Zeroed};
use crate::outputs::zero_on_error;
use crate::simd::{self, all_finite, check_finite, check_result};
use crate::{Error, Real};

/// Workspace elements [`ntk_derivative`] and [`ntk_velocity`] need for
/// `inputs` inputs and `outputs` outputs: `2·inputs·outputs·P` for `P`
/// parameters (`usize::MAX` if that overflows).
///
/// # Examples
///
/// ```
/// use ntk::empirical::drift;
/// use ntk::nn::{Dense, Relu};
/// type Net = (Dense<f32, 2, 4>, Relu, Dense<f32, 4, 1>);
/// assert_eq!(drift::workspace_len::<f32, Net>(3, 1), 2 * 3 * (12 + 5));
/// ```
pub const fn workspace_len<T: Real, Net: Params<T>>(inputs: usize, outputs: usize) -> usize {
    match inputs.checked_mul(outputs) {
        Some(n) => match n.checked_mul(Net::NUM_PARAMS) {
            Some(n) => match n.checked_mul(2) {
                Some(n) => n,
                None => usize::MAX,
            },
            None => usize::MAX,
        },
        None => usize::MAX,
    }
}

/// Writes the flat parameter gradient and its tangent in [`Params`] order,
/// last layer first, as [`crate::nn::FlatGradient`] does for the gradient.
struct FlatTangent<'a, T> {
    g: &'a mut [T],
    h: &'a mut [T],
    end: usize,
    bad: bool,
}

impl<T: Real> TangentSink<T> for FlatTangent<'_, T> {
    fn dense(&mut self, a: &[T], da: &[T], ws: T, dy: &[T], ddy: &[T], bs: T) {
        let n = dy.len() * (a.len() + 1);
        if n > self.end || da.len() != a.len() || ddy.len() != dy.len() {
            self.bad = true;
            return;
        }
        let start = self.end - n;
        let split = dy.len() * a.len();
        let (gw, gb) = self.g[start..self.end].split_at_mut(split);
        let (hw, hb) = self.h[start..self.end].split_at_mut(split);
        for (o, (&d, &dd)) in dy.iter().zip(ddy).enumerate() {
            let (s, ds) = (d * ws, dd * ws);
            let row = o * a.len()..(o + 1) * a.len();
            for ((gr, hr), (&ai, &dai)) in gw[row.clone()]
                .iter_mut()
                .zip(&mut hw[row])
                .zip(a.iter().zip(da))
            {
                *gr = s * ai;
                *hr = ds.mul_add(ai, s * dai);
            }
            gb[o] = d * bs;
            hb[o] = dd * bs;
        }
        self.end = start;
    }
}

/// Writes `∇θf_k(x)` into `g` and its tangent along `v` into `h` (`K·P`
/// elements each, output-major) and returns `f(x)`.
fn rows<T, Net, const D: usize, const K: usize>(
    net: &Net,
    v: &Net,
    x: &[T; D],
    g: &mut [T],
    h: &mut [T],
) -> Result<[T; K], Error>
where
    T: Real,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T>,
{
    let p = Net::NUM_PARAMS;
    let mut cache = Net::Cache::zeroed();
    let mut tangent = Net::Cache::zeroed();
    let (f, _) = net.forward_tangent(x, &[T::ZERO; D], v, &mut cache, &mut tangent)?;
    for (k, (gk, hk)) in g
        .chunks_exact_mut(p.max(1))
        .zip(h.chunks_exact_mut(p.max(1)))
        .enumerate()
        .take(K)
    {
        let mut dy = [T::ZERO; K];
        dy[k] = T::ONE;
        let mut sink = FlatTangent {
            g: gk,
            h: hk,
            end: p,
            bad: false,
        };
        net.backward_tangent(&cache, &tangent, v, &dy, &[T::ZERO; K], &mut sink)?;
        if sink.bad || sink.end != 0 {
            return Err(Error::InvalidArgument {
                what: "the network's parameter count disagrees with its tangent pass",
            });
        }
    }
    Ok(f)
}

/// The N×N derivative of the empirical NTK (trace convention: mean over the
/// K outputs) along the parameter direction `direction`, a value of the
/// network's type: `out[i][j] = d/dε Θ(x_i, x_j; θ + ε·v)` at `ε = 0`,
/// exact (forward mode), bitwise symmetric.
///
/// # Examples
///
/// ```
/// use ntk::empirical::{drift, structured};
/// use ntk::nn::{Dense, Erf, Params};
/// use ntk::Rng;
/// type Net = (Dense<f64, 2, 8>, Erf, Dense<f64, 8, 1>);
/// let mut rng = Rng::new(2);
/// let net: Net = (Dense::ntk(1.0, 0.2, &mut rng), Erf, Dense::ntk(1.0, 0.2, &mut rng));
/// let mut v = net.clone();
/// v.reinit(&mut rng); // a random direction
/// let xs = [[0.3, -1.0], [1.2, 0.4]];
/// let mut ws = vec![0.0; drift::workspace_len::<f64, Net>(2, 1)];
/// let mut d = [[0.0; 2]; 2];
/// drift::ntk_derivative(&net, &v, &xs, &mut ws, &mut d)?;
///
/// // Against a central difference of the kernel itself.
/// let h = 1e-5;
/// let (mut plus, mut minus) = (net.clone(), net.clone());
/// plus.axpy(h, &v);
/// minus.axpy(-h, &v);
/// let mut wk = [0.0; structured::workspace_len::<f64, Net>(2, 1)];
/// let (mut tp, mut tm) = ([[0.0; 2]; 2], [[0.0; 2]; 2]);
/// structured::ntk(&plus, &xs, &mut wk, &mut tp)?;
/// structured::ntk(&minus, &xs, &mut wk, &mut tm)?;
/// let fd = (tp[0][1] - tm[0][1]) / (2.0 * h);
/// assert!((d[0][1] - fd).abs() < 1e-7 * (1.0 + fd.abs()));
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::BufferTooSmall`] if `workspace` holds fewer than
/// [`workspace_len`]`(N, K)` elements; [`Error::NonFinite`] for non-finite
/// inputs, parameters or direction; [`Error::InvalidArgument`] if a layer
/// of the network has no tangent pass (only [`crate::nn::Dense`], the
/// activations on vectors and tuples of them have one for now);
/// [`Error::Overflow`] if a gradient, its tangent or the result is not
/// finite. On every error `out` is zeroed.
pub fn ntk_derivative<T, Net, const D: usize, const K: usize, const N: usize>(
    net: &Net,
    direction: &Net,
    xs: &[[T; D]; N],
    workspace: &mut [T],
    out: &mut [[T; N]; N],
) -> Result<(), Error>
where
    T: Real,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T>,
{
    zero_on_error(out, |out| {
        check_net(net, direction, xs)?;
        derivative_unchecked(net, direction, xs, workspace, out)
    })
}

fn check_net<T, Net, const D: usize, const N: usize>(
    net: &Net,
    direction: &Net,
    xs: &[[T; D]; N],
) -> Result<(), Error>
where
    T: Real,
    Net: Params<T>,
{
    xs.iter().try_for_each(|x| check_finite(x, "inputs"))?;
    if !net.is_finite() {
        return Err(Error::NonFinite {
            what: "network parameters",
        });
    }
    if !params_finite(direction) {
        return Err(Error::NonFinite {
            what: "parameter direction",
        });
    }
    Ok(())
}

/// `true` if the trainable parameters (not the fixed scales) are finite.
fn params_finite<T: Real, Net: Params<T>>(net: &Net) -> bool {
    let mut ok = true;
    net.visit(&mut |s| ok &= all_finite(s));
    ok
}

fn derivative_unchecked<T, Net, const D: usize, const K: usize, const N: usize>(
    net: &Net,
    direction: &Net,
    xs: &[[T; D]; N],
    workspace: &mut [T],
    out: &mut [[T; N]; N],
) -> Result<(), Error>
where
    T: Real,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T>,
{
    let needed = workspace_len::<T, Net>(N, K);
    if workspace.len() < needed {
        return Err(Error::BufferTooSmall {
            needed,
            given: workspace.len(),
        });
    }
    out.iter_mut().for_each(|r| r.fill(T::ZERO));
    let row = K * Net::NUM_PARAMS;
    if row == 0 {
        return Ok(());
    }
    let work = &mut workspace[..needed];
    for (x, rec) in xs.iter().zip(work.chunks_exact_mut(2 * row)) {
        let (g, h) = rec.split_at_mut(row);
        rows(net, direction, x, g, h)?;
        check_result(rec, "gradient and its tangent")?;
    }
    let p = Net::NUM_PARAMS;
    let inv_k = T::ONE / T::from_usize(K);
    for i in 0..N {
        let (gi, hi) = work[2 * row * i..2 * row * (i + 1)].split_at(row);
        for j in i..N {
            let (gj, hj) = work[2 * row * j..2 * row * (j + 1)].split_at(row);
            let mut acc = T::ZERO;
            for k in 0..K {
                let s = k * p..(k + 1) * p;
                acc +=
                    simd::dot(&hi[s.clone()], &gj[s.clone()]) + simd::dot(&gi[s.clone()], &hj[s]);
            }
            out[i][j] = acc * inv_k;
            out[j][i] = out[i][j];
        }
    }
    check_result(out.as_flattened(), "kernel derivative")
}

/// The N×N time derivative `dΘ/dt` of the empirical NTK (trace convention)
/// at the current parameters, under gradient flow with learning rate `η` on
/// the loss `‖f(X) − Y‖²/(2·N·K)` of [`crate::train`]: the derivative along
/// `θ̇ = −η·∇θL`, which is written into `velocity` (a caller-owned value of
/// the network's type; only its parameters are written). One step of
/// [`crate::train::step`] with the same `η` moves the parameters by
/// `velocity`, to first order the kernel by `out`.
///
/// # Examples
///
/// See the [module documentation](self).
///
/// # Errors
///
/// [`Error::InvalidArgument`] for `η ≤ 0` or non-finite, or a layer
/// without a tangent pass; [`Error::NonFinite`] for non-finite inputs,
/// targets or parameters; [`Error::Overflow`] if the loss gradient or the
/// result is not finite; [`Error::BufferTooSmall`] as [`ntk_derivative`].
/// On every error `out` and the parameters of `velocity` are zeroed. An
/// empty data set (`N = 0` or `K = 0`) has a zero velocity and derivative.
pub fn ntk_velocity<T, Net, const D: usize, const K: usize, const N: usize>(
    net: &Net,
    xs: &[[T; D]; N],
    y: &[[T; K]; N],
    learning_rate: T,
    velocity: &mut Net,
    workspace: &mut [T],
    out: &mut [[T; N]; N],
) -> Result<(), Error>
where
    T: Real,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T>,
{
    velocity.fill(T::ZERO);
    let r = zero_on_error(out, |out| {
        if !(learning_rate.is_finite() && learning_rate > T::ZERO) {
            return Err(Error::InvalidArgument {
                what: "learning rate must be finite and positive",
            });
        }
        y.iter().try_for_each(|r| check_finite(r, "targets"))?;
        check_net(net, velocity, xs)?;
        if N * K == 0 {
            return Ok(());
        }
        let inv_m = T::ONE / T::from_usize(N * K);
        let mut cache = Net::Cache::zeroed();
        for (x, yi) in xs.iter().zip(y) {
            let f = net.forward(x, &mut cache);
            let mut dy = [T::ZERO; K];
            for ((d, a), b) in dy.iter_mut().zip(&f).zip(yi) {
                *d = (*a - *b) * inv_m;
            }
            net.backward(&cache, &dy, velocity);
        }
        velocity.visit_mut(&mut |s| simd::scale(-learning_rate, s));
        if !params_finite(velocity) {
            return Err(Error::Overflow {
                what: "loss gradient",
            });
        }
        derivative_unchecked(net, velocity, xs, workspace, out)
    });
    if r.is_err() {
        velocity.fill(T::ZERO);
    }
    r
}

/// The kernel change a training run of `steps` gradient-descent steps with
/// learning rate `η` will make, predicted before training: `ΔΘ ≈
/// ∇θΘ·Δθ_lin`, the kernel's exact derivative along the parameter
/// displacement `Δθ_lin` of the network's linearisation
/// `f(θ₀) + J(θ₀)·(θ − θ₀)` trained by the same steps (written into
/// `displacement`, a caller-owned value of the network's type). Writes the
/// empirical NTK at initialisation (trace convention) into `theta_0` and the
/// predicted change `ΔΘ` into `out`, and returns the predicted relative
/// change `‖ΔΘ‖_F / ‖Θ(0)‖_F`, which [`crate::train::ntk_drift`] measures
/// after the run.
///
/// This is the neural tangent hierarchy truncated at first order: `dΘ/dt`
/// is linear in the residuals `f(X) − Y` (see [`ntk_velocity`]), and the
/// residuals are taken from the linearised run instead of being held at
/// their initial value, as [`predicted_drift`]'s `t·‖dΘ/dt‖` does. With a
/// learning rate near the largest stable one the residuals fall within a
/// few steps, and only this form stays close to the measured change. It
/// leaves out the second order of the displacement, which is of the same
/// `1/width` order as the first: with `η ≤ η_max/200` over 10 steps the two
/// agree within 10 % run by run, at `η = η_max/2` within a factor 1.5 (on
/// average over initialisations 5 to 25 %; tanh, erf and GELU networks of
/// width 256 and 1024, `tests/empirical/drift.rs`). For ReLU networks the
/// change is dominated by units crossing their kink, which no derivative
/// sees. The linearised run costs `4·N·K·P` operations per step.
///
/// # Examples
///
/// ```
/// use ntk::empirical::{drift, structured};
/// use ntk::nn::{Dense, Gelu, Zeroed};
/// use ntk::predict::max_learning_rate;
/// use ntk::Rng;
/// type Net = (Dense<f64, 1, 256>, Gelu, Dense<f64, 256, 1>);
/// let mut rng = Rng::new(1);
/// let mut net: Net = (Dense::ntk(1.5, 0.1, &mut rng), Gelu, Dense::ntk(1.5, 0.1, &mut rng));
/// let xs = [[-1.0], [0.0], [1.0]];
/// let y = [[0.5], [-0.5], [0.5]];
///
/// let mut shift = Net::ZEROED;
/// let mut wd = vec![0.0; drift::workspace_len::<f64, Net>(3, 1)];
/// let (mut theta_0, mut change) = ([[0.0; 3]; 3], [[0.0; 3]; 3]);
/// let eta = 0.01; // small enough for the first order to dominate
/// let predicted = drift::predicted_change(
///     &net, &xs, &y, eta, 10, &mut shift, &mut wd, &mut theta_0, &mut change,
/// )?;
/// assert!(eta < max_learning_rate(&theta_0, 1, &mut [[0.0; 3]; 3])?);
///
/// let mut grad = Net::ZEROED;
/// ntk::train::train(&mut net, &xs, &y, eta, 10, &mut grad)?;
/// let mut wk = vec![0.0; structured::workspace_len::<f64, Net>(3, 1)];
/// let mut theta_t = [[0.0; 3]; 3];
/// structured::ntk(&net, &xs, &mut wk, &mut theta_t)?;
/// let measured = ntk::train::ntk_drift(&theta_0, &theta_t)?;
/// assert!((measured / predicted - 1.0).abs() < 0.1);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// As [`ntk_velocity`]; [`Error::Overflow`] also if the linearised run
/// diverges (a learning rate above the largest stable one) or the kernel
/// at initialisation is not finite, [`Error::InvalidArgument`] if it is
/// zero. On every error `theta_0`, `out` and the parameters of
/// `displacement` are zeroed. An empty data set or `steps = 0` predicts no
/// change.
#[allow(clippy::too_many_arguments)]
pub fn predicted_change<T, Net, const D: usize, const K: usize, const N: usize>(
    net: &Net,
    xs: &[[T; D]; N],
    y: &[[T; K]; N],
    learning_rate: T,
    steps: u32,
    displacement: &mut Net,
    workspace: &mut [T],
    theta_0: &mut [[T; N]; N],
    out: &mut [[T; N]; N],
) -> Result<T, Error>
where
    T: Real,
    Net: Module<T, [T; D], Output = [T; K]> + Params<T>,
{
    displacement.fill(T::ZERO);
    let r = change_unchecked(
        net,
        xs,
        y,
        learning_rate,
        steps,
        displacement,
        workspace,
        theta_0,
        out,
    );
    if r.is_err() {
        displacement.fill(T::ZERO);
        theta_0.iter_mut().for_each(|r| r.fill(T::ZERO));
        out.iter_mut().for_each(|r| r.fill(T::ZERO));
    }
    r
}

#[allow(clippy::too_many_arguments)]
fn change_unchecked<T, Net, const D: usize, const K: usize, const N: usize>(
    net: &Net,
    xs: &[[T; D]; N],
    y: &[[T; K]; N],
    learning_rate: T,
    steps: u32,
    displacement: &mut Net,
    workspace: &mut [T],
    theta_0: &mut [[T; N]; N],
    out: &mut [[T; N]; N],
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
    y.iter().try_for_each(|r| check_finite(r, "targets"))?;
    check_net(net, displacement, xs)?;
    let needed = workspace_len::<T, Net>(N, K);
    if workspace.len() < needed {
        return Err(Error::BufferTooSmall {
            needed,
            given: workspace.len(),
        });
    }
    theta_0.iter_mut().for_each(|r| r.fill(T::ZERO));
    out.iter_mut().for_each(|r| r.fill(T::ZERO));
    let p = Net::NUM_PARAMS;
    let row = K * p;
    if row == 0 || N == 0 {
        return Ok(T::ZERO);
    }
    let work = &mut workspace[..needed];
    // Gradient rows and residuals at initialisation (the direction is zero).
    let mut residual = [[T::ZERO; K]; N];
    for ((x, rec), (ri, yi)) in xs
        .iter()
        .zip(work.chunks_exact_mut(2 * row))
        .zip(residual.iter_mut().zip(y))
    {
        let (g, h) = rec.split_at_mut(row);
        let f = rows(net, displacement, x, g, h)?;
        check_result(g, "gradient")?;
        for ((r, a), b) in ri.iter_mut().zip(&f).zip(yi) {
            *r = *a - *b;
        }
        check_result(ri, "outputs")?;
    }
    let inv_k = T::ONE / T::from_usize(K);
    for i in 0..N {
        let gi = &work[2 * row * i..2 * row * i + row];
        for j in i..N {
            let gj = &work[2 * row * j..2 * row * j + row];
            let mut acc = T::ZERO;
            for k in 0..K {
                acc += simd::dot(&gi[k * p..(k + 1) * p], &gj[k * p..(k + 1) * p]);
            }
            theta_0[i][j] = acc * inv_k;
            theta_0[j][i] = theta_0[i][j];
        }
    }
    check_result(theta_0.as_flattened(), "kernel")?;
    let (s0, n0) = scaled_norm(theta_0.as_flattened());
    if s0 == T::ZERO {
        return Err(Error::InvalidArgument {
            what: "initial kernel is zero",
        });
    }
    // The linearised run, its displacement kept in the first input's tangent
    // slot: r = f₀ − Y + J·Δθ, then Δθ ← Δθ − (η/(N·K))·Jᵀ·r.
    let rate = -learning_rate / T::from_usize(N * K);
    let (g0, rest) = work.split_at_mut(row);
    let (h0, others) = rest.split_at_mut(row);
    let shift = &mut h0[..p];
    shift.fill(T::ZERO);
    let grad = |i: usize, k: usize| -> &[T] {
        if i == 0 {
            &g0[k * p..(k + 1) * p]
        } else {
            let start = 2 * row * (i - 1) + k * p;
            &others[start..start + p]
        }
    };
    for _ in 0..steps {
        let mut r = residual;
        for (i, ri) in r.iter_mut().enumerate() {
            for (k, rik) in ri.iter_mut().enumerate() {
                *rik += simd::dot(grad(i, k), shift);
            }
        }
        for (i, ri) in r.iter().enumerate() {
            for (k, &rik) in ri.iter().enumerate() {
                simd::axpy(rate * rik, grad(i, k), shift);
            }
        }
        if !all_finite(shift) {
            return Err(Error::Overflow {
                what: "linearised training run",
            });
        }
    }
    let mut at = 0;
    displacement.visit_mut(&mut |s| {
        let n = s.len();
        s.copy_from_slice(&shift[at..at + n]);
        at += n;
    });
    derivative_unchecked(net, displacement, xs, workspace, out)?;
    let (sd, nd) = scaled_norm(out.as_flattened());
    if sd == T::ZERO {
        return Ok(T::ZERO);
    }
    let d = (sd / s0) * (nd / n0);
    check_result(&[d], "predicted drift")?;
    Ok(d)
}

/// The first-order prediction of the relative kernel change after time
/// `time` (gradient-descent steps, as in [`crate::predict`]):
/// `time·‖dΘ/dt‖_F / ‖Θ(0)‖_F`, from the kernel `theta_0` at initialisation
/// and its derivative `velocity` from [`ntk_velocity`] with the learning
/// rate of the run. It is what [`crate::train::ntk_drift`] measures after
/// the run, as long as the residuals and the kernel change little over it
/// (see [`predicted_change`] otherwise).
///
/// # Examples
///
/// ```
/// let theta_0 = [[2.0_f64, 0.0], [0.0, 2.0]];
/// let rate = [[0.01, 0.0], [0.0, -0.01]];
/// let d = ntk::empirical::drift::predicted_drift(&theta_0, &rate, 10.0)?;
/// assert!((d - 0.05).abs() < 1e-15);
/// # Ok::<(), ntk::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::NonFinite`] for non-finite entries; [`Error::InvalidArgument`]
/// for a negative or non-finite `time` or a zero `theta_0`;
/// [`Error::Overflow`] if the result is beyond the floating-point range.
pub fn predicted_drift<T: Real, const N: usize>(
    theta_0: &[[T; N]; N],
    velocity: &[[T; N]; N],
    time: T,
) -> Result<T, Error> {
    if !(time.is_finite() && time >= T::ZERO) {
        return Err(Error::InvalidArgument {
            what: "time must be finite and non-negative",
        });
    }
    check_finite(theta_0.as_flattened(), "initial kernel")?;
    check_finite(velocity.as_flattened(), "kernel derivative")?;
    let (s0, n0) = scaled_norm(theta_0.as_flattened());
    if s0 == T::ZERO {
        return Err(Error::InvalidArgument {
            what: "initial kernel is zero",
        });
    }
    let (sv, nv) = scaled_norm(velocity.as_flattened());
    if sv == T::ZERO || time == T::ZERO {
        return Ok(T::ZERO);
    }
    let d = time * (sv / s0) * (nv / n0);
    check_result(&[d], "predicted drift")?;
    Ok(d)
}

/// `(s, ‖a/s‖₂)` with `s` the largest absolute entry, so that no square
/// overflows or underflows: `‖a‖₂ = s·‖a/s‖₂`.
fn scaled_norm<T: Real>(a: &[T]) -> (T, T) {
    let s = a.iter().fold(T::ZERO, |m, v| m.max(v.abs()));
    if s == T::ZERO {
        return (s, T::ZERO);
    }
    let sum = a.iter().fold(T::ZERO, |acc, &v| {
        let u = v / s;
        u.mul_add(u, acc)
    });
    (s, sum.sqrt())
}
