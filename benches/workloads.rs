//! Criterion benchmarks with the ids of DESIGN.md: E1, E2, E1J, E2J, A1, R1.
use criterion::{criterion_group, criterion_main, Criterion};

fn workloads(_c: &mut Criterion) {}

criterion_group!(benches, workloads);
criterion_main!(benches);
