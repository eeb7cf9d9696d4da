//! Property tests of what an origin's caching headers say (LiteSpeed's protocol and the generic
//! purge header) and of the vary cookie a request carries: any bytes are read without a panic,
//! a malformed value changes nothing, well-formed headers mean what they were built to mean.

use microcache_core::litespeed::{
    vary_cookie, vary_within_key, CacheControl, OriginPurges, PurgeItem, Refusal, Storage,
    VaryCookie, MAX_PURGE_ITEMS, VARY_COOKIE,
};
use microcache_core::tags::MAX_TAG_LEN;
use proptest::prelude::*;

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        "[a-zA-Z0-9=,;/?* .\t_-]{0,64}".prop_map(String::into_bytes),
    ]
}

fn space() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(""), Just(" "), Just("\t ")]
}

/// A tag as the plugin writes them (`9ba_Po.12`).
fn tag() -> impl Strategy<Value = String> {
    "[0-9a-f]{3}_(Po\\.[0-9]{1,4}|F|H|FD|T\\.[0-9]{1,3}|URL\\.[0-9a-f]{32}|)"
}

#[derive(Clone, Debug)]
enum Word {
    Public,
    Private,
    Stale,
    All,
    Tag(String, bool),
    Url(String),
}

fn word() -> impl Strategy<Value = Word> {
    prop_oneof![
        1 => Just(Word::Public),
        1 => Just(Word::Private),
        1 => Just(Word::Stale),
        1 => Just(Word::All),
        6 => (tag(), any::<bool>()).prop_map(|(t, with_key)| Word::Tag(t, with_key)),
        2 => "/[a-z0-9/%-]{0,12}(\\?[a-z0-9=&%]{0,12})?".prop_map(Word::Url),
    ]
}

/// A purge header built from groups of words, and the public purges it asks for.
fn purge_header() -> impl Strategy<Value = (String, Vec<Word>, bool)> {
    let group = proptest::collection::vec((word(), space(), space()), 0..8);
    proptest::collection::vec(group, 1..4).prop_map(|groups| {
        let (mut text, mut public, mut stale) = (String::new(), Vec::new(), false);
        for (g, words) in groups.iter().enumerate() {
            if g > 0 {
                text.push(';');
            }
            let mut private = false;
            for (i, (w, before, after)) in words.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                text.push_str(before);
                match w {
                    Word::Public => {
                        private = false;
                        text.push_str("public");
                    }
                    Word::Private => {
                        private = true;
                        text.push_str("private");
                    }
                    Word::Stale => {
                        stale |= !private;
                        text.push_str("stale");
                    }
                    Word::All => text.push('*'),
                    Word::Tag(t, true) => text.push_str(&format!("tag={t}")),
                    Word::Tag(t, false) => text.push_str(t),
                    Word::Url(u) => text.push_str(u),
                }
                text.push_str(after);
                if !private && !matches!(w, Word::Public | Word::Private | Word::Stale) {
                    public.push(w.clone());
                }
            }
        }
        (text, public, stale)
    })
}

fn item_of(w: &Word) -> Vec<u8> {
    match w {
        Word::All => b"*".to_vec(),
        Word::Tag(t, _) => t.clone().into_bytes(),
        // `/a?` asks for `/a` with an empty query, the page `/a`.
        Word::Url(u) => u.strip_suffix('?').unwrap_or(u).as_bytes().to_vec(),
        _ => unreachable!("not a purge"),
    }
}

fn shown(item: &PurgeItem<'_>) -> Vec<u8> {
    match item {
        PurgeItem::All => b"*".to_vec(),
        PurgeItem::Tag(t) => t.to_vec(),
        PurgeItem::Url { path, query: [] } => path.to_vec(),
        PurgeItem::Url { path, query } => [*path, b"?", query].concat(),
    }
}

proptest! {
    #[test]
    fn any_bytes_are_read_without_panic_and_malformed_values_change_nothing(
        values in proptest::collection::vec(bytes(), 1..4),
    ) {
        let mut control = CacheControl::default();
        let mut purges = OriginPurges::default();
        for v in &values {
            let before = control;
            if control.add_value(v).is_err() {
                prop_assert_eq!(control, before);
            }
            let before = purges.clone();
            if purges.add_value(v).is_err() {
                prop_assert_eq!(&purges, &before);
            }
            let _ = vary_within_key(v);
        }
        if let Storage::For(n) = control.storage(3600) {
            prop_assert!(n > 0 && n <= 3600);
        }
        for item in purges.hard.iter().chain(&purges.soft) {
            match item {
                PurgeItem::Tag(t) => {
                    prop_assert!(!t.is_empty() && t.len() <= MAX_TAG_LEN);
                    prop_assert!(t.iter().all(|&c| c > b' ' && !b",;=\x7f".contains(&c)));
                }
                PurgeItem::Url { path, query } => {
                    prop_assert!(path.starts_with(b"/"));
                    prop_assert!(path.iter().chain(query.iter()).all(|&c| c > b' ' && c != b',' && c != b';'));
                }
                PurgeItem::All => {}
            }
        }
        let cookies: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
        if let VaryCookie::Value(v) = vary_cookie(cookies.iter().copied()) {
            prop_assert!(!v.is_empty());
            prop_assert!(!v.contains(&b';'));
        }
    }

    #[test]
    fn a_purge_header_asks_for_its_public_items((text, public, stale) in purge_header()) {
        let mut purges = OriginPurges::default();
        purges.add_value(text.as_bytes()).unwrap();
        let (asked, other) = if stale { (&purges.soft, &purges.hard) } else { (&purges.hard, &purges.soft) };
        prop_assert!(other.is_empty());
        let mut want: Vec<Vec<u8>> = Vec::new();
        for w in &public {
            let item = item_of(w);
            if !want.contains(&item) {
                want.push(item);
            }
        }
        let got: Vec<Vec<u8>> = asked.iter().map(shown).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn cache_control_means_what_it_says(
        public in any::<bool>(), private in any::<bool>(), no_cache in any::<bool>(),
        max_age in proptest::option::of(0u64..100_000), no_vary in any::<bool>(),
        cap in 1u64..10_000, upper in any::<bool>(),
    ) {
        let mut words = Vec::new();
        if public { words.push("public".to_owned()); }
        if private { words.push("private".to_owned()); }
        if no_cache { words.push("no-cache".to_owned()); }
        if no_vary { words.push("no-vary".to_owned()); }
        if let Some(n) = max_age { words.push(format!("max-age={n}")); }
        let mut text = words.join(",");
        if upper { text = text.to_uppercase(); }
        let mut control = CacheControl::default();
        control.add_value(text.as_bytes()).unwrap();
        let want = if no_cache {
            Storage::Refused(Refusal::NoCache)
        } else if private {
            Storage::Refused(Refusal::Private)
        } else if !public {
            Storage::Refused(Refusal::NotPublic)
        } else {
            match max_age {
                None => Storage::AsConfigured,
                Some(0) => Storage::Refused(Refusal::ZeroMaxAge),
                Some(n) => Storage::For(n.min(cap)),
            }
        };
        prop_assert_eq!(control.storage(cap), want);
        prop_assert_eq!(control.no_vary, no_vary);
    }

    #[test]
    fn the_vary_cookie_is_taken_only_when_plain(
        cookies in proptest::collection::vec(
            (prop_oneof![
                4 => Just("_lscache_vary"), 1 => Just("_lscache.vary"), 1 => Just("_lscache_vary[]"),
                1 => Just("other"), 1 => Just("wordpress_logged_in_1"),
             ], "[a-z0-9%]{0,6}"),
            0..5),
        split in any::<bool>(),
    ) {
        let pairs: Vec<String> = cookies.iter().map(|(n, v)| format!("{n}={v}")).collect();
        let headers: Vec<String> = match split && pairs.len() > 1 {
            true => vec![pairs[..1].join("; "), pairs[1..].join("; ")],
            false => vec![pairs.join("; ")],
        };
        let got = vary_cookie(headers.iter().map(|h| h.as_bytes()));
        let candidates: Vec<&(&str, String)> =
            cookies.iter().filter(|(n, _)| *n != "other" && *n != "wordpress_logged_in_1").collect();
        let want = match candidates.as_slice() {
            [] => VaryCookie::Absent,
            [(name, value)] if name.as_bytes() == VARY_COOKIE => match value.is_empty() {
                true => VaryCookie::Absent,
                false => VaryCookie::Value(value.as_bytes()),
            },
            _ => VaryCookie::Ambiguous,
        };
        prop_assert_eq!(got, want);
    }
}

#[test]
fn a_purge_header_over_the_limits_is_malformed() {
    let many: Vec<u8> = (0..MAX_PURGE_ITEMS).flat_map(|i| format!("t{i},").into_bytes()).collect();
    let mut purges = OriginPurges::default();
    purges.add_value(&many).unwrap();
    assert_eq!(purges.hard.len(), MAX_PURGE_ITEMS);
    let mut over = many.clone();
    over.extend_from_slice(b"one-more");
    assert!(OriginPurges::default().add_value(&over).is_err());
    let long = vec![b'a'; 64 * 1024 + 1];
    assert!(OriginPurges::default().add_value(&long).is_err());
}
