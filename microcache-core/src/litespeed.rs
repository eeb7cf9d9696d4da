//! What an origin says about caching in its response headers: the protocol of LiteSpeed Cache
//! for WordPress (`X-LiteSpeed-Cache-Control`, `X-LiteSpeed-Vary`, `X-LiteSpeed-Purge`; its
//! `X-LiteSpeed-Tag` values are ordinary tags, [`crate::tags`]) and the generic purge header,
//! which uses the purge grammar too. Also the vary cookie a request carries.
//!
//! The grammar is the plugin's wire format, read leniently where it is harmless (any case,
//! spaces around items, empty items) and strictly where a guess could store or purge the wrong
//! thing: a header with an item that is not understood is malformed as a whole and ignored.
//!
//! - `X-LiteSpeed-Cache-Control: public,max-age=604800` — items `public`, `private`, `shared`,
//!   `no-cache`, `no-store`, `no-vary`, `max-age=N`, `esi=on|off`.
//! - `X-LiteSpeed-Vary: cookie=NAME,cookie=NAME` — the cookies a response varies by.
//! - `X-LiteSpeed-Purge: public,stale,9ba_Po.12,9ba_F;private,*` — `;`-separated groups of
//!   `,`-separated items. A group is public unless `private` says otherwise; private items are
//!   checked, then dropped (this cache has no private entries). Public items: `*` (everything),
//!   `tag=NAME` or a bare `NAME` (a tag), `/path?query` (a page); `stale` makes the header's
//!   purges soft.

use core::fmt::Write as _;

use crate::config::ConfError;
use crate::tags::{is_field_name, MAX_TAG_LEN};

/// The response headers of the protocol, none of which reaches a client.
pub const CACHE_CONTROL: &str = "X-LiteSpeed-Cache-Control";
pub const TAG: &str = "X-LiteSpeed-Tag";
pub const PURGE: &str = "X-LiteSpeed-Purge";
/// A second purge header the plugin sends for purges it queued; the same grammar.
pub const PURGE2: &str = "X-LiteSpeed-Purge2";
pub const VARY: &str = "X-LiteSpeed-Vary";
pub const HEADERS: [&str; 5] = [CACHE_CONTROL, TAG, PURGE, PURGE2, VARY];

/// The cookie whose value names a visitor's variant of a page (the plugin's "vary cookie":
/// logged-in role groups, commenters).
pub const VARY_COOKIE: &[u8] = b"_lscache_vary";

/// A purge header may hold at most this many bytes and items; a longer one is malformed.
pub const MAX_PURGE_LEN: usize = 64 * 1024;
pub const MAX_PURGE_ITEMS: usize = 4096;

/// The headers that can be malformed, for counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderKind {
    CacheControl,
    Vary,
    Purge,
}

impl HeaderKind {
    pub const ALL: [HeaderKind; 3] =
        [HeaderKind::CacheControl, HeaderKind::Vary, HeaderKind::Purge];

    pub fn as_str(self) -> &'static str {
        match self {
            HeaderKind::CacheControl => "cache_control",
            HeaderKind::Vary => "vary",
            HeaderKind::Purge => "purge",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Why a header was not understood.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

/// The `,`-separated items of a value, trimmed, empty ones dropped.
fn items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&c| c == b',').map(<[u8]>::trim_ascii).filter(|i| !i.is_empty())
}

/// `max-age` and the like: decimal digits, saturating far beyond any cap.
fn seconds(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u64, |n, &d| n.saturating_mul(10).saturating_add(u64::from(d - b'0'))))
}

/// What `X-LiteSpeed-Cache-Control` headers say, all of a response's values together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheControl {
    pub public: bool,
    /// `private` or `shared` (the plugin's "shared,private"): per visitor.
    pub private: bool,
    /// `no-cache` or `no-store`.
    pub no_cache: bool,
    pub no_vary: bool,
    pub esi: bool,
    pub max_age: Option<u64>,
    /// At least one value was read.
    pub present: bool,
}

impl CacheControl {
    /// Adds one header value. A value with an item that is not understood changes nothing.
    pub fn add_value(&mut self, value: &[u8]) -> Result<(), Malformed> {
        let mut next = *self;
        next.present = true;
        for item in items(value) {
            let (name, arg) = match item.iter().position(|&c| c == b'=') {
                Some(eq) => (item[..eq].trim_ascii(), Some(item[eq + 1..].trim_ascii())),
                None => (item, None),
            };
            let is = |word: &str| name.eq_ignore_ascii_case(word.as_bytes());
            match arg {
                None if is("public") => next.public = true,
                None if is("private") || is("shared") => next.private = true,
                None if is("no-cache") || is("no-store") => next.no_cache = true,
                None if is("no-vary") => next.no_vary = true,
                Some(n) if is("max-age") => {
                    next.max_age = Some(seconds(n).ok_or(Malformed("max-age is not a number"))?);
                }
                Some(v) if is("esi") && (v.eq_ignore_ascii_case(b"on") || v == b"1") => {
                    next.esi = true;
                }
                Some(v) if is("esi") && (v.eq_ignore_ascii_case(b"off") || v == b"0") => {}
                _ => return Err(Malformed("an unknown item")),
            }
        }
        *self = next;
        Ok(())
    }
}

/// Whether nginx may store a response, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// Stored for this many seconds (the origin's `max-age`, capped).
    For(u64),
    /// `public` without `max-age`: nginx's own validity (`*_cache_valid`, `X-Accel-Expires`).
    AsConfigured,
    /// Not stored.
    Refused(Refusal),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No `X-LiteSpeed-Cache-Control` (or only a malformed one): the origin did not say public.
    Unsaid,
    NoCache,
    Private,
    /// Neither public nor private: `max-age` or `no-vary` alone.
    NotPublic,
    ZeroMaxAge,
    /// `X-LiteSpeed-Vary` names a cookie the cache key does not hold, or cannot be read.
    Vary,
}

impl Refusal {
    pub const ALL: [Refusal; 6] = [
        Refusal::Unsaid,
        Refusal::NoCache,
        Refusal::Private,
        Refusal::NotPublic,
        Refusal::ZeroMaxAge,
        Refusal::Vary,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    /// Its name in counters.
    pub fn name(self) -> &'static str {
        match self {
            Refusal::Unsaid => "unsaid",
            Refusal::NoCache => "no_cache",
            Refusal::Private => "private",
            Refusal::NotPublic => "not_public",
            Refusal::ZeroMaxAge => "zero_max_age",
            Refusal::Vary => "vary",
        }
    }

    /// Why, for the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Unsaid => "no X-LiteSpeed-Cache-Control",
            Refusal::NoCache => "no-cache",
            Refusal::Private => "private",
            Refusal::NotPublic => "not public",
            Refusal::ZeroMaxAge => "max-age=0",
            Refusal::Vary => "varies by a cookie outside the key",
        }
    }
}

impl CacheControl {
    /// What the headers allow, with `max-age` capped at `cap` seconds.
    pub fn storage(&self, cap: u64) -> Storage {
        let refused = match self {
            _ if !self.present => Refusal::Unsaid,
            CacheControl { no_cache: true, .. } => Refusal::NoCache,
            CacheControl { private: true, .. } => Refusal::Private,
            CacheControl { public: false, .. } => Refusal::NotPublic,
            CacheControl { max_age: Some(0), .. } => Refusal::ZeroMaxAge,
            CacheControl { max_age: Some(n), .. } => return Storage::For((*n).min(cap)),
            CacheControl { max_age: None, .. } => return Storage::AsConfigured,
        };
        Storage::Refused(refused)
    }
}

/// Whether an `X-LiteSpeed-Vary` value leaves the response storable under a key that holds
/// the [`VARY_COOKIE`]: only if every cookie it names is that one.
pub fn vary_within_key(value: &[u8]) -> Result<bool, Malformed> {
    let mut within = true;
    for item in items(value) {
        let cookie = match item.iter().position(|&c| c == b'=') {
            Some(eq) if item[..eq].trim_ascii().eq_ignore_ascii_case(b"cookie") => {
                item[eq + 1..].trim_ascii()
            }
            _ => return Err(Malformed("an item other than cookie=NAME")),
        };
        if cookie.is_empty() {
            return Err(Malformed("an empty cookie name"));
        }
        within &= cookie == VARY_COOKIE;
    }
    Ok(within)
}

/// One public purge of a purge header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PurgeItem<'a> {
    /// Every entry of the cache.
    All,
    Tag(&'a [u8]),
    /// A page: its raw path and query (not yet normalised; empty without `?`).
    Url {
        path: &'a [u8],
        query: &'a [u8],
    },
}

/// The purges of a response's purge headers, hard and soft (`stale`) apart; private items are
/// dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OriginPurges<'a> {
    pub hard: Vec<PurgeItem<'a>>,
    pub soft: Vec<PurgeItem<'a>>,
}

/// Bytes a tag or a path may not hold: whitespace, controls, and the separators of the
/// grammar.
fn is_plain(bytes: &[u8]) -> bool {
    bytes.iter().all(|&c| c > b' ' && c != 0x7f && c != b',' && c != b';')
}

fn tag(name: &[u8]) -> Result<PurgeItem<'_>, Malformed> {
    if name.is_empty() || name.len() > MAX_TAG_LEN {
        return Err(Malformed("a tag must have 1 to 1024 bytes"));
    }
    if !is_plain(name) || name.contains(&b'=') {
        return Err(Malformed("a tag cannot hold spaces, controls, \",\", \";\" or \"=\""));
    }
    Ok(PurgeItem::Tag(name))
}

fn item(item: &[u8]) -> Result<PurgeItem<'_>, Malformed> {
    if item == b"*" {
        return Ok(PurgeItem::All);
    }
    if item.starts_with(b"/") {
        if !is_plain(item) {
            return Err(Malformed("a path cannot hold spaces, controls, \",\" or \";\""));
        }
        return Ok(match item.iter().position(|&c| c == b'?') {
            Some(q) => PurgeItem::Url { path: &item[..q], query: &item[q + 1..] },
            None => PurgeItem::Url { path: item, query: b"" },
        });
    }
    match item.iter().position(|&c| c == b'=') {
        Some(eq) if item[..eq].trim_ascii().eq_ignore_ascii_case(b"tag") => {
            tag(item[eq + 1..].trim_ascii())
        }
        _ => tag(item),
    }
}

impl<'a> OriginPurges<'a> {
    /// Adds the purges of one header value. A malformed value adds nothing.
    pub fn add_value(&mut self, value: &'a [u8]) -> Result<(), Malformed> {
        if value.len() > MAX_PURGE_LEN {
            return Err(Malformed("longer than 64 KiB"));
        }
        let (mut public, mut stale, mut count) = (Vec::new(), false, 0);
        for group in value.split(|&c| c == b';') {
            let mut private = false;
            for word in items(group) {
                count += 1;
                if count > MAX_PURGE_ITEMS {
                    return Err(Malformed("more than 4096 items"));
                }
                if word.eq_ignore_ascii_case(b"public") {
                    private = false;
                } else if word.eq_ignore_ascii_case(b"private") {
                    private = true;
                } else if word.eq_ignore_ascii_case(b"stale") {
                    stale |= !private;
                } else {
                    let parsed = item(word)?;
                    if !private {
                        public.push(parsed);
                    }
                }
            }
        }
        let into = if stale { &mut self.soft } else { &mut self.hard };
        for parsed in public {
            if !into.contains(&parsed) {
                into.push(parsed);
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.hard.is_empty() && self.soft.is_empty()
    }
}

/// The vary cookie of a request, as its `Cookie` headers carry it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VaryCookie<'a> {
    /// None, or an empty one (the plugin reads an empty value as none).
    Absent,
    /// Exactly one, named exactly so, with this raw value.
    Value(&'a [u8]),
    /// More than one cookie PHP could read as it, or one named in another way PHP folds into
    /// it (`_lscache.vary`, `_lscache_vary[x]`): what PHP takes then depends on how nginx
    /// passes several `Cookie` headers, on PHP's version and on the order, so the request skips
    /// the cache.
    Ambiguous,
}

/// Finds the [`VARY_COOKIE`] in the values of a request's `Cookie` headers. A cookie is a
/// candidate when PHP could read it as the vary cookie: by its name as sent, percent-decoded
/// (older PHP), or folded as PHP files names in `$_COOKIE`.
pub fn vary_cookie<'a>(cookie_headers: impl Iterator<Item = &'a [u8]>) -> VaryCookie<'a> {
    use crate::decode::Name;
    use crate::php::cookie_name;
    let could_be_vary = |name: &[u8]| {
        let same = |n: &Name<'_>| n.decoded().eq(VARY_COOKIE.iter().copied());
        same(&Name::new(name)) || cookie_name(name).is_some_and(|p| same(&p))
    };
    let mut found = VaryCookie::Absent;
    let mut candidates = 0;
    for pair in cookie_headers.flat_map(|h| h.split(|&c| c == b';')) {
        let (name, value) = match pair.iter().position(|&c| c == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &b""[..]),
        };
        if !could_be_vary(name) {
            continue;
        }
        candidates += 1;
        let exact = name.trim_ascii() == VARY_COOKIE && !name.starts_with(&[0x0b]);
        found = match (candidates, exact, value.is_empty()) {
            (1, true, true) => VaryCookie::Absent,
            (1, true, false) => VaryCookie::Value(value),
            _ => VaryCookie::Ambiguous,
        };
    }
    found
}

/// `microcache_purge_header NAME | off`: the response header's name, lower case; `None` for
/// `off`.
pub fn purge_header_name(arg: &[u8]) -> Result<Option<Vec<u8>>, ConfError> {
    if arg == b"off" {
        return Ok(None);
    }
    if !is_field_name(arg) {
        return Err(ConfError {
            kind: "value",
            value: arg.to_vec(),
            reason: "not a header name".into(),
        });
    }
    Ok(Some(arg.to_ascii_lowercase()))
}

/// What origins said, for `microcache_status`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OriginStats {
    /// Responses a LiteSpeed origin let nginx store.
    pub stored: u64,
    /// Responses not stored, by [`Refusal::index`].
    pub not_stored: [u64; Refusal::ALL.len()],
    /// Headers ignored as malformed, by [`HeaderKind::index`].
    pub malformed: [u64; HeaderKind::ALL.len()],
    /// Purges started by response headers, and those dropped because too many were waiting.
    pub purges: u64,
    pub purges_dropped: u64,
}

impl OriginStats {
    /// Adds `"origin":{…}` to a JSON object whose closing brace ends `json`.
    pub fn extend_json(&self, json: &mut String) {
        let end = json.trim_end().strip_suffix('}').map_or(json.len(), str::len);
        json.truncate(end);
        let _ = write!(json, ",\"origin\":{{\"stored\":{},\"not_stored\":{{", self.stored);
        for (i, why) in Refusal::ALL.iter().enumerate() {
            let comma = if i > 0 { "," } else { "" };
            let _ = write!(json, "{comma}\"{}\":{}", why.name(), self.not_stored[i]);
        }
        json.push_str("},\"malformed\":{");
        for (i, kind) in HeaderKind::ALL.iter().enumerate() {
            let comma = if i > 0 { "," } else { "" };
            let _ = write!(json, "{comma}\"{}\":{}", kind.as_str(), self.malformed[i]);
        }
        let _ = writeln!(
            json,
            "}},\"purges\":{},\"purges_dropped\":{}}}}}",
            self.purges, self.purges_dropped
        );
    }

    /// Appends the Prometheus families (text format 0.0.4).
    pub fn extend_prometheus(&self, out: &mut String) {
        let mut family = |name: &str, help: &str, samples: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP microcache_origin_{name} {help}");
            let _ = writeln!(out, "# TYPE microcache_origin_{name} counter");
            for (label, value) in samples {
                let _ = writeln!(out, "microcache_origin_{name}{label} {value}");
            }
        };
        family("stored_total", "Responses an origin let nginx store.", &[("", self.stored)]);
        let labels: Vec<String> =
            Refusal::ALL.iter().map(|w| format!("{{reason=\"{}\"}}", w.name())).collect();
        let samples: Vec<(&str, u64)> =
            labels.iter().map(String::as_str).zip(self.not_stored).collect();
        family(
            "not_stored_total",
            "Responses an origin did not let nginx store, by reason.",
            &samples,
        );
        let labels: Vec<String> =
            HeaderKind::ALL.iter().map(|k| format!("{{header=\"{}\"}}", k.as_str())).collect();
        let samples: Vec<(&str, u64)> =
            labels.iter().map(String::as_str).zip(self.malformed).collect();
        family("malformed_headers_total", "Origin headers ignored as malformed.", &samples);
        family(
            "purges_total",
            "Purges asked by response headers, by result.",
            &[("{result=\"started\"}", self.purges), ("{result=\"dropped\"}", self.purges_dropped)],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(values: &[&[u8]]) -> Result<CacheControl, Malformed> {
        let mut c = CacheControl::default();
        values.iter().try_for_each(|v| c.add_value(v))?;
        Ok(c)
    }

    #[test]
    fn what_the_plugin_sends() {
        let day = 86_400;
        let store = |v: &[u8]| cc(&[v]).unwrap().storage(day);
        assert_eq!(store(b"public,max-age=3600"), Storage::For(3600));
        assert_eq!(store(b"public,max-age=604800"), Storage::For(day));
        assert_eq!(store(b"public,no-vary,max-age=60,esi=on"), Storage::For(60));
        assert!(cc(&[b"public,no-vary,max-age=60,esi=on"]).unwrap().no_vary);
        assert_eq!(store(b"no-cache"), Storage::Refused(Refusal::NoCache));
        assert_eq!(store(b"no-cache,esi=on"), Storage::Refused(Refusal::NoCache));
        assert_eq!(store(b"private,max-age=1800"), Storage::Refused(Refusal::Private));
        assert_eq!(store(b"shared,private,max-age=1800"), Storage::Refused(Refusal::Private));
        assert_eq!(store(b"public,max-age=0"), Storage::Refused(Refusal::ZeroMaxAge));
        assert_eq!(store(b"public"), Storage::AsConfigured);
        assert_eq!(store(b"max-age=60"), Storage::Refused(Refusal::NotPublic));
        assert_eq!(CacheControl::default().storage(day), Storage::Refused(Refusal::Unsaid));
    }

    #[test]
    fn lenient_where_harmless() {
        let c = cc(&[b" Public , MAX-AGE = 120 ,, "]).unwrap();
        assert_eq!(c.storage(1000), Storage::For(120));
        // Two headers: the strictest word wins.
        assert_eq!(cc(&[b"public,max-age=5", b"no-cache"]).unwrap().storage(9).clone(), {
            Storage::Refused(Refusal::NoCache)
        });
        assert_eq!(
            cc(&[b"public,max-age=99999999999999999999999"]).unwrap().max_age,
            Some(u64::MAX)
        );
    }

    #[test]
    fn malformed_values_change_nothing() {
        for bad in [
            &b"public,max-age=1h"[..],
            b"public,max-age=",
            b"public,s-maxage=5",
            b"cache",
            b"esi=maybe",
            b"public;max-age=5",
        ] {
            let mut c = CacheControl::default();
            assert!(c.add_value(bad).is_err(), "{}", bad.escape_ascii());
            assert_eq!(c, CacheControl::default());
        }
        // A good header after a bad one still counts.
        let mut c = CacheControl::default();
        assert!(c.add_value(b"public,bogus").is_err());
        c.add_value(b"public,max-age=7").unwrap();
        assert_eq!(c.storage(100), Storage::For(7));
    }

    #[test]
    fn vary() {
        assert_eq!(vary_within_key(b"cookie=_lscache_vary"), Ok(true));
        assert_eq!(vary_within_key(b""), Ok(true));
        assert_eq!(vary_within_key(b"cookie=_lscache_vary, Cookie=wp-postpass_1a2b"), Ok(false));
        assert!(vary_within_key(b"value=mobile").is_err());
        assert!(vary_within_key(b"cookie=").is_err());
        assert!(vary_within_key(b"wp-postpass_1a2b").is_err());
    }

    fn purges(values: &[&'static [u8]]) -> OriginPurges<'static> {
        let mut p = OriginPurges::default();
        for v in values {
            p.add_value(v).unwrap();
        }
        p
    }

    #[test]
    fn purge_headers_of_the_plugin() {
        use PurgeItem::*;
        let p = purges(&[b"public,9ba_Po.12,9ba_F,9ba_URL.5d41402abc4b2a76b9719d911017c592"]);
        assert_eq!(
            p.hard,
            [Tag(b"9ba_Po.12"), Tag(b"9ba_F"), Tag(b"9ba_URL.5d41402abc4b2a76b9719d911017c592")]
        );
        assert!(p.soft.is_empty());
        let p = purges(&[b"public,stale,9ba_Po.12"]);
        assert_eq!((p.hard, p.soft), (vec![], vec![Tag(b"9ba_Po.12")]));
        // Logging out purges the visitor's private entries: nothing public.
        assert!(purges(&[b"private,*"]).is_empty());
        assert!(purges(&[b"private,9ba_Po.1,stale"]).is_empty());
        let p = purges(&[b"public,9ba_;private,*"]);
        assert_eq!(p.hard, [Tag(b"9ba_")]);
        assert_eq!(purges(&[b"*"]).hard, [All]);
    }

    #[test]
    fn purge_headers_in_general() {
        use PurgeItem::*;
        let p = purges(&[b"tag=post-12, /path?q=1 ,TAG = t2,/a/b/", b"stale,/x/", b"post-12"]);
        assert_eq!(
            p.hard,
            [
                Tag(b"post-12"),
                Url { path: b"/path", query: b"q=1" },
                Tag(b"t2"),
                Url { path: b"/a/b/", query: b"" }
            ]
        );
        assert_eq!(p.soft, [Url { path: b"/x/", query: b"" }]);
        for bad in [&b"tag="[..], b"a=b", b"public,/a b", b"tag=a\x01", b"private,x=y"] {
            let mut p = OriginPurges::default();
            assert!(p.add_value(bad).is_err(), "{}", bad.escape_ascii());
            assert!(p.is_empty());
        }
        let long = vec![b'x'; MAX_TAG_LEN + 1];
        assert!(OriginPurges::default().add_value(&long).is_err());
        let many: Vec<u8> =
            (0..=MAX_PURGE_ITEMS).flat_map(|i| format!("t{i},").into_bytes()).collect();
        assert_eq!(
            OriginPurges::default().add_value(&many),
            Err(Malformed("more than 4096 items"))
        );
    }

    #[test]
    fn the_vary_cookie() {
        let v = |headers: &[&'static [u8]]| vary_cookie(headers.iter().copied());
        assert_eq!(v(&[]), VaryCookie::Absent);
        assert_eq!(v(&[b"a=1; _lscache_vary=9f8e; b=2"]), VaryCookie::Value(b"9f8e"));
        assert_eq!(v(&[b"a=1", b"_lscache_vary=9f8e"]), VaryCookie::Value(b"9f8e"));
        assert_eq!(v(&[b"_lscache_vary="]), VaryCookie::Absent);
        assert_eq!(v(&[b"x_lscache_vary=1; _lscache_varyx=2"]), VaryCookie::Absent);
        // Names PHP could read as the vary cookie make the request ambiguous.
        assert_eq!(v(&[b"_lscache.vary=a"]), VaryCookie::Ambiguous);
        assert_eq!(v(&[b"_lscache%5Fvary=a"]), VaryCookie::Ambiguous);
        assert_eq!(v(&[b"_lscache_vary[x]=a"]), VaryCookie::Ambiguous);
        assert_eq!(v(&[b"_lscache[vary=a"]), VaryCookie::Ambiguous);
        assert_eq!(v(&[b"\x0b_lscache_vary=a"]), VaryCookie::Ambiguous);
        assert_eq!(v(&[b"_lscache_vary=a; _lscache.vary=b"]), VaryCookie::Ambiguous);
        assert_eq!(v(&[b"_lscache_vary=a", b"_lscache_vary=a"]), VaryCookie::Ambiguous);
        assert_eq!(v(&[b"_lscache_vary=; _lscache_vary=a"]), VaryCookie::Ambiguous);
        // The raw value, as sent.
        assert_eq!(v(&[b" _lscache_vary=a%20b=c "]), VaryCookie::Value(b"a%20b=c "));
    }

    #[test]
    fn names_php_reads_as_the_vary_cookie_are_ambiguous() {
        let v = |name: &[u8]| {
            let header = [name, b"=a"].concat();
            match vary_cookie([header.as_slice()].into_iter()) {
                VaryCookie::Value(_) => "value",
                VaryCookie::Absent => "absent",
                VaryCookie::Ambiguous => "ambiguous",
            }
        };
        // White space around the exact name is the cookie itself.
        assert_eq!(v(b" \t_lscache_vary"), "value");
        for php_reads_as_it in [
            &b"_lscache.vary"[..],
            b"_lscache vary",
            b"_lscache_vary[]",
            b"_lscache_vary[a]b]",
            b"_lscache[vary",
            b"_lscache_vary\0junk",
            b"_lscache%5Fvary",
        ] {
            assert_eq!(v(php_reads_as_it), "ambiguous", "{}", php_reads_as_it.escape_ascii());
        }
        for other in [
            &b"_lscache_vary_"[..],
            b"x_lscache_vary",
            b"_lscache+vary",
            b"[_lscache_vary]",
            b"_lscache_vary[",
            b"_lscache.vary[a",
        ] {
            assert_eq!(v(other), "absent", "{}", other.escape_ascii());
        }
    }

    #[test]
    fn directive_arguments() {
        assert_eq!(
            purge_header_name(b"X-Microcache-Purge"),
            Ok(Some(b"x-microcache-purge".to_vec()))
        );
        assert_eq!(purge_header_name(b"off"), Ok(None));
        assert_eq!(
            purge_header_name(b"X Purge").unwrap_err().message("microcache_purge_header"),
            "invalid value \"X Purge\" in \"microcache_purge_header\" directive, not a header name"
        );
    }

    #[test]
    fn stats() {
        let stats = OriginStats {
            stored: 3,
            not_stored: [1, 2, 0, 0, 0, 4],
            malformed: [5, 0, 6],
            purges: 7,
            purges_dropped: 0,
        };
        let mut json = String::from("{\"requests\":1}\n");
        stats.extend_json(&mut json);
        assert_eq!(
            json,
            "{\"requests\":1,\"origin\":{\"stored\":3,\"not_stored\":{\"unsaid\":1,\"no_cache\":2,\
             \"private\":0,\"not_public\":0,\"zero_max_age\":0,\"vary\":4},\"malformed\":{\
             \"cache_control\":5,\"vary\":0,\"purge\":6},\"purges\":7,\"purges_dropped\":0}}\n"
        );
        serde_json::from_str::<serde_json::Value>(&json).unwrap();
        let mut prom = String::new();
        stats.extend_prometheus(&mut prom);
        assert!(prom.contains("microcache_origin_not_stored_total{reason=\"vary\"} 4\n"));
        assert!(prom.contains("microcache_origin_malformed_headers_total{header=\"purge\"} 6\n"));
        assert!(prom.contains("microcache_origin_purges_total{result=\"started\"} 7\n"));
        assert!(prom.contains(
            "# TYPE microcache_origin_stored_total counter\nmicrocache_origin_stored_total 3\n"
        ));
    }
}
