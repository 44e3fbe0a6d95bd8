//! Elementwise nonlinearities.

use super::{no_tangent, GradSink, Module, Parameterization, Params, TangentSink, Zeroed};
use crate::{Error, Real, Rng};

/// An elementwise nonlinearity φ with its derivative φ′.
///
/// Every `Activation` is a parameter-free [`Module`] over `[T; N]` for any `N`
/// and over sequences `[[T; C]; L]` and images `[[[T; C]; W]; H]`, elementwise.
/// Derivatives at kinks follow JAX: `relu′(0) = 0`, `abs′(0) = 0`,
/// `leaky_relu′(0) = α`. NaN propagates through every value and derivative,
/// so an overflow upstream is never hidden (`relu(NaN) = NaN`).
///
/// # Examples
///
/// ```
/// use ntk::nn::{Activation, Gelu};
/// let g = <Gelu as Activation<f64>>::value(&Gelu, 1.0);
/// assert!((g - 0.841_344_746_068_542_9).abs() < 1e-15);
/// ```
pub trait Activation<T: Real> {
    /// φ(x).
    fn value(&self, x: T) -> T;
    /// φ′(x).
    fn derivative(&self, x: T) -> T;
    /// φ″(x), if the activation provides it: what the tangent passes of
    /// [`Module::forward_tangent`] and [`Module::backward_tangent`] need.
    /// Zero for the piecewise-linear activations (their kinks are a set of
    /// measure zero); NaN propagates. `None` (the default) for an activation
    /// without it, whose tangent passes then refuse.
    fn second_derivative(&self, x: T) -> Option<T> {
        let _ = x;
        None
    }
}

/// φ″ of the piecewise-linear activations: 0, NaN for NaN.
#[inline(always)]
fn zero_curvature<T: Real>(x: T) -> Option<T> {
    Some(if x.is_nan() { x } else { T::ZERO })
}

/// max(x, 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Relu;

/// x for x > 0, α·x otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LeakyRelu<T> {
    /// The negative slope α.
    pub alpha: T,
}

/// |x|.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Abs;

/// erf(x).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Erf;

/// x·Φ(x), the exact GELU (Φ the standard normal CDF).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Gelu;

/// sin(x).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Sin;

/// tanh(x).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Tanh;

/// x.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Identity;

impl<T: Real> Activation<T> for Relu {
    #[inline(always)]
    fn value(&self, x: T) -> T {
        if x > T::ZERO || x.is_nan() {
            x
        } else {
            T::ZERO
        }
    }
    #[inline(always)]
    fn derivative(&self, x: T) -> T {
        if x > T::ZERO {
            T::ONE
        } else if x.is_nan() {
            x
        } else {
            T::ZERO
        }
    }
    #[inline(always)]
    fn second_derivative(&self, x: T) -> Option<T> {
        zero_curvature(x)
    }
}

impl<T: Real> Activation<T> for LeakyRelu<T> {
    #[inline(always)]
    fn value(&self, x: T) -> T {
        if x > T::ZERO {
            x
        } else {
            self.alpha * x
        }
    }
    #[inline(always)]
    fn derivative(&self, x: T) -> T {
        if x > T::ZERO {
            T::ONE
        } else if x.is_nan() {
            x
        } else {
            self.alpha
        }
    }
    #[inline(always)]
    fn second_derivative(&self, x: T) -> Option<T> {
        zero_curvature(x)
    }
}

impl<T: Real> Activation<T> for Abs {
    #[inline(always)]
    fn value(&self, x: T) -> T {
        x.abs()
    }
    #[inline(always)]
    fn derivative(&self, x: T) -> T {
        if x > T::ZERO {
            T::ONE
        } else if x < T::ZERO {
            -T::ONE
        } else if x.is_nan() {
            x
        } else {
            T::ZERO
        }
    }
    #[inline(always)]
    fn second_derivative(&self, x: T) -> Option<T> {
        zero_curvature(x)
    }
}

/// 2/√π.
const FRAC_2_SQRT_PI: f64 = core::f64::consts::FRAC_2_SQRT_PI;
/// 1/√2.
const FRAC_1_SQRT_2: f64 = core::f64::consts::FRAC_1_SQRT_2;
/// 1/√(2π).
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

impl<T: Real> Activation<T> for Erf {
    #[inline(always)]
    fn value(&self, x: T) -> T {
        x.erf()
    }
    #[inline(always)]
    fn derivative(&self, x: T) -> T {
        T::from_f64(FRAC_2_SQRT_PI) * (-x * x).exp()
    }
    #[inline(always)]
    fn second_derivative(&self, x: T) -> Option<T> {
        Some(T::from_f64(-2.0 * FRAC_2_SQRT_PI) * x * (-x * x).exp())
    }
}

impl<T: Real> Activation<T> for Gelu {
    #[inline(always)]
    fn value(&self, x: T) -> T {
        x * T::HALF * (T::ONE + (x * T::from_f64(FRAC_1_SQRT_2)).erf())
    }
    #[inline(always)]
    fn derivative(&self, x: T) -> T {
        let cdf = T::HALF * (T::ONE + (x * T::from_f64(FRAC_1_SQRT_2)).erf());
        cdf + x * T::from_f64(FRAC_1_SQRT_2PI) * (-T::HALF * x * x).exp()
    }
    #[inline(always)]
    fn second_derivative(&self, x: T) -> Option<T> {
        Some(T::from_f64(FRAC_1_SQRT_2PI) * (T::TWO - x * x) * (-T::HALF * x * x).exp())
    }
}

impl<T: Real> Activation<T> for Sin {
    #[inline(always)]
    fn value(&self, x: T) -> T {
        x.sin()
    }
    #[inline(always)]
    fn derivative(&self, x: T) -> T {
        x.cos()
    }
    #[inline(always)]
    fn second_derivative(&self, x: T) -> Option<T> {
        Some(-x.sin())
    }
}

impl<T: Real> Activation<T> for Tanh {
    #[inline(always)]
    fn value(&self, x: T) -> T {
        x.tanh()
    }
    #[inline(always)]
    fn derivative(&self, x: T) -> T {
        let t = x.tanh();
        T::ONE - t * t
    }
    #[inline(always)]
    fn second_derivative(&self, x: T) -> Option<T> {
        let t = x.tanh();
        Some(-T::TWO * t * (T::ONE - t * t))
    }
}

impl<T: Real> Activation<T> for Identity {
    #[inline(always)]
    fn value(&self, x: T) -> T {
        x
    }
    #[inline(always)]
    fn derivative(&self, _x: T) -> T {
        T::ONE
    }
    #[inline(always)]
    fn second_derivative(&self, x: T) -> Option<T> {
        zero_curvature(x)
    }
}

/// `x ← φ(x)` elementwise, as a plain loop that vectorises.
#[inline(always)]
fn apply<T: Real>(x: &mut [T], f: impl Fn(T) -> T) {
    for v in x.iter_mut() {
        *v = f(*v);
    }
}

/// `dy ← dy · φ′(x)` elementwise.
#[inline(always)]
fn scale_by<T: Real>(dy: &mut [T], x: &[T], df: impl Fn(T) -> T) {
    for (d, &v) in dy.iter_mut().zip(x) {
        *d *= df(v);
    }
}

macro_rules! activation_module {
    ($($ty:ty),*) => {$(
        impl<T: Real, const N: usize> Module<T, [T; N]> for $ty {
            type Output = [T; N];
            type Cache = [T; N];
            const PARAMETER_FREE: bool = true;

            #[inline]
            fn forward(&self, x: &[T; N], cache: &mut [T; N]) -> [T; N] {
                *cache = *x;
                let mut y = *x;
                apply(&mut y, |v| self.value(v));
                y
            }
            #[inline]
            fn backward(&self, cache: &[T; N], dy: &[T; N], _grad: &mut Self) -> [T; N] {
                let mut dx = *dy;
                scale_by(&mut dx, cache, |v| self.derivative(v));
                dx
            }
            #[inline]
            fn backward_with<S: GradSink<T>>(&self, cache: &[T; N], dy: &[T; N], _sink: &mut S) -> [T; N] {
                let mut dx = *dy;
                scale_by(&mut dx, cache, |v| self.derivative(v));
                dx
            }

            type BatchCache<const B: usize> = [[T; N]; B];

            #[inline]
            fn forward_batch<const B: usize>(&self, xs: &[[T; N]; B], cache: &mut [[T; N]; B]) -> [[T; N]; B] {
                *cache = *xs;
                let mut ys = *xs;
                apply(ys.as_flattened_mut(), |v| self.value(v));
                ys
            }
            #[inline]
            fn backward_with_batch<S: GradSink<T>, const B: usize>(
                &self,
                cache: &[[T; N]; B],
                dys: &[[T; N]; B],
                _sinks: &mut [S; B],
            ) -> [[T; N]; B] {
                let mut dxs = *dys;
                scale_by(dxs.as_flattened_mut(), cache.as_flattened(), |v| self.derivative(v));
                dxs
            }

            /// `ẏ = φ′(x)·ẋ`.
            #[inline]
            fn forward_tangent(
                &self,
                x: &[T; N],
                dx: &[T; N],
                _v: &Self,
                cache: &mut [T; N],
                tangent: &mut [T; N],
            ) -> Result<([T; N], [T; N]), Error> {
                let y = self.forward(x, cache);
                *tangent = *dx;
                let mut dy = *dx;
                scale_by(&mut dy, x, |v| self.derivative(v));
                Ok((y, dy))
            }
            /// Cotangent `φ′(x)·dy`, its tangent `φ″(x)·ẋ·dy + φ′(x)·ḋy`.
            #[inline]
            fn backward_tangent<S: TangentSink<T>>(
                &self,
                cache: &[T; N],
                tangent: &[T; N],
                _v: &Self,
                dy: &[T; N],
                ddy: &[T; N],
                _sink: &mut S,
            ) -> Result<([T; N], [T; N]), Error> {
                let mut dx = [T::ZERO; N];
                let mut ddx = [T::ZERO; N];
                for i in 0..N {
                    let x = cache[i];
                    let d1 = self.derivative(x);
                    let d2 = self.second_derivative(x).ok_or(no_tangent())?;
                    dx[i] = d1 * dy[i];
                    ddx[i] = d2 * tangent[i] * dy[i] + d1 * ddy[i];
                }
                Ok((dx, ddx))
            }
        }

        /// Elementwise on sequences `[[T; C]; L]`.
        impl<T: Real, const C: usize, const L: usize> Module<T, [[T; C]; L]> for $ty {
            type Output = [[T; C]; L];
            type Cache = [[T; C]; L];
            const PARAMETER_FREE: bool = true;

            #[inline]
            fn forward(&self, x: &[[T; C]; L], cache: &mut [[T; C]; L]) -> [[T; C]; L] {
                *cache = *x;
                let mut y = *x;
                apply(y.as_flattened_mut(), |v| self.value(v));
                y
            }
            #[inline]
            fn backward(&self, cache: &[[T; C]; L], dy: &[[T; C]; L], _grad: &mut Self) -> [[T; C]; L] {
                let mut dx = *dy;
                scale_by(dx.as_flattened_mut(), cache.as_flattened(), |v| self.derivative(v));
                dx
            }
            #[inline]
            fn backward_with<S: GradSink<T>>(&self, cache: &[[T; C]; L], dy: &[[T; C]; L], _sink: &mut S) -> [[T; C]; L] {
                let mut dx = *dy;
                scale_by(dx.as_flattened_mut(), cache.as_flattened(), |v| self.derivative(v));
                dx
            }

            type BatchCache<const B: usize> = [[[T; C]; L]; B];

            #[inline]
            fn forward_batch<const B: usize>(&self, xs: &[[[T; C]; L]; B], cache: &mut [[[T; C]; L]; B]) -> [[[T; C]; L]; B] {
                *cache = *xs;
                let mut ys = *xs;
                apply(ys.as_flattened_mut().as_flattened_mut(), |v| self.value(v));
                ys
            }
            #[inline]
            fn backward_with_batch<S: GradSink<T>, const B: usize>(
                &self,
                cache: &[[[T; C]; L]; B],
                dys: &[[[T; C]; L]; B],
                _sinks: &mut [S; B],
            ) -> [[[T; C]; L]; B] {
                let mut dxs = *dys;
                scale_by(dxs.as_flattened_mut().as_flattened_mut(), cache.as_flattened().as_flattened(), |v| self.derivative(v));
                dxs
            }
        }

        /// Elementwise on images `[[[T; C]; W]; H]`.
        impl<T: Real, const C: usize, const W: usize, const H: usize> Module<T, [[[T; C]; W]; H]> for $ty {
            type Output = [[[T; C]; W]; H];
            type Cache = [[[T; C]; W]; H];
            const PARAMETER_FREE: bool = true;

            #[inline]
            fn forward(&self, x: &[[[T; C]; W]; H], cache: &mut [[[T; C]; W]; H]) -> [[[T; C]; W]; H] {
                *cache = *x;
                let mut y = *x;
                apply(y.as_flattened_mut().as_flattened_mut(), |v| self.value(v));
                y
            }
            #[inline]
            fn backward(&self, cache: &[[[T; C]; W]; H], dy: &[[[T; C]; W]; H], _grad: &mut Self) -> [[[T; C]; W]; H] {
                let mut dx = *dy;
                scale_by(dx.as_flattened_mut().as_flattened_mut(), cache.as_flattened().as_flattened(), |v| self.derivative(v));
                dx
            }
            #[inline]
            fn backward_with<S: GradSink<T>>(&self, cache: &[[[T; C]; W]; H], dy: &[[[T; C]; W]; H], _sink: &mut S) -> [[[T; C]; W]; H] {
                let mut dx = *dy;
                scale_by(dx.as_flattened_mut().as_flattened_mut(), cache.as_flattened().as_flattened(), |v| self.derivative(v));
                dx
            }

            type BatchCache<const B: usize> = [[[[T; C]; W]; H]; B];

            #[inline]
            fn forward_batch<const B: usize>(&self, xs: &[[[[T; C]; W]; H]; B], cache: &mut [[[[T; C]; W]; H]; B]) -> [[[[T; C]; W]; H]; B] {
                *cache = *xs;
                let mut ys = *xs;
                apply(ys.as_flattened_mut().as_flattened_mut().as_flattened_mut(), |v| self.value(v));
                ys
            }
            #[inline]
            fn backward_with_batch<S: GradSink<T>, const B: usize>(
                &self,
                cache: &[[[[T; C]; W]; H]; B],
                dys: &[[[[T; C]; W]; H]; B],
                _sinks: &mut [S; B],
            ) -> [[[[T; C]; W]; H]; B] {
                let mut dxs = *dys;
                scale_by(dxs.as_flattened_mut().as_flattened_mut().as_flattened_mut(), cache.as_flattened().as_flattened().as_flattened(), |v| self.derivative(v));
                dxs
            }
        }

        impl<T: Real> Params<T> for $ty {
            const NUM_PARAMS: usize = 0;
            const DENSE_LAYERS: usize = 0;
            const DENSE_IN: usize = 0;
            const DENSE_OUT: usize = 0;
            fn dense_shapes<F: FnMut(usize, usize)>(_f: &mut F) {}
            fn visit<F: FnMut(&[T])>(&self, _f: &mut F) {}
            fn visit_mut<F: FnMut(&mut [T])>(&mut self, _f: &mut F) {}
            fn zip<F: FnMut(&[T], &[T])>(&self, _other: &Self, _f: &mut F) {}
            fn zip_mut<F: FnMut(&mut [T], &[T])>(&mut self, _other: &Self, _f: &mut F) {}
            fn reinit(&mut self, _rng: &mut Rng) {}
            fn set_scales(&mut self, _weight_std: T, _bias_std: T, _parameterization: Parameterization) {}
            fn is_finite(&self) -> bool {
                FixedFinite::<T>::fixed_finite(self)
            }
        }
    )*};
}

macro_rules! unit_zeroed {
    ($($ty:ident),*) => {$(
        /// The activation itself (it has no state).
        impl Zeroed for $ty {
            const ZEROED: Self = $ty;
        }
    )*};
}

unit_zeroed!(Relu, Abs, Erf, Gelu, Sin, Tanh, Identity);

/// A slope of 0: a plain ReLU until `alpha` is set.
impl<T: Real> Zeroed for LeakyRelu<T> {
    const ZEROED: Self = LeakyRelu { alpha: T::ZERO };
}

/// The fixed numbers of an activation (a leaky ReLU's slope) are finite.
trait FixedFinite<T> {
    fn fixed_finite(&self) -> bool {
        true
    }
}

impl<T> FixedFinite<T> for Relu {}
impl<T> FixedFinite<T> for Abs {}
impl<T> FixedFinite<T> for Erf {}
impl<T> FixedFinite<T> for Gelu {}
impl<T> FixedFinite<T> for Sin {}
impl<T> FixedFinite<T> for Tanh {}
impl<T> FixedFinite<T> for Identity {}
impl<T: Real> FixedFinite<T> for LeakyRelu<T> {
    fn fixed_finite(&self) -> bool {
        self.alpha.is_finite()
    }
}

activation_module!(Relu, LeakyRelu<T>, Abs, Erf, Gelu, Sin, Tanh, Identity);
