//! Criterion benches of the core kernels (no Python): `cargo bench`.

use criterion::{criterion_group, criterion_main, Criterion};
use ferrovq::init::kmeans_plusplus;
use ferrovq::scipy::{kmeans2_lloyd, vq, Missing};
use ferrovq::Exec;
use ndarray::Array2;
use std::hint::black_box;

/// Deterministic pseudo-random data: `n x d` values in [-8, 8).
fn data(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut s = seed;
    Array2::from_shape_fn((n, d), |_| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64) / (1u64 << 53) as f64 * 16.0 - 8.0
    })
}

fn kernels(c: &mut Criterion) {
    let exec = Exec::with_threads(2).expect("thread pool");
    for &(n, d, k) in &[(200_000, 2, 8), (100_000, 16, 64), (50_000, 64, 256)] {
        let x = data(n, d, 1);
        let book = data(k, d, 2);
        c.bench_function(&format!("vq n={n} d={d} k={k}"), |b| {
            b.iter(|| vq(&exec, black_box(x.view()), book.view(), false).expect("vq"))
        });
        c.bench_function(&format!("kmeans2 1 iteration n={n} d={d} k={k}"), |b| {
            b.iter(|| {
                kmeans2_lloyd(&exec, black_box(x.view()), book.view(), 1, Missing::Warn)
                    .expect("kmeans2")
            })
        });
    }
    let x = data(50_000, 16, 3);
    let mut u = 0.123f64;
    let draws: Vec<f64> = (0..63)
        .map(|_| {
            u = (u * 9.73).fract();
            u
        })
        .collect();
    c.bench_function("k-means++ n=50000 d=16 k=64", |b| {
        b.iter(|| {
            kmeans_plusplus(&exec, black_box(x.view()), 64, 0, &draws, None).expect("kmeans++")
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = kernels
}
criterion_main!(benches);
