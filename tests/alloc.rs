//! The `boxed` constructors: a zeroed allocation is the value `Zeroed::ZEROED`
//! describes, and a network filled in place is the one built by value.
//!
//! Small shapes, so that CI can run this file under Miri, which checks that
//! every zeroed allocation is a valid value of its type
//! (`cargo +nightly miri test --features alloc --test alloc`).
#![cfg(feature = "alloc")]

use ntk::boxed::{self, Zeroable};
use ntk::nn::{
    Abs, AvgPool, Conv1d, Conv2d, Dense, Erf, Flatten, Gelu, GlobalAvgPool, Identity, LeakyRelu,
    Module, Padding, Parameterization, Params, Relu, Sin, Tanh, Unflatten, Unflatten2d, Zeroed,
};
use ntk::predict::{Factor, OnlineGp, Spectrum};
use ntk::{Error, Rng};

/// Every parameter's bits, in `Params` order.
fn bits<Net: Params<f64>>(net: &Net) -> Vec<u64> {
    let mut out = Vec::new();
    net.visit(&mut |s| out.extend(s.iter().map(|v| v.to_bits())));
    out
}

fn zeroed_is_zero<T: Zeroable + PartialEq + core::fmt::Debug>() {
    let b: Box<T> = boxed::zeroed();
    assert_eq!(*b, T::ZEROED);
}

#[test]
fn zeroed_allocations_are_the_constant_zero() {
    zeroed_is_zero::<f32>();
    zeroed_is_zero::<f64>();
    zeroed_is_zero::<[[f64; 3]; 5]>();
    zeroed_is_zero::<Dense<f32, 3, 2>>();
    zeroed_is_zero::<Dense<f64, 2, 3>>();
    zeroed_is_zero::<LeakyRelu<f32>>();
    zeroed_is_zero::<(Dense<f64, 2, 4>, Relu, Dense<f64, 4, 4>, LeakyRelu<f64>)>();
    zeroed_is_zero::<(Abs, Erf, Gelu, Sin, Tanh, Identity, Dense<f32, 1, 1>)>();
    zeroed_is_zero::<Spectrum<f64, 4>>();
    zeroed_is_zero::<Factor<f32, 3>>();
    zeroed_is_zero::<OnlineGp<f64, 4, 2>>();
    zeroed_is_zero::<Conv1d<f64, 2, 3, 3, 4>>();
    zeroed_is_zero::<Conv2d<f32, 1, 2, 3, 1, 2, 3>>();
    zeroed_is_zero::<(Unflatten<2, 3>, AvgPool<3, 1>, Flatten<2>, GlobalAvgPool)>();
    zeroed_is_zero::<Unflatten2d<1, 2, 2>>();
}

/// A one- and a two-dimensional convolutional network on the heap: the
/// networks built by value from each layer's constructor, the padding of a
/// zeroed convolution `Padding::Same`, and the same outputs.
#[test]
fn boxed_convolutional_networks_match_networks_built_by_value() {
    type Seq = (
        Unflatten<2, 4>,
        Conv1d<f64, 2, 3, 3, 4>,
        Relu,
        AvgPool<2, 2>,
        Conv1d<f64, 3, 2, 1, 2>,
        Tanh,
        GlobalAvgPool,
        Dense<f64, 2, 1>,
    );
    let n: Box<Seq> = boxed::ntk(1.2, 0.3, &mut Rng::new(21));
    let mut rng = Rng::new(21);
    let a = Conv1d::ntk(1.2, 0.3, &mut rng);
    let b = Conv1d::ntk(1.2, 0.3, &mut rng);
    let c = Dense::ntk(1.2, 0.3, &mut rng);
    let reference: Seq = (Unflatten, a, Relu, AvgPool, b, Tanh, GlobalAvgPool, c);
    assert_eq!(bits(&*n), bits(&reference));
    assert_eq!(*n, reference);
    assert_eq!(n.1.padding, Padding::Same);
    let x = [0.3, -0.7, 1.1, 0.2, -0.4, 0.9, 0.5, -1.3];
    assert_eq!(n.eval(&x)[0].to_bits(), reference.eval(&x)[0].to_bits());

    type Image = (
        Unflatten2d<1, 3, 2>,
        Conv2d<f64, 1, 2, 3, 3, 2, 3>,
        Erf,
        Flatten<12>,
        Dense<f64, 12, 1>,
    );
    let s: Box<Image> = boxed::standard(0.9, 0.1, &mut Rng::new(22));
    let mut rng = Rng::new(22);
    let a = Conv2d::standard(0.9, 0.1, &mut rng);
    let reference: Image = (
        Unflatten2d,
        a,
        Erf,
        Flatten,
        Dense::standard(0.9, 0.1, &mut rng),
    );
    assert_eq!(*s, reference);
    let x = [0.3, -0.7, 1.1, 0.2, -0.4, 0.9];
    assert_eq!(s.eval(&x)[0].to_bits(), reference.eval(&x)[0].to_bits());
    // Drawn again in place from the same seed, the same network.
    let mut again = s;
    again.1.weight = Zeroed::ZEROED;
    again.reinit(&mut Rng::new(22));
    assert_eq!(*again, reference);
}

#[test]
fn zeroed_values_hold_zero_bits() {
    let d: Box<Dense<f64, 3, 2>> = boxed::zeroed();
    assert!(d
        .weight
        .iter()
        .flatten()
        .chain(&d.bias)
        .all(|v| v.to_bits() == 0));
    assert_eq!(d.weight_std.to_bits(), 0);
    assert_eq!(d.bias_std.to_bits(), 0);
    assert_eq!(d.parameterization, Parameterization::Ntk);
    let s: Box<Spectrum<f64, 3>> = boxed::zeroed();
    assert!(s
        .values()
        .iter()
        .chain(s.vectors().iter().flatten())
        .all(|v| v.to_bits() == 0));
    let gp: Box<OnlineGp<f32, 3>> = boxed::zeroed();
    assert!(gp.is_empty());
    assert_eq!(*gp, OnlineGp::new(0.0));
}

#[test]
fn zero_sized_types_allocate_nothing_and_work() {
    let r: Box<Relu> = boxed::zeroed();
    assert_eq!(*r, Relu);
    let e: Box<[f64; 0]> = boxed::zeroed();
    assert!(e.is_empty());
    let t: Box<((), Relu, Identity)> = boxed::zeroed();
    assert_eq!(*t, ((), Relu, Identity));
    assert_eq!(Module::<f64, [f64; 2]>::eval(&*r, &[-1.0, 2.0]), [0.0, 2.0]);
}

#[test]
fn boxed_networks_match_networks_built_by_value() {
    type Net = (
        Dense<f64, 3, 8>,
        Tanh,
        Dense<f64, 8, 8>,
        Relu,
        Dense<f64, 8, 2>,
    );
    fn d<const I: usize, const O: usize>(ntk: bool, rng: &mut Rng) -> Dense<f64, I, O> {
        if ntk {
            Dense::ntk(1.3, 0.2, rng)
        } else {
            Dense::standard(1.3, 0.2, rng)
        }
    }
    let by_value = |ntk: bool, seed| -> Net {
        let mut rng = Rng::new(seed);
        let a = d(ntk, &mut rng);
        let b = d(ntk, &mut rng);
        (a, Tanh, b, Relu, d(ntk, &mut rng))
    };
    let n: Box<Net> = boxed::ntk(1.3, 0.2, &mut Rng::new(11));
    let reference = by_value(true, 11);
    assert_eq!(bits(&*n), bits(&reference));
    assert_eq!(*n, reference);

    let s: Box<Net> = boxed::standard(1.3, 0.2, &mut Rng::new(12));
    assert_eq!(*s, by_value(false, 12));

    let g: Box<Net> = boxed::network(1.3, 0.2, Parameterization::Standard, &mut Rng::new(12));
    assert_eq!(*g, *s);

    // The generator ends where building by value leaves it.
    let (mut r1, mut r2) = (Rng::new(5), Rng::new(5));
    let _: Box<Net> = boxed::ntk(1.0, 0.0, &mut r1);
    let _: Net = {
        let a = Dense::ntk(1.0, 0.0, &mut r2);
        let b = Dense::ntk(1.0, 0.0, &mut r2);
        (a, Tanh, b, Relu, Dense::ntk(1.0, 0.0, &mut r2))
    };
    assert_eq!(r1.next_u64(), r2.next_u64());
}

#[test]
fn in_place_init_on_a_zero_matches_by_value() {
    type Net = (Dense<f32, 2, 5>, LeakyRelu<f32>, Dense<f32, 5, 1>);
    let mut net = Net::ZEROED;
    net.init_ntk(0.9, 0.4, &mut Rng::new(3));
    net.1.alpha = 0.1;
    let mut rng = Rng::new(3);
    let a = Dense::ntk(0.9, 0.4, &mut rng);
    let reference: Net = (a, LeakyRelu { alpha: 0.1 }, Dense::ntk(0.9, 0.4, &mut rng));
    assert_eq!(net, reference);
    let x = [0.3, -0.7];
    assert_eq!(net.eval(&x)[0].to_bits(), reference.eval(&x)[0].to_bits());
}

#[test]
fn boxed_online_gp_matches_one_built_by_value() -> Result<(), Error> {
    let mut boxed_gp: Box<OnlineGp<f64, 3>> = boxed::online_gp(1e-3)?;
    let mut gp = OnlineGp::<f64, 3>::new(1e-3);
    let k = |a: f64, b: f64| (-(a - b) * (a - b)).exp();
    let xs = [0.0, 0.4, 1.1];
    for (i, &x) in xs.iter().enumerate() {
        let row: Vec<f64> = xs[..i].iter().map(|&p| k(x, p)).collect();
        boxed_gp.push(&row, 1.0, [x.cos()])?;
        gp.push(&row, 1.0, [x.cos()])?;
    }
    assert_eq!(*boxed_gp, gp);
    Ok(())
}

#[test]
fn boxed_online_gp_refuses_a_bad_noise() {
    for noise in [-1.0, f64::NAN, f64::INFINITY] {
        let r = boxed::online_gp::<f64, 2, 1>(noise);
        assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{noise}");
    }
    let mut gp = OnlineGp::<f64, 2>::ZEROED;
    gp.push(&[], 1.0, [1.0]).unwrap();
    let before = gp.clone();
    assert!(matches!(
        gp.set_noise(0.5),
        Err(Error::InvalidArgument { .. })
    ));
    assert_eq!(gp, before);
    gp.clear();
    gp.set_noise(0.5).unwrap();
    gp.push(&[], 2.0, [1.0]).unwrap();
    assert_eq!(gp.factor()[0][0], 2.5_f64.sqrt());
}

/// `boxed::online_window` is the zeroed window with its noise set:
/// the result is a valid, empty window, equal in use to one built by value.
#[test]
fn boxed_online_window_is_the_window_built_by_value() {
    use ntk::predict::OnlineWindow;
    let mut boxed_window: Box<OnlineWindow<f64, 1, 3>> = boxed::online_window(1e-6).unwrap();
    assert!(boxed_window.is_empty() && boxed_window.inputs().is_empty());
    let mut window = OnlineWindow::<f64, 1, 3>::new(1e-6);
    let k = |a: &[f64; 1], b: &[f64; 1]| (-(a[0] - b[0]) * (a[0] - b[0])).exp();
    for x in [0.0, 0.4, 1.1] {
        boxed_window.push([x], [x.cos()], k).unwrap();
        window.push([x], [x.cos()], k).unwrap();
    }
    assert_eq!(boxed_window.gp(), window.gp());
    assert!(boxed_window.inputs().iter().eq(window.inputs().iter()));
    assert!(matches!(
        boxed::online_window::<f64, 1, 3, 1>(-1.0),
        Err(Error::InvalidArgument { .. })
    ));
}
