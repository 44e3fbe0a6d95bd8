//! Large values on the heap without a stack temporary (feature `alloc`).
//!
//! `Box::new(value)` builds `value` on the stack first and then moves it:
//! without optimisation (a dev build) a width-1024 `f64` network, 8 MiB,
//! overflows any default stack before it reaches the heap. The constructors
//! here allocate zeroed memory and fill it in place, so the value never
//! exists on the stack, at any size and any optimisation level.
//!
//! They exist for the types of this crate that are valid when every byte is
//! zero — the sealed trait [`Zeroable`]: floats, arrays and tuples of them,
//! the layers of [`nn`](crate::nn) and the networks built from them, and the
//! large state of [`predict`](crate::predict) ([`Spectrum`], [`Cholesky`],
//! [`OnlineGp`], [`OnlineWindow`]). The crate's only `unsafe` code is
//! [`zeroed`]'s.
//!
//! Without `alloc` the same values fit in a `static` (zero-initialised
//! `.bss`) through [`Zeroed::ZEROED`] and are filled in place by
//! [`Params::init`] — the firmware way.
//!
//! # Examples
//!
//! ```
//! use ntk::boxed;
//! use ntk::nn::{Dense, Module, Relu};
//! use ntk::linalg::Spectrum;
//! use ntk::Rng;
//!
//! type Net = (Dense<f64, 2, 1024>, Relu, Dense<f64, 1024, 1024>, Relu, Dense<f64, 1024, 1>);
//! let net: Box<Net> = boxed::ntk(1.5, 0.1, &mut Rng::new(0)); // 8 MiB, straight to the heap
//! assert!(net.eval(&[0.6, 0.8])[0].is_finite());
//!
//! let spectrum: Box<Spectrum<f64, 512>> = boxed::zeroed(); // 2 MiB
//! assert_eq!(spectrum.values()[0], 0.0);
//! ```

use alloc::alloc::{alloc_zeroed, handle_alloc_error, Layout};
use alloc::boxed::Box;

use crate::linalg::{Cholesky, Spectrum};
use crate::nn::{
    Abs, AvgPool, AvgPool2d, Conv1d, Conv2d, Dense, Erf, Flatten, Gelu, GlobalAvgPool, Identity,
    Last, LayerNorm, LeakyRelu, Linearized, OutputScaled, Parameterization, Params, Relu, Residual,
    Rnn, SelfAttention, Sin, Sum, Tanh, Unflatten, Unflatten2d, Zeroed,
};
use crate::predict::{OnlineGp, OnlineWindow};
use crate::{Real, Rng};

mod sealed {
    pub trait Sealed {}
}

/// Types whose all-zero bytes are a valid value, equal to
/// [`Zeroed::ZEROED`]: what [`zeroed`] may allocate.
///
/// Sealed: implemented by this crate only, for `f32`, `f64`, `()`, arrays and
/// tuples (up to 12) of `Zeroable` types, the layers of [`crate::nn`]
/// ([`Dense`] — its [`Parameterization`] is a `u8` whose 0 is
/// [`Parameterization::Ntk`] — [`Conv1d`], whose padding's 0 is
/// `Padding::Same`, [`Rnn`] with a `Zeroable` activation, [`SelfAttention`],
/// whose mechanism's 0 is `AttentionMechanism::Softmax`, [`LayerNorm`],
/// [`Residual`] and [`Sum`] of `Zeroable` blocks, [`Linearized`] and
/// [`OutputScaled`] of `Zeroable` networks, the activations,
/// pooling, reshaping and readout layers), and [`Spectrum`],
/// [`Cholesky`], [`OnlineGp`] and [`OnlineWindow`] (its inputs are a ring
/// of float slots with two `usize` indices). None of them holds a reference, a pointer,
/// a `bool`, a `char` or an enum without a zero variant.
pub trait Zeroable: Zeroed + sealed::Sealed {}

macro_rules! zeroable {
    ($(impl[$($g:tt)*] $t:ty;)*) => {$(
        impl<$($g)*> sealed::Sealed for $t {}
        impl<$($g)*> Zeroable for $t {}
    )*};
}

zeroable! {
    impl[] f32;
    impl[] f64;
    impl[] ();
    impl[X: Zeroable, const N: usize] [X; N];
    impl[T: Real, const IN: usize, const OUT: usize] Dense<T, IN, OUT>;
    impl[T: Real, const C_IN: usize, const C_OUT: usize, const Q: usize, const L: usize] Conv1d<T, C_IN, C_OUT, Q, L>;
    impl[T: Real, const C_IN: usize, const C_OUT: usize, const QH: usize, const QW: usize, const H: usize, const W: usize] Conv2d<T, C_IN, C_OUT, QH, QW, H, W>;
    impl[T: Real, const D: usize, const H: usize, const L: usize, A: Zeroable] Rnn<T, D, H, L, A>;
    impl[T: Real, const C_IN: usize, const C_OUT: usize, const L: usize, const C_K: usize, const C_V: usize, const HEADS: usize] SelfAttention<T, C_IN, C_OUT, L, C_K, C_V, HEADS>;
    impl[B: Zeroable] Residual<B>;
    impl[A: Zeroable, B: Zeroable] Sum<A, B>;
    impl[N: Zeroable] Linearized<N>;
    impl[T: Real, N: Zeroable] OutputScaled<T, N>;
    impl[] LayerNorm;
    impl[] GlobalAvgPool;
    impl[] Last;
    impl[const P: usize, const L_OUT: usize] AvgPool<P, L_OUT>;
    impl[const P: usize, const W_OUT: usize, const H_OUT: usize] AvgPool2d<P, W_OUT, H_OUT>;
    impl[const D: usize] Flatten<D>;
    impl[const C: usize, const L: usize] Unflatten<C, L>;
    impl[const C: usize, const W: usize, const H: usize] Unflatten2d<C, W, H>;
    impl[] Relu;
    impl[T: Real] LeakyRelu<T>;
    impl[] Abs;
    impl[] Erf;
    impl[] Gelu;
    impl[] Sin;
    impl[] Tanh;
    impl[] Identity;
    impl[T: Real, const N: usize] Spectrum<T, N>;
    impl[T: Real, const N: usize] Cholesky<T, N>;
    impl[T: Real, const CAP: usize, const K: usize] OnlineGp<T, CAP, K>;
    impl[T: Real, const D: usize, const SLOTS: usize, const K: usize] OnlineWindow<T, D, SLOTS, K>;
}

macro_rules! zeroable_tuple {
    ($($m:ident),+) => {
        impl<$($m: Zeroable),+> sealed::Sealed for ($($m,)+) {}
        impl<$($m: Zeroable),+> Zeroable for ($($m,)+) {}
    };
}

zeroable_tuple!(A);
zeroable_tuple!(A, B);
zeroable_tuple!(A, B, C);
zeroable_tuple!(A, B, C, D);
zeroable_tuple!(A, B, C, D, E);
zeroable_tuple!(A, B, C, D, E, F);
zeroable_tuple!(A, B, C, D, E, F, G);
zeroable_tuple!(A, B, C, D, E, F, G, H);
zeroable_tuple!(A, B, C, D, E, F, G, H, I);
zeroable_tuple!(A, B, C, D, E, F, G, H, I, J);
zeroable_tuple!(A, B, C, D, E, F, G, H, I, J, K);
zeroable_tuple!(A, B, C, D, E, F, G, H, I, J, K, L);

/// [`Zeroed::ZEROED`] on the heap, allocated zeroed: the value is never on
/// the stack, whatever its size.
///
/// A type of size 0 allocates nothing; if the allocator fails, this calls
/// [`handle_alloc_error`] (as `Box::new` does), which aborts.
///
/// # Examples
///
/// ```
/// use ntk::nn::{Dense, Zeroed};
/// let gram: Box<[[f64; 512]; 512]> = ntk::boxed::zeroed(); // 2 MiB
/// assert!(gram.iter().flatten().all(|&v| v.to_bits() == 0));
/// let layer: Box<Dense<f32, 3, 2>> = ntk::boxed::zeroed();
/// assert_eq!(*layer, Dense::ZEROED);
/// ```
#[allow(unsafe_code)]
pub fn zeroed<T: Zeroable>() -> Box<T> {
    let layout = Layout::new::<T>();
    if layout.size() == 0 {
        return zero_sized();
    }
    // SAFETY: `layout` has a nonzero size, as `alloc_zeroed` requires.
    let memory = unsafe { alloc_zeroed(layout) }.cast::<T>();
    if memory.is_null() {
        handle_alloc_error(layout);
    }
    // SAFETY: `memory` is a live allocation of the global allocator with the
    // layout of `T` (size and alignment), owned by nothing else, as
    // `Box::from_raw` requires; its bytes are all zero. `T: Zeroable` is
    // sealed and implemented only for types built from `f32`, `f64`, `usize`,
    // unit structs and `Parameterization` (`#[repr(u8)]`, `Ntk = 0`), through
    // arrays, tuples and the crate's structs: all-zero bytes are a valid
    // value of each field (0.0, 0, `Ntk`), and padding may hold any bytes. So
    // the memory holds a valid `T` — the one `Zeroed::ZEROED` describes, as
    // `tests/alloc.rs` checks, under Miri in CI.
    unsafe { Box::from_raw(memory) }
}

/// `Box::new` of a value of size 0: nothing to allocate, nothing on the
/// stack. A function of its own, so that without optimisation the caller's
/// frame holds no slot for a `T` of any other size.
#[inline(never)]
fn zero_sized<T: Zeroed>() -> Box<T> {
    Box::new(T::ZEROED)
}

/// A network on the heap, initialised in place by [`Params::init`]: bit for
/// bit the network built by value from [`Dense::new`] with the same
/// arguments and generator, without ever being on the stack.
///
/// # Examples
///
/// ```
/// use ntk::nn::{Dense, Parameterization, Tanh};
/// use ntk::Rng;
/// type Net = (Dense<f32, 4, 512>, Tanh, Dense<f32, 512, 2>);
/// let p = Parameterization::Standard;
/// let net: Box<Net> = ntk::boxed::network(1.0, 0.0, p, &mut Rng::new(2));
/// assert_eq!(net.0.parameterization, p);
/// ```
pub fn network<T: Real, Net: Zeroable + Params<T>>(
    weight_std: T,
    bias_std: T,
    parameterization: Parameterization,
    rng: &mut Rng,
) -> Box<Net> {
    let mut net = zeroed::<Net>();
    net.init(weight_std, bias_std, parameterization, rng);
    net
}

/// A network in NTK parameterization on the heap: in place, what building
/// every dense layer with [`Dense::ntk`] gives (see [`network`]).
///
/// # Examples
///
/// ```
/// use ntk::nn::{Dense, Relu};
/// use ntk::Rng;
/// type Net = (Dense<f64, 2, 16>, Relu, Dense<f64, 16, 1>);
/// let net: Box<Net> = ntk::boxed::ntk(1.5, 0.1, &mut Rng::new(0));
/// let mut rng = Rng::new(0);
/// let by_value: Net = (Dense::ntk(1.5, 0.1, &mut rng), Relu, Dense::ntk(1.5, 0.1, &mut rng));
/// assert_eq!(*net, by_value);
/// ```
pub fn ntk<T: Real, Net: Zeroable + Params<T>>(
    weight_std: f64,
    bias_std: f64,
    rng: &mut Rng,
) -> Box<Net> {
    let mut net = zeroed::<Net>();
    net.init_ntk(weight_std, bias_std, rng);
    net
}

/// A network in standard parameterization on the heap: in place, what
/// building every dense layer with [`Dense::standard`] gives (see
/// [`network`]).
///
/// # Examples
///
/// ```
/// use ntk::nn::{Dense, Erf};
/// use ntk::Rng;
/// type Net = (Dense<f64, 3, 32>, Erf, Dense<f64, 32, 2>);
/// let net: Box<Net> = ntk::boxed::standard(1.0, 0.2, &mut Rng::new(4));
/// let mut rng = Rng::new(4);
/// let by_value: Net = (Dense::standard(1.0, 0.2, &mut rng), Erf, Dense::standard(1.0, 0.2, &mut rng));
/// assert_eq!(*net, by_value);
/// ```
pub fn standard<T: Real, Net: Zeroable + Params<T>>(
    weight_std: f64,
    bias_std: f64,
    rng: &mut Rng,
) -> Box<Net> {
    let mut net = zeroed::<Net>();
    net.init_standard(weight_std, bias_std, rng);
    net
}

/// An empty [`OnlineGp`] on the heap with diagonal regulariser `noise`.
///
/// # Errors
///
/// [`crate::Error::InvalidArgument`] if `noise` is negative or not finite.
///
/// # Examples
///
/// ```
/// use ntk::predict::OnlineGp;
/// let mut gp: Box<OnlineGp<f64, 256>> = ntk::boxed::online_gp(1e-6)?; // 1 MiB
/// gp.push(&[], 1.0, [2.0])?;
/// assert_eq!(gp.len(), 1);
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn online_gp<T: Real, const CAP: usize, const K: usize>(
    noise: T,
) -> Result<Box<OnlineGp<T, CAP, K>>, crate::Error> {
    let mut gp = zeroed::<OnlineGp<T, CAP, K>>();
    gp.set_noise(noise)?;
    Ok(gp)
}

/// An empty [`OnlineWindow`] on the heap with diagonal regulariser `noise`:
/// allocated zeroed ([`zeroed`]), never on the stack.
///
/// # Errors
///
/// [`crate::Error::InvalidArgument`] if `noise` is negative or not finite.
///
/// # Examples
///
/// ```
/// use ntk::predict::OnlineWindow;
/// let mut window: Box<OnlineWindow<f64, 2, 256>> = ntk::boxed::online_window(1e-6)?; // 1 MiB
/// window.push([0.6, 0.8], [2.0], |a, b| a[0] * b[0] + a[1] * b[1])?;
/// assert_eq!((window.len(), window.capacity()), (1, 255));
/// # Ok::<(), ntk::Error>(())
/// ```
pub fn online_window<T: Real, const D: usize, const SLOTS: usize, const K: usize>(
    noise: T,
) -> Result<Box<OnlineWindow<T, D, SLOTS, K>>, crate::Error> {
    let () = OnlineWindow::<T, D, SLOTS, K>::AT_LEAST_TWO_SLOTS;
    let mut window = zeroed::<OnlineWindow<T, D, SLOTS, K>>();
    window.set_noise(noise)?;
    Ok(window)
}
