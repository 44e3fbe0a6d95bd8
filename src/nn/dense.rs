//! The fully connected layer.

use super::{GradSink, Module, Params, TangentSink, Zeroed};
use crate::{simd, Error, Real, Rng};

/// How a dense layer scales its weights.
///
/// Represented as a `u8` with [`Parameterization::Ntk`] = 0, so that an
/// all-zero dense layer is a valid value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum Parameterization {
    /// NTK parameterization: `y = σw/√IN · W·a + σb·b` with `W, b ~ N(0, 1)`;
    /// the NTK has a finite infinite-width limit.
    Ntk = 0,
    /// Standard parameterization: `y = W·a + σb·b` with `W ~ N(0, σw²/IN)`,
    /// `b ~ N(0, 1)`.
    Standard = 1,
}

/// A fully connected layer `[T; IN] → [T; OUT]`.
///
/// `y = ws·W·a + bs·b` with `ws = σw/√IN`, `bs = σb` in [`Parameterization::Ntk`]
/// and `ws = 1`, `bs = σb` in [`Parameterization::Standard`]. The weight is
/// stored row-major, `weight[o][i]`.
///
/// # Examples
///
/// ```
/// use ntk::nn::{Dense, Module};
/// use ntk::Rng;
/// let mut layer: Dense<f64, 3, 2> = Dense::ntk(2.0, 0.5, &mut Rng::new(3));
/// layer.weight = [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]];
/// layer.bias = [1.0, -1.0];
/// let y = layer.eval(&[3.0, 1.0, 2.0]);
/// let ws = 2.0 / 3f64.sqrt();
/// assert!((y[0] - (ws * 3.0 + 0.5)).abs() < 1e-14);
/// assert!((y[1] - (ws * 3.0 - 0.5)).abs() < 1e-14);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dense<T, const IN: usize, const OUT: usize> {
    /// Weight matrix, `weight[o][i]`.
    pub weight: [[T; IN]; OUT],
    /// Bias vector.
    pub bias: [T; OUT],
    /// Weight standard deviation σw.
    pub weight_std: T,
    /// Bias standard deviation σb.
    pub bias_std: T,
    /// The parameterisation.
    pub parameterization: Parameterization,
}

/// All parameters zero, σw = σb = 0, [`Parameterization::Ntk`]: every byte
/// zero. Fill it in place with [`Params::init`] or [`Params::init_ntk`].
impl<T: Real, const IN: usize, const OUT: usize> Zeroed for Dense<T, IN, OUT> {
    const ZEROED: Self = Self {
        weight: [[T::ZERO; IN]; OUT],
        bias: [T::ZERO; OUT],
        weight_std: T::ZERO,
        bias_std: T::ZERO,
        parameterization: Parameterization::Ntk,
    };
}

impl<T: Real, const IN: usize, const OUT: usize> Dense<T, IN, OUT> {
    /// A layer with all parameters zero (a buffer for gradients).
    pub fn zeros(weight_std: T, bias_std: T, parameterization: Parameterization) -> Self {
        Self {
            weight: [[T::ZERO; IN]; OUT],
            bias: [T::ZERO; OUT],
            weight_std,
            bias_std,
            parameterization,
        }
    }

    /// A layer with parameters drawn from `rng` for the given parameterisation.
    pub fn new(
        weight_std: T,
        bias_std: T,
        parameterization: Parameterization,
        rng: &mut Rng,
    ) -> Self {
        let mut d = Self::zeros(weight_std, bias_std, parameterization);
        d.reinit(rng);
        d
    }

    /// A layer in NTK parameterization (`W, b ~ N(0, 1)`).
    pub fn ntk(weight_std: f64, bias_std: f64, rng: &mut Rng) -> Self {
        Self::new(
            T::from_f64(weight_std),
            T::from_f64(bias_std),
            Parameterization::Ntk,
            rng,
        )
    }

    /// A layer in standard parameterization (`W ~ N(0, σw²/IN)`, `b ~ N(0, 1)`).
    pub fn standard(weight_std: f64, bias_std: f64, rng: &mut Rng) -> Self {
        Self::new(
            T::from_f64(weight_std),
            T::from_f64(bias_std),
            Parameterization::Standard,
            rng,
        )
    }

    /// The weight scale `ws` and bias scale `bs` of `y = ws·W·a + bs·b`.
    #[inline]
    pub fn scales(&self) -> (T, T) {
        match self.parameterization {
            Parameterization::Ntk => (
                self.weight_std / T::from_usize(IN.max(1)).sqrt(),
                self.bias_std,
            ),
            Parameterization::Standard => (T::ONE, self.bias_std),
        }
    }

    #[inline]
    fn input_cotangent(&self, dy: &[T; OUT], ws: T) -> [T; IN] {
        let mut dx = [T::ZERO; IN];
        let (rows4, rest) = self.weight.as_chunks::<4>();
        let (dy4, dy_rest) = dy.as_chunks::<4>();
        for (w, d) in rows4.iter().zip(dy4) {
            simd::axpy4(
                [d[0] * ws, d[1] * ws, d[2] * ws, d[3] * ws],
                [&w[0], &w[1], &w[2], &w[3]],
                &mut dx,
            );
        }
        for (row, &d) in rest.iter().zip(dy_rest) {
            simd::axpy(d * ws, row, &mut dx);
        }
        dx
    }
}

impl<T: Real, const IN: usize, const OUT: usize> Module<T, [T; IN]> for Dense<T, IN, OUT> {
    type Output = [T; OUT];
    type Cache = [T; IN];

    #[inline]
    fn forward(&self, x: &[T; IN], cache: &mut [T; IN]) -> [T; OUT] {
        *cache = *x;
        let (ws, bs) = self.scales();
        let mut y = [T::ZERO; OUT];
        let (rows4, rest) = self.weight.as_chunks::<4>();
        let (y4, y_rest) = y.as_chunks_mut::<4>();
        for (yq, w) in y4.iter_mut().zip(rows4) {
            *yq = simd::dot4(x, [&w[0], &w[1], &w[2], &w[3]]);
        }
        for (yo, row) in y_rest.iter_mut().zip(rest) {
            *yo = simd::dot(row, x);
        }
        for (yo, &b) in y.iter_mut().zip(&self.bias) {
            *yo = ws * *yo + bs * b;
        }
        y
    }

    fn backward(&self, cache: &[T; IN], dy: &[T; OUT], grad: &mut Self) -> [T; IN] {
        let (ws, bs) = self.scales();
        for ((grow, gb), &d) in grad.weight.iter_mut().zip(grad.bias.iter_mut()).zip(dy) {
            simd::axpy(d * ws, cache, grow);
            *gb += d * bs;
        }
        self.input_cotangent(dy, ws)
    }

    #[inline]
    fn backward_with<S: GradSink<T>>(
        &self,
        cache: &[T; IN],
        dy: &[T; OUT],
        sink: &mut S,
    ) -> [T; IN] {
        let (ws, bs) = self.scales();
        sink.dense(cache, ws, dy, bs);
        self.input_cotangent(dy, ws)
    }

    #[inline]
    fn backward_params<S: GradSink<T>>(&self, cache: &[T; IN], dy: &[T; OUT], sink: &mut S) {
        let (ws, bs) = self.scales();
        sink.dense(cache, ws, dy, bs);
    }

    type BatchCache<const B: usize> = [[T; IN]; B];

    fn forward_batch<const B: usize>(
        &self,
        xs: &[[T; IN]; B],
        cache: &mut [[T; IN]; B],
    ) -> [[T; OUT]; B] {
        *cache = *xs;
        let (ws, bs) = self.scales();
        let mut ys = [[T::ZERO; OUT]; B];
        let (rows4, rest) = self.weight.as_chunks::<4>();
        let (x4, x_rest) = xs.as_chunks::<4>();
        for (q, w) in rows4.iter().enumerate() {
            let w = [&w[0][..], &w[1][..], &w[2][..], &w[3][..]];
            let (y4, y_rest) = ys.as_chunks_mut::<4>();
            for (yb, xb) in y4.iter_mut().zip(x4) {
                let r = simd::dot4x4([&xb[0], &xb[1], &xb[2], &xb[3]], w);
                for (y, rb) in yb.iter_mut().zip(r) {
                    y[4 * q..4 * q + 4].copy_from_slice(&rb);
                }
            }
            for (y, x) in y_rest.iter_mut().zip(x_rest) {
                y[4 * q..4 * q + 4].copy_from_slice(&simd::dot4(x, w));
            }
        }
        let base = 4 * rows4.len();
        for (o, row) in rest.iter().enumerate() {
            for (y, x) in ys.iter_mut().zip(xs) {
                y[base + o] = simd::dot(row, x);
            }
        }
        for y in ys.iter_mut() {
            for (yo, &b) in y.iter_mut().zip(&self.bias) {
                *yo = ws * *yo + bs * b;
            }
        }
        ys
    }

    #[inline]
    fn backward_params_batch<S: GradSink<T>, const B: usize>(
        &self,
        cache: &[[T; IN]; B],
        dys: &[[T; OUT]; B],
        sinks: &mut [S; B],
    ) {
        let (ws, bs) = self.scales();
        for ((sink, a), dy) in sinks.iter_mut().zip(cache).zip(dys) {
            sink.dense(a, ws, dy, bs);
        }
    }

    fn backward_with_batch<S: GradSink<T>, const B: usize>(
        &self,
        cache: &[[T; IN]; B],
        dys: &[[T; OUT]; B],
        sinks: &mut [S; B],
    ) -> [[T; IN]; B] {
        let (ws, bs) = self.scales();
        for ((sink, a), dy) in sinks.iter_mut().zip(cache).zip(dys) {
            sink.dense(a, ws, dy, bs);
        }
        let mut dxs = [[T::ZERO; IN]; B];
        let (rows4, rest) = self.weight.as_chunks::<4>();
        let (dy4, dy_rest) = dys.as_chunks::<4>();
        let alpha =
            |dy: &[T; OUT], q: usize| -> [T; 4] { core::array::from_fn(|r| dy[4 * q + r] * ws) };
        for (q, w) in rows4.iter().enumerate() {
            let w = [&w[0][..], &w[1][..], &w[2][..], &w[3][..]];
            let (dx4, dx_rest) = dxs.as_chunks_mut::<4>();
            for (dxb, dyb) in dx4.iter_mut().zip(dy4) {
                let [d0, d1, d2, d3] = dxb;
                simd::axpy4x4(
                    [
                        alpha(&dyb[0], q),
                        alpha(&dyb[1], q),
                        alpha(&dyb[2], q),
                        alpha(&dyb[3], q),
                    ],
                    w,
                    [d0, d1, d2, d3],
                );
            }
            for (dx, dy) in dx_rest.iter_mut().zip(dy_rest) {
                simd::axpy4(alpha(dy, q), w, dx);
            }
        }
        let base = 4 * rows4.len();
        for (o, row) in rest.iter().enumerate() {
            for (dx, dy) in dxs.iter_mut().zip(dys) {
                simd::axpy(dy[base + o] * ws, row, dx);
            }
        }
        dxs
    }

    /// `ẏ = ws·(W·ẋ + V·x) + bs·v_b` for the direction `v = (V, v_b)`.
    fn forward_tangent(
        &self,
        x: &[T; IN],
        dx: &[T; IN],
        v: &Self,
        cache: &mut [T; IN],
        tangent: &mut [T; IN],
    ) -> Result<([T; OUT], [T; OUT]), Error> {
        let y = self.forward(x, cache);
        *tangent = *dx;
        let (ws, bs) = self.scales();
        let mut dy = [T::ZERO; OUT];
        for (((d, w), vw), &vb) in dy.iter_mut().zip(&self.weight).zip(&v.weight).zip(&v.bias) {
            *d = ws * (simd::dot(w, dx) + simd::dot(vw, x)) + bs * vb;
        }
        Ok((y, dy))
    }

    /// The input cotangent `ws·Wᵀ·dy` and its tangent `ws·(Wᵀ·ḋy + Vᵀ·dy)`.
    fn backward_tangent<S: TangentSink<T>>(
        &self,
        cache: &[T; IN],
        tangent: &[T; IN],
        v: &Self,
        dy: &[T; OUT],
        ddy: &[T; OUT],
        sink: &mut S,
    ) -> Result<([T; IN], [T; IN]), Error> {
        let (ws, bs) = self.scales();
        sink.dense(cache, tangent, ws, dy, ddy, bs);
        let dx = self.input_cotangent(dy, ws);
        let mut ddx = self.input_cotangent(ddy, ws);
        let from_v = v.input_cotangent(dy, ws);
        for (d, e) in ddx.iter_mut().zip(from_v) {
            *d += e;
        }
        Ok((dx, ddx))
    }
}

impl<T: Real, const IN: usize, const OUT: usize> Params<T> for Dense<T, IN, OUT> {
    const NUM_PARAMS: usize = IN * OUT + OUT;
    const DENSE_LAYERS: usize = 1;
    const DENSE_IN: usize = IN;
    const DENSE_OUT: usize = OUT;

    fn dense_shapes<F: FnMut(usize, usize)>(f: &mut F) {
        f(IN, OUT)
    }
    fn visit<F: FnMut(&[T])>(&self, f: &mut F) {
        f(self.weight.as_flattened());
        f(&self.bias);
    }
    fn visit_mut<F: FnMut(&mut [T])>(&mut self, f: &mut F) {
        f(self.weight.as_flattened_mut());
        f(&mut self.bias);
    }
    fn is_finite(&self) -> bool {
        self.weight_std.is_finite()
            && self.bias_std.is_finite()
            && self.weight.as_flattened().iter().all(|v| v.is_finite())
            && self.bias.iter().all(|v| v.is_finite())
    }
    fn zip<F: FnMut(&[T], &[T])>(&self, other: &Self, f: &mut F) {
        f(self.weight.as_flattened(), other.weight.as_flattened());
        f(&self.bias, &other.bias);
    }
    fn zip_mut<F: FnMut(&mut [T], &[T])>(&mut self, other: &Self, f: &mut F) {
        f(self.weight.as_flattened_mut(), other.weight.as_flattened());
        f(&mut self.bias, &other.bias);
    }
    fn set_scales(&mut self, weight_std: T, bias_std: T, parameterization: Parameterization) {
        self.weight_std = weight_std;
        self.bias_std = bias_std;
        self.parameterization = parameterization;
    }
    fn reinit(&mut self, rng: &mut Rng) {
        let wscale = match self.parameterization {
            Parameterization::Ntk => T::ONE,
            Parameterization::Standard => self.weight_std / T::from_usize(IN.max(1)).sqrt(),
        };
        for w in self.weight.as_flattened_mut() {
            *w = wscale * rng.normal::<T>();
        }
        rng.fill_normal(&mut self.bias);
    }
}
