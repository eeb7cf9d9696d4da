//! Skip-cache rules: which requests must not be answered from, or stored in, the cache.

use regex::bytes::RegexSet;

use crate::decode::Name;
use crate::glob::GlobSet;
use crate::php;
use crate::query::Normalised;

/// Why a request skips the cache, in the order the rules are tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SkipReason {
    Method,
    Uri,
    Cookie,
    Arg,
    Header,
    Body,
    Limit,
    /// Not a rule: the hydration state was unavailable and `microcache_hydrate_fallback origin`
    /// has the origin render the page for this visitor.
    Hydrate,
}

impl SkipReason {
    pub const ALL: [SkipReason; 8] = [
        SkipReason::Method,
        SkipReason::Uri,
        SkipReason::Cookie,
        SkipReason::Arg,
        SkipReason::Header,
        SkipReason::Body,
        SkipReason::Limit,
        SkipReason::Hydrate,
    ];

    /// The value of `$microcache_skip_reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Method => "method",
            SkipReason::Uri => "uri",
            SkipReason::Cookie => "cookie",
            SkipReason::Arg => "arg",
            SkipReason::Header => "header",
            SkipReason::Body => "body",
            SkipReason::Limit => "limit",
            SkipReason::Hydrate => "hydrate",
        }
    }

    /// Position in [`SkipReason::ALL`], for counters.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// `microcache_bypass_methods`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MethodRule {
    /// The default: every method but GET and HEAD bypasses.
    AllButGetHead,
    /// Exactly these methods bypass.
    Only(Vec<Box<[u8]>>),
}

impl MethodRule {
    pub fn matches(&self, method: &[u8]) -> bool {
        match self {
            MethodRule::AllButGetHead => method != b"GET" && method != b"HEAD",
            MethodRule::Only(list) => list.iter().any(|m| **m == *method),
        }
    }
}

/// `microcache_bypass_uri`: plain prefixes and regular expressions over the decoded path.
#[derive(Clone, Debug, Default)]
pub struct UriRule {
    prefixes: Vec<Box<[u8]>>,
    regexes: Option<RegexSet>,
}

impl PartialEq for UriRule {
    fn eq(&self, other: &Self) -> bool {
        self.prefixes == other.prefixes
            && self.regexes.as_ref().map(RegexSet::patterns)
                == other.regexes.as_ref().map(RegexSet::patterns)
    }
}

impl Eq for UriRule {}

impl UriRule {
    pub fn new(prefixes: Vec<Box<[u8]>>, regexes: Option<RegexSet>) -> Self {
        UriRule { prefixes, regexes }
    }

    pub fn matches(&self, path: &[u8]) -> bool {
        self.prefixes.iter().any(|p| path.starts_with(p))
            || self.regexes.as_ref().is_some_and(|r| r.is_match(path))
    }
}

/// The skip rules of one location. Header patterns are lower case, as nginx's `lowcase_key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkipRules {
    pub methods: MethodRule,
    pub uri: UriRule,
    pub cookies: GlobSet,
    /// Argument names; tested during normalisation, see [`Normalised::bypass`].
    pub args: GlobSet,
    pub headers: GlobSet,
}

impl Default for SkipRules {
    fn default() -> Self {
        SkipRules {
            methods: MethodRule::AllButGetHead,
            uri: UriRule::default(),
            cookies: GlobSet::default(),
            args: GlobSet::default(),
            headers: GlobSet::new(["authorization"]),
        }
    }
}

/// What the skip rules look at, besides the query.
pub struct RequestFacts<'r, H> {
    pub method: &'r [u8],
    /// The decoded, normalised path (`$uri` of the original request).
    pub uri: &'r [u8],
    /// Request headers as (lower-case name, value).
    pub headers: H,
    /// A body was announced (Content-Length > 0 or chunked).
    pub has_body: bool,
}

impl SkipRules {
    /// The first rule that matches, in the order of [`SkipReason::ALL`].
    pub fn evaluate<'r, H>(
        &self,
        req: &RequestFacts<'r, H>,
        args: &Normalised,
    ) -> Option<SkipReason>
    where
        H: Iterator<Item = (&'r [u8], &'r [u8])> + Clone,
    {
        if self.methods.matches(req.method) {
            return Some(SkipReason::Method);
        }
        if self.uri.matches(req.uri) {
            return Some(SkipReason::Uri);
        }
        if !self.cookies.is_empty() && self.any_cookie_matches(req.headers.clone()) {
            return Some(SkipReason::Cookie);
        }
        if args.bypass {
            return Some(SkipReason::Arg);
        }
        if !self.headers.is_empty()
            && req.headers.clone().any(|(name, value)| {
                !value.is_empty() && self.headers.matches(&Name::literal(name))
            })
        {
            return Some(SkipReason::Header);
        }
        if req.has_body && (req.method == b"GET" || req.method == b"HEAD") {
            return Some(SkipReason::Body);
        }
        if args.limited {
            return Some(SkipReason::Limit);
        }
        None
    }

    /// Every `Cookie` header counts: HTTP/2 clients may send one per cookie. A name matches
    /// trimmed and percent-decoded, or as PHP reads it (`wordpress_logged_in[x` is PHP's
    /// `wordpress_logged_in_x`).
    fn any_cookie_matches<'r>(&self, headers: impl Iterator<Item = (&'r [u8], &'r [u8])>) -> bool {
        headers
            .filter(|(name, _)| *name == b"cookie")
            .flat_map(|(_, value)| php::cookie_names(value))
            .any(|raw| {
                let trimmed = raw.trim_ascii();
                let decoded = Name::new(trimmed);
                let php = php::cookie_name(raw);
                (!trimmed.is_empty() && self.cookies.matches(&decoded))
                    || php.is_some_and(|php| {
                        // Most names read the same both ways: matched once.
                        (php.plain().is_none() || php.plain() != decoded.plain())
                            && self.cookies.matches(&php)
                    })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'r>(
        method: &'r str,
        uri: &'r str,
        headers: &'r [(&'r str, &'r str)],
    ) -> RequestFacts<'r, impl Iterator<Item = (&'r [u8], &'r [u8])> + Clone> {
        RequestFacts {
            method: method.as_bytes(),
            uri: uri.as_bytes(),
            headers: headers.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
            has_body: false,
        }
    }

    fn wordpress() -> SkipRules {
        SkipRules {
            cookies: GlobSet::new(["wordpress_logged_in_*", "woocommerce_items_in_cart"]),
            uri: UriRule::new(
                vec![b"/wp-admin/"[..].into()],
                Some(RegexSet::new(["(?i)/(cart|checkout)/"]).unwrap()),
            ),
            ..SkipRules::default()
        }
    }

    #[test]
    fn reasons_in_order() {
        let rules = wordpress();
        let none = Normalised::default();
        let cookie = [("cookie", "a=1; wordpress_logged_in_abc=x")];
        assert_eq!(
            rules.evaluate(&facts("POST", "/wp-admin/", &cookie), &none),
            Some(SkipReason::Method)
        );
        assert_eq!(
            rules.evaluate(&facts("GET", "/wp-admin/x", &cookie), &none),
            Some(SkipReason::Uri)
        );
        assert_eq!(rules.evaluate(&facts("GET", "/", &cookie), &none), Some(SkipReason::Cookie));
        assert_eq!(rules.evaluate(&facts("HEAD", "/", &[]), &none), None);
        let bypass = Normalised { bypass: true, limited: true, ..none };
        assert_eq!(rules.evaluate(&facts("GET", "/", &[]), &bypass), Some(SkipReason::Arg));
        let limited = Normalised { limited: true, ..none };
        assert_eq!(rules.evaluate(&facts("GET", "/", &[]), &limited), Some(SkipReason::Limit));
    }

    #[test]
    fn cookies_are_matched_by_name_in_every_header() {
        let rules = wordpress();
        let none = Normalised::default();
        let value_only = [("cookie", "theme=wordpress_logged_in_x")];
        assert_eq!(rules.evaluate(&facts("GET", "/", &value_only), &none), None);
        let split =
            [("cookie", "a=1"), ("user-agent", "x"), ("cookie", " woocommerce_items_in_cart=1")];
        assert_eq!(rules.evaluate(&facts("GET", "/", &split), &none), Some(SkipReason::Cookie));
        let encoded = [("cookie", "wordpress%5Flogged_in_1=x")];
        assert_eq!(rules.evaluate(&facts("GET", "/", &encoded), &none), Some(SkipReason::Cookie));
        for php_reads_logged_in in [
            "wordpress.logged_in_1=x",
            "wordpress_logged_in[abc=1",
            "\x0bwordpress_logged_in_x=1",
            "a=1;\x0c\x0bwordpress_logged_in_x",
            "woocommerce[items_in_cart=1",
            "woocommerce items in cart=1",
        ] {
            let headers = [("cookie", php_reads_logged_in)];
            assert_eq!(
                rules.evaluate(&facts("GET", "/", &headers), &none),
                Some(SkipReason::Cookie),
                "{php_reads_logged_in:?}"
            );
        }
        // PHP splits on ";" only: this is one cookie, "a".
        let comma = [("cookie", "a=1, wordpress_logged_in_x=1")];
        assert_eq!(rules.evaluate(&facts("GET", "/", &comma), &none), None);
    }

    #[test]
    fn regex_is_case_insensitive_when_asked() {
        let rules = wordpress();
        let none = Normalised::default();
        assert_eq!(rules.evaluate(&facts("GET", "/shop/CART/", &[]), &none), Some(SkipReason::Uri));
        assert_eq!(rules.evaluate(&facts("GET", "/WP-ADMIN/", &[]), &none), None);
    }

    #[test]
    fn headers_must_be_present_and_non_empty() {
        let rules = SkipRules::default();
        let none = Normalised::default();
        assert_eq!(rules.evaluate(&facts("GET", "/", &[("authorization", "")]), &none), None);
        assert_eq!(
            rules.evaluate(&facts("GET", "/", &[("authorization", "Basic x")]), &none),
            Some(SkipReason::Header)
        );
    }

    #[test]
    fn fat_get_skips() {
        let rules = SkipRules::default();
        let mut req = facts("GET", "/", &[]);
        req.has_body = true;
        assert_eq!(rules.evaluate(&req, &Normalised::default()), Some(SkipReason::Body));
    }

    #[test]
    fn method_lists() {
        let only = MethodRule::Only(vec![b"POST"[..].into()]);
        assert!(only.matches(b"POST"));
        assert!(!only.matches(b"PUT"));
        assert!(MethodRule::AllButGetHead.matches(b"PURGE"));
        assert!(!MethodRule::AllButGetHead.matches(b"HEAD"));
    }
}
