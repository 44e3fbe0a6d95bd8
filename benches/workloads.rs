//! Criterion benchmarks with the ids of DESIGN.md: E1, E2, E1J, E2J, A1, R1.
//!
//! `cargo bench --bench workloads -- ID` runs one; inputs are standard normal
//! from a fixed seed and the timed region is the whole computation.
use criterion::{criterion_group, criterion_main, Criterion};
use ntk::empirical::{jacobian, structured};
use ntk::nn::{Dense, Relu};
use ntk::Rng;
use std::hint::black_box;

/// A boxed N×N matrix (too large for the stack at N = 512 in f64).
fn boxed_matrix<T: Copy + Default, const N: usize, const M: usize>() -> Box<[[T; N]; M]> {
    let v = vec![[T::default(); N]; M].into_boxed_slice();
    match v.try_into() {
        Ok(b) => b,
        Err(_) => unreachable!("length is M by construction"),
    }
}

fn inputs<const D: usize, const N: usize>(seed: u64) -> Box<[[f32; D]; N]> {
    let mut rng = Rng::new(seed);
    let mut xs = boxed_matrix::<f32, D, N>();
    for row in xs.iter_mut() {
        rng.fill_normal(row);
    }
    xs
}

type Mlp<const W: usize> = (
    Dense<f32, 16, W>,
    Relu,
    Dense<f32, W, W>,
    Relu,
    Dense<f32, W, 1>,
);

fn mlp<const W: usize>(seed: u64) -> Box<Mlp<W>> {
    let mut rng = Rng::new(seed);
    Box::new((
        Dense::ntk(1.5, 0.1, &mut rng),
        Relu,
        Dense::ntk(1.5, 0.1, &mut rng),
        Relu,
        Dense::ntk(1.5, 0.1, &mut rng),
    ))
}

fn empirical_structured<const W: usize, const N: usize>(c: &mut Criterion, id: &str) {
    let net = mlp::<W>(1);
    let xs = inputs::<16, N>(2);
    let mut out = boxed_matrix::<f32, N, N>();
    let mut ws = vec![0.0_f32; structured::workspace_len::<f32, Mlp<W>>(N, 1)];
    c.bench_function(id, |b| {
        b.iter(|| {
            structured::ntk(black_box(&*net), black_box(&*xs), &mut ws, &mut out).expect("finite");
            black_box(out[N - 1][0])
        })
    });
}

fn empirical_jacobian<const W: usize, const N: usize>(c: &mut Criterion, id: &str) {
    let net = mlp::<W>(1);
    let xs = inputs::<16, N>(2);
    let mut out = boxed_matrix::<f32, N, N>();
    let mut wj = vec![0.0_f32; jacobian::workspace_len::<f32, [f32; 16], Mlp<W>>(N)];
    c.bench_function(id, |b| {
        b.iter(|| {
            jacobian::ntk(black_box(&*net), black_box(&*xs), &mut wj, &mut out).expect("finite");
            black_box(out[N - 1][0])
        })
    });
}

fn empirical(c: &mut Criterion) {
    empirical_structured::<128, 128>(c, "E1");
    empirical_structured::<512, 256>(c, "E2");
}

fn empirical_reference(c: &mut Criterion) {
    empirical_jacobian::<128, 128>(c, "E1J");
    empirical_jacobian::<512, 256>(c, "E2J");
}

criterion_group!(benches, empirical);
criterion_group! {
    name = slow;
    config = Criterion::default().sample_size(10);
    targets = empirical_reference
}
criterion_main!(benches, slow);
