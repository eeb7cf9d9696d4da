//! `cargo bench -p microcache-core --bench index`: the cache index at the size of the purge
//! benchmark: 100 000 entries, 1 000 of them sharing each `term-*` tag.
//!
//! A plain harness like `normalise.rs`: each case is timed over repeated runs and the median is
//! printed, so ratios between rows compare like with like.

use std::hint::black_box;
use std::time::Instant;

use microcache_core::index::{Cursor, Id, Index, Replace, Select, CELL_BYTES};
use microcache_core::purge::key_hash;

const ENTRIES: u32 = 100_000;
const TERMS: u32 = 100;

fn key(n: u32) -> Vec<u8> {
    format!("httpsGETexample.com/2024/post-{n:06}/").into_bytes()
}

fn tags(n: u32) -> [Vec<u8>; 2] {
    [format!("post-{n}").into_bytes(), format!("term-{}", n % TERMS).into_bytes()]
}

fn insert(index: &mut Index<'_>, n: u32, with_tags: bool) -> Id {
    let key = key(n);
    let id = key_hash(&key);
    let tags = tags(n);
    let refs: Vec<&[u8]> =
        if with_tags { tags.iter().map(Vec::as_slice).collect() } else { vec![] };
    index.insert(&id, &key, &refs, Replace::Always, &mut |_| true).expect("room");
    id
}

fn fill(mem: &mut [u8], entries: u32, with_tags: bool) -> Index<'_> {
    let (mut index, _) = Index::attach(mem, [11, 13]).unwrap();
    index.clear();
    for n in 0..entries {
        insert(&mut index, n, with_tags);
    }
    index
}

/// Median nanoseconds per call of `f` over `runs` runs of `calls` calls.
fn time(runs: usize, calls: u32, mut f: impl FnMut(u32)) -> f64 {
    let mut samples: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            for i in 0..calls {
                f(i);
            }
            t.elapsed().as_nanos() as f64 / f64::from(calls)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn row(case: &str, ns: f64) {
    println!("| {case:<58} | {:>12.1} | {:>9.3} |", ns, ns / 1e6);
}

fn main() {
    let mut mem = vec![0u8; 64 << 20];
    let mut small_mem = vec![0u8; 1 << 20];

    println!(
        "| case                                                       | ns           | ms        |"
    );
    println!(
        "|------------------------------------------------------------|--------------|-----------|"
    );

    // Inserts: a fresh index each run.
    let per_insert = time(5, 1, |_| {
        black_box(fill(&mut mem, ENTRIES, true).stats());
    }) / f64::from(ENTRIES);
    row("fill: insert 100k (key 37 B, 2 tags) in key order, per entry", per_insert);

    let mut index = fill(&mut mem, ENTRIES, true);
    let stats = index.stats();
    let mut ids = Vec::with_capacity(2_000);

    row(
        "collect the 1k ids of one tag among 100k (batches of 256)",
        time(51, 1, |_| {
            ids.clear();
            let mut cursor = Cursor::default();
            while !index.collect(Select::Tag(b"term-7"), &mut cursor, 256, &mut ids) {}
            assert_eq!(ids.len(), 1_000);
        }),
    );
    let mut drains: Vec<f64> = (0..11)
        .map(|_| {
            ids.clear();
            let t = Instant::now();
            while !index.drain(Select::Tag(b"term-7"), 256, &mut ids) {}
            let ns = t.elapsed().as_nanos() as f64;
            assert_eq!(ids.len(), 1_000);
            for n in (7..ENTRIES).step_by(TERMS as usize) {
                insert(&mut index, n, true);
            }
            ns
        })
        .collect();
    drains.sort_by(f64::total_cmp);
    row("drain (unindex) the 1k entries of one tag among 100k", drains[drains.len() / 2]);
    row(
        "insert 1k entries spread over the key order, among 100k",
        time(11, 1, |_| {
            for n in (7..ENTRIES).step_by(TERMS as usize) {
                insert(&mut index, n, true);
            }
        }),
    );
    let keys: Vec<Vec<u8>> = (0..1024).map(|i| key(i * 97 % ENTRIES)).collect();
    row(
        "find one key (its variants) among 100k",
        time(51, 1024, |i| {
            ids.clear();
            index.collect(Select::Key(&keys[i as usize]), &mut Cursor::default(), 16, &mut ids);
            assert_eq!(ids.len(), 1);
        }),
    );
    let prefixes: Vec<Vec<u8>> =
        (0..100).map(|i| format!("httpsGETexample.com/2024/post-000{i:02}").into_bytes()).collect();
    let prefix_lookup = |index: &Index<'_>, ids: &mut Vec<Id>, i: u32| {
        ids.clear();
        let prefix = &prefixes[i as usize % prefixes.len()];
        index.collect(Select::Prefix(prefix), &mut Cursor::default(), 64, ids);
        assert_eq!(ids.len(), 10);
    };
    let among_100k = time(51, 1000, |i| prefix_lookup(&index, &mut ids, i));
    row("prefix with 10 matches among 100k", among_100k);
    let id = key_hash(&key(4242));
    row(
        "remove one entry by id and insert it again",
        time(51, 1000, |_| {
            index.remove(&id);
            insert(&mut index, 4242, true);
        }),
    );
    row(
        "sweep, per entry examined (all alive)",
        time(11, 1, |_| {
            let mut examined = 0;
            while examined < ENTRIES as usize {
                examined += index.sweep(4096, &mut |_| true).examined;
            }
        }) / f64::from(ENTRIES),
    );

    let small = fill(&mut small_mem, 1_000, true);
    let among_1k = time(51, 1000, |i| prefix_lookup(&small, &mut ids, i));
    row("prefix with 10 matches among 1k", among_1k);
    println!();
    println!("prefix lookup, 100k / 1k entries: {:.2}x", among_100k / among_1k);

    let per_entry = |s: &microcache_core::index::Stats| {
        let distinct_tags = s.tags as usize * 2 * CELL_BYTES; // a short tag: its cell and text
        (s.cells_used as usize * CELL_BYTES - distinct_tags) as f64 / f64::from(s.entries)
    };
    let tagged = per_entry(&stats);
    let bare = per_entry(&fill(&mut mem, ENTRIES, false).stats());
    println!(
        "memory: {} cells of {CELL_BYTES} B for {} entries, {} tags, {} links",
        stats.cells_used, stats.entries, stats.tags, stats.links
    );
    println!(
        "bytes per entry (key of {} B, no tags): {bare:.1}; per tag link: {:.1}; per distinct short tag: {}",
        key(0).len(),
        (tagged - bare) / 2.0,
        2 * CELL_BYTES
    );
    let all_in = stats.cells_used as f64 * CELL_BYTES as f64 / f64::from(stats.entries);
    println!(
        "all in (its own post tag included): {all_in:.1} B per entry, so about {:.0} such entries \
         in the default 32 MiB",
        f64::from(32u32 << 20) / all_in
    );
}
