//! Query normalisation: drop tracking arguments, optionally sort, never re-encode.
//!
//! The query is split on `&` only, as PHP splits it. Whole segments are dropped or reordered;
//! their bytes are copied as they are, so the query the origin receives and the query in the
//! cache key are the same bytes.

use arrayvec::ArrayVec;

use crate::decode::{Name, View};
use crate::glob::GlobSet;
use crate::php;

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
    /// Arguments whose decoded name or PHP form matches are removed.
    pub strip: GlobSet,
    /// Allow-list mode: when set, only matching arguments survive (and then `strip` applies).
    pub keep: Option<GlobSet>,
    /// Sort surviving arguments by the name PHP gives them, stably.
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

/// One non-empty `&`-separated segment of a query.
#[derive(Clone, Copy)]
struct Segment {
    start: usize,
    end: usize,
    name_end: usize,
    /// The name has a `%`: decoding may change it.
    escaped: bool,
    /// PHP's form of the name may differ from its raw bytes.
    php_special: bool,
}

impl Segment {
    #[inline]
    fn raw_name<'q>(&self, query: &'q [u8]) -> &'q [u8] {
        &query[self.start..self.name_end]
    }

    /// Where PHP's form of the name lies in the name (empty when PHP drops the argument).
    #[inline]
    fn php_key(&self, query: &[u8]) -> php::Span {
        let raw = self.raw_name(query);
        let dropped = php::Span { start: 0, end: 0, view: View::Plain };
        match self.php_special {
            false => php::Span { start: 0, end: raw.len(), view: View::Plain },
            true => php::query_span(raw).unwrap_or(dropped),
        }
    }

    /// The forms of the name the lists match, given its [`Segment::php_key`].
    #[inline]
    fn names<'q>(&self, query: &'q [u8], key: php::Span) -> Names<'q> {
        let raw = self.raw_name(query);
        let php = (key.end > key.start && !key.is_decoded_form(raw)).then(|| key.name(raw));
        Names { decoded: Name::with_escapes(raw, self.escaped), php }
    }
}

/// A name matches a list when its decoded form or its PHP form does.
struct Names<'q> {
    decoded: Name<'q>,
    /// PHP's form, when it differs from the decoded form and PHP keeps the argument.
    php: Option<Name<'q>>,
}

impl Names<'_> {
    #[inline]
    fn match_in(&self, set: &GlobSet) -> bool {
        set.matches(&self.decoded) || self.php.as_ref().is_some_and(|php| set.matches(php))
    }
}

/// Bytes the scanner stops at in a name: its end, and what makes decoding or PHP's form of the
/// name differ from its raw bytes.
const NAME_STOPS: [bool; 256] = {
    let mut table = [false; 256];
    let stops = b"&=%.+ [\0";
    let mut i = 0;
    while i < stops.len() {
        table[stops[i] as usize] = true;
        i += 1;
    }
    table
};

/// Calls `f` for each non-empty segment, in order; stops early when `f` returns false.
///
/// One pass over the bytes finds the segment's end, its name's end and what its name contains.
/// Ordinary bytes cost one table lookup in the name; values are skipped a word at a time.
#[inline]
fn for_each_segment(query: &[u8], mut f: impl FnMut(Segment) -> bool) {
    let mut i = 0;
    while i < query.len() {
        let start = i;
        let (mut escaped, mut php_special) = (false, false);
        let name_end = loop {
            while i < query.len() && !NAME_STOPS[usize::from(query[i])] {
                i += 1;
            }
            match query.get(i) {
                None | Some(b'&') | Some(b'=') => break i,
                Some(b'%') => escaped = true,
                _ => php_special = true,
            }
            i += 1;
        };
        i += find_amp(&query[i..]);
        let seg = Segment { start, end: i, name_end, escaped, php_special: php_special || escaped };
        if i > start && !f(seg) {
            return;
        }
        i += 1;
    }
}

/// The position of the first `&` in `bytes`, or its length. Values are skipped eight bytes at
/// a time: a word has a `&` byte when `(x ^ 0x26..) - 0x01..` borrows into a cleared high bit.
/// Values are short, and then this beats `memchr::memchr`: with it, `cargo bench -p
/// microcache-core` counts 10-13% more instructions per call on the six-argument queries and
/// 18% more on the 512-argument one (callgrind, `BENCH_CALLS`).
#[inline]
fn find_amp(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const AMPS: u64 = ONES * b'&' as u64;
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ AMPS;
        let found = x.wrapping_sub(ONES) & !x & HIGHS;
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + chunks.remainder().iter().position(|&c| c == b'&').unwrap_or(chunks.remainder().len())
}

/// Appends segments of `query`, joined by `&`, into a caller-provided buffer. Segments that are
/// adjacent in `query` are copied together, so a query that loses nothing is one copy.
struct Joiner<'q, 'b> {
    query: &'q [u8],
    buf: &'b mut [u8],
    len: usize,
    /// A run of adjacent segments not yet copied.
    pending: Option<(usize, usize)>,
}

impl<'q, 'b> Joiner<'q, 'b> {
    fn new(query: &'q [u8], buf: &'b mut [u8]) -> Self {
        Joiner { query, buf, len: 0, pending: None }
    }

    #[inline]
    fn push(&mut self, start: usize, end: usize) {
        match &mut self.pending {
            Some((_, run_end)) if *run_end + 1 == start => *run_end = end,
            _ => {
                self.flush();
                self.pending = Some((start, end));
            }
        }
    }

    fn flush(&mut self) {
        if let Some((start, end)) = self.pending.take() {
            if self.len > 0 {
                self.buf[self.len] = b'&';
                self.len += 1;
            }
            let run = &self.query[start..end];
            self.buf[self.len..self.len + run.len()].copy_from_slice(run);
            self.len += run.len();
        }
    }

    fn finish(mut self) -> usize {
        self.flush();
        self.len
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
    let limited = Normalised { limited: true, ..Normalised::default() };
    if query.len() > MAX_QUERY_LEN {
        return limited;
    }
    if rules.sort {
        return normalise_sorted(query, rules, bypass, args, stripped).unwrap_or(limited);
    }

    let mut out = Joiner::new(query, args);
    let mut removed = Joiner::new(query, stripped);
    let Some(mut result) =
        sift(query, rules, bypass, &mut removed, |seg, _| out.push(seg.start, seg.end))
    else {
        return limited;
    };
    result.args_len = out.finish();
    result.stripped_len = removed.finish();
    result.changed = result.args_len != query.len();
    result
}

/// Applies the rules to every segment: removed ones go to `removed`, surviving ones to
/// `keep`. `None` past `max_args` segments.
#[inline]
fn sift(
    query: &[u8],
    rules: &ArgRules,
    bypass: &GlobSet,
    removed: &mut Joiner<'_, '_>,
    mut keep: impl FnMut(Segment, php::Span),
) -> Option<Normalised> {
    let max_args = rules.max_args.min(MAX_ARGS_LIMIT);
    let mut result = Normalised::default();
    let mut count = 0;
    for_each_segment(query, |seg| {
        count += 1;
        if count > max_args {
            return false;
        }
        let key = seg.php_key(query);
        let names = seg.names(query, key);
        let survives =
            rules.keep.as_ref().is_none_or(|k| names.match_in(k)) && !names.match_in(&rules.strip);
        if survives {
            result.bypass = result.bypass || names.match_in(bypass);
            keep(seg, key);
        } else {
            removed.push(seg.start, seg.end);
            result.stripped += 1;
        }
        true
    });
    (count <= max_args).then_some(result)
}

/// [`normalise`] with `microcache_sort_args on`; `None` past the limits.
#[inline(never)]
fn normalise_sorted(
    query: &[u8],
    rules: &ArgRules,
    bypass: &GlobSet,
    args: &mut [u8],
    stripped: &mut [u8],
) -> Option<Normalised> {
    let mut kept: ArrayVec<SortEntry, MAX_ARGS_LIMIT> = ArrayVec::new();
    let mut removed = Joiner::new(query, stripped);
    let mut result = sift(query, rules, bypass, &mut removed, |seg, key| {
        kept.push(SortEntry::new(query, &seg, key))
    })?;

    // Names PHP reads as one (`a_b`, `a.b`, `a[]`, `a%5Fb`) keep their order: ties are broken
    // by position, as PHP lets the last of them win.
    let by_name = |a: &SortEntry, b: &SortEntry| {
        a.prefix
            .cmp(&b.prefix)
            .then_with(|| a.key(query).cmp_decoded(&b.key(query)))
            .then(a.start.cmp(&b.start))
    };
    kept.sort_unstable_by(by_name);
    let reordered = kept.windows(2).any(|w| w[0].start > w[1].start);
    let mut out = Joiner::new(query, args);
    for e in &kept {
        out.push(usize::from(e.start), usize::from(e.end));
    }
    result.args_len = out.finish();
    result.stripped_len = removed.finish();
    result.changed = reordered || result.args_len != query.len();
    Some(result)
}

/// A surviving segment while sorting, kept small: up to 1024 of them live on the stack.
#[derive(Clone, Copy)]
struct SortEntry {
    /// The first eight bytes of the sort key as a big-endian number, zero-padded: most names
    /// are ordered by this alone, without comparing bytes. Keys hold no NUL, so the padding
    /// orders a key before its extensions.
    prefix: u64,
    // Offsets fit: the query is at most MAX_QUERY_LEN bytes.
    start: u16,
    end: u16,
    /// The sort key: PHP's form of the name (empty when PHP drops the argument).
    key_start: u16,
    key_end: u16,
    key_view: View,
}

impl SortEntry {
    fn new(query: &[u8], seg: &Segment, key: php::Span) -> SortEntry {
        let name = key.name(seg.raw_name(query));
        // Built in a register: bytes stored one by one and reloaded as a word would stall on
        // store forwarding.
        let mut prefix = 0u64;
        let mut taken = 0;
        let mut take = |c: u8| {
            prefix = prefix << 8 | u64::from(c);
            taken += 1;
        };
        match name.plain() {
            Some(raw) => raw.iter().take(8).for_each(|&c| take(c)),
            None => name.decoded().take(8).for_each(take),
        }
        let prefix = if taken == 0 { 0 } else { prefix << (8 * (8 - taken)) };
        let offset = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
        SortEntry {
            prefix,
            start: offset(seg.start),
            end: offset(seg.end),
            key_start: offset(seg.start + key.start),
            key_end: offset(seg.start + key.end),
            key_view: key.view,
        }
    }

    fn key<'q>(&self, query: &'q [u8]) -> Name<'q> {
        Name::with_view(
            &query[usize::from(self.key_start)..usize::from(self.key_end)],
            self.key_view,
        )
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
    fn sorts_stably_by_php_name() {
        let sorted = rules(&[], None, true);
        // `a[]`, `%61` and `a` are all `$_GET['a']`: the last one wins, so they keep their order.
        let r = run_with("b=1&a[]=2&%61=0&a[]=1&c=3", &sorted, &[]);
        assert_eq!(r.args, "a[]=2&%61=0&a[]=1&b=1&c=3");
        assert!(r.result.changed);
        let r = run_with("a=1&a=0&b=2", &sorted, &[]);
        assert_eq!(r.args, "a=1&a=0&b=2");
        assert!(!r.result.changed);
        // PHP folds `a.b`, `a b`, `a+b` and `a[b` into `a_b`.
        let r = run_with("z=0&a_b=2&a.b=1&a+b=3&a[b=4&a_a=5", &sorted, &[]);
        assert_eq!(r.args, "a_a=5&a_b=2&a.b=1&a+b=3&a[b=4&z=0");
        // Names PHP drops sort first, in their order.
        let r = run_with("b=1&[x]=2&%00=3&=4", &sorted, &[]);
        assert_eq!(r.args, "[x]=2&%00=3&=4&b=1");
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
            run_with("add-to-cart=5&p=1", &ArgRules::default(), &["add-to-cart"]).result.bypass
        );
        assert!(run_with("add%2Dto-cart=5", &ArgRules::default(), &["add-to-cart"]).result.bypass);
        assert!(!run_with("utm_x=1&p=1", &ArgRules::default(), &["utm_*"]).result.bypass);
    }

    #[test]
    fn lists_match_names_as_php_reads_them() {
        let bypass = ["add-to-cart", "wc-ajax", "rest_route", "doing_wp_cron", "preview"];
        for query in [
            "+add-to-cart=5",
            "%20wc-ajax=x",
            "rest[route=/wp/v2",
            "rest%5Broute=/wp/v2",
            "rest.route=/wp/v2",
            "doing_wp_cron%00=1",
            "+preview=true",
            "add-to-cart[x]=5",
            "add-to-cart%00x=5",
        ] {
            let r = run_with(query, &rules(&[], None, false), &bypass);
            assert!(r.result.bypass, "{query}");
        }
        for query in ["[add-to-cart]=5", "%00add-to-cart=5", "x=add-to-cart"] {
            let r = run_with(query, &rules(&[], None, false), &bypass);
            assert!(!r.result.bypass, "{query}");
        }
        let r = run("+gclid=1&utm.source=2&p=1&utm_x[a]=3&%20fbclid%00x=4");
        assert_eq!(r.args, "p=1");
        assert_eq!(r.stripped, "+gclid=1&utm.source=2&utm_x[a]=3&%20fbclid%00x=4");
        // Allow-list: kept as PHP reads it, too.
        let r = run_with("p.x=1&p[]=2&q=3", &rules(&[], Some(&["p", "p_x"]), false), &[]);
        assert_eq!(r.args, "p.x=1&p[]=2");
    }
}
