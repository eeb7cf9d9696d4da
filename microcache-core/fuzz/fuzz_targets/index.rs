//! The cache index against a plain model: any bytes are a sequence of inserts (hostile keys,
//! repeated, empty and oversized tags, more tags than the limits), removals, evictions, sweeps,
//! drains, clears and re-attachments, in a region from tiny (always full) to roomy. Every step
//! validates the structure and compares every lookup with the model.
#![no_main]

#[path = "../../tests/common/index_model.rs"]
mod index_model;

use libfuzzer_sys::fuzz_target;
use microcache_core::index::Index;

fuzz_target!(|data: &[u8]| {
    let Some((&size, ops)) = data.split_first() else { return };
    let mut harness = index_model::Harness::new(Index::min_len() + usize::from(size) * 96);
    for op in index_model::decode(ops) {
        harness.apply(&op);
    }
});
