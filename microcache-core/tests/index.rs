//! The cache index: property tests against a model, and the behaviours around it (attaching,
//! cursors under change, rebuild ownership, overflow).

#[path = "common/index_model.rs"]
mod index_model;

use index_model::{decode, Harness};
use microcache_core::index::{Attached, Cursor, Index, Refused, Replace, Select, State};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn matches_the_model(data in proptest::collection::vec(any::<u8>(), 0..600),
                         size in prop_oneof![Just(0usize), Just(2_000), Just(8_000), Just(200_000)]) {
        let len = size.max(Index::min_len());
        let mut h = Harness::new(len);
        for op in decode(&data) {
            h.apply(&op);
        }
    }
}

#[test]
fn a_tiny_index_fills_up_and_refuses() {
    let mut h = Harness::new(Index::min_len());
    let mut data = Vec::new();
    for i in 0..24u8 {
        data.extend_from_slice(&[0, i, 4, 3, 0, 1, 2]);
    }
    for op in decode(&data) {
        h.apply(&op);
    }
    assert!(h.refused > 0);
}

fn id(n: u32) -> [u8; 16] {
    let mut id = [0; 16];
    id[..4].copy_from_slice(&n.to_be_bytes());
    id
}

fn alive(_: &[u8; 16]) -> bool {
    true
}

#[test]
fn attaching_reuses_formats_and_repairs() {
    let mut mem = vec![0u8; 64 * 1024];
    {
        let (mut index, attached) = Index::attach(&mut mem, [1, 1]).unwrap();
        assert_eq!(attached, Attached::Formatted);
        index.insert(&id(1), b"k", &[b"t"], Replace::Always, &mut alive).unwrap();
        index.clear();
        index.insert(&id(2), b"k2", &[b"t"], Replace::Always, &mut alive).unwrap();
    }
    {
        // A reload: the same region, found valid and complete.
        let (index, attached) = Index::attach(&mut mem, [9, 9]).unwrap();
        assert_eq!(attached, Attached::Reused);
        assert!(index.contains(&id(2)) && index.usable());
    }
    // Another size is another layout: formatted.
    let (index, attached) = Index::attach(&mut mem[..60 * 1024], [1, 1]).unwrap();
    assert_eq!(attached, Attached::Formatted);
    assert_eq!(index.stats().entries, 0);
    // Another version's magic: formatted.
    mem[0] ^= 1;
    assert_eq!(Index::attach(&mut mem, [1, 1]).unwrap().1, Attached::Formatted);
    // A worker died in the middle of a change (the dirty flag is set): emptied, to rebuild.
    {
        let (mut index, _) = Index::attach(&mut mem, [1, 1]).unwrap();
        index.clear();
        index.insert(&id(3), b"k3", &[], Replace::Always, &mut alive).unwrap();
    }
    mem[64] = 1;
    let (index, attached) = Index::attach(&mut mem, [1, 1]).unwrap();
    assert_eq!(attached, Attached::Repaired);
    assert_eq!(index.stats().entries, 0);
    assert_eq!(index.state(), State::NeedsRebuild);
    assert!(Index::attach(&mut vec![0; Index::min_len() - 1], [0, 0]).is_err());
}

#[test]
fn cursors_survive_changes_between_batches() {
    let mut mem = vec![0u8; 1 << 20];
    let (mut index, _) = Index::attach(&mut mem, [7, 7]).unwrap();
    index.clear();
    for n in 0..100 {
        let key = format!("httpGEThost/p/{n:03}");
        index.insert(&id(n), key.as_bytes(), &[b"t"], Replace::Always, &mut alive).unwrap();
    }
    for select in [Select::Prefix(b"httpGEThost/p/"), Select::Tag(b"t")] {
        let mut cursor = Cursor::default();
        let mut got = Vec::new();
        index.collect(select, &mut cursor, 10, &mut got);
        // Between batches: the last one returned and an unseen one go, new ones come.
        index.remove(&got[9]);
        let unseen = if matches!(select, Select::Tag(_)) { 99 } else { 50 };
        index.remove(&id(unseen));
        for n in 200..205 {
            let key = format!("httpGEThost/p/{n}");
            index.insert(&id(n), key.as_bytes(), &[b"t"], Replace::Always, &mut alive).unwrap();
        }
        while !index.collect(select, &mut cursor, 7, &mut got) {}
        let mut seen = got.clone();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), got.len(), "an id came twice");
        for n in (0..100).filter(|&n| n != unseen) {
            assert!(got.contains(&id(n)), "{n} was present throughout but not returned");
        }
        assert!(!got.contains(&id(unseen)));
        for n in 200..205 {
            index.remove(&id(n));
        }
        index
            .insert(
                &id(unseen),
                format!("httpGEThost/p/{unseen:03}").as_bytes(),
                &[b"t"],
                Replace::Always,
                &mut alive,
            )
            .unwrap();
        let removed = got[9];
        let n = u32::from_be_bytes(removed[..4].try_into().unwrap());
        index
            .insert(
                &removed,
                format!("httpGEThost/p/{n:03}").as_bytes(),
                &[b"t"],
                Replace::Always,
                &mut alive,
            )
            .unwrap();
    }
    index.validate().unwrap();
}

#[test]
fn rebuild_has_one_owner_until_its_lease_lapses() {
    let mut mem = vec![0u8; 64 * 1024];
    let (mut index, _) = Index::attach(&mut mem, [1, 1]).unwrap();
    assert!(!index.usable());
    let generation = index.claim_rebuild(100, 1_000, 5_000).unwrap();
    assert_eq!(index.claim_rebuild(200, 2_000, 5_000), None, "owned and fresh");
    assert!(index.rebuild_beat(100, generation, 3_000));
    // Reading files back does not replace what was stored meanwhile.
    index.insert(&id(1), b"k", &[b"new"], Replace::Always, &mut alive).unwrap();
    let kept = index.insert(&id(1), b"k", &[b"old"], Replace::IfAbsent, &mut alive).unwrap();
    assert!(!kept.stored);
    assert_eq!(index.record(&id(1)).unwrap().tags, [b"new".to_vec()]);
    // The owner went quiet: another worker takes over, the first must stop.
    let taken = index.claim_rebuild(200, 9_000, 5_000).unwrap();
    assert!(!index.rebuild_beat(100, generation, 9_001));
    assert!(!index.finish_rebuild(100, generation));
    assert!(index.finish_rebuild(200, taken));
    assert!(index.usable());
    assert_eq!(index.claim_rebuild(300, 99_000, 5_000), None, "complete");
    // A clear during a rebuild voids it.
    mem.fill(0);
    let (mut index, _) = Index::attach(&mut mem, [1, 1]).unwrap();
    let generation = index.claim_rebuild(100, 0, 10).unwrap();
    index.clear();
    assert!(!index.finish_rebuild(100, generation));
    assert!(index.usable());
}

#[test]
fn a_full_index_sweeps_dead_records_before_refusing() {
    let mut mem = vec![0u8; 16 * 1024];
    let (mut index, _) = Index::attach(&mut mem, [1, 1]).unwrap();
    index.clear();
    let mut n = 0;
    while index
        .insert(&id(n), b"httpGEThost/some/page/", &[b"t"], Replace::Always, &mut alive)
        .is_ok()
    {
        n += 1;
    }
    assert!(!index.usable() && index.stats().overflowed && index.stats().overflows == 1);
    assert!(!index.contains(&id(n)), "a refused insert keeps nothing");
    // Every cache entry but the first is gone: the next insert makes room.
    let done = index
        .insert(&id(n + 1), b"httpGEThost/x", &[b"t"], Replace::Always, &mut |i| *i == id(0))
        .unwrap();
    assert!(done.reclaimed > 0);
    assert!(index.contains(&id(0)));
    // Still overflowed until cleared: the refused entry is not indexed.
    assert!(index.stats().overflowed);
    index.clear();
    assert!(index.usable() && index.stats().entries == 0);
    let long = vec![b'k'; microcache_core::index::MAX_KEY_LEN + 1];
    assert_eq!(
        index.insert(&id(1), &long, &[], Replace::Always, &mut alive),
        Err(Refused::KeyTooLong)
    );
    index.validate().unwrap();
}
