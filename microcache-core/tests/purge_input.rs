//! Property tests of what purges and stores read from the outside: tag header values, the
//! headers stored in cache files, batch bodies, the purge mode, and the Cache-Status value.

use std::collections::HashSet;

use microcache_core::batch::{parse_batch, BatchError, BatchTarget, PurgeMode};
use microcache_core::cache_status::cache_status;
use microcache_core::tags::{
    stored_header_block, stored_tags, TagHeaders, TagSet, MAX_TAGS, MAX_TAG_BYTES, MAX_TAG_LEN,
};
use proptest::prelude::*;

fn tag() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => "[a-z]{1,3}-[0-9]{1,2}".prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 0..8),
        1 => (1000usize..1100).prop_map(|n| vec![b'L'; n]),
    ]
}

fn separators() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(prop_oneof![Just(b' '), Just(b','), Just(b'\t')], 1..3)
}

/// A header value: tags joined by runs of separators.
fn value() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec((tag(), separators()), 0..12)
        .prop_map(|parts| parts.into_iter().flat_map(|(t, s)| [t, s]).flatten().collect())
}

/// The tags a response keeps, computed plainly.
fn model(values: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut kept: Vec<Vec<u8>> = Vec::new();
    let mut bytes = 0;
    for v in values {
        for t in v.split(|c| b" ,\t".contains(c)).filter(|t| !t.is_empty()) {
            if kept.iter().any(|k| k == t)
                || t.len() > MAX_TAG_LEN
                || kept.len() == MAX_TAGS
                || bytes + t.len() > MAX_TAG_BYTES
            {
                continue;
            }
            bytes += t.len();
            kept.push(t.to_vec());
        }
    }
    kept
}

fn tag_set(values: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut set = TagSet::default();
    values.iter().for_each(|v| set.add_value(v));
    set.as_slice().iter().map(|t| t.to_vec()).collect()
}

/// A FastCGI record stream holding `content`, cut into records of random sizes with padding,
/// with a stderr record between them.
fn fastcgi(content: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = content;
    for &cut in cuts.iter().chain([&usize::MAX]) {
        let (record, tail) = rest.split_at(cut.min(rest.len()));
        let padding = (8 - record.len() % 8) % 8;
        out.extend_from_slice(&[1, 6, 0, 1]);
        out.extend_from_slice(&(record.len() as u16).to_be_bytes());
        out.extend_from_slice(&[padding as u8, 0]);
        out.extend_from_slice(record);
        out.extend(std::iter::repeat_n(0, padding));
        out.extend_from_slice(&[1, 7, 0, 1, 0, 2, 0, 0, b'e', b'!']);
        rest = tail;
        if rest.is_empty() {
            break;
        }
    }
    out
}

proptest! {
    #[test]
    fn tag_sets_match_the_model(values in proptest::collection::vec(value(), 0..4)) {
        prop_assert_eq!(tag_set(&values), model(&values));
    }

    #[test]
    fn tag_sets_hold_their_limits(values in proptest::collection::vec(
        proptest::collection::vec(any::<u8>(), 0..3000), 0..20)) {
        let mut set = TagSet::default();
        values.iter().for_each(|v| set.add_value(v));
        let tags = set.as_slice();
        prop_assert!(tags.len() <= MAX_TAGS);
        prop_assert!(tags.iter().map(|t| t.len()).sum::<usize>() <= MAX_TAG_BYTES);
        prop_assert!(tags.iter().all(|t| !t.is_empty() && t.len() <= MAX_TAG_LEN));
        prop_assert!(tags.iter().all(|t| !t.iter().any(|c| b" ,\t".contains(c))));
        prop_assert_eq!(tags.iter().collect::<HashSet<_>>().len(), tags.len());
    }

    #[test]
    fn stored_headers_give_the_live_tags(
        headers in proptest::collection::vec((prop_oneof![
            Just("Surrogate-Key"), Just("cache-tag"), Just("X-Other"), Just("Surrogate-Keys")
        ], value()), 0..6),
        cuts in proptest::collection::vec(1usize..40, 0..4),
        status_line in any::<bool>(),
    ) {
        let names = TagHeaders::default();
        let mut block = Vec::new();
        if status_line {
            block.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        }
        let mut live = Vec::new();
        for (name, value) in &headers {
            // Header values cannot hold line breaks; the stored form trims spaces.
            let value: Vec<u8> = value.iter().map(|&c| if c == b'\n' || c == b'\r' { b'.' } else { c }).collect();
            block.extend_from_slice(name.as_bytes());
            block.extend_from_slice(b": ");
            block.extend_from_slice(&value);
            block.extend_from_slice(b"\r\n");
            if names.matches(name.as_bytes()) {
                live.push(value);
            }
        }
        block.extend_from_slice(b"\r\nSurrogate-Key: body-is-not-headers\n");
        let expected = model(&live);
        for stored in [block.clone(), fastcgi(&block, &cuts)] {
            let mut scratch = Vec::new();
            let header_block = stored_header_block(&stored, &mut scratch);
            let mut set = TagSet::default();
            stored_tags(header_block, &names, &mut set);
            let got: Vec<Vec<u8>> = set.as_slice().iter().map(|t| t.to_vec()).collect();
            prop_assert_eq!(&got, &expected);
        }
    }

    #[test]
    fn stored_header_blocks_never_fail(stored in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut scratch = Vec::new();
        let block = stored_header_block(&stored, &mut scratch);
        prop_assert!(block.len() <= stored.len());
        let mut set = TagSet::default();
        stored_tags(block, &TagHeaders::default(), &mut set);
    }

    #[test]
    fn valid_batches_parse_back(
        targets in proptest::collection::vec(prop_oneof![
            "/[a-z%0-9/]{0,8}(\\?[a-z=&*]{0,6})?",
            "tag:[a-z0-9.-]{1,8}",
            "prefix:/[a-z/]{0,6}",
            Just("*".to_owned()),
        ], 1..8),
        endings in proptest::collection::vec(prop_oneof![
            Just("\n"), Just("\r\n"), Just(" \n\n"), Just("\t\r\n \r\n")
        ], 8),
    ) {
        let body: String = targets.iter().zip(&endings).map(|(t, e)| format!(" {t}{e}")).collect();
        let lines = parse_batch(body.as_bytes()).unwrap();
        prop_assert_eq!(lines.len(), targets.len());
        for (line, text) in lines.iter().zip(&targets) {
            prop_assert_eq!(line.text, text.as_bytes());
            let shown = match line.target {
                BatchTarget::Url { path, query } if text.contains('?') => [path, b"?", query].concat(),
                BatchTarget::Url { path, .. } => path.to_vec(),
                BatchTarget::Prefix(p) if text.starts_with("prefix:") => [b"prefix:", p].concat(),
                BatchTarget::Prefix(p) => [p, b"*"].concat(),
                BatchTarget::Tag(t) => [b"tag:", t].concat(),
                BatchTarget::All => b"*".to_vec(),
            };
            prop_assert_eq!(shown, text.as_bytes());
        }
        // The line numbers point into the body.
        let body_lines: Vec<&str> = body.split('\n').collect();
        for line in &lines {
            prop_assert_eq!(body_lines[line.number - 1].trim(), std::str::from_utf8(line.text).unwrap());
        }
    }

    #[test]
    fn any_body_parses_or_names_a_bad_line(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        match parse_batch(&body) {
            Ok(lines) => {
                prop_assert!(!lines.is_empty());
                prop_assert!(lines.windows(2).all(|w| w[0].number < w[1].number));
            }
            Err(BatchError::Malformed { number, text, .. }) => {
                let line = body.split(|&c| c == b'\n').nth(number - 1).unwrap();
                prop_assert_eq!(line.trim_ascii(), text);
                prop_assert!(!text.is_empty());
            }
            Err(BatchError::Empty) => prop_assert!(body.trim_ascii().is_empty()
                || body.split(|&c| c == b'\n').all(|l| l.trim_ascii().is_empty())),
            Err(BatchError::TooLarge { .. }) => prop_assert!(false, "small body refused"),
        }
    }

    #[test]
    fn modes_and_statuses(value in proptest::collection::vec(any::<u8>(), 0..12),
                          reason in proptest::collection::vec(any::<u8>(), 0..12),
                          stored in any::<bool>()) {
        let mode = PurgeMode::parse(&value);
        let expected = match value.trim_ascii().to_ascii_lowercase().as_slice() {
            b"hard" => Some(PurgeMode::Hard),
            b"soft" => Some(PurgeMode::Soft),
            _ => None,
        };
        prop_assert_eq!(mode, expected);
        for upstream in [&b"HIT"[..], b"MISS", b"BYPASS", b"EXPIRED", b"STALE", b"UPDATING",
                         b"REVALIDATED", &value] {
            if let Some(status) = cache_status(upstream, &reason, stored) {
                let mut buf = vec![0; status.len()];
                status.write(&mut buf);
                prop_assert!(buf.starts_with(b"microcache; "));
                prop_assert!(buf.iter().all(|&c| (b' '..0x7f).contains(&c) && c != b'"'));
            }
        }
    }
}
