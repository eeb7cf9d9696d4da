//! Query normalisation: drop tracking arguments, optionally sort, never re-encode.
//!
//! The query is split on `&` only, as PHP splits it. Whole segments are dropped or reordered;
//! their bytes are copied as they are, so the query the origin receives and the query in the
//! cache key are the same bytes.

use arrayvec::ArrayVec;

use crate::decode::Name;
use crate::glob::GlobSet;

/// Queries longer than this are not rewritten and skip the cache (reason `limit`).
pub const MAX_QUERY_LEN: usize = 4096;
/// The largest value `microcache_max_args` accepts.
pub const MAX_ARGS_LIMIT: usize = 1024;
/// `microcache_max_args` when not set.
pub const DEFAULT_MAX_ARGS: usize = 64;

/// The built-in list of client-side tracking ids, the meaning of `microcache_strip_args default`.
///
/// Only ids that analytics and ad scripts read in the browser belong here. `ref` and `aff` are
/// deliberately absent: affiliate plugins read them in PHP.
pub const DEFAULT_STRIP_ARGS: &[&str] = &[
    "utm_*",      // Google Analytics campaign parameters (utm_source, utm_medium, ...)
    "fbclid",     // Facebook / Meta
    "gclid",      // Google Ads
    "gclsrc",     // Google Ads (Search Ads 360)
    "dclid",      // Google Display & Video 360
    "gbraid",     // Google Ads, iOS app-to-web
    "wbraid",     // Google Ads, iOS web-to-app
    "gad_source", // Google Ads
    "msclkid",    // Microsoft Advertising
    "yclid",      // Yandex
    "twclid",     // X / Twitter
    "ttclid",     // TikTok
    "li_fat_id",  // LinkedIn
    "igshid",     // Instagram share id
    "_ga",        // Google Analytics cross-domain linker
    "_gl",        // Google Analytics 4 linker
    "_hsenc",     // HubSpot email tracking
    "_hsmi",      // HubSpot email tracking
    "mkt_tok",    // Marketo email tracking (read by the Munchkin script)
    "srsltid",    // Google Merchant Center
];

/// The rules of one location for rewriting the query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgRules {
    /// Arguments whose decoded name matches are removed.
    pub strip: GlobSet,
    /// Allow-list mode: when set, only matching arguments survive (and then `strip` applies).
    pub keep: Option<GlobSet>,
    /// Sort surviving arguments by decoded name, stably.
    pub sort: bool,
    /// Past this many non-empty segments nothing is rewritten (reason `limit`).
    pub max_args: usize,
}

impl Default for ArgRules {
    fn default() -> Self {
        ArgRules {
            strip: GlobSet::new(DEFAULT_STRIP_ARGS),
            keep: None,
            sort: false,
            max_args: DEFAULT_MAX_ARGS,
        }
    }
}

/// What [`normalise`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Normalised {
    /// The query was over a limit: nothing was written and the raw query stands.
    pub limited: bool,
    /// Bytes written to the `args` buffer.
    pub args_len: usize,
    /// Bytes written to the `stripped` buffer (removed segments joined by `&`).
    pub stripped_len: usize,
    /// Number of segments removed.
    pub stripped: usize,
    /// The normalised query differs from the input.
    pub changed: bool,
    /// A surviving argument matched the bypass set.
    pub bypass: bool,
}

#[derive(Clone, Copy)]
struct Segment {
    start: u16,
    end: u16,
    name_end: u16,
}

impl Segment {
    fn name<'q>(&self, query: &'q [u8]) -> Name<'q> {
        Name::new(&query[usize::from(self.start)..usize::from(self.name_end)])
    }

    fn bytes<'q>(&self, query: &'q [u8]) -> &'q [u8] {
        &query[usize::from(self.start)..usize::from(self.end)]
    }
}

/// Appends segments joined by `&` into a caller-provided buffer.
struct Joiner<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl Joiner<'_> {
    #[inline]
    fn push(&mut self, segment: &[u8]) {
        if self.len > 0 {
            self.buf[self.len] = b'&';
            self.len += 1;
        }
        self.buf[self.len..self.len + segment.len()].copy_from_slice(segment);
        self.len += segment.len();
    }
}

/// Normalises `query` by `rules` into `args`; removed segments go to `stripped`.
///
/// Both buffers must be at least `query.len()` bytes long (normalisation never grows a query).
/// Arguments that survive are also tested against `bypass` (`microcache_bypass_args`).
///
/// # Panics
/// When a buffer is shorter than `query`: a caller bug, never a property of the input.
pub fn normalise(
    query: &[u8],
    rules: &ArgRules,
    bypass: &GlobSet,
    args: &mut [u8],
    stripped: &mut [u8],
) -> Normalised {
    assert!(args.len() >= query.len() && stripped.len() >= query.len());
    let limited = Normalised {
        limited: true,
        ..Normalised::default()
    };
    if query.len() > MAX_QUERY_LEN {
        return limited;
    }
    let max_args = rules.max_args.min(MAX_ARGS_LIMIT);

    let mut kept: ArrayVec<Segment, MAX_ARGS_LIMIT> = ArrayVec::new();
    let mut out = Joiner { buf: args, len: 0 };
    let mut removed = Joiner {
        buf: stripped,
        len: 0,
    };
    let mut result = Normalised::default();
    let mut count = 0;
    let mut start = 0;

    for raw in query.split(|&c| c == b'&') {
        let seg_start = start;
        start += raw.len() + 1;
        if raw.is_empty() {
            continue;
        }
        count += 1;
        if count > max_args {
            return limited;
        }
        let name = Name::new(&raw[..raw.iter().position(|&c| c == b'=').unwrap_or(raw.len())]);
        let survives =
            rules.keep.as_ref().is_none_or(|k| k.matches(&name)) && !rules.strip.matches(&name);
        if !survives {
            removed.push(raw);
            result.stripped += 1;
            continue;
        }
        result.bypass = result.bypass || bypass.matches(&name);
        if rules.sort {
            // Offsets fit: the query is at most MAX_QUERY_LEN bytes.
            let at = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
            kept.push(Segment {
                start: at(seg_start),
                end: at(seg_start + raw.len()),
                name_end: at(seg_start + name.raw().len()),
            });
        } else {
            out.push(raw);
        }
    }

    let mut reordered = false;
    if rules.sort {
        // Equal names keep their order: ties are broken by position (`a[]=1&a[]=2` stays).
        let by_name = |a: &Segment, b: &Segment| {
            a.name(query)
                .cmp_decoded(&b.name(query))
                .then(a.start.cmp(&b.start))
        };
        if !kept.is_sorted_by(|a, b| by_name(a, b).is_le()) {
            kept.sort_unstable_by(by_name);
            reordered = true;
        }
        for seg in &kept {
            out.push(seg.bytes(query));
        }
    }

    result.args_len = out.len;
    result.stripped_len = removed.len;
    result.changed = reordered || out.len != query.len();
    result
}

/// Splits a request URI (`/path?query`) at its first `?`. The query is `None` when there is no
/// `?` at all.
pub fn split_request_uri(uri: &[u8]) -> (&[u8], Option<&[u8]>) {
    match uri.iter().position(|&c| c == b'?') {
        Some(q) => (&uri[..q], Some(&uri[q + 1..])),
        None => (uri, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Run {
        args: String,
        stripped: String,
        result: Normalised,
    }

    fn run_with(query: &str, rules: &ArgRules, bypass: &[&str]) -> Run {
        let mut args = vec![0; query.len()];
        let mut stripped = vec![0; query.len()];
        let bypass = GlobSet::new(bypass);
        let result = normalise(query.as_bytes(), rules, &bypass, &mut args, &mut stripped);
        Run {
            args: String::from_utf8(args[..result.args_len].to_vec()).unwrap(),
            stripped: String::from_utf8(stripped[..result.stripped_len].to_vec()).unwrap(),
            result,
        }
    }

    fn run(query: &str) -> Run {
        run_with(query, &ArgRules::default(), &[])
    }

    fn rules(strip: &[&str], keep: Option<&[&str]>, sort: bool) -> ArgRules {
        ArgRules {
            strip: GlobSet::new(strip),
            keep: keep.map(GlobSet::new),
            sort,
            max_args: DEFAULT_MAX_ARGS,
        }
    }

    #[test]
    fn strips_default_tracking_ids() {
        let r = run("p=1&utm_source=news&gclid=abc&s=shoes&fbclid=x");
        assert_eq!(r.args, "p=1&s=shoes");
        assert_eq!(r.stripped, "utm_source=news&gclid=abc&fbclid=x");
        assert_eq!(r.result.stripped, 3);
        assert!(r.result.changed);
    }

    #[test]
    fn leaves_clean_queries_alone() {
        let r = run("p=1&s=shoes");
        assert_eq!(r.args, "p=1&s=shoes");
        assert!(!r.result.changed);
        assert_eq!(r.result.stripped, 0);
        assert!(!run("").result.changed);
    }

    #[test]
    fn ref_and_aff_are_not_default() {
        assert_eq!(run("ref=1&aff=2").args, "ref=1&aff=2");
    }

    #[test]
    fn names_are_decoded_before_matching() {
        let r = run("utm%5Fsource=x&%67clid=1&q=utm_source");
        assert_eq!(r.args, "q=utm_source");
        assert_eq!(r.stripped, "utm%5Fsource=x&%67clid=1");
    }

    #[test]
    fn drops_empty_segments() {
        let r = run("&&a=1&&b=2&");
        assert_eq!(r.args, "a=1&b=2");
        assert!(r.result.changed);
        let r = run("&&utm_source=1&");
        assert_eq!(r.args, "");
        assert!(r.result.changed);
    }

    #[test]
    fn keeps_bytes_as_they_are() {
        let r = run("q=a%20b+c;d&x=%ZZ&utm_term=%00;");
        assert_eq!(r.args, "q=a%20b+c;d&x=%ZZ");
        assert_eq!(r.stripped, "utm_term=%00;");
    }

    #[test]
    fn segment_without_value_and_empty_name() {
        let r = run("gclid&=1&utm_x=");
        assert_eq!(r.args, "=1");
        assert_eq!(r.stripped, "gclid&utm_x=");
    }

    #[test]
    fn allow_list_and_strip_together() {
        let r = run_with(
            "p=1&q=2&utm_id=3&page=4",
            &rules(&["page"], Some(&["p*", "utm_*"]), false),
            &[],
        );
        assert_eq!(r.args, "p=1&utm_id=3");
        assert_eq!(r.stripped, "q=2&page=4");
    }

    #[test]
    fn sorts_stably_by_decoded_name() {
        let sorted = rules(&[], None, true);
        let r = run_with("b=1&a[]=2&%61=0&a[]=1&c=3", &sorted, &[]);
        assert_eq!(r.args, "%61=0&a[]=2&a[]=1&b=1&c=3");
        assert!(r.result.changed);
        let r = run_with("a=1&a=0&b=2", &sorted, &[]);
        assert_eq!(r.args, "a=1&a=0&b=2");
        assert!(!r.result.changed);
    }

    #[test]
    fn limits_leave_the_query_untouched() {
        let mut few = rules(&["utm_*"], None, false);
        few.max_args = 2;
        let r = run_with("a=1&b=2&utm_source=3", &few, &[]);
        assert!(r.result.limited);
        assert_eq!((r.args.as_str(), r.stripped.as_str()), ("", ""));
        // Empty segments do not count.
        assert!(!run_with("a=1&&&b=2", &few, &[]).result.limited);
        let long = "a=".to_string() + &"x".repeat(MAX_QUERY_LEN);
        assert!(run(&long).result.limited);
        let edge = "a=".to_string() + &"x".repeat(MAX_QUERY_LEN - 2);
        assert!(!run(&edge).result.limited);
    }

    #[test]
    fn bypass_looks_at_surviving_names() {
        assert!(
            run_with("add-to-cart=5&p=1", &ArgRules::default(), &["add-to-cart"])
                .result
                .bypass
        );
        assert!(
            run_with("add%2Dto-cart=5", &ArgRules::default(), &["add-to-cart"])
                .result
                .bypass
        );
        assert!(
            !run_with("utm_x=1&p=1", &ArgRules::default(), &["utm_*"])
                .result
                .bypass
        );
    }

    #[test]
    fn splits_request_uri() {
        assert_eq!(
            split_request_uri(b"/a?b?c"),
            (&b"/a"[..], Some(&b"b?c"[..]))
        );
        assert_eq!(split_request_uri(b"/a?"), (&b"/a"[..], Some(&b""[..])));
        assert_eq!(split_request_uri(b"/a"), (&b"/a"[..], None));
    }
}
