//! Eigensolver comparison: tridiagonal + implicit QL against cyclic Jacobi,
//! at N = 64 and N = 256 (f64), on a kernel matrix with the spectrum of an
//! infinite-width ReLU network (arc-cosine kernel of standard normal inputs,
//! D = 16, diagonal regulariser 1e-6 relative).
//!
//! `cargo bench --bench linalg` runs all; ids are `eigh_ql/N`, `eigh_jacobi/N`,
//! `eigenvalues/N`, `matrix_function/N` (g(K)·v without eigenvectors) and
//! `cholesky/N`.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ntk::linalg::{
    cholesky, eigh_tridiagonal_ql, eigvalsh, jacobi_eigh, matrix_function, EigenOptions,
    Regularizer,
};
use ntk::Rng;
use std::hint::black_box;

fn boxed<const N: usize>() -> Box<[[f64; N]; N]> {
    match vec![[0.0; N]; N].into_boxed_slice().try_into() {
        Ok(b) => b,
        Err(_) => unreachable!("length is N by construction"),
    }
}

/// ReLU arc-cosine kernel of standard normal inputs plus 1e-6 of the mean diagonal.
fn kernel<const N: usize>() -> Box<[[f64; N]; N]> {
    const D: usize = 16;
    let mut rng = Rng::new(7);
    let xs: Vec<[f64; D]> = (0..N)
        .map(|_| {
            let mut x = [0.0; D];
            rng.fill_normal(&mut x);
            x
        })
        .collect();
    let mut k = boxed::<N>();
    for i in 0..N {
        for j in 0..N {
            let s11: f64 = xs[i].iter().map(|v| v * v).sum::<f64>() / D as f64;
            let s22: f64 = xs[j].iter().map(|v| v * v).sum::<f64>() / D as f64;
            let s12: f64 = xs[i].iter().zip(&xs[j]).map(|(a, b)| a * b).sum::<f64>() / D as f64;
            let n = (s11 * s22).sqrt();
            let cos = (s12 / n).clamp(-1.0, 1.0);
            let th = cos.acos();
            k[i][j] =
                n * (th.sin() + (std::f64::consts::PI - th) * cos) / (2.0 * std::f64::consts::PI);
        }
    }
    let mean = (0..N).map(|i| k[i][i]).sum::<f64>() / N as f64;
    for (i, row) in k.iter_mut().enumerate() {
        row[i] += 1e-6 * mean;
    }
    k
}

fn sizes<const N: usize>(c: &mut Criterion) {
    let k = kernel::<N>();
    let opts = EigenOptions::default();
    let mut values = [0.0; N];
    let mut vectors = boxed::<N>();
    let mut work = boxed::<N>();
    let mut group = c.benchmark_group("eigensolvers");
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("eigh_ql", N), |b| {
        b.iter(|| {
            eigh_tridiagonal_ql(black_box(&*k), opts, &mut values, &mut vectors)
                .expect("converges");
            black_box(values[0])
        })
    });
    group.bench_function(BenchmarkId::new("eigh_jacobi", N), |b| {
        b.iter(|| {
            jacobi_eigh(black_box(&*k), opts, &mut work, &mut values, &mut vectors)
                .expect("converges");
            black_box(values[0])
        })
    });
    group.bench_function(BenchmarkId::new("eigenvalues", N), |b| {
        b.iter(|| {
            eigvalsh(black_box(&*k), opts, &mut work, &mut values).expect("converges");
            black_box(values[0])
        })
    });
    let v: Vec<[f64; 1]> = (0..N).map(|i| [(i as f64).sin()]).collect();
    let v: &[[f64; 1]; N] = v.as_slice().try_into().expect("length N");
    let mut out = [[0.0; 1]; N];
    let mut rot = vec![0.0; 3 * N * N];
    group.bench_function(BenchmarkId::new("matrix_function", N), |b| {
        b.iter(|| {
            matrix_function(
                black_box(&*k),
                opts,
                |l| -(-l * 10.0 / N as f64).exp_m1() / l,
                v,
                &mut work,
                &mut rot,
                &mut out,
            )
            .expect("converges");
            black_box(out[0][0])
        })
    });
    group.bench_function(BenchmarkId::new("cholesky", N), |b| {
        b.iter(|| {
            cholesky(black_box(&*k), Regularizer::None, &mut vectors).expect("definite");
            black_box(vectors[0][0])
        })
    });
    group.finish();
}

fn eigensolvers(c: &mut Criterion) {
    sizes::<64>(c);
    sizes::<256>(c);
}

criterion_group!(benches, eigensolvers);
criterion_main!(benches);
