//! The two-dimensional convolution over images `[[[T; C]; W]; H]` (channels
//! innermost, rows outermost).

use super::conv::source;
use super::{GradSink, Module, Padding, Parameterization, Params, Zeroed};
use crate::{Real, Rng};

/// A convolution `[[[T; C_IN]; W]; H] → [[[T; C_OUT]; W]; H]` with odd
/// filter sizes `QH × QW`, stride 1 and [`Padding`] `padding` on both axes:
///
/// `y[r][s][o] = ws · Σ_{i<QH, j<QW, c} K[o][i][j][c] · x[r + i − (QH−1)/2][s + j − (QW−1)/2][c] + bs · b[o]`
///
/// with `ws = σw/√(QH·QW·C_IN)` in [`Parameterization::Ntk`] and `ws = 1`
/// (weights drawn with that standard deviation) in
/// [`Parameterization::Standard`], `bs = σb`, as [`Conv1d`](super::Conv1d).
/// The [`Params`] order is the weight `[o][i][j][c]`, then the bias.
///
/// For the empirical NTK it contributes through its parameter gradient
/// summed over positions, as two dense factors `(0, QH·QW·C_IN·C_OUT)` and
/// `(0, C_OUT)` (there is no factored form).
///
/// # Examples
///
/// ```
/// use ntk::nn::{Conv2d, Module};
/// use ntk::Rng;
/// let mut conv: Conv2d<f64, 1, 1, 3, 1, 2, 1> = Conv2d::standard(1.0, 0.0, &mut Rng::new(1));
/// conv.weight = [[[[1.0]], [[2.0]], [[3.0]]]];
/// // rows 0 and 1 of one column: y[0] = 2·x[0] + 3·x[1], y[1] = 1·x[0] + 2·x[1]
/// assert_eq!(conv.eval(&[[[1.0]], [[10.0]]]), [[[32.0]], [[21.0]]]);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Conv2d<
    T,
    const C_IN: usize,
    const C_OUT: usize,
    const QH: usize,
    const QW: usize,
    const H: usize,
    const W: usize,
> {
    /// Filters, `weight[o][i][j][c]`.
    pub weight: [[[[T; C_IN]; QW]; QH]; C_OUT],
    /// Bias per output channel.
    pub bias: [T; C_OUT],
    /// Weight standard deviation σw.
    pub weight_std: T,
    /// Bias standard deviation σb.
    pub bias_std: T,
    /// The parameterisation.
    pub parameterization: Parameterization,
    /// The padding on both axes.
    pub padding: Padding,
}

/// All parameters zero, σw = σb = 0, [`Parameterization::Ntk`],
/// [`Padding::Same`]: every byte zero.
impl<
        T: Real,
        const C_IN: usize,
        const C_OUT: usize,
        const QH: usize,
        const QW: usize,
        const H: usize,
        const W: usize,
    > Zeroed for Conv2d<T, C_IN, C_OUT, QH, QW, H, W>
{
    const ZEROED: Self = Self {
        weight: [[[[T::ZERO; C_IN]; QW]; QH]; C_OUT],
        bias: [T::ZERO; C_OUT],
        weight_std: T::ZERO,
        bias_std: T::ZERO,
        parameterization: Parameterization::Ntk,
        padding: Padding::Same,
    };
}

impl<
        T: Real,
        const C_IN: usize,
        const C_OUT: usize,
        const QH: usize,
        const QW: usize,
        const H: usize,
        const W: usize,
    > Conv2d<T, C_IN, C_OUT, QH, QW, H, W>
{
    /// A layer with parameters drawn from `rng`, [`Padding::Same`].
    pub fn new(
        weight_std: T,
        bias_std: T,
        parameterization: Parameterization,
        rng: &mut Rng,
    ) -> Self {
        const { assert!(QH % 2 == 1 && QW % 2 == 1, "filter sizes must be odd") };
        let mut c = Self::ZEROED;
        c.set_scales(weight_std, bias_std, parameterization);
        c.reinit(rng);
        c
    }

    /// A layer in NTK parameterization, [`Padding::Same`].
    pub fn ntk(weight_std: f64, bias_std: f64, rng: &mut Rng) -> Self {
        Self::new(
            T::from_f64(weight_std),
            T::from_f64(bias_std),
            Parameterization::Ntk,
            rng,
        )
    }

    /// A layer in standard parameterization, [`Padding::Same`].
    pub fn standard(weight_std: f64, bias_std: f64, rng: &mut Rng) -> Self {
        Self::new(
            T::from_f64(weight_std),
            T::from_f64(bias_std),
            Parameterization::Standard,
            rng,
        )
    }

    /// The same layer with `padding`.
    pub fn with_padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }

    /// The weight scale `ws` and bias scale `bs`.
    #[inline]
    pub fn scales(&self) -> (T, T) {
        let [ws, bs, ..] =
            self.parameterization
                .factors(self.weight_std, self.bias_std, QH * QW * C_IN, C_OUT);
        (ws, bs)
    }

    /// Calls `f(i, j, r', s')` for every filter tap `(i, j)` that reads input
    /// pixel `(r', s')` at output pixel `(r, s)`.
    #[inline]
    fn taps(&self, r: usize, s: usize, mut f: impl FnMut(usize, usize, usize, usize)) {
        for i in 0..QH {
            let Some(rr) = source(self.padding, QH, H, r, i) else {
                continue;
            };
            for j in 0..QW {
                if let Some(ss) = source(self.padding, QW, W, s, j) {
                    f(i, j, rr, ss);
                }
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn param_grad(
        &self,
        x: &[[[T; C_IN]; W]; H],
        dy: &[[[T; C_OUT]; W]; H],
        gw: &mut [[[[T; C_IN]; QW]; QH]; C_OUT],
        gb: &mut [T; C_OUT],
    ) {
        let (ws, bs) = self.scales();
        for r in 0..H {
            for s in 0..W {
                for (o, &d) in dy[r][s].iter().enumerate() {
                    let sc = ws * d;
                    self.taps(r, s, |i, j, rr, ss| {
                        for (g, &xc) in gw[o][i][j].iter_mut().zip(&x[rr][ss]) {
                            *g += sc * xc;
                        }
                    });
                    gb[o] += bs * d;
                }
            }
        }
    }

    fn input_cotangent(&self, dy: &[[[T; C_OUT]; W]; H]) -> [[[T; C_IN]; W]; H] {
        let (ws, _) = self.scales();
        let mut dx = [[[T::ZERO; C_IN]; W]; H];
        for r in 0..H {
            for s in 0..W {
                self.taps(r, s, |i, j, rr, ss| {
                    for (w, &d) in self.weight.iter().zip(&dy[r][s]) {
                        let sc = ws * d;
                        for (v, &wc) in dx[rr][ss].iter_mut().zip(&w[i][j]) {
                            *v += sc * wc;
                        }
                    }
                });
            }
        }
        dx
    }
}

impl<
        T: Real,
        const C_IN: usize,
        const C_OUT: usize,
        const QH: usize,
        const QW: usize,
        const H: usize,
        const W: usize,
    > Module<T, [[[T; C_IN]; W]; H]> for Conv2d<T, C_IN, C_OUT, QH, QW, H, W>
{
    type Output = [[[T; C_OUT]; W]; H];
    type Cache = [[[T; C_IN]; W]; H];

    fn forward(&self, x: &Self::Cache, cache: &mut Self::Cache) -> Self::Output {
        const { assert!(QH % 2 == 1 && QW % 2 == 1, "filter sizes must be odd") };
        *cache = *x;
        let (ws, bs) = self.scales();
        let mut y = [[[T::ZERO; C_OUT]; W]; H];
        for r in 0..H {
            for s in 0..W {
                for (o, w) in self.weight.iter().enumerate() {
                    let mut acc = T::ZERO;
                    self.taps(r, s, |i, j, rr, ss| {
                        for (&wc, &xc) in w[i][j].iter().zip(&x[rr][ss]) {
                            acc += wc * xc;
                        }
                    });
                    y[r][s][o] = ws * acc + bs * self.bias[o];
                }
            }
        }
        y
    }

    fn backward(&self, cache: &Self::Cache, dy: &Self::Output, grad: &mut Self) -> Self::Cache {
        self.param_grad(cache, dy, &mut grad.weight, &mut grad.bias);
        self.input_cotangent(dy)
    }

    fn backward_with<S: GradSink<T>>(
        &self,
        cache: &Self::Cache,
        dy: &Self::Output,
        sink: &mut S,
    ) -> Self::Cache {
        let mut gw = [[[[T::ZERO; C_IN]; QW]; QH]; C_OUT];
        let mut gb = [T::ZERO; C_OUT];
        self.param_grad(cache, dy, &mut gw, &mut gb);
        sink.dense(&[], T::ONE, &gb, T::ONE);
        sink.dense(
            &[],
            T::ONE,
            gw.as_flattened().as_flattened().as_flattened(),
            T::ONE,
        );
        self.input_cotangent(dy)
    }

    type BatchCache<const B: usize> = [Self::Cache; B];

    fn forward_batch<const B: usize>(
        &self,
        xs: &[Self::Cache; B],
        cache: &mut [Self::Cache; B],
    ) -> [Self::Output; B] {
        core::array::from_fn(|b| self.forward(&xs[b], &mut cache[b]))
    }

    fn backward_with_batch<S: GradSink<T>, const B: usize>(
        &self,
        cache: &[Self::Cache; B],
        dys: &[Self::Output; B],
        sinks: &mut [S; B],
    ) -> [Self::Cache; B] {
        let mut dxs = [[[[T::ZERO; C_IN]; W]; H]; B];
        for (((dx, sink), c), dy) in dxs.iter_mut().zip(sinks.iter_mut()).zip(cache).zip(dys) {
            *dx = self.backward_with(c, dy, sink);
        }
        dxs
    }
}

impl<
        T: Real,
        const C_IN: usize,
        const C_OUT: usize,
        const QH: usize,
        const QW: usize,
        const H: usize,
        const W: usize,
    > Params<T> for Conv2d<T, C_IN, C_OUT, QH, QW, H, W>
{
    const NUM_PARAMS: usize = C_OUT * QH * QW * C_IN + C_OUT;
    const DENSE_LAYERS: usize = 2;
    const DENSE_IN: usize = 0;
    const DENSE_OUT: usize = C_OUT * QH * QW * C_IN + C_OUT;

    fn dense_shapes<F: FnMut(usize, usize)>(f: &mut F) {
        f(0, C_OUT * QH * QW * C_IN);
        f(0, C_OUT);
    }
    fn visit<F: FnMut(&[T])>(&self, f: &mut F) {
        f(self.weight.as_flattened().as_flattened().as_flattened());
        f(&self.bias);
    }
    fn visit_mut<F: FnMut(&mut [T])>(&mut self, f: &mut F) {
        f(self
            .weight
            .as_flattened_mut()
            .as_flattened_mut()
            .as_flattened_mut());
        f(&mut self.bias);
    }
    fn is_finite(&self) -> bool {
        let mut ok = self.weight_std.is_finite() && self.bias_std.is_finite();
        self.visit(&mut |s| ok &= s.iter().all(|v| v.is_finite()));
        ok
    }
    fn zip<F: FnMut(&[T], &[T])>(&self, other: &Self, f: &mut F) {
        f(
            self.weight.as_flattened().as_flattened().as_flattened(),
            other.weight.as_flattened().as_flattened().as_flattened(),
        );
        f(&self.bias, &other.bias);
    }
    fn zip_mut<F: FnMut(&mut [T], &[T])>(&mut self, other: &Self, f: &mut F) {
        f(
            self.weight
                .as_flattened_mut()
                .as_flattened_mut()
                .as_flattened_mut(),
            other.weight.as_flattened().as_flattened().as_flattened(),
        );
        f(&mut self.bias, &other.bias);
    }
    fn set_scales(&mut self, weight_std: T, bias_std: T, parameterization: Parameterization) {
        self.weight_std = weight_std;
        self.bias_std = bias_std;
        self.parameterization = parameterization;
    }
    fn reinit(&mut self, rng: &mut Rng) {
        let [.., wscale, bscale] =
            self.parameterization
                .factors(self.weight_std, self.bias_std, QH * QW * C_IN, C_OUT);
        for w in self
            .weight
            .as_flattened_mut()
            .as_flattened_mut()
            .as_flattened_mut()
        {
            *w = wscale * rng.normal::<T>();
        }
        for b in self.bias.iter_mut() {
            *b = bscale * rng.normal::<T>();
        }
    }
}
