//! Property tests of the normaliser: what holds for every query and every rule set.

use microcache_core::key::KeyParts;
use microcache_core::php;
use microcache_core::query::{MAX_ARGS_LIMIT, MAX_QUERY_LEN};
use microcache_core::{normalise, ArgRules, GlobSet, Normalised};
use proptest::prelude::*;

/// Names drawn from a small alphabet so that rules and queries collide often, including
/// percent-encoded spellings of the same name.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("utm_source".to_owned()),
        Just("utm%5Fmedium".to_owned()),
        Just("gclid".to_owned()),
        Just("%67clid".to_owned()),
        Just("a[]".to_owned()),
        Just("p".to_owned()),
        Just("%70".to_owned()),
        Just("".to_owned()),
        Just("a.b".to_owned()),
        Just("a[b".to_owned()),
        Just("a[]".to_owned()),
        Just("+a%00".to_owned()),
        "[a-c%_=]{0,4}",
        "[ab%0259BF_.+ \\[\\]]{0,6}",
    ]
}

fn segment() -> impl Strategy<Value = String> {
    (name(), proptest::option::of("[a-z0-9%;+=/?]{0,6}")).prop_map(|(n, v)| match v {
        Some(v) => format!("{n}={v}"),
        None => n,
    })
}

fn query() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::collection::vec(prop_oneof![segment(), Just(String::new())], 0..12)
            .prop_map(|segs| segs.join("&").into_bytes()),
        1 => proptest::collection::vec(any::<u8>(), 0..200),
    ]
}

fn pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("utm_*".to_owned()),
        Just("gclid".to_owned()),
        Just("*".to_owned()),
        Just("a*".to_owned()),
        Just("*[]".to_owned()),
        Just("p".to_owned()),
        "[a-c_*]{1,4}",
    ]
}

fn rules() -> impl Strategy<Value = ArgRules> {
    (
        proptest::collection::vec(pattern(), 0..4),
        proptest::option::of(proptest::collection::vec(pattern(), 0..4)),
        any::<bool>(),
        1usize..16,
    )
        .prop_map(|(strip, keep, sort, max_args)| ArgRules {
            strip: GlobSet::new(strip),
            keep: keep.map(GlobSet::new),
            sort,
            max_args,
        })
}

struct Output {
    args: Vec<u8>,
    stripped: Vec<u8>,
    result: Normalised,
}

fn run(query: &[u8], rules: &ArgRules) -> Output {
    let mut args = vec![0; query.len()];
    let mut stripped = vec![0; query.len()];
    let result = normalise(query, rules, &GlobSet::default(), &mut args, &mut stripped);
    args.truncate(result.args_len);
    stripped.truncate(result.stripped_len);
    Output { args, stripped, result }
}

fn segments(q: &[u8]) -> Vec<&[u8]> {
    q.split(|&c| c == b'&').filter(|s| !s.is_empty()).collect()
}

/// PHP's `urldecode`.
fn url_decode(raw: &[u8]) -> Vec<u8> {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        match (raw[i], raw.get(i + 1).copied().and_then(hex), raw.get(i + 2).copied().and_then(hex))
        {
            (b'%', Some(hi), Some(lo)) => {
                out.push(hi << 4 | lo);
                i += 2;
            }
            (b'+', ..) => out.push(b' '),
            (c, ..) => out.push(c),
        }
        i += 1;
    }
    out
}

/// The top-level `$_GET` key of a segment, the empty string when PHP drops it: a plain
/// transcription of PHP 8.2's `php_register_variable_ex`, to check the crate's streaming one.
fn php_key(segment: &[u8]) -> Vec<u8> {
    let end = segment.iter().position(|&c| c == b'=').unwrap_or(segment.len());
    let mut var = url_decode(&segment[..end]);
    if let Some(nul) = var.iter().position(|&c| c == 0) {
        var.truncate(nul);
    }
    let var: Vec<u8> = var.into_iter().skip_while(|&c| c == b' ').collect();
    let original = var.clone();
    let open = var.iter().position(|&c| c == b'[');
    let key: Vec<u8> = match open {
        Some(0) => return Vec::new(),
        Some(o) if var[o..].contains(&b']') => var[..o].to_vec(),
        _ => var,
    };
    let key: Vec<u8> =
        key.into_iter().map(|c| if b" .[".contains(&c) { b'_' } else { c }).collect();
    for prefix in [&b"__Host-"[..], b"__Secure-"] {
        if key.starts_with(prefix) && !original.starts_with(prefix) {
            return Vec::new();
        }
    }
    key
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    /// Normalising a normalised query changes nothing: internal redirects are safe.
    #[test]
    fn idempotent(q in query(), rules in rules()) {
        let once = run(&q, &rules);
        prop_assume!(!once.result.limited);
        let twice = run(&once.args, &rules);
        prop_assert_eq!(&twice.args, &once.args);
        prop_assert!(!twice.result.changed);
        prop_assert_eq!(twice.result.stripped, 0);
    }

    /// Whole segments are moved, never re-encoded: the output segments plus the stripped ones
    /// are exactly the input's non-empty segments.
    #[test]
    fn segments_are_kept_byte_for_byte(q in query(), rules in rules()) {
        let out = run(&q, &rules);
        prop_assume!(!out.result.limited);
        let mut all: Vec<&[u8]> = segments(&out.args);
        all.extend(segments(&out.stripped));
        let mut input = segments(&q);
        all.sort();
        input.sort();
        prop_assert_eq!(all, input);
        prop_assert_eq!(segments(&out.stripped).len(), out.result.stripped);
        prop_assert_eq!(out.result.changed, out.args != q);
        // Nothing empty survives: no leading, trailing or doubled '&'.
        prop_assert!(!out.args.starts_with(b"&") && !out.args.ends_with(b"&"));
        prop_assert!(!out.args.windows(2).any(|w| w == b"&&"));
    }

    /// Without sorting, surviving segments keep their order; with sorting, they are ordered by
    /// the name PHP gives them, and names PHP reads as one keep their order.
    #[test]
    fn order(q in query(), rules in rules()) {
        let out = run(&q, &rules);
        prop_assume!(!out.result.limited);
        let survivors: Vec<&[u8]> = segments(&out.args);
        let in_input_order: Vec<&[u8]> = {
            let mut pool = survivors.clone();
            segments(&q).into_iter().filter(|s| {
                match pool.iter().position(|p| p == s) {
                    Some(i) => { pool.remove(i); true }
                    None => false,
                }
            }).collect()
        };
        if rules.sort {
            let mut expected = in_input_order.clone();
            expected.sort_by_key(|s| php_key(s));
            prop_assert_eq!(survivors, expected);
        } else {
            prop_assert_eq!(survivors, in_input_order);
        }
    }

    /// The limits are exact: too many segments or too long a query leaves everything as is.
    #[test]
    fn limits(q in query(), rules in rules()) {
        let out = run(&q, &rules);
        let over = segments(&q).len() > rules.max_args || q.len() > MAX_QUERY_LEN;
        prop_assert_eq!(out.result.limited, over);
        if over {
            prop_assert!(out.args.is_empty() && out.stripped.is_empty());
        }
    }

    /// The crate's PHP form of a name is the reference transcription's.
    #[test]
    fn php_form(q in query()) {
        for seg in segments(&q) {
            let end = seg.iter().position(|&c| c == b'=').unwrap_or(seg.len());
            let crate_form: Vec<u8> =
                php::query_name(&seg[..end]).map(|n| n.decoded().collect()).unwrap_or_default();
            prop_assert_eq!(crate_form, php_key(seg));
        }
    }

    /// Any bytes at all: no panic, and the output fits in the input's size.
    #[test]
    fn any_bytes(q in proptest::collection::vec(any::<u8>(), 0..6000), rules in rules()) {
        let out = run(&q, &rules);
        prop_assert!(out.result.args_len <= q.len() && out.result.stripped_len <= q.len());
    }

    /// The key's query is the origin's query: the key builder lays the normalised args out once,
    /// and `$microcache_request_uri` (what PHP receives) ends with exactly those bytes, before
    /// the variant, which ends the key.
    #[test]
    fn request_uri_carries_the_args(
        path in "/[a-z%0-9/]{0,10}",
        q in query(),
        rules in rules(),
        variant in "[0-9a-z#]{0,6}",
    ) {
        let parts = KeyParts {
            scheme: b"https",
            method: b"GET",
            host: b"example.com",
            path: path.as_bytes(),
            variant: variant.as_bytes(),
        };
        let mut buf = vec![0; parts.capacity(q.len())];
        let mut stripped = vec![0; q.len()];
        let mut outcome = Normalised::default();
        let layout = parts.write(&mut buf, |room| {
            outcome = normalise(&q, &rules, &GlobSet::default(), room, &mut stripped);
            outcome.args_len
        });
        let request_uri = &buf[layout.request_uri_start..layout.request_uri_end];
        let variant_part = &buf[layout.request_uri_end..layout.len];
        match variant.is_empty() {
            true => prop_assert!(variant_part.is_empty()),
            false => prop_assert_eq!(variant_part, &[b"#", variant.as_bytes()].concat()[..]),
        }
        let args = &buf[layout.query_start..layout.query_start + layout.query_len];
        let expected = run(&q, &rules).args;
        prop_assert_eq!(args, &expected[..]);
        match expected.is_empty() {
            true => prop_assert_eq!(request_uri.len(), path.len()),
            false => prop_assert_eq!(&request_uri[path.len()..], &[b"?", &expected[..]].concat()[..]),
        }
    }
}

#[test]
fn worst_case_inputs_are_accepted() {
    // Every segment escaped, every pattern a wildcard: the slow paths, at the limits.
    let rules = ArgRules {
        strip: GlobSet::new(["*a*a*a*b", "*%*", "a*"]),
        keep: Some(GlobSet::new(["*"])),
        sort: true,
        max_args: MAX_ARGS_LIMIT,
    };
    let q = b"%61&".repeat(MAX_QUERY_LEN / 4);
    let out = run(&q, &rules);
    assert!(!out.result.limited);
    assert_eq!(out.result.stripped, MAX_QUERY_LEN / 4);
}
