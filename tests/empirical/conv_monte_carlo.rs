//! Monte Carlo kernels of finite convolutional networks against the
//! infinite-width ones of the same architecture text.

use crate::common::convergence::{frob_rel, log_log_slope, on_big_stack};
use ntk::analytic::Architecture;
use ntk::empirical::{monte_carlo, MonteCarlo};
use ntk::nn::{
    Conv1d, Dense, Flatten, GlobalAvgPool, Module, Padding, Parameterization, Params, Relu,
    Unflatten,
};
use ntk::Rng;

const N: usize = 4;
const L: usize = 6;
const C_IN: usize = 2;
const D: usize = L * C_IN;
const SW: f64 = 1.5;
const SB: f64 = 0.1;

/// Four sequences of 6 positions × 2 channels; the last is the first turned
/// by a small angle (nearly parallel, correlation ≈ 0.999).
fn inputs() -> [[[f64; C_IN]; L]; N] {
    let mut rng = Rng::new(21);
    let mut x: [[[f64; C_IN]; L]; N] =
        core::array::from_fn(|_| core::array::from_fn(|_| core::array::from_fn(|_| rng.normal())));
    let noise: [[f64; C_IN]; L] = core::array::from_fn(|_| core::array::from_fn(|_| rng.normal()));
    for p in 0..L {
        for c in 0..C_IN {
            x[3][p][c] = x[0][p][c] + 0.05 * noise[p][c];
        }
    }
    x
}

fn flat(x: &[[[f64; C_IN]; L]; N]) -> [[f64; D]; N] {
    x.map(|s| {
        let mut f = [0.0; D];
        f.copy_from_slice(s.as_flattened());
        f
    })
}

fn analytic(spec: &str) -> ([[f64; N]; N], [[f64; N]; N]) {
    let a: Architecture<f64> = spec.parse().unwrap();
    let mut ws = vec![0.0; Architecture::<f64>::workspace_bound(L)];
    let (mut k, mut t) = ([[0.0; N]; N], [[0.0; N]; N]);
    a.gram_sequence(&inputs(), &mut ws, &mut k, &mut t).unwrap();
    (k, t)
}

fn estimate<Net>(net: &mut Net, samples: usize, seed: u64) -> ([[f64; N]; N], [[f64; N]; N])
where
    Net: Module<f64, [f64; D], Output = [f64; 1]> + Params<f64>,
{
    let mut mc = MonteCarlo::new(samples, seed).unwrap();
    let mut work = vec![0.0; monte_carlo::workspace_len::<f64, Net>(N, 1)];
    let (mut s, mut k, mut t) = ([[0.0; N]; N], [[0.0; N]; N], [[0.0; N]; N]);
    mc.gram(net, &flat(&inputs()), &mut work, &mut s, &mut k, &mut t)
        .unwrap();
    (k, t)
}

type Gap<const C: usize> = (
    Unflatten<C_IN, L>,
    Conv1d<f64, C_IN, C, 3, L>,
    Relu,
    Conv1d<f64, C, C, 3, L>,
    Relu,
    GlobalAvgPool,
    Dense<f64, C, 1>,
);

fn gap_net<const C: usize>() -> Box<Gap<C>> {
    let mut net: Box<Gap<C>> = ntk::boxed::zeroed();
    net.init(SW, SB, Parameterization::Ntk, &mut Rng::new(1));
    net
}

const GAP_SPEC: &str = "conv(3,1.5,0.1) relu conv(3,1.5,0.1) relu gap dense(1.5,0.1)";

/// Monte Carlo estimates of S = 4 initialisations each, repeated R = 8 times
/// with their own seeds.
const S: usize = 4;
const R: usize = 8;

/// At C channels: the root mean square over the R estimates of the NTK's
/// relative Frobenius error, and the error of their pooled mean (R·S
/// initialisations).
fn ntk_errors<const C: usize>(t0: &[[f64; N]; N]) -> (f64, f64) {
    let mut net = gap_net::<C>();
    let (mut sq, mut pooled) = (0.0, [[0.0; N]; N]);
    for r in 0..R {
        let (_, t) = estimate(&mut *net, S, 1000 * C as u64 + r as u64);
        sq += frob_rel(&t, t0).powi(2) / R as f64;
        for (p, v) in pooled.iter_mut().flatten().zip(t.iter().flatten()) {
            *p += v / R as f64;
        }
    }
    let (rms, e) = (sq.sqrt(), frob_rel(&pooled, t0));
    eprintln!(
        "C = {C}: NTK error of {S} samples (rms) {rms:.4}, of {} samples {e:.4}",
        R * S
    );
    (rms, e)
}

#[test]
fn conv_ntk_approaches_the_analytic_one_as_channels_grow() {
    on_big_stack(|| {
        let (_, t0) = analytic(GAP_SPEC);
        let widths = [16.0, 32.0, 64.0, 128.0, 256.0];
        let errs = [
            ntk_errors::<16>(&t0),
            ntk_errors::<32>(&t0),
            ntk_errors::<64>(&t0),
            ntk_errors::<128>(&t0),
            ntk_errors::<256>(&t0),
        ];
        let rms: Vec<f64> = errs.iter().map(|e| e.0).collect();
        // One initialisation's NTK fluctuates about its limit by O(1/√C) and its
        // mean is off by O(1/C): with few samples per estimate the fluctuation
        // dominates and the error falls as C^(-1/2).
        let slope = log_log_slope(&widths, &rms);
        eprintln!("log-log slope {slope:.3}");
        assert!(
            (-0.7..=-0.3).contains(&slope),
            "slope {slope}, errors {rms:?}"
        );
        // At C = 256 one sample's relative fluctuation is about 0.1; 32 samples
        // average it down to about 0.02, and the O(1/C) bias is below 0.01:
        // 0.05 leaves a margin of more than two standard deviations.
        let e = errs[4].1;
        assert!(e < 0.05, "NTK error at C = 256: {e}");
    });
}

#[test]
fn conv_nngp_is_the_output_covariance() {
    on_big_stack(|| {
        // The NNGP estimate is a sample covariance of the outputs: its relative
        // error is about √(2/S) ≈ 0.045 at S = 1000 whatever the width, so it is
        // checked at one width with many samples, not for its decay in C.
        let (k0, _) = analytic(GAP_SPEC);
        let (k, _) = estimate(&mut *gap_net::<64>(), 1000, 5);
        let e = frob_rel(&k, &k0);
        eprintln!("C = 64: NNGP error of 1000 samples {e:.4}");
        assert!(e < 0.1, "NNGP error {e}");
    });
}

const CIRC: usize = 256;

type Circ = (
    Unflatten<C_IN, L>,
    Conv1d<f64, C_IN, CIRC, 3, L>,
    Relu,
    Conv1d<f64, CIRC, CIRC, 3, L>,
    Relu,
    Flatten<{ L * CIRC }>,
    Dense<f64, { L * CIRC }, 1>,
);

#[test]
fn circular_padding_and_flatten_readout() {
    on_big_stack(|| {
        let mut net: Box<Circ> = ntk::boxed::zeroed();
        net.init(SW, SB, Parameterization::Ntk, &mut Rng::new(2));
        net.1.padding = Padding::Circular;
        net.3.padding = Padding::Circular;
        let (_, t0) =
            analytic("conv_circ(3,1.5,0.1) relu conv_circ(3,1.5,0.1) relu flatten dense(1.5,0.1)");
        let (_, t) = estimate(&mut *net, 8, 7);
        // As at C = 256 above, with 8 samples: a relative fluctuation of about
        // 0.1/√8 ≈ 0.035 (the flatten readout reads each position on its own).
        let e = frob_rel(&t, &t0);
        eprintln!("circular, flatten, C = {CIRC}: NTK error of 8 samples {e:.4}");
        assert!(e < 0.08, "NTK error {e}");
    });
}
