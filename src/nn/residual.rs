//! Skip connections and parallel branches: [`Residual`] (`x + B(x)`) and
//! [`Sum`] (`A(x) + B(x)`).

use super::{GradSink, Module, Parameterization, Params, Zeroed};
use crate::{Real, Rng};

mod sealed {
    pub trait Sealed {}
}

/// The values a [`Residual`] or [`Sum`] adds elementwise: vectors
/// `[T; N]`, sequences `[[T; C]; L]` and images `[[[T; C]; W]; H]`, viewed
/// as one slice of `T`.
///
/// Sealed: implemented by this crate for these three shapes only.
pub trait Elements<T>: Copy + sealed::Sealed {
    /// The elements, in memory order.
    fn elements(&self) -> &[T];
    /// The elements, in memory order, mutably.
    fn elements_mut(&mut self) -> &mut [T];
}

impl<T: Real, const N: usize> sealed::Sealed for [T; N] {}
impl<T: Real, const N: usize> Elements<T> for [T; N] {
    fn elements(&self) -> &[T] {
        self
    }
    fn elements_mut(&mut self) -> &mut [T] {
        self
    }
}
impl<T: Real, const C: usize, const L: usize> sealed::Sealed for [[T; C]; L] {}
impl<T: Real, const C: usize, const L: usize> Elements<T> for [[T; C]; L] {
    fn elements(&self) -> &[T] {
        self.as_flattened()
    }
    fn elements_mut(&mut self) -> &mut [T] {
        self.as_flattened_mut()
    }
}
impl<T: Real, const C: usize, const W: usize, const H: usize> sealed::Sealed for [[[T; C]; W]; H] {}
impl<T: Real, const C: usize, const W: usize, const H: usize> Elements<T> for [[[T; C]; W]; H] {
    fn elements(&self) -> &[T] {
        self.as_flattened().as_flattened()
    }
    fn elements_mut(&mut self) -> &mut [T] {
        self.as_flattened_mut().as_flattened_mut()
    }
}

/// `y += x`, elementwise.
#[inline]
fn add_into<T: Real, X: Elements<T>>(y: &mut X, x: &X) {
    for (a, &b) in y.elements_mut().iter_mut().zip(x.elements()) {
        *a += b;
    }
}

/// A residual block `x ↦ x + B(x)`, `B` a module from `X` to `X` (a layer
/// or a tuple of layers), as neural-tangents'
/// `serial(FanOut(2), parallel(Identity(), B), FanInSum())`.
///
/// The parameters, gradient and factors are those of `B`; the skip adds the
/// output cotangent to the input cotangent.
///
/// # Examples
///
/// ```
/// use ntk::nn::{Dense, Module, Relu, Residual};
/// use ntk::Rng;
/// let mut rng = Rng::new(1);
/// let block: Residual<(Dense<f64, 3, 3>, Relu, Dense<f64, 3, 3>)> =
///     Residual((Dense::ntk(1.0, 0.1, &mut rng), Relu, Dense::ntk(1.0, 0.1, &mut rng)));
/// let x = [0.5, -1.0, 2.0];
/// let (y, b) = (block.eval(&x), block.0.eval(&x));
/// for i in 0..3 {
///     assert_eq!(y[i], x[i] + b[i]);
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Residual<B>(pub B);

/// The block's own zero.
impl<B: Zeroed> Zeroed for Residual<B> {
    const ZEROED: Self = Self(B::ZEROED);

    fn zeroed() -> Self {
        Self(B::zeroed())
    }
}

impl<T: Real, X: Elements<T>, B: Module<T, X, Output = X>> Module<T, X> for Residual<B> {
    type Output = X;
    type Cache = B::Cache;
    const PARAMETER_FREE: bool = B::PARAMETER_FREE;

    fn forward(&self, x: &X, cache: &mut B::Cache) -> X {
        let mut y = self.0.forward(x, cache);
        add_into(&mut y, x);
        y
    }
    fn backward(&self, cache: &B::Cache, dy: &X, grad: &mut Self) -> X {
        let mut dx = self.0.backward(cache, dy, &mut grad.0);
        add_into(&mut dx, dy);
        dx
    }
    fn backward_with<S: GradSink<T>>(&self, cache: &B::Cache, dy: &X, sink: &mut S) -> X {
        let mut dx = self.0.backward_with(cache, dy, sink);
        add_into(&mut dx, dy);
        dx
    }
    type BatchCache<const BB: usize> = B::BatchCache<BB>;
    fn forward_batch<const BB: usize>(
        &self,
        xs: &[X; BB],
        cache: &mut B::BatchCache<BB>,
    ) -> [X; BB] {
        let mut ys = self.0.forward_batch(xs, cache);
        for (y, x) in ys.iter_mut().zip(xs) {
            add_into(y, x);
        }
        ys
    }
    fn backward_with_batch<S: GradSink<T>, const BB: usize>(
        &self,
        cache: &B::BatchCache<BB>,
        dys: &[X; BB],
        sinks: &mut [S; BB],
    ) -> [X; BB] {
        let mut dxs = self.0.backward_with_batch(cache, dys, sinks);
        for (dx, dy) in dxs.iter_mut().zip(dys) {
            add_into(dx, dy);
        }
        dxs
    }
}

/// Two branches on the same input, summed: `x ↦ A(x) + B(x)`, as
/// neural-tangents' `serial(FanOut(2), parallel(A, B), FanInSum())`.
///
/// The parameters are `A`'s then `B`'s (in [`Params`] order, so the
/// backward pass hands `B`'s factors to a [`GradSink`] first); the gradient
/// of a `Sum<A, B>` is a `Sum<A, B>`. Tuples remain the sequential
/// combinator; nest them inside a branch.
///
/// # Examples
///
/// ```
/// use ntk::nn::{Dense, Module, Sum, Tanh};
/// use ntk::Rng;
/// let mut rng = Rng::new(2);
/// let net: Sum<Dense<f64, 2, 3>, (Dense<f64, 2, 3>, Tanh)> =
///     Sum(Dense::ntk(1.0, 0.0, &mut rng), (Dense::ntk(1.0, 0.0, &mut rng), Tanh));
/// let x = [0.3, 0.7];
/// let (y, a, b) = (net.eval(&x), net.0.eval(&x), net.1.eval(&x));
/// assert!((0..3).all(|i| y[i] == a[i] + b[i]));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Sum<A, B>(pub A, pub B);

/// Both branches' own zeros.
impl<A: Zeroed, B: Zeroed> Zeroed for Sum<A, B> {
    const ZEROED: Self = Self(A::ZEROED, B::ZEROED);

    fn zeroed() -> Self {
        Self(A::zeroed(), B::zeroed())
    }
}

impl<T, X, Y, A, B> Module<T, X> for Sum<A, B>
where
    T: Real,
    X: Elements<T>,
    Y: Elements<T>,
    A: Module<T, X, Output = Y>,
    B: Module<T, X, Output = Y>,
{
    type Output = Y;
    type Cache = (A::Cache, B::Cache);
    const PARAMETER_FREE: bool = A::PARAMETER_FREE && B::PARAMETER_FREE;

    fn forward(&self, x: &X, cache: &mut Self::Cache) -> Y {
        let mut y = self.0.forward(x, &mut cache.0);
        add_into(&mut y, &self.1.forward(x, &mut cache.1));
        y
    }
    fn backward(&self, cache: &Self::Cache, dy: &Y, grad: &mut Self) -> X {
        let mut dx = self.1.backward(&cache.1, dy, &mut grad.1);
        add_into(&mut dx, &self.0.backward(&cache.0, dy, &mut grad.0));
        dx
    }
    fn backward_with<S: GradSink<T>>(&self, cache: &Self::Cache, dy: &Y, sink: &mut S) -> X {
        let mut dx = self.1.backward_with(&cache.1, dy, sink);
        add_into(&mut dx, &self.0.backward_with(&cache.0, dy, sink));
        dx
    }
    type BatchCache<const BB: usize> = (A::BatchCache<BB>, B::BatchCache<BB>);
    fn forward_batch<const BB: usize>(
        &self,
        xs: &[X; BB],
        cache: &mut Self::BatchCache<BB>,
    ) -> [Y; BB] {
        let mut ys = self.0.forward_batch(xs, &mut cache.0);
        let zs = self.1.forward_batch(xs, &mut cache.1);
        for (y, z) in ys.iter_mut().zip(&zs) {
            add_into(y, z);
        }
        ys
    }
    fn backward_with_batch<S: GradSink<T>, const BB: usize>(
        &self,
        cache: &Self::BatchCache<BB>,
        dys: &[Y; BB],
        sinks: &mut [S; BB],
    ) -> [X; BB] {
        let mut dxs = self.1.backward_with_batch(&cache.1, dys, sinks);
        let das = self.0.backward_with_batch(&cache.0, dys, sinks);
        for (dx, da) in dxs.iter_mut().zip(&das) {
            add_into(dx, da);
        }
        dxs
    }
}

impl<T: Real, B: Params<T>> Params<T> for Residual<B> {
    const NUM_PARAMS: usize = B::NUM_PARAMS;
    const DENSE_LAYERS: usize = B::DENSE_LAYERS;
    const DENSE_IN: usize = B::DENSE_IN;
    const DENSE_OUT: usize = B::DENSE_OUT;

    fn dense_shapes<F: FnMut(usize, usize)>(f: &mut F) {
        B::dense_shapes(f);
    }
    fn factor_shapes<F: FnMut(usize, usize, usize)>(f: &mut F) {
        B::factor_shapes(f);
    }
    fn visit<F: FnMut(&[T])>(&self, f: &mut F) {
        self.0.visit(f);
    }
    fn visit_mut<F: FnMut(&mut [T])>(&mut self, f: &mut F) {
        self.0.visit_mut(f);
    }
    fn is_finite(&self) -> bool {
        self.0.is_finite()
    }
    fn zip<F: FnMut(&[T], &[T])>(&self, other: &Self, f: &mut F) {
        self.0.zip(&other.0, f);
    }
    fn zip_mut<F: FnMut(&mut [T], &[T])>(&mut self, other: &Self, f: &mut F) {
        self.0.zip_mut(&other.0, f);
    }
    fn reinit(&mut self, rng: &mut Rng) {
        self.0.reinit(rng);
    }
    fn set_scales(&mut self, weight_std: T, bias_std: T, parameterization: Parameterization) {
        self.0.set_scales(weight_std, bias_std, parameterization);
    }
}

impl<T: Real, A: Params<T>, B: Params<T>> Params<T> for Sum<A, B> {
    const NUM_PARAMS: usize = A::NUM_PARAMS + B::NUM_PARAMS;
    const DENSE_LAYERS: usize = A::DENSE_LAYERS + B::DENSE_LAYERS;
    const DENSE_IN: usize = A::DENSE_IN + B::DENSE_IN;
    const DENSE_OUT: usize = A::DENSE_OUT + B::DENSE_OUT;

    fn dense_shapes<F: FnMut(usize, usize)>(f: &mut F) {
        A::dense_shapes(f);
        B::dense_shapes(f);
    }
    fn factor_shapes<F: FnMut(usize, usize, usize)>(f: &mut F) {
        A::factor_shapes(f);
        B::factor_shapes(f);
    }
    fn visit<F: FnMut(&[T])>(&self, f: &mut F) {
        self.0.visit(f);
        self.1.visit(f);
    }
    fn visit_mut<F: FnMut(&mut [T])>(&mut self, f: &mut F) {
        self.0.visit_mut(f);
        self.1.visit_mut(f);
    }
    fn is_finite(&self) -> bool {
        self.0.is_finite() && self.1.is_finite()
    }
    fn zip<F: FnMut(&[T], &[T])>(&self, other: &Self, f: &mut F) {
        self.0.zip(&other.0, f);
        self.1.zip(&other.1, f);
    }
    fn zip_mut<F: FnMut(&mut [T], &[T])>(&mut self, other: &Self, f: &mut F) {
        self.0.zip_mut(&other.0, f);
        self.1.zip_mut(&other.1, f);
    }
    fn reinit(&mut self, rng: &mut Rng) {
        self.0.reinit(rng);
        self.1.reinit(rng);
    }
    fn set_scales(&mut self, weight_std: T, bias_std: T, parameterization: Parameterization) {
        self.0.set_scales(weight_std, bias_std, parameterization);
        self.1.set_scales(weight_std, bias_std, parameterization);
    }
}
