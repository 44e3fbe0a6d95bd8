//! Lazy training: the linearised network and the Chizat–Bach output scaling.

use super::{GradSink, Module, Parameterization, Params, TangentSink, Zeroed};
use crate::{Error, Real, Rng};

/// A tangent sink that keeps nothing: the input cotangent alone.
struct Discard;

impl<T: Real> TangentSink<T> for Discard {
    #[inline]
    fn dense(&mut self, _a: &[T], _da: &[T], _ws: T, _dy: &[T], _ddy: &[T], _bs: T) {}
}

/// `K` NaNs: the output of a pass that cannot be computed, which every
/// caller in the crate refuses as non-finite.
fn nan<T: Real, const K: usize>() -> [T; K] {
    [T::from_f64(f64::NAN); K]
}

/// The linearised network `f_lin(x; θ) = f(x; θ₀) + J(x; θ₀)·(θ − θ₀)`, the
/// first-order Taylor expansion of a network around its parameters `θ₀`
/// (neural-tangents' `linearize`).
///
/// It holds the network at `θ₀` ([`Linearized::base`], never changed by
/// training) and the displacement `δ = θ − θ₀` ([`Linearized::delta`], a
/// value of the network's type whose parameters are the trainable ones). It
/// is a [`Module`] and [`Params`] over `[T; D] → [T; K]` like the network, so
/// [`crate::train::train`] trains it by the same gradient descent:
///
/// - the forward pass is the network's forward pass at `θ₀` with its
///   Jacobian-vector product `J·δ` in forward mode
///   ([`Module::forward_tangent`]), exact (no finite step);
/// - the parameter gradient is `J(x; θ₀)ᵀ·dy`, the network's backward pass
///   at `θ₀` whatever `δ` is; the input cotangent is that of `f_lin`,
///   `(∂f/∂x + ∂(J·δ)/∂x)ᵀ·dy`, through [`Module::backward_tangent`].
///
/// Its empirical NTK is the network's at `θ₀`, at every `δ`: trained by
/// gradient descent on the MSE loss with learning rate `η` for `k` steps,
/// its outputs are exactly (up to rounding) what
/// [`GradientDescentMse`](crate::predict::GradientDescentMse) predicts for
/// `k` steps from that kernel and the initial outputs `f(X; θ₀)`, for a
/// network with one output. (With `K > 1` outputs the prediction uses one
/// kernel for all outputs, the output average of the empirical NTK, which
/// the linearised model follows only as the per-output kernels agree, in
/// the wide limit.) See [`crate::train`] for the three side by side.
///
/// Works for the networks that have a tangent pass: [`Dense`](super::Dense)
/// layers, the activations on vectors and tuples of them (an activation
/// needs its second derivative for the input cotangent).
///
/// # Examples
///
/// ```
/// use ntk::nn::{Dense, Linearized, Module, Relu};
/// use ntk::train::train;
/// use ntk::Rng;
/// type Net = (Dense<f64, 1, 32>, Relu, Dense<f64, 32, 1>);
/// let mut rng = Rng::new(3);
/// let net: Net = (Dense::ntk(1.5, 0.1, &mut rng), Relu, Dense::ntk(1.5, 0.1, &mut rng));
/// let mut lin = Linearized::new(net.clone())?;
/// assert_eq!(lin.eval(&[0.5]), net.eval(&[0.5])); // f_lin(θ₀) = f(θ₀)
/// let mut grad = lin.clone();
/// let xs = [[-1.0], [0.0], [1.0]];
/// let y = [[0.5], [-0.5], [0.5]];
/// let loss = train(&mut lin, &xs, &y, 0.5, 200, &mut grad)?;
/// assert!(loss < 0.05);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Linearized<Net> {
    /// The network at the point of linearisation `θ₀`.
    pub base: Net,
    /// The displacement `θ − θ₀`; only its parameters are read (its scales
    /// and fixed numbers are the base's).
    pub delta: Net,
}

/// Both parts [`Zeroed::ZEROED`]. Fill the base in place
/// ([`Params::init`] on the whole value draws `θ₀` and zeroes `δ`), then
/// check it with [`Linearized::check`].
impl<Net: Zeroed> Zeroed for Linearized<Net> {
    const ZEROED: Self = Self {
        base: Net::ZEROED,
        delta: Net::ZEROED,
    };
}

impl<Net> Linearized<Net> {
    /// The linearisation of `base` at its current parameters, `δ = 0`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if the network has no tangent pass (a
    /// layer without one, or an activation without a second derivative),
    /// as [`Linearized::check`].
    pub fn new<T, const D: usize, const K: usize>(base: Net) -> Result<Self, Error>
    where
        T: Real,
        Net: Module<T, [T; D], Output = [T; K]> + Params<T> + Zeroed,
    {
        let lin = Self {
            base,
            delta: Net::ZEROED,
        };
        lin.check()?;
        Ok(lin)
    }

    /// Checks that the network has the tangent passes the linearised model
    /// needs, by one forward and one backward tangent pass at a zero input.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if not.
    pub fn check<T, const D: usize, const K: usize>(&self) -> Result<(), Error>
    where
        T: Real,
        Net: Module<T, [T; D], Output = [T; K]>,
    {
        let mut cache = Net::Cache::zeroed();
        let mut tangent = Net::Cache::zeroed();
        let zero = [T::ZERO; D];
        self.base
            .forward_tangent(&zero, &zero, &self.delta, &mut cache, &mut tangent)?;
        self.base
            .backward_tangent(
                &cache,
                &tangent,
                &self.delta,
                &[T::ZERO; K],
                &[T::ZERO; K],
                &mut Discard,
            )
            .map(|_| ())
    }

    /// Writes the current parameters `θ = θ₀ + δ` into `out` (a network of
    /// the same type, whose scales and fixed numbers are left as they are).
    pub fn theta<T: Real>(&self, out: &mut Net)
    where
        Net: Params<T>,
    {
        out.zip_mut(&self.base, &mut |o, b| o.copy_from_slice(b));
        out.zip_mut(&self.delta, &mut |o, d| {
            for (o, &d) in o.iter_mut().zip(d) {
                *o += d;
            }
        });
    }
}

impl<Net> Linearized<Net> {
    /// The input cotangent of `f_lin` after a forward pass that filled
    /// `cache`; NaN if the tangent pass fails (which [`Linearized::check`]
    /// rules out).
    fn input_cotangent<T: Real, const D: usize, const K: usize>(
        &self,
        cache: &(Net::Cache, Net::Cache),
        dy: &[T; K],
    ) -> [T; D]
    where
        Net: Module<T, [T; D], Output = [T; K]>,
    {
        match self.base.backward_tangent(
            &cache.0,
            &cache.1,
            &self.delta,
            dy,
            &[T::ZERO; K],
            &mut Discard,
        ) {
            Ok((mut dx, ddx)) => {
                for (a, b) in dx.iter_mut().zip(ddx) {
                    *a += b;
                }
                dx
            }
            Err(_) => nan(),
        }
    }
}

impl<T, Net, const D: usize, const K: usize> Module<T, [T; D]> for Linearized<Net>
where
    T: Real,
    Net: Module<T, [T; D], Output = [T; K]>,
{
    type Output = [T; K];
    /// The network's cache and its tangent at `θ₀`.
    type Cache = (Net::Cache, Net::Cache);

    /// `f(x; θ₀) + J(x; θ₀)·δ`; NaN if the network has no tangent pass
    /// (which [`Linearized::new`] rules out).
    fn forward(&self, x: &[T; D], cache: &mut Self::Cache) -> [T; K] {
        let zero = [T::ZERO; D];
        match self
            .base
            .forward_tangent(x, &zero, &self.delta, &mut cache.0, &mut cache.1)
        {
            Ok((mut y, dy)) => {
                for (a, b) in y.iter_mut().zip(dy) {
                    *a += b;
                }
                y
            }
            Err(_) => nan(),
        }
    }

    fn backward(&self, cache: &Self::Cache, dy: &[T; K], grad: &mut Self) -> [T; D] {
        let _ = self.base.backward(&cache.0, dy, &mut grad.delta);
        self.input_cotangent(cache, dy)
    }

    fn backward_with<S: GradSink<T>>(
        &self,
        cache: &Self::Cache,
        dy: &[T; K],
        sink: &mut S,
    ) -> [T; D] {
        self.base.backward_params(&cache.0, dy, sink);
        self.input_cotangent(cache, dy)
    }

    fn backward_params<S: GradSink<T>>(&self, cache: &Self::Cache, dy: &[T; K], sink: &mut S) {
        self.base.backward_params(&cache.0, dy, sink);
    }

    type BatchCache<const B: usize> = [Self::Cache; B];

    fn forward_batch<const B: usize>(
        &self,
        xs: &[[T; D]; B],
        cache: &mut [Self::Cache; B],
    ) -> [[T; K]; B] {
        let mut ys = [[T::ZERO; K]; B];
        for ((y, x), c) in ys.iter_mut().zip(xs).zip(cache.iter_mut()) {
            *y = self.forward(x, c);
        }
        ys
    }

    fn backward_with_batch<S: GradSink<T>, const B: usize>(
        &self,
        cache: &[Self::Cache; B],
        dys: &[[T; K]; B],
        sinks: &mut [S; B],
    ) -> [[T; D]; B] {
        let mut dxs = [[T::ZERO; D]; B];
        for (((dx, c), dy), sink) in dxs.iter_mut().zip(cache).zip(dys).zip(sinks.iter_mut()) {
            *dx = self.backward_with(c, dy, sink);
        }
        dxs
    }
}

/// The parameters are those of `δ = θ − θ₀`; the factor shapes (and so the
/// empirical NTK) are the network's at `θ₀`.
impl<T: Real, Net: Params<T>> Params<T> for Linearized<Net> {
    const NUM_PARAMS: usize = Net::NUM_PARAMS;
    const DENSE_LAYERS: usize = Net::DENSE_LAYERS;
    const DENSE_IN: usize = Net::DENSE_IN;
    const DENSE_OUT: usize = Net::DENSE_OUT;

    fn dense_shapes<F: FnMut(usize, usize)>(f: &mut F) {
        Net::dense_shapes(f)
    }
    fn factor_shapes<F: FnMut(usize, usize, usize)>(f: &mut F) {
        Net::factor_shapes(f)
    }
    fn visit<F: FnMut(&[T])>(&self, f: &mut F) {
        self.delta.visit(f)
    }
    fn visit_mut<F: FnMut(&mut [T])>(&mut self, f: &mut F) {
        self.delta.visit_mut(f)
    }
    fn zip<F: FnMut(&[T], &[T])>(&self, other: &Self, f: &mut F) {
        self.delta.zip(&other.delta, f)
    }
    fn zip_mut<F: FnMut(&mut [T], &[T])>(&mut self, other: &Self, f: &mut F) {
        self.delta.zip_mut(&other.delta, f)
    }
    /// Draws a new `θ₀` and sets `δ = 0`: a new linearisation.
    fn reinit(&mut self, rng: &mut Rng) {
        self.base.reinit(rng);
        self.delta.fill(T::ZERO);
    }
    fn set_scales(&mut self, weight_std: T, bias_std: T, parameterization: Parameterization) {
        self.base.set_scales(weight_std, bias_std, parameterization);
        self.delta
            .set_scales(weight_std, bias_std, parameterization);
    }
    fn is_finite(&self) -> bool {
        self.base.is_finite() && self.delta.is_finite()
    }
}

/// The Chizat–Bach output scaling of a network: the model
/// `g(x; θ) = α·(f(x; θ) − f(x; θ₀))`, trained on the loss
/// `(1/α²)·ℓ(g)` (Chizat, Oyallon & Bach 2019, *On Lazy Training in
/// Differentiable Programming*, with the model centred at its
/// initialisation so that `g(θ₀) = 0`).
///
/// It holds the trained network ([`OutputScaled::net`]), a frozen copy at
/// `θ₀` ([`OutputScaled::init`]) and `α`. As a [`Module`] it is `g`, and its
/// [`Params`] are the network's, so [`crate::train::train`] with the
/// learning rate [`OutputScaled::learning_rate`]`(η) = η/α²` is gradient
/// descent on `(1/α²)·ℓ(g)` with `ℓ` the MSE loss of
/// [`crate::train`] (which [`crate::train::mse_loss`] and `train` report:
/// `ℓ`, not `ℓ/α²`).
///
/// With that scaling, `g` moves in function space with the network's
/// empirical NTK `Θ(θ)` at any `α` (`ġ = −η·Θ·∇ℓ`), while `θ` moves by
/// `O(1/α)`: as `α → ∞` the trained `g` tends to the linearised model
/// ([`Linearized`]) trained from `g = 0`, which is the kernel prediction
/// ([`GradientDescentMse`](crate::predict::GradientDescentMse)) with
/// `Θ(θ₀)` and zero initial outputs, at any width: lazy training. For a
/// network in the NTK or standard parameterisation, letting the width grow
/// as well gives the infinite-width kernel of that parameterisation.
///
/// # Examples
///
/// ```
/// use ntk::nn::{Dense, Module, OutputScaled, Relu};
/// use ntk::train::train;
/// use ntk::Rng;
/// type Net = (Dense<f64, 1, 16>, Relu, Dense<f64, 16, 1>);
/// let mut rng = Rng::new(5);
/// let net: Net = (Dense::ntk(1.5, 0.1, &mut rng), Relu, Dense::ntk(1.5, 0.1, &mut rng));
/// let mut model = OutputScaled::new(net, 100.0)?;
/// assert_eq!(model.eval(&[0.3]), [0.0]); // centred: g(θ₀) = 0
/// let mut grad = model.clone();
/// let xs = [[-1.0], [0.0], [1.0]];
/// let y = [[0.5], [-0.5], [0.5]];
/// let eta = model.learning_rate(0.5)?;
/// let loss = train(&mut model, &xs, &y, eta, 300, &mut grad)?;
/// assert!(loss < 0.05);
/// # Ok::<(), ntk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct OutputScaled<T, Net> {
    /// The trained network, at `θ`.
    pub net: Net,
    /// The network at `θ₀`, not trained.
    pub init: Net,
    /// The output scale `α`.
    pub alpha: T,
}

/// Both networks [`Zeroed::ZEROED`] and `α = 0` (the zero model): set
/// `alpha`, initialise with [`Params::init`] (which draws `θ` and copies
/// it to `init`).
impl<T: Real, Net: Zeroed> Zeroed for OutputScaled<T, Net> {
    const ZEROED: Self = Self {
        net: Net::ZEROED,
        init: Net::ZEROED,
        alpha: T::ZERO,
    };
}

impl<T: Real, Net: Params<T> + Clone> OutputScaled<T, Net> {
    /// `α·(f(θ) − f(θ₀))` with `θ₀` the network's current parameters.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] unless `α` is finite and positive.
    pub fn new(net: Net, alpha: T) -> Result<Self, Error> {
        check_alpha(alpha)?;
        Ok(Self {
            init: net.clone(),
            net,
            alpha,
        })
    }
}

impl<T: Real, Net> OutputScaled<T, Net> {
    /// `η/α²`: the learning rate that makes [`crate::train::train`] on this
    /// model gradient descent on `(1/α²)·ℓ` with learning rate `η`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] unless `α` and `η` are finite and
    /// positive, or if `η/α²` is not a positive finite number.
    pub fn learning_rate(&self, eta: T) -> Result<T, Error> {
        check_alpha(self.alpha)?;
        let lr = eta / (self.alpha * self.alpha);
        if !(eta.is_finite() && eta > T::ZERO && lr.is_finite() && lr > T::ZERO) {
            return Err(Error::InvalidArgument {
                what: "learning rate η/α² must be finite and positive",
            });
        }
        Ok(lr)
    }
}

fn check_alpha<T: Real>(alpha: T) -> Result<(), Error> {
    if alpha.is_finite() && alpha > T::ZERO {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            what: "output scale α must be finite and positive",
        })
    }
}

impl<T, Net, const D: usize, const K: usize> Module<T, [T; D]> for OutputScaled<T, Net>
where
    T: Real,
    Net: Module<T, [T; D], Output = [T; K]>,
{
    type Output = [T; K];
    /// The caches of the network at `θ` and at `θ₀`.
    type Cache = (Net::Cache, Net::Cache);

    fn forward(&self, x: &[T; D], cache: &mut Self::Cache) -> [T; K] {
        let mut y = self.net.forward(x, &mut cache.0);
        let y0 = self.init.forward(x, &mut cache.1);
        for (a, b) in y.iter_mut().zip(y0) {
            *a = self.alpha * (*a - b);
        }
        y
    }

    fn backward(&self, cache: &Self::Cache, dy: &[T; K], grad: &mut Self) -> [T; D] {
        let ady = dy.map(|d| self.alpha * d);
        let dx = self.net.backward(&cache.0, &ady, &mut grad.net);
        self.minus_init(cache, &ady, dx)
    }

    fn backward_with<S: GradSink<T>>(
        &self,
        cache: &Self::Cache,
        dy: &[T; K],
        sink: &mut S,
    ) -> [T; D] {
        let ady = dy.map(|d| self.alpha * d);
        let dx = self.net.backward_with(&cache.0, &ady, sink);
        self.minus_init(cache, &ady, dx)
    }

    fn backward_params<S: GradSink<T>>(&self, cache: &Self::Cache, dy: &[T; K], sink: &mut S) {
        let ady = dy.map(|d| self.alpha * d);
        self.net.backward_params(&cache.0, &ady, sink);
    }

    type BatchCache<const B: usize> = [Self::Cache; B];

    fn forward_batch<const B: usize>(
        &self,
        xs: &[[T; D]; B],
        cache: &mut [Self::Cache; B],
    ) -> [[T; K]; B] {
        let mut ys = [[T::ZERO; K]; B];
        for ((y, x), c) in ys.iter_mut().zip(xs).zip(cache.iter_mut()) {
            *y = self.forward(x, c);
        }
        ys
    }

    fn backward_with_batch<S: GradSink<T>, const B: usize>(
        &self,
        cache: &[Self::Cache; B],
        dys: &[[T; K]; B],
        sinks: &mut [S; B],
    ) -> [[T; D]; B] {
        let mut dxs = [[T::ZERO; D]; B];
        for (((dx, c), dy), sink) in dxs.iter_mut().zip(cache).zip(dys).zip(sinks.iter_mut()) {
            *dx = self.backward_with(c, dy, sink);
        }
        dxs
    }
}

impl<T: Real, Net> OutputScaled<T, Net> {
    /// `dx − (∂f(θ₀)/∂x)ᵀ·ady`: the input cotangent of the centred model.
    fn minus_init<const D: usize, const K: usize>(
        &self,
        cache: &(Net::Cache, Net::Cache),
        ady: &[T; K],
        mut dx: [T; D],
    ) -> [T; D]
    where
        Net: Module<T, [T; D], Output = [T; K]>,
    {
        let dx0 = self.init.backward_with(&cache.1, ady, &mut ());
        for (a, b) in dx.iter_mut().zip(dx0) {
            *a -= b;
        }
        dx
    }
}

/// The parameters are the trained network's; `init` and `α` are fixed.
impl<T: Real, Net: Params<T>> Params<T> for OutputScaled<T, Net> {
    const NUM_PARAMS: usize = Net::NUM_PARAMS;
    const DENSE_LAYERS: usize = Net::DENSE_LAYERS;
    const DENSE_IN: usize = Net::DENSE_IN;
    const DENSE_OUT: usize = Net::DENSE_OUT;

    fn dense_shapes<F: FnMut(usize, usize)>(f: &mut F) {
        Net::dense_shapes(f)
    }
    fn factor_shapes<F: FnMut(usize, usize, usize)>(f: &mut F) {
        Net::factor_shapes(f)
    }
    fn visit<F: FnMut(&[T])>(&self, f: &mut F) {
        self.net.visit(f)
    }
    fn visit_mut<F: FnMut(&mut [T])>(&mut self, f: &mut F) {
        self.net.visit_mut(f)
    }
    fn zip<F: FnMut(&[T], &[T])>(&self, other: &Self, f: &mut F) {
        self.net.zip(&other.net, f)
    }
    fn zip_mut<F: FnMut(&mut [T], &[T])>(&mut self, other: &Self, f: &mut F) {
        self.net.zip_mut(&other.net, f)
    }
    /// Draws a new `θ` and makes it the new `θ₀` (`init` a copy).
    fn reinit(&mut self, rng: &mut Rng) {
        self.net.reinit(rng);
        self.init
            .zip_mut(&self.net, &mut |a, b| a.copy_from_slice(b));
    }
    fn set_scales(&mut self, weight_std: T, bias_std: T, parameterization: Parameterization) {
        self.net.set_scales(weight_std, bias_std, parameterization);
        self.init.set_scales(weight_std, bias_std, parameterization);
    }
    fn is_finite(&self) -> bool {
        self.alpha.is_finite() && self.net.is_finite() && self.init.is_finite()
    }
}
