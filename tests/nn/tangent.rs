//! Tangent passes: the activations' second derivatives, the output tangent
//! and the Hessian-vector product of the parameter gradient against central
//! differences.

use ntk::nn::{
    Abs, Activation, Dense, Erf, FlatGradient, Gelu, Identity, LeakyRelu, Module, Params, Relu,
    Sin, TangentSink, Tanh, Zeroed,
};
use ntk::Rng;

fn check_second<A: Activation<f64>>(a: &A, name: &str) {
    for i in 0..41 {
        let x = -3.05 + 0.15 * i as f64; // never 0
        let h = 1e-5;
        let fd = (a.derivative(x + h) - a.derivative(x - h)) / (2.0 * h);
        let d2 = a.second_derivative(x).unwrap();
        assert!(
            (d2 - fd).abs() < 1e-8 * (1.0 + fd.abs()),
            "{name} at {x}: {d2} vs {fd}"
        );
    }
    assert!(a.second_derivative(f64::NAN).unwrap().is_nan(), "{name}");
}

#[test]
fn second_derivatives_match_central_differences() {
    check_second(&Relu, "relu");
    check_second(&LeakyRelu { alpha: 0.2 }, "leaky relu");
    check_second(&Abs, "abs");
    check_second(&Erf, "erf");
    check_second(&Gelu, "gelu");
    check_second(&Sin, "sin");
    check_second(&Tanh, "tanh");
    check_second(&Identity, "identity");
}

/// Collects the flat gradient and its tangent, last layer first.
struct Rows {
    g: Vec<f64>,
    h: Vec<f64>,
}

impl TangentSink<f64> for Rows {
    fn dense(&mut self, a: &[f64], da: &[f64], ws: f64, dy: &[f64], ddy: &[f64], bs: f64) {
        let mut g = Vec::new();
        let mut h = Vec::new();
        for o in 0..dy.len() {
            for i in 0..a.len() {
                g.push(ws * dy[o] * a[i]);
                h.push(ws * (ddy[o] * a[i] + dy[o] * da[i]));
            }
        }
        g.extend(dy.iter().map(|d| bs * d));
        h.extend(ddy.iter().map(|d| bs * d));
        g.append(&mut self.g);
        h.append(&mut self.h);
        self.g = g;
        self.h = h;
    }
}

type Net = (
    Dense<f64, 3, 12>,
    Tanh,
    Dense<f64, 12, 9>,
    Gelu,
    Dense<f64, 9, 2>,
);

fn flat_gradient(net: &Net, x: &[f64; 3], c: &[f64; 2]) -> Vec<f64> {
    let mut cache = <Net as Module<f64, [f64; 3]>>::Cache::zeroed();
    net.forward(x, &mut cache);
    let mut g = vec![0.0; Net::NUM_PARAMS];
    let mut sink = FlatGradient::new(&mut g);
    net.backward_with(&cache, c, &mut sink);
    assert!(sink.is_complete());
    g
}

#[test]
fn tangent_passes_match_central_differences() {
    let mut rng = Rng::new(9);
    let net: Net = (
        Dense::ntk(1.3, 0.2, &mut rng),
        Tanh,
        Dense::ntk(1.3, 0.2, &mut rng),
        Gelu,
        Dense::ntk(1.3, 0.2, &mut rng),
    );
    let mut v = net.clone();
    v.reinit(&mut rng);
    let x = [0.4, -1.1, 0.7];
    let dx = [0.3, 0.2, -0.5];
    let c = [0.8, -0.6];

    let mut cache = <Net as Module<f64, [f64; 3]>>::Cache::zeroed();
    let mut tangent_cache = <Net as Module<f64, [f64; 3]>>::Cache::zeroed();
    let (y, dy) = net
        .forward_tangent(&x, &dx, &v, &mut cache, &mut tangent_cache)
        .unwrap();
    let h = 1e-5;
    let moved = |s: f64| {
        let mut n = net.clone();
        n.axpy(s, &v);
        let xs: [f64; 3] = core::array::from_fn(|i| x[i] + s * dx[i]);
        (n, xs)
    };
    let (np, xp) = moved(h);
    let (nm, xm) = moved(-h);
    let (yp, ym) = (np.eval(&xp), nm.eval(&xm));
    assert_eq!(y, net.eval(&x));
    for k in 0..2 {
        let fd = (yp[k] - ym[k]) / (2.0 * h);
        assert!(
            (dy[k] - fd).abs() < 1e-8 * (1.0 + fd.abs()),
            "{} vs {fd}",
            dy[k]
        );
    }

    // The gradient's tangent along v (input fixed) is H(c·f)·v.
    let (mut cache, mut tc) = (Zeroed::zeroed(), Zeroed::zeroed());
    net.forward_tangent(&x, &[0.0; 3], &v, &mut cache, &mut tc)
        .unwrap();
    let mut rows = Rows {
        g: Vec::new(),
        h: Vec::new(),
    };
    net.backward_tangent(&cache, &tc, &v, &c, &[0.0; 2], &mut rows)
        .unwrap();
    assert_eq!(rows.g, flat_gradient(&net, &x, &c));
    let (mut np, mut nm) = (net.clone(), net.clone());
    np.axpy(h, &v);
    nm.axpy(-h, &v);
    let (gp, gm) = (flat_gradient(&np, &x, &c), flat_gradient(&nm, &x, &c));
    let scale = rows.h.iter().fold(0.0_f64, |m, a| m.max(a.abs()));
    for (p, (a, b)) in rows.h.iter().zip(gp.iter().zip(&gm)) {
        let fd = (a - b) / (2.0 * h);
        assert!((p - fd).abs() < 1e-7 * scale, "{p} vs {fd}");
    }
}
