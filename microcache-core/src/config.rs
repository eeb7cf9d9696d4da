//! Directive arguments to rules, with errors that name the offending value.
//!
//! The nginx glue passes the arguments of a directive as byte strings and turns a
//! [`ConfError`] into `invalid value "x" in "microcache_max_args" directive, ...`.

use regex::bytes::{RegexSet, RegexSetBuilder};
use regex_syntax::ast::{self, Ast};

use crate::glob::GlobSet;
use crate::query::{DEFAULT_STRIP_ARGS, MAX_ARGS_LIMIT};
use crate::skip::{MethodRule, UriRule};

/// A directive argument that cannot be used, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfError {
    /// What was wrong: `value` or `regex`.
    pub kind: &'static str,
    /// The argument as written.
    pub value: Vec<u8>,
    pub reason: String,
}

impl ConfError {
    fn value(value: &[u8], reason: impl Into<String>) -> ConfError {
        ConfError { kind: "value", value: value.to_vec(), reason: reason.into() }
    }

    /// The nginx-style message for `directive`.
    pub fn message(&self, directive: &str) -> String {
        format!(
            "invalid {} \"{}\" in \"{}\" directive, {}",
            self.kind,
            String::from_utf8_lossy(&self.value),
            directive,
            self.reason
        )
    }
}

/// `off` alone clears a list; anywhere else it is an error.
fn is_off(args: &[&[u8]]) -> Result<bool, ConfError> {
    match args {
        [b"off"] => Ok(true),
        _ => match args.iter().find(|a| **a == b"off") {
            Some(off) => Err(ConfError::value(off, "\"off\" must be the only argument")),
            None => Ok(false),
        },
    }
}

/// Bytes that cannot be part of an argument or cookie name pattern.
fn check_name_pattern(p: &[u8]) -> Result<(), ConfError> {
    if p.is_empty() {
        return Err(ConfError::value(p, "an empty pattern matches nothing"));
    }
    match p.iter().find(|&&c| c <= b' ' || c == 0x7f || matches!(c, b'&' | b'=' | b';')) {
        Some(_) => Err(ConfError::value(
            p,
            "a name cannot contain spaces, controls, \"&\", \"=\" or \";\"",
        )),
        None => Ok(()),
    }
}

/// `microcache_strip_args` (`with_default`), `microcache_keep_args`, `microcache_bypass_args`,
/// `microcache_bypass_cookies`: name globs, or `off`.
pub fn parse_name_globs(args: &[&[u8]], with_default: bool) -> Result<GlobSet, ConfError> {
    if is_off(args)? {
        return Ok(GlobSet::default());
    }
    let mut patterns: Vec<&[u8]> = Vec::new();
    for &arg in args {
        if with_default && arg == b"default" {
            patterns.extend(DEFAULT_STRIP_ARGS.iter().map(|p| p.as_bytes()));
            continue;
        }
        check_name_pattern(arg)?;
        patterns.push(arg);
    }
    Ok(GlobSet::new(patterns))
}

/// `microcache_bypass_headers`: header name globs, matched case-insensitively, or `off`.
pub fn parse_header_globs(args: &[&[u8]]) -> Result<GlobSet, ConfError> {
    if is_off(args)? {
        return Ok(GlobSet::default());
    }
    let mut lower = Vec::with_capacity(args.len());
    for &arg in args {
        // RFC 9110 token characters, plus the glob star.
        let token = |c: &u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(c);
        if arg.is_empty() || !arg.iter().all(token) {
            return Err(ConfError::value(arg, "not a header name"));
        }
        lower.push(arg.to_ascii_lowercase());
    }
    Ok(GlobSet::new(lower))
}

/// `microcache_bypass_methods`: upper-case method names.
pub fn parse_methods(args: &[&[u8]]) -> Result<MethodRule, ConfError> {
    let mut methods: Vec<Box<[u8]>> = Vec::with_capacity(args.len());
    for &arg in args {
        if arg.is_empty() || !arg.iter().all(|c| c.is_ascii_uppercase() || matches!(c, b'-' | b'_'))
        {
            return Err(ConfError::value(arg, "a method is written in upper case, like POST"));
        }
        if !methods.iter().any(|m| **m == *arg) {
            methods.push(arg.into());
        }
    }
    Ok(MethodRule::Only(methods))
}

/// `microcache_bypass_uri`: `~regex`, `~*regex` (case-insensitive) or a `/prefix`, or `off`.
///
/// Regexes are compiled here, once; the `regex` crate matches in linear time.
pub fn parse_uri_rule(args: &[&[u8]]) -> Result<UriRule, ConfError> {
    if is_off(args)? {
        return Ok(UriRule::default());
    }
    let mut prefixes: Vec<Box<[u8]>> = Vec::new();
    let mut regexes: Vec<String> = Vec::new();
    for &arg in args {
        let (body, caseless) = match arg {
            [b'~', b'*', rest @ ..] => (rest, true),
            [b'~', rest @ ..] => (rest, false),
            [b'/', ..] => {
                prefixes.push(arg.into());
                continue;
            }
            _ => {
                return Err(ConfError::value(
                    arg,
                    "a prefix starts with \"/\", a regex with \"~\" or \"~*\"",
                ))
            }
        };
        let Ok(body) = core::str::from_utf8(body) else {
            return Err(ConfError::value(arg, "a regex must be UTF-8"));
        };
        if body.is_empty() {
            return Err(ConfError::value(arg, "empty regex"));
        }
        if enables_unicode(body) {
            return Err(ConfError {
                kind: "regex",
                value: arg.to_vec(),
                reason: NO_UNICODE.into(),
            });
        }
        let pattern = if caseless { format!("(?i:{body})") } else { body.to_owned() };
        // Compile alone first, so the error names the pattern at fault.
        if let Err(e) = regex_set([&pattern]) {
            return Err(ConfError { kind: "regex", value: arg.to_vec(), reason: regex_reason(&e) });
        }
        regexes.push(pattern);
    }
    let set = match regexes.is_empty() {
        true => None,
        false => Some(regex_set(&regexes).map_err(|e| ConfError {
            kind: "regex",
            value: regexes.join(" ").into_bytes(),
            reason: regex_reason(&e),
        })?),
    };
    Ok(UriRule::new(prefixes, set))
}

/// Compiles patterns that match bytes as nginx's PCRE does without its UTF mode: `.` and `[^/]`
/// match any byte (the decoded path may hold invalid UTF-8), `\d`, `\w`, `\s` and `\b` are ASCII
/// classes, `(?i)` folds ASCII letters, and a literal UTF-8 character matches its bytes.
fn regex_set<I: IntoIterator<Item = S>, S: AsRef<str>>(
    patterns: I,
) -> Result<RegexSet, regex::Error> {
    RegexSetBuilder::new(patterns).unicode(false).build()
}

/// What to write instead of a Unicode class or `(?u)`.
const NO_UNICODE: &str = "patterns match bytes as in nginx's PCRE, without Unicode: \\d, \\w, \\s \
                          and \\b are ASCII; write characters or byte ranges instead of \\p{..}";

/// Whether the pattern turns Unicode mode on with `(?u)`: nginx's PCRE has no such mode, and
/// whether this build could compile it would depend on the regex crate's features.
fn enables_unicode(pattern: &str) -> bool {
    struct FindUnicode;
    impl ast::Visitor for FindUnicode {
        type Output = ();
        type Err = ();
        fn finish(self) -> Result<(), ()> {
            Ok(())
        }
        fn visit_pre(&mut self, node: &Ast) -> Result<(), ()> {
            let flags = match node {
                Ast::Flags(set) => Some(&set.flags),
                Ast::Group(group) => match &group.kind {
                    ast::GroupKind::NonCapturing(flags) => Some(flags),
                    _ => None,
                },
                _ => None,
            };
            match flags.and_then(|f| f.flag_state(ast::Flag::Unicode)) {
                Some(true) => Err(()),
                _ => Ok(()),
            }
        }
    }
    ast::parse::Parser::new()
        .parse(pattern)
        .is_ok_and(|tree| ast::visit(&tree, FindUnicode).is_err())
}

/// The one-line reason out of the regex crate's multi-line syntax errors.
fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    let reason = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("error: "))
        .unwrap_or(text.lines().last().unwrap_or("invalid"));
    match reason.contains("Unicode") {
        true => format!("{reason}: {NO_UNICODE}"),
        false => reason.to_owned(),
    }
}

/// `microcache_max_args`: a number from 1 to [`MAX_ARGS_LIMIT`].
pub fn parse_max_args(arg: &[u8]) -> Result<usize, ConfError> {
    core::str::from_utf8(arg)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|n| (1..=MAX_ARGS_LIMIT).contains(n))
        .ok_or_else(|| {
            ConfError::value(arg, format!("it must be a number from 1 to {MAX_ARGS_LIMIT}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<&[u8]> {
        s.split(' ').map(str::as_bytes).collect()
    }

    #[test]
    fn default_keyword_and_off() {
        let set = parse_name_globs(&args("default foo"), true).unwrap();
        assert!(set.matches_bytes(b"utm_medium") && set.matches_bytes(b"foo"));
        assert!(parse_name_globs(&args("off"), true).unwrap().is_empty());
        let e = parse_name_globs(&args("foo off"), true).unwrap_err();
        assert_eq!(e.value, b"off");
        // Outside microcache_strip_args "default" is just a name.
        assert!(parse_name_globs(&args("default"), false).unwrap().matches_bytes(b"default"));
    }

    #[test]
    fn rejects_impossible_names() {
        for bad in ["a=b", "a&b", "a;b", ""] {
            let e = parse_name_globs(&[bad.as_bytes()], false).unwrap_err();
            assert!(e.message("microcache_bypass_args").starts_with(&format!(
                "invalid value \"{bad}\" in \"microcache_bypass_args\" directive, "
            )));
        }
    }

    #[test]
    fn uri_rules() {
        let rule = parse_uri_rule(&args("/wp-admin/ ~*\\.xml$ ~^/cart")).unwrap();
        assert!(rule.matches(b"/wp-admin/x"));
        assert!(rule.matches(b"/SITEMAP.XML"));
        assert!(rule.matches(b"/cart/1"));
        assert!(!rule.matches(b"/shop/cart"));
        let e = parse_uri_rule(&args("~(unclosed")).unwrap_err();
        assert_eq!(e.kind, "regex");
        assert_eq!(
            e.message("microcache_bypass_uri"),
            "invalid regex \"~(unclosed\" in \"microcache_bypass_uri\" directive, unclosed group"
        );
        assert!(parse_uri_rule(&args("wp-admin")).is_err());
        assert!(parse_uri_rule(&args("~")).is_err());
    }

    #[test]
    fn regexes_match_bytes_like_pcre() {
        let rule =
            parse_uri_rule(&args(r"~^/p/\d+/$ ~/\w+\.xml$ ~\bfeed\b ~/a\sb ~*/CAFÉ/ ~^/x/[^/]+/y"))
                .unwrap();
        assert!(rule.matches(b"/p/123/"));
        assert!(!rule.matches(b"/p/\xd9\xa3/"), "\\d is ASCII");
        assert!(rule.matches(b"/sitemap_1.xml"));
        assert!(!rule.matches("/é.xml".as_bytes()), "\\w is ASCII");
        assert!(rule.matches(b"/blog/feed/"));
        assert!(!rule.matches(b"/feeds"));
        assert!(rule.matches(b"/a\x0bb"));
        // Literal UTF-8 matches its bytes; `~*` folds ASCII letters only, as PCRE does.
        assert!(rule.matches("/cafÉ/".as_bytes()));
        assert!(!rule.matches("/café/".as_bytes()));
        // Invalid UTF-8 in the decoded path does not evade `[^/]` or `.`.
        assert!(rule.matches(b"/x/\xff/y"));
        for unicode in [r"~\p{L}", r"~(?u)\w", r"~x(?iu:\d)", r"~*\pN"] {
            let e = parse_uri_rule(&args(unicode)).unwrap_err();
            assert_eq!(e.kind, "regex");
            assert_eq!(e.value, unicode.as_bytes());
            assert!(e.reason.ends_with(NO_UNICODE), "{}", e.reason);
        }
        // Turning Unicode off is the default; saying so is fine.
        assert!(parse_uri_rule(&args(r"~(?-u)\w(?i-u:x)")).is_ok());
    }

    #[test]
    fn numbers_and_methods_and_headers() {
        assert_eq!(parse_max_args(b"64"), Ok(64));
        for bad in ["0", "1025", "-1", "1k", "", "99999999999999999999999"] {
            assert!(parse_max_args(bad.as_bytes()).is_err(), "{bad}");
        }
        assert!(parse_methods(&args("POST PUT")).unwrap().matches(b"PUT"));
        assert!(parse_methods(&args("post")).is_err());
        let h = parse_header_globs(&args("Authorization X-Preview-*")).unwrap();
        assert!(h.matches_bytes(b"authorization") && h.matches_bytes(b"x-preview-token"));
        assert!(parse_header_globs(&args("Bad:Name")).is_err());
    }
}
