//! Any bytes as tag header values, a stored cache file's headers, a batch body, a purge mode,
//! a cache status, a peer's answer and a purge signature: nothing panics, limits hold, and what
//! parses reports where it came from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microcache_core::batch::{parse_batch, BatchError, PurgeMode};
use microcache_core::cache_status::cache_status;
use microcache_core::peers::head::parse_head;
use microcache_core::peers::sign::{verify, Purge, Secret};
use microcache_core::report::{purge_summary, IndexUse, TargetResult};
use microcache_core::tags::{
    stored_header_block, stored_tags, TagHeaders, TagSet, MAX_TAGS, MAX_TAG_BYTES, MAX_TAG_LEN,
};

fuzz_target!(|data: &[u8]| {
    let mut set = TagSet::default();
    for value in data.split(|&c| c == b'\n') {
        set.add_value(value);
    }
    let tags = set.as_slice();
    assert!(tags.len() <= MAX_TAGS);
    assert!(tags.iter().map(|t| t.len()).sum::<usize>() <= MAX_TAG_BYTES);
    assert!(tags.iter().all(|t| !t.is_empty() && t.len() <= MAX_TAG_LEN));

    let mut scratch = Vec::new();
    let block = stored_header_block(data, &mut scratch);
    let mut stored = TagSet::default();
    stored_tags(block, &TagHeaders::default(), &mut stored);
    assert!(stored.len() <= MAX_TAGS);

    match parse_batch(data) {
        Ok(lines) => {
            let results: Vec<TargetResult<'_>> =
                lines.iter().map(|l| TargetResult { target: l.text, purged: 1 }).collect();
            let json = purge_summary(None, PurgeMode::Soft, &results, IndexUse::Walk, 1);
            assert!(json.ends_with("}\n") && !json[..json.len() - 1].contains('\n'));
        }
        Err(e @ BatchError::Malformed { number, text, .. }) => {
            let line = data.split(|&c| c == b'\n').nth(number - 1).unwrap();
            assert_eq!(line.trim_ascii(), text);
            // At most 200 bytes echoed, each at most 6 escaped characters.
            assert!(e.to_json().len() < 200 * 6 + 200);
        }
        Err(e) => assert_eq!(e.status(), if data.len() > 1 << 20 { 413 } else { 400 }),
    }

    let (head, reason) = data.split_at(data.len() / 2);
    let _ = PurgeMode::parse(head);
    if let Some(status) = cache_status(head, reason, data.len() % 2 == 0) {
        let mut buf = vec![0; status.len()];
        assert_eq!(status.write(&mut buf), buf.len());
    }

    if let Ok(Some(peer)) = parse_head(data) {
        assert!(peer.len <= data.len() && (100..600).contains(&peer.status));
    }
    let secret = Secret::parse(b"a fuzzing secret of 16+ bytes").unwrap();
    let purge = Purge { method: b"PURGE", uri: head, host: b"example.com", headers: &[], body: reason };
    assert!(verify(&secret, 1_700_000_000, data, &purge).is_err());
});
