//! Monte Carlo kernels of finite recurrent networks against the
//! infinite-width ones of the same architecture text.

use crate::common::convergence::{frob_rel, log_log_slope, on_big_stack};
use ntk::analytic::{Architecture, Shape};
use ntk::empirical::{monte_carlo, MonteCarlo};
use ntk::nn::{Dense, GlobalAvgPool, Last, Module, Params, Relu, Rnn, Unflatten};
use ntk::Rng;

const N: usize = 4;
const L: usize = 4;
const C: usize = 2;
const D: usize = L * C;
const SW: f64 = 1.2;
const SU: f64 = 1.0;
const SB: f64 = 0.1;

/// Four sequences of 4 steps × 2 channels; the last is the first turned by
/// a small angle.
fn inputs() -> [[f64; D]; N] {
    let mut rng = Rng::new(31);
    let mut x: [[f64; D]; N] = core::array::from_fn(|_| core::array::from_fn(|_| rng.normal()));
    for i in 0..D {
        x[3][i] = x[0][i] + 0.05 * rng.normal::<f64>();
    }
    x
}

fn analytic(spec: &str) -> ([[f64; N]; N], [[f64; N]; N]) {
    let a: Architecture<f64> = spec.parse().unwrap();
    let shape = Shape::Sequence {
        length: L,
        channels: C,
    };
    let mut ws = vec![0.0; Architecture::<f64>::recurrent_workspace_bound(L)];
    let (mut k, mut t) = ([[0.0; N]; N], [[0.0; N]; N]);
    a.gram_recurrent(
        inputs().as_flattened(),
        shape,
        &mut ws,
        k.as_flattened_mut(),
        t.as_flattened_mut(),
    )
    .unwrap();
    (k, t)
}

fn estimate<Net>(net: &mut Net, samples: usize, seed: u64) -> [[f64; N]; N]
where
    Net: Module<f64, [f64; D], Output = [f64; 1]> + Params<f64>,
{
    let mut mc = MonteCarlo::new(samples, seed).unwrap();
    let mut work = vec![0.0; monte_carlo::workspace_len::<f64, Net>(N, 1)];
    let (mut s, mut k, mut t) = ([[0.0; N]; N], [[0.0; N]; N], [[0.0; N]; N]);
    mc.gram(net, &inputs(), &mut work, &mut s, &mut k, &mut t)
        .unwrap();
    t
}

type LastNet<const H: usize> = (
    Unflatten<C, L>,
    Rnn<f64, C, H, L, Relu>,
    Last,
    Dense<f64, H, 1>,
);
type GapNet<const H: usize> = (
    Unflatten<C, L>,
    Rnn<f64, C, H, L, Relu>,
    GlobalAvgPool,
    Dense<f64, H, 1>,
);

fn rnn<const H: usize>() -> Box<Rnn<f64, C, H, L, Relu>> {
    let mut r: Box<Rnn<f64, C, H, L, Relu>> = ntk::boxed::zeroed();
    r.set_rnn_scales(SW, SU, SB, ntk::nn::Parameterization::Ntk);
    r
}

/// Estimates of S = 2 initialisations each, repeated R = 32 times (the
/// finite-width NTK of a narrow recurrent layer is heavy-tailed: many
/// repetitions keep the root mean square steady).
const S: usize = 2;
const R: usize = 32;

/// At width H: the root mean square over the R estimates of the NTK's
/// relative Frobenius error.
fn ntk_error<const H: usize>(t0: &[[f64; N]; N]) -> f64 {
    let mut net: LastNet<H> = (
        Unflatten,
        *rnn::<H>(),
        Last,
        Dense::zeros(1.0, 0.0, ntk::nn::Parameterization::Ntk),
    );
    let mut sq = 0.0;
    for r in 0..R {
        let t = estimate(&mut net, S, 1000 * H as u64 + r as u64);
        sq += frob_rel(&t, t0).powi(2) / R as f64;
    }
    let rms = sq.sqrt();
    eprintln!("H = {H}: NTK error of {S} samples (rms) {rms:.4}");
    rms
}

#[test]
fn rnn_ntk_approaches_the_analytic_one_as_width_grows() {
    on_big_stack(|| {
        let (_, t0) = analytic("rnn(1.2,1.0,0.1,relu) last dense(1.0,0.0)");
        let widths = [16.0, 64.0, 256.0];
        let rms = [
            ntk_error::<16>(&t0),
            ntk_error::<64>(&t0),
            ntk_error::<256>(&t0),
        ];
        // One initialisation's NTK fluctuates about its limit by O(1/√H) and
        // its mean is off by O(1/H): with few samples per estimate the
        // fluctuation dominates and the error falls as H^(-1/2).
        let slope = log_log_slope(&widths, &rms);
        eprintln!("log-log slope {slope:.3}");
        assert!(
            (-0.7..=-0.3).contains(&slope),
            "slope {slope}, errors {rms:?}"
        );
    });
}

#[test]
fn rnn_gap_ntk_is_close_to_the_analytic_one() {
    on_big_stack(|| {
        // The mean over time, with its cross-time terms, at one width.
        let (_, t0) = analytic("rnn(1.2,1.0,0.1,relu) gap dense(1.0,0.0)");
        let mut net: GapNet<128> = (
            Unflatten,
            *rnn::<128>(),
            GlobalAvgPool,
            Dense::zeros(1.0, 0.0, ntk::nn::Parameterization::Ntk),
        );
        let t = estimate(&mut net, 32, 77);
        let e = frob_rel(&t, &t0);
        eprintln!("gap, H = 128: NTK error of 32 samples {e:.4}");
        assert!(e < 0.05, "NTK error {e}");
    });
}
