//! Criterion benchmarks with the ids of DESIGN.md: E1, E2, E1J, E2J, A1, R1.
use criterion::{criterion_group, criterion_main, Criterion};

fn workloads(_c: &mut Criterion) {}

/// A1: analytic NNGP + NTK Gram, f64, `dense(1.5,0.1) relu` ×3 then
/// `dense(1.5,0.1)`, N = 512 standard normal inputs of dimension 16.
fn a1(c: &mut Criterion) {
    use ntk::analytic::Architecture;
    const N: usize = 512;
    const D: usize = 16;
    let arch: Architecture<f64> =
        "dense(1.5,0.1) relu dense(1.5,0.1) relu dense(1.5,0.1) relu dense(1.5,0.1)"
            .parse()
            .expect("A1 architecture");
    let mut rng = ntk::Rng::new(0xA1);
    let mut x = vec![[0.0_f64; D]; N];
    for row in x.iter_mut() {
        rng.fill_normal(row);
    }
    let x: Box<[[f64; D]; N]> = x.into_boxed_slice().try_into().expect("N rows");
    let zeros = || -> Box<[[f64; N]; N]> {
        vec![[0.0; N]; N]
            .into_boxed_slice()
            .try_into()
            .expect("N rows")
    };
    let (mut nngp, mut ntk) = (zeros(), zeros());
    c.bench_function("A1", |b| {
        b.iter(|| {
            arch.gram(&x, &mut nngp, &mut ntk).expect("A1 Gram");
            criterion::black_box((&nngp, &ntk));
        })
    });
}

criterion_group!(benches, workloads, a1);
criterion_main!(benches);
