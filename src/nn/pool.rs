//! Parameter-free layers between sequences `[[T; C]; L]` (or images
//! `[[[T; C]; W]; H]`) and vectors:
//! pooling and reshaping.

use super::{GradSink, Module, Parameterization, Params, Zeroed};
use crate::{Real, Rng};

/// The mean over positions: `[[T; C]; L] → [T; C]`.
///
/// # Examples
///
/// ```
/// use ntk::nn::{GlobalAvgPool, Module};
/// let y = GlobalAvgPool.eval(&[[1.0, 2.0], [3.0, 6.0]]);
/// assert_eq!(y, [2.0, 4.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct GlobalAvgPool;

/// Average pooling with window and stride `P`, no padding:
/// `[[T; C]; L] → [[T; C]; L_OUT]` with `L = P·L_OUT` (checked at compile
/// time), `y[j] = (1/P)·Σ_{i<P} x[P·j + i]`.
///
/// # Examples
///
/// ```
/// use ntk::nn::{AvgPool, Module};
/// let y = AvgPool::<2, 2>.eval(&[[1.0], [3.0], [5.0], [9.0]]);
/// assert_eq!(y, [[2.0], [7.0]]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AvgPool<const P: usize, const L_OUT: usize>;

/// Average pooling of images with a `P × P` window and stride `P`, no
/// padding: `[[[T; C]; W]; H] → [[[T; C]; W_OUT]; H_OUT]` with
/// `W = P·W_OUT` and `H = P·H_OUT` (the output size is its own pair of
/// parameters, checked at compile time, as for [`AvgPool`]),
/// `y[r][s] = (1/P²)·Σ_{i,j<P} x[P·r + i][P·s + j]`.
///
/// # Examples
///
/// ```
/// use ntk::nn::{AvgPool2d, Module};
/// // a 2×4 image of one channel, 2×2 windows: two pixels out
/// let x = [[[1.0], [3.0], [0.0], [4.0]], [[5.0], [7.0], [8.0], [0.0]]];
/// assert_eq!(AvgPool2d::<2, 2, 1>.eval(&x), [[[4.0], [3.0]]]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AvgPool2d<const P: usize, const W_OUT: usize, const H_OUT: usize>;

/// Reads a sequence `[[T; C]; L]` as one vector `[T; D]`, position-major
/// (`y[p·C + c] = x[p][c]`), or an image `[[[T; C]; W]; H]` row-major, with
/// `D = C·L` (`C·W·H`) checked at compile time (the
/// output length is its own parameter because stable Rust has no arithmetic
/// on const generics in types). A following [`Dense`](super::Dense) then
/// reads every position and channel.
///
/// # Examples
///
/// ```
/// use ntk::nn::{Flatten, Module};
/// let y = Flatten::<4>.eval(&[[1.0, 2.0], [3.0, 4.0]]);
/// assert_eq!(y, [1.0, 2.0, 3.0, 4.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Flatten<const D: usize>;

/// Reads a vector `[T; D]` as a sequence `[[T; C]; L]`, position-major, with
/// `D = C·L` checked at compile time: the first layer of a convolutional
/// network, so that it takes the flat inputs `[[T; D]; N]` of
/// [`empirical`](crate::empirical) and the rest of the crate.
///
/// # Examples
///
/// ```
/// use ntk::nn::{Module, Unflatten};
/// let y = Unflatten::<2, 2>.eval(&[1.0, 2.0, 3.0, 4.0]);
/// assert_eq!(y, [[1.0, 2.0], [3.0, 4.0]]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Unflatten<const C: usize, const L: usize>;

/// Reads a vector `[T; D]` as an image `[[[T; C]; W]; H]`, row-major
/// (`x[r][s][c] = v[(r·W + s)·C + c]`), with `D = C·W·H` checked at compile
/// time: the first layer of a network of [`Conv2d`](super::Conv2d) layers.
///
/// # Examples
///
/// ```
/// use ntk::nn::{Module, Unflatten2d};
/// let y = Unflatten2d::<1, 2, 2>.eval(&[1.0, 2.0, 3.0, 4.0]);
/// assert_eq!(y, [[[1.0], [2.0]], [[3.0], [4.0]]]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Unflatten2d<const C: usize, const W: usize, const H: usize>;

/// Copies `src` into `dst` (equal lengths).
#[inline]
fn copy<T: Copy>(dst: &mut [T], src: &[T]) {
    dst.copy_from_slice(src);
}

impl<T: Real, const C: usize, const L: usize> Module<T, [[T; C]; L]> for GlobalAvgPool {
    type Output = [T; C];
    type Cache = ();
    const PARAMETER_FREE: bool = true;

    fn forward(&self, x: &[[T; C]; L], _cache: &mut ()) -> [T; C] {
        let inv = T::ONE / T::from_usize(L.max(1));
        let mut y = [T::ZERO; C];
        for xp in x {
            for (yc, &v) in y.iter_mut().zip(xp) {
                *yc += v;
            }
        }
        for yc in y.iter_mut() {
            *yc *= inv;
        }
        y
    }
    fn backward(&self, _cache: &(), dy: &[T; C], _grad: &mut Self) -> [[T; C]; L] {
        let inv = T::ONE / T::from_usize(L.max(1));
        let mut d = *dy;
        for v in d.iter_mut() {
            *v *= inv;
        }
        [d; L]
    }
    fn backward_with<S: GradSink<T>>(&self, c: &(), dy: &[T; C], _s: &mut S) -> [[T; C]; L] {
        self.backward(c, dy, &mut GlobalAvgPool)
    }
    type BatchCache<const B: usize> = ();
    fn forward_batch<const B: usize>(&self, xs: &[[[T; C]; L]; B], _c: &mut ()) -> [[T; C]; B] {
        core::array::from_fn(|b| self.forward(&xs[b], &mut ()))
    }
    fn backward_with_batch<S: GradSink<T>, const B: usize>(
        &self,
        _c: &(),
        dys: &[[T; C]; B],
        _s: &mut [S; B],
    ) -> [[[T; C]; L]; B] {
        core::array::from_fn(|b| self.backward(&(), &dys[b], &mut GlobalAvgPool))
    }
}

impl<T: Real, const C: usize, const L: usize, const P: usize, const L_OUT: usize>
    Module<T, [[T; C]; L]> for AvgPool<P, L_OUT>
{
    type Output = [[T; C]; L_OUT];
    type Cache = ();
    const PARAMETER_FREE: bool = true;

    fn forward(&self, x: &[[T; C]; L], _cache: &mut ()) -> [[T; C]; L_OUT] {
        const { assert!(P > 0 && L == P * L_OUT, "AvgPool needs L = P·L_OUT") };
        let inv = T::ONE / T::from_usize(P);
        let mut y = [[T::ZERO; C]; L_OUT];
        for (yj, window) in y.iter_mut().zip(x.chunks_exact(P)) {
            for xp in window {
                for (yc, &v) in yj.iter_mut().zip(xp) {
                    *yc += v;
                }
            }
            for yc in yj.iter_mut() {
                *yc *= inv;
            }
        }
        y
    }
    fn backward(&self, _cache: &(), dy: &[[T; C]; L_OUT], _grad: &mut Self) -> [[T; C]; L] {
        const { assert!(P > 0 && L == P * L_OUT, "AvgPool needs L = P·L_OUT") };
        let inv = T::ONE / T::from_usize(P);
        let mut dx = [[T::ZERO; C]; L];
        for (window, dj) in dx.chunks_exact_mut(P).zip(dy) {
            for xp in window {
                for (v, &d) in xp.iter_mut().zip(dj) {
                    *v = d * inv;
                }
            }
        }
        dx
    }
    fn backward_with<S: GradSink<T>>(
        &self,
        c: &(),
        dy: &[[T; C]; L_OUT],
        _s: &mut S,
    ) -> [[T; C]; L] {
        self.backward(c, dy, &mut AvgPool)
    }
    type BatchCache<const B: usize> = ();
    fn forward_batch<const B: usize>(
        &self,
        xs: &[[[T; C]; L]; B],
        _c: &mut (),
    ) -> [[[T; C]; L_OUT]; B] {
        core::array::from_fn(|b| self.forward(&xs[b], &mut ()))
    }
    fn backward_with_batch<S: GradSink<T>, const B: usize>(
        &self,
        _c: &(),
        dys: &[[[T; C]; L_OUT]; B],
        _s: &mut [S; B],
    ) -> [[[T; C]; L]; B] {
        core::array::from_fn(|b| self.backward(&(), &dys[b], &mut AvgPool))
    }
}

impl<T: Real, const C: usize, const L: usize, const D: usize> Module<T, [[T; C]; L]>
    for Flatten<D>
{
    type Output = [T; D];
    type Cache = ();
    const PARAMETER_FREE: bool = true;

    fn forward(&self, x: &[[T; C]; L], _cache: &mut ()) -> [T; D] {
        const { assert!(D == C * L, "Flatten needs D = C·L") };
        let mut y = [T::ZERO; D];
        copy(&mut y, x.as_flattened());
        y
    }
    fn backward(&self, _cache: &(), dy: &[T; D], _grad: &mut Self) -> [[T; C]; L] {
        const { assert!(D == C * L, "Flatten needs D = C·L") };
        let mut dx = [[T::ZERO; C]; L];
        copy(dx.as_flattened_mut(), dy);
        dx
    }
    fn backward_with<S: GradSink<T>>(&self, c: &(), dy: &[T; D], _s: &mut S) -> [[T; C]; L] {
        self.backward(c, dy, &mut Flatten)
    }
    type BatchCache<const B: usize> = ();
    fn forward_batch<const B: usize>(&self, xs: &[[[T; C]; L]; B], _c: &mut ()) -> [[T; D]; B] {
        core::array::from_fn(|b| self.forward(&xs[b], &mut ()))
    }
    fn backward_with_batch<S: GradSink<T>, const B: usize>(
        &self,
        _c: &(),
        dys: &[[T; D]; B],
        _s: &mut [S; B],
    ) -> [[[T; C]; L]; B] {
        core::array::from_fn(|b| self.backward(&(), &dys[b], &mut Flatten))
    }
}

impl<T: Real, const C: usize, const L: usize, const D: usize> Module<T, [T; D]>
    for Unflatten<C, L>
{
    type Output = [[T; C]; L];
    type Cache = ();
    const PARAMETER_FREE: bool = true;

    fn forward(&self, x: &[T; D], _cache: &mut ()) -> [[T; C]; L] {
        const { assert!(D == C * L, "Unflatten needs D = C·L") };
        let mut y = [[T::ZERO; C]; L];
        copy(y.as_flattened_mut(), x);
        y
    }
    fn backward(&self, _cache: &(), dy: &[[T; C]; L], _grad: &mut Self) -> [T; D] {
        const { assert!(D == C * L, "Unflatten needs D = C·L") };
        let mut dx = [T::ZERO; D];
        copy(&mut dx, dy.as_flattened());
        dx
    }
    fn backward_with<S: GradSink<T>>(&self, c: &(), dy: &[[T; C]; L], _s: &mut S) -> [T; D] {
        self.backward(c, dy, &mut Unflatten)
    }
    type BatchCache<const B: usize> = ();
    fn forward_batch<const B: usize>(&self, xs: &[[T; D]; B], _c: &mut ()) -> [[[T; C]; L]; B] {
        core::array::from_fn(|b| self.forward(&xs[b], &mut ()))
    }
    fn backward_with_batch<S: GradSink<T>, const B: usize>(
        &self,
        _c: &(),
        dys: &[[[T; C]; L]; B],
        _s: &mut [S; B],
    ) -> [[T; D]; B] {
        core::array::from_fn(|b| self.backward(&(), &dys[b], &mut Unflatten))
    }
}

/// The mean over the pixels of an image, `[[[T; C]; W]; H] → [T; C]`.
impl<T: Real, const C: usize, const W: usize, const H: usize> Module<T, [[[T; C]; W]; H]>
    for GlobalAvgPool
{
    type Output = [T; C];
    type Cache = ();
    const PARAMETER_FREE: bool = true;

    fn forward(&self, x: &[[[T; C]; W]; H], _cache: &mut ()) -> [T; C] {
        let inv = T::ONE / T::from_usize((W * H).max(1));
        let mut y = [T::ZERO; C];
        for xp in x.as_flattened() {
            for (yc, &v) in y.iter_mut().zip(xp) {
                *yc += v;
            }
        }
        for yc in y.iter_mut() {
            *yc *= inv;
        }
        y
    }
    fn backward(&self, _cache: &(), dy: &[T; C], _grad: &mut Self) -> [[[T; C]; W]; H] {
        let inv = T::ONE / T::from_usize((W * H).max(1));
        let mut d = *dy;
        for v in d.iter_mut() {
            *v *= inv;
        }
        [[d; W]; H]
    }
    fn backward_with<S: GradSink<T>>(&self, c: &(), dy: &[T; C], _s: &mut S) -> [[[T; C]; W]; H] {
        self.backward(c, dy, &mut GlobalAvgPool)
    }
    type BatchCache<const B: usize> = ();
    fn forward_batch<const B: usize>(
        &self,
        xs: &[[[[T; C]; W]; H]; B],
        _c: &mut (),
    ) -> [[T; C]; B] {
        core::array::from_fn(|b| self.forward(&xs[b], &mut ()))
    }
    fn backward_with_batch<S: GradSink<T>, const B: usize>(
        &self,
        _c: &(),
        dys: &[[T; C]; B],
        _s: &mut [S; B],
    ) -> [[[[T; C]; W]; H]; B] {
        core::array::from_fn(|b| self.backward(&(), &dys[b], &mut GlobalAvgPool))
    }
}

impl<T: Real, const C: usize, const W: usize, const H: usize, const D: usize> Module<T, [T; D]>
    for Unflatten2d<C, W, H>
{
    type Output = [[[T; C]; W]; H];
    type Cache = ();
    const PARAMETER_FREE: bool = true;

    fn forward(&self, x: &[T; D], _cache: &mut ()) -> [[[T; C]; W]; H] {
        const { assert!(D == C * W * H, "Unflatten2d needs D = C·W·H") };
        let mut y = [[[T::ZERO; C]; W]; H];
        copy(y.as_flattened_mut().as_flattened_mut(), x);
        y
    }
    fn backward(&self, _cache: &(), dy: &[[[T; C]; W]; H], _grad: &mut Self) -> [T; D] {
        const { assert!(D == C * W * H, "Unflatten2d needs D = C·W·H") };
        let mut dx = [T::ZERO; D];
        copy(&mut dx, dy.as_flattened().as_flattened());
        dx
    }
    fn backward_with<S: GradSink<T>>(&self, c: &(), dy: &[[[T; C]; W]; H], _s: &mut S) -> [T; D] {
        self.backward(c, dy, &mut Unflatten2d)
    }
    type BatchCache<const B: usize> = ();
    fn forward_batch<const B: usize>(
        &self,
        xs: &[[T; D]; B],
        _c: &mut (),
    ) -> [[[[T; C]; W]; H]; B] {
        core::array::from_fn(|b| self.forward(&xs[b], &mut ()))
    }
    fn backward_with_batch<S: GradSink<T>, const B: usize>(
        &self,
        _c: &(),
        dys: &[[[[T; C]; W]; H]; B],
        _s: &mut [S; B],
    ) -> [[T; D]; B] {
        core::array::from_fn(|b| self.backward(&(), &dys[b], &mut Unflatten2d))
    }
}

impl<
        T: Real,
        const C: usize,
        const W: usize,
        const H: usize,
        const P: usize,
        const W_OUT: usize,
        const H_OUT: usize,
    > Module<T, [[[T; C]; W]; H]> for AvgPool2d<P, W_OUT, H_OUT>
{
    type Output = [[[T; C]; W_OUT]; H_OUT];
    type Cache = ();
    const PARAMETER_FREE: bool = true;

    fn forward(&self, x: &[[[T; C]; W]; H], _cache: &mut ()) -> [[[T; C]; W_OUT]; H_OUT] {
        const {
            assert!(
                P > 0 && W == P * W_OUT && H == P * H_OUT,
                "AvgPool2d needs W = P·W_OUT and H = P·H_OUT"
            )
        };
        let inv = T::ONE / T::from_usize(P * P);
        let mut y = [[[T::ZERO; C]; W_OUT]; H_OUT];
        for (yr, rows) in y.iter_mut().zip(x.chunks_exact(P)) {
            for (s, ys) in yr.iter_mut().enumerate() {
                for row in rows {
                    for xp in &row[P * s..P * s + P] {
                        for (yc, &v) in ys.iter_mut().zip(xp) {
                            *yc += v;
                        }
                    }
                }
                for yc in ys.iter_mut() {
                    *yc *= inv;
                }
            }
        }
        y
    }
    fn backward(
        &self,
        _cache: &(),
        dy: &[[[T; C]; W_OUT]; H_OUT],
        _grad: &mut Self,
    ) -> [[[T; C]; W]; H] {
        const {
            assert!(
                P > 0 && W == P * W_OUT && H == P * H_OUT,
                "AvgPool2d needs W = P·W_OUT and H = P·H_OUT"
            )
        };
        let inv = T::ONE / T::from_usize(P * P);
        let mut dx = [[[T::ZERO; C]; W]; H];
        for (rows, dr) in dx.chunks_exact_mut(P).zip(dy) {
            for row in rows {
                for (window, ds) in row.chunks_exact_mut(P).zip(dr) {
                    for xp in window {
                        for (v, &d) in xp.iter_mut().zip(ds) {
                            *v = d * inv;
                        }
                    }
                }
            }
        }
        dx
    }
    fn backward_with<S: GradSink<T>>(
        &self,
        c: &(),
        dy: &[[[T; C]; W_OUT]; H_OUT],
        _s: &mut S,
    ) -> [[[T; C]; W]; H] {
        self.backward(c, dy, &mut AvgPool2d)
    }
    type BatchCache<const B: usize> = ();
    fn forward_batch<const B: usize>(
        &self,
        xs: &[[[[T; C]; W]; H]; B],
        _c: &mut (),
    ) -> [[[[T; C]; W_OUT]; H_OUT]; B] {
        core::array::from_fn(|b| self.forward(&xs[b], &mut ()))
    }
    fn backward_with_batch<S: GradSink<T>, const B: usize>(
        &self,
        _c: &(),
        dys: &[[[[T; C]; W_OUT]; H_OUT]; B],
        _s: &mut [S; B],
    ) -> [[[[T; C]; W]; H]; B] {
        core::array::from_fn(|b| self.backward(&(), &dys[b], &mut AvgPool2d))
    }
}

/// An image read row-major as one vector, `D = C·W·H`.
impl<T: Real, const C: usize, const W: usize, const H: usize, const D: usize>
    Module<T, [[[T; C]; W]; H]> for Flatten<D>
{
    type Output = [T; D];
    type Cache = ();
    const PARAMETER_FREE: bool = true;

    fn forward(&self, x: &[[[T; C]; W]; H], _cache: &mut ()) -> [T; D] {
        const { assert!(D == C * W * H, "Flatten needs D = C·W·H") };
        let mut y = [T::ZERO; D];
        copy(&mut y, x.as_flattened().as_flattened());
        y
    }
    fn backward(&self, _cache: &(), dy: &[T; D], _grad: &mut Self) -> [[[T; C]; W]; H] {
        const { assert!(D == C * W * H, "Flatten needs D = C·W·H") };
        let mut dx = [[[T::ZERO; C]; W]; H];
        copy(dx.as_flattened_mut().as_flattened_mut(), dy);
        dx
    }
    fn backward_with<S: GradSink<T>>(&self, c: &(), dy: &[T; D], _s: &mut S) -> [[[T; C]; W]; H] {
        self.backward(c, dy, &mut Flatten)
    }
    type BatchCache<const B: usize> = ();
    fn forward_batch<const B: usize>(
        &self,
        xs: &[[[[T; C]; W]; H]; B],
        _c: &mut (),
    ) -> [[T; D]; B] {
        core::array::from_fn(|b| self.forward(&xs[b], &mut ()))
    }
    fn backward_with_batch<S: GradSink<T>, const B: usize>(
        &self,
        _c: &(),
        dys: &[[T; D]; B],
        _s: &mut [S; B],
    ) -> [[[[T; C]; W]; H]; B] {
        core::array::from_fn(|b| self.backward(&(), &dys[b], &mut Flatten))
    }
}

macro_rules! parameter_free {
    ($([$($g:tt)*] $ty:ty),*) => {$(
        /// The layer itself (it has no state).
        impl<$($g)*> Zeroed for $ty {
            const ZEROED: Self = Self;
        }

        impl<T: Real, $($g)*> Params<T> for $ty {
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
            fn set_scales(&mut self, _w: T, _b: T, _p: Parameterization) {}
        }
    )*};
}

/// The `Zeroed` and `Params` implementations of layers without parameters.
pub(super) use parameter_free;

parameter_free!(
    [] GlobalAvgPool,
    [const P: usize, const L_OUT: usize] AvgPool<P, L_OUT>,
    [const P: usize, const W_OUT: usize, const H_OUT: usize] AvgPool2d<P, W_OUT, H_OUT>,
    [const D: usize] Flatten<D>,
    [const C: usize, const L: usize] Unflatten<C, L>,
    [const C: usize, const W: usize, const H: usize] Unflatten2d<C, W, H>
);
