//! Layer normalisation over channels.

use super::{Elements, GradSink, Module, Parameterization, Params, Zeroed};
use crate::{Real, Rng};

/// Layer normalisation over the channels at each position, without
/// trainable parameters: `y = (x − mean(x)) / sqrt(ε + var(x))` with the
/// mean and (biased) variance over the channels and ε = 10⁻¹², as
/// neural-tangents' `stax.LayerNorm(axis=-1)`.
///
/// Acts on vectors `[T; N]` (one position), sequences `[[T; C]; L]` and
/// images `[[[T; C]; W]; H]` (every position apart).
///
/// # Examples
///
/// ```
/// use ntk::nn::{LayerNorm, Module};
/// let y: [[f64; 2]; 2] = LayerNorm.eval(&[[1.0, 3.0], [2.0, 2.0]]);
/// // mean 2, variance 1; then a constant position maps to 0
/// assert!((y[0][0] + 1.0).abs() < 1e-11 && (y[0][1] - 1.0).abs() < 1e-11);
/// assert_eq!(y[1], [0.0, 0.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LayerNorm;

impl LayerNorm {
    /// The ε added to the variance, 10⁻¹² (neural-tangents' default).
    pub const EPS: f64 = 1e-12;
}

/// Normalises one position `x` into `y`, returning `r = 1/sqrt(ε + var)`.
#[inline]
fn normalise<T: Real>(x: &[T], y: &mut [T]) -> T {
    let n = T::from_usize(x.len().max(1));
    let mean = x.iter().fold(T::ZERO, |a, &v| a + v) / n;
    let var = x
        .iter()
        .fold(T::ZERO, |a, &v| (v - mean).mul_add(v - mean, a))
        / n;
    let r = T::ONE / (T::from_f64(LayerNorm::EPS) + var).sqrt();
    for (o, &v) in y.iter_mut().zip(x) {
        *o = (v - mean) * r;
    }
    r
}

/// The input cotangent of one position:
/// `dx = r·(dy − mean(dy) − y·mean(dy ⊙ y))`.
#[inline]
fn cotangent<T: Real>(y: &[T], r: T, dy: &[T], dx: &mut [T]) {
    let n = T::from_usize(y.len().max(1));
    let mean = dy.iter().fold(T::ZERO, |a, &v| a + v) / n;
    let proj = y
        .iter()
        .zip(dy)
        .fold(T::ZERO, |a, (&u, &v)| u.mul_add(v, a))
        / n;
    for ((o, &d), &u) in dx.iter_mut().zip(dy).zip(y) {
        *o = r * (d - mean - u * proj);
    }
}

/// Normalises every position of `x` (`r.len()` positions) into `y`,
/// writing each position's `1/sqrt(ε + var)` into `r`.
fn normalise_all<T: Real>(x: &[T], y: &mut [T], r: &mut [T]) {
    let c = (x.len() / r.len().max(1)).max(1);
    for ((xp, yp), rp) in x.chunks_exact(c).zip(y.chunks_exact_mut(c)).zip(r) {
        *rp = normalise(xp, yp);
    }
}

/// The input cotangent of every position.
fn cotangent_all<T: Real>(y: &[T], r: &[T], dy: &[T], dx: &mut [T]) {
    let c = (y.len() / r.len().max(1)).max(1);
    let positions = y.chunks_exact(c).zip(dy.chunks_exact(c));
    for (((yp, dyp), &rp), dxp) in positions.zip(r).zip(dx.chunks_exact_mut(c)) {
        cotangent(yp, rp, dyp, dxp);
    }
}

/// Implements `Module` for one input shape `$x` with the per-position
/// scales in a `$r`.
macro_rules! layer_norm {
    ([$($g:tt)*] $x:ty, $r:ty) => {
        impl<T: Real, $($g)*> Module<T, $x> for LayerNorm {
            type Output = $x;
            /// The normalised output and `1/sqrt(ε + var)` per position.
            type Cache = ($x, $r);
            const PARAMETER_FREE: bool = true;

            fn forward(&self, x: &$x, cache: &mut ($x, $r)) -> $x {
                let (y, r) = cache;
                normalise_all(x.elements(), y.elements_mut(), r.elements_mut());
                *y
            }
            fn backward(&self, cache: &($x, $r), dy: &$x, _grad: &mut Self) -> $x {
                let mut dx = *dy;
                cotangent_all(cache.0.elements(), cache.1.elements(), dy.elements(), dx.elements_mut());
                dx
            }
            fn backward_with<S: GradSink<T>>(&self, cache: &($x, $r), dy: &$x, _sink: &mut S) -> $x {
                self.backward(cache, dy, &mut LayerNorm)
            }
            type BatchCache<const B: usize> = [($x, $r); B];
            fn forward_batch<const B: usize>(&self, xs: &[$x; B], cache: &mut [($x, $r); B]) -> [$x; B] {
                core::array::from_fn(|b| self.forward(&xs[b], &mut cache[b]))
            }
            fn backward_with_batch<S: GradSink<T>, const B: usize>(
                &self,
                cache: &[($x, $r); B],
                dys: &[$x; B],
                _sinks: &mut [S; B],
            ) -> [$x; B] {
                core::array::from_fn(|b| self.backward(&cache[b], &dys[b], &mut LayerNorm))
            }
        }
    };
}

layer_norm!([const N: usize] [T; N], [T; 1]);
layer_norm!([const C: usize, const L: usize] [[T; C]; L], [T; L]);
layer_norm!([const C: usize, const W: usize, const H: usize] [[[T; C]; W]; H], [[T; W]; H]);

super::pool::parameter_free!([] LayerNorm);
