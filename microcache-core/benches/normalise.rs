//! `cargo bench -p microcache-core`: the normaliser on realistic queries.
//!
//! A plain harness (no extra dependencies): each case runs in batches, and the median batch
//! gives ns per call. A counting allocator proves the calls allocate nothing.

use std::hint::black_box;
use std::time::Instant;

use microcache_core::query::{MAX_ARGS_LIMIT, MAX_QUERY_LEN};
use microcache_core::{normalise, ArgRules, GlobSet};

#[path = "../tests/support/counting_alloc.rs"]
mod counting_alloc;

fn bench(name: &str, query: &[u8], rules: &ArgRules) {
    // `cargo bench -p microcache-core -- sorted` runs the cases whose name contains "sorted".
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if filter.is_some_and(|f| !name.contains(&f)) {
        return;
    }
    let bypass = GlobSet::new(["add-to-cart"]);
    let mut args = vec![0; query.len()];
    let mut stripped = vec![0; query.len()];
    let mut call = || {
        black_box(normalise(black_box(query), rules, &bypass, &mut args, &mut stripped));
    };
    // A fixed number of calls and no timing, for instruction counts under callgrind:
    // `BENCH_CALLS=100000 valgrind --tool=callgrind target/release/deps/normalise-*`.
    if let Some(calls) = std::env::var("BENCH_CALLS").ok().and_then(|n| n.parse::<u64>().ok()) {
        for _ in 0..calls {
            call();
        }
        return;
    }
    // Calibrate a batch to roughly 5 ms.
    let mut batch = 1u64;
    loop {
        let t = Instant::now();
        for _ in 0..batch {
            call();
        }
        if t.elapsed().as_micros() > 5000 {
            break;
        }
        batch *= 2;
    }
    let mut samples = [0f64; 31];
    let mut allocations = 0;
    for sample in &mut samples {
        let t = Instant::now();
        allocations += counting_alloc::allocations(|| {
            for _ in 0..batch {
                call();
            }
        });
        *sample = t.elapsed().as_nanos() as f64 / batch as f64;
    }
    samples.sort_by(f64::total_cmp);
    println!(
        "| {name:<44} | {:>5} | {:>9.1} | {:>9.1} | {:>11} |",
        query.len(),
        samples[samples.len() / 2],
        samples[samples.len() / 2] / query.len().max(1) as f64,
        allocations
    );
}

fn main() {
    let default = ArgRules::default();
    let sorted = ArgRules { sort: true, ..ArgRules::default() };
    let wildcards = ArgRules {
        strip: GlobSet::new(["*a*a*a*b", "*%*", "z*"]),
        keep: Some(GlobSet::new(["*"])),
        sort: true,
        max_args: MAX_ARGS_LIMIT,
    };
    println!("| case                                         | bytes | ns/call   | ns/byte   | allocations |");
    println!("|----------------------------------------------|-------|-----------|-----------|-------------|");
    bench(
        "6 params, 3 tracking (default rules)",
        b"p=12&utm_source=newsletter&s=shoes&utm_medium=email&gclid=Cj0KCQiA&color=red",
        &default,
    );
    bench(
        "6 params, none tracking (default rules)",
        b"p=12&s=shoes&color=red&size=42&page=2&orderby=price",
        &default,
    );
    bench(
        "6 params, 3 tracking, sorted",
        b"p=12&utm_source=newsletter&s=shoes&utm_medium=email&gclid=Cj0KCQiA&color=red",
        &sorted,
    );
    bench(
        "6 params, names PHP reads differently, sorted",
        b"p=12&utm.source=newsletter&s=shoes&+gclid=Cj0KCQiA&a[b]=2&rest[route=/x&color=red",
        &sorted,
    );
    bench("empty query", b"", &default);
    let long_clean = b"a=1&".repeat(MAX_QUERY_LEN / 8);
    bench(
        "2 KiB, 512 params, max_args 1024",
        &long_clean,
        &ArgRules { max_args: MAX_ARGS_LIMIT, ..default.clone() },
    );
    let escaped = b"%61&".repeat(MAX_QUERY_LEN / 8);
    bench("2 KiB escaped names, wildcard rules, sorted", &escaped, &wildcards);
    let escaped = b"%61&".repeat(MAX_QUERY_LEN / 4);
    bench("4 KiB escaped names, wildcard rules, sorted", &escaped, &wildcards);
}
