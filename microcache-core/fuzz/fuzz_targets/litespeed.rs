//! Any bytes as an origin's caching headers (LiteSpeed's `X-LiteSpeed-Cache-Control`,
//! `X-LiteSpeed-Vary`, `X-LiteSpeed-Purge`, the generic purge header) and as a request's
//! `Cookie` headers: nothing panics, a malformed value changes nothing, limits hold, and what
//! is read keeps the grammar's promises.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microcache_core::litespeed::{
    vary_cookie, vary_within_key, CacheControl, OriginPurges, PurgeItem, Storage, VaryCookie,
    MAX_PURGE_ITEMS,
};
use microcache_core::tags::MAX_TAG_LEN;

fuzz_target!(|data: &[u8]| {
    let values: Vec<&[u8]> = data.split(|&c| c == b'\n').collect();
    let mut control = CacheControl::default();
    let mut purges = OriginPurges::default();
    for v in &values {
        let before = control;
        if control.add_value(v).is_err() {
            assert_eq!(control, before);
        }
        let before = purges.clone();
        if purges.add_value(v).is_err() {
            assert_eq!(purges, before);
        }
        let _ = vary_within_key(v);
    }
    if let Storage::For(n) = control.storage(86_400) {
        assert!(n > 0 && n <= 86_400);
    }
    assert!(purges.hard.len() + purges.soft.len() <= MAX_PURGE_ITEMS * values.len());
    for item in purges.hard.iter().chain(&purges.soft) {
        match item {
            PurgeItem::Tag(t) => assert!(!t.is_empty() && t.len() <= MAX_TAG_LEN),
            PurgeItem::Url { path, .. } => assert!(path.starts_with(b"/")),
            PurgeItem::All => {}
        }
    }
    match vary_cookie(values.iter().copied()) {
        VaryCookie::Value(v) => assert!(!v.is_empty() && !v.contains(&b';')),
        VaryCookie::Absent | VaryCookie::Ambiguous => {}
    }
});
