//! Any bytes as rules, query, cookies and path: nothing panics, the normaliser keeps its
//! invariants, and configuration parsing either accepts or names the bad value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microcache_core::config::{parse_name_globs, parse_uri_rule};
use microcache_core::skip::cookie_names;
use microcache_core::{normalise, ArgRules, GlobSet, RequestFacts, SkipRules};

fuzz_target!(|data: &[u8]| {
    // Layout: patterns \0 query \0 cookie-header \0 path, with a flag byte up front.
    let Some((&flags, rest)) = data.split_first() else { return };
    let mut parts = rest.splitn(4, |&c| c == 0);
    let (patterns, query, cookie, path) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let words: Vec<&[u8]> = patterns.split(|&c| c == b' ').collect();
    let strip = parse_name_globs(&words, true).unwrap_or_default();
    let _ = parse_uri_rule(&words);
    let rules = ArgRules {
        strip,
        keep: (flags & 1 != 0).then(|| GlobSet::new(words.iter().rev())),
        sort: flags & 2 != 0,
        max_args: usize::from(flags >> 2).max(1),
    };
    let bypass = GlobSet::new(words.iter().take(2));

    let mut args = vec![0; query.len()];
    let mut stripped = vec![0; query.len()];
    let out = normalise(query, &rules, &bypass, &mut args, &mut stripped);
    if !out.limited {
        let args = &args[..out.args_len];
        let mut again = vec![0; args.len()];
        let mut again_stripped = vec![0; args.len()];
        let second = normalise(args, &rules, &bypass, &mut again, &mut again_stripped);
        assert!(!second.changed && second.stripped == 0, "not idempotent");
        assert_eq!(&again[..second.args_len], args);
    }

    let skip = SkipRules { cookies: GlobSet::new(words.iter().take(3)), ..SkipRules::default() };
    let headers = [(&b"cookie"[..], cookie), (&b"authorization"[..], path)];
    let facts = RequestFacts { method: b"GET", uri: path, headers: headers.into_iter(), has_body: false };
    let _ = skip.evaluate(&facts, &out);
    assert!(cookie_names(cookie).all(|n| !n.is_empty()));
});
