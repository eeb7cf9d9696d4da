//! How PHP names the entries of `$_GET` and `$_COOKIE`: the PHP form of a name.
//!
//! PHP 8.2 (`php_default_treat_data` and `php_register_variable_ex` in `main/php_variables.c`)
//! reads a name in these steps; a name that PHP would read as a logged-in cookie must never
//! reach the cache, so every name list also matches this form.
//!
//! 1. Query names are URL-decoded (`+` is a space, `%XX` a byte); cookie names are not decoded.
//! 2. Leading spaces are dropped: for cookies every `isspace()` byte (space, `\t`, `\n`, `\v`,
//!    `\f`, `\r`), for query names only the space (which `+` and `%20` decode to).
//! 3. A NUL byte ends the name (PHP handles it as a C string).
//! 4. The first `[` starts an array index when a `]` follows it somewhere: the name is what comes
//!    before it (`a[b]` is `$_GET['a']`). Otherwise the `[` is an ordinary byte.
//! 5. `.`, space and an ordinary `[` become `_`.
//! 6. An empty name, or one that starts with `[`, is dropped; so is a name that step 5 made start
//!    with `__Host-` or `__Secure-` when it did not start so before.
//!
//! The differential test (`make test-php-names`) checks this model against the real PHP.

use crate::decode::{Decoded, Name, View};

/// The name PHP gives the query argument whose raw (undecoded) name is `raw`, or `None` when
/// PHP drops the argument.
pub fn query_name(raw: &[u8]) -> Option<Name<'_>> {
    query_span(raw).map(|span| span.name(raw))
}

/// The name PHP gives the cookie whose raw name (the bytes before its `=`) is `raw`, or `None`
/// when PHP drops the cookie.
pub fn cookie_name(raw: &[u8]) -> Option<Name<'_>> {
    span(raw, Source::Cookie).map(|span| span.name(raw))
}

/// Where [`query_name`] finds PHP's form in `raw`.
pub(crate) fn query_span(raw: &[u8]) -> Option<Span> {
    span(raw, Source::Query)
}

/// The bytes of a raw name that PHP keeps, and how it reads them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
    pub view: View,
}

impl Span {
    pub fn name(self, raw: &[u8]) -> Name<'_> {
        Name::with_view(&raw[self.start..self.end], self.view)
    }

    /// PHP's form is the whole name, percent-decoded: the same bytes as the decoded form.
    pub fn is_decoded_form(self, raw: &[u8]) -> bool {
        self.start == 0 && self.end == raw.len() && matches!(self.view, View::Plain | View::Percent)
    }
}

/// The names in a `Cookie` header value, as PHP splits it: on `;` only (a `,` is part of a
/// value), the bytes before the first `=` of each part, surroundings untrimmed. A part without
/// `=` is a name too: PHP sets it to the empty string.
pub fn cookie_names(header: &[u8]) -> impl Iterator<Item = &[u8]> {
    header.split(|&c| c == b';').filter(|part| !part.is_empty()).map(|part| {
        let end = part.iter().position(|&c| c == b'=').unwrap_or(part.len());
        &part[..end]
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Query,
    Cookie,
}

/// C's `isspace()` in the "C" locale.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn span(raw: &[u8], source: Source) -> Option<Span> {
    // Steps 1 to 4 in one pass over the decoded bytes, tracking raw offsets.
    let unmangled = if source == Source::Query { View::Percent } else { View::Plain };
    let mut bytes = Decoded::with_view(raw, unmangled);
    let mut start = 0;
    let mut end = raw.len();
    let mut open = None;
    // The first byte that step 5 changes, if any.
    let mut first_mangled = None;
    let mut leading = true;
    loop {
        let at = raw.len() - bytes.raw_left();
        let Some(mut c) = bytes.next() else { break };
        if source == Source::Query && raw[at] == b'+' {
            c = b' ';
        }
        if c == 0 {
            end = at;
            break;
        }
        let lead = match source {
            Source::Query => c == b' ',
            Source::Cookie => is_c_space(c),
        };
        if leading && lead {
            start = raw.len() - bytes.raw_left();
            continue;
        }
        leading = false;
        if first_mangled.is_none() && matches!(c, b'.' | b' ' | b'[') {
            first_mangled = Some(at);
        }
        match (c, open) {
            (b'[', None) => open = Some(at),
            (b']', Some(at_open)) => {
                end = at_open;
                break;
            }
            _ => {}
        }
    }
    if open == Some(start) || start >= end {
        return None;
    }
    // The cheapest view that reads the kept bytes as PHP does.
    let view = match (source, first_mangled.is_some_and(|at| at < end)) {
        (Source::Query, true) => View::PhpQuery,
        (Source::Cookie, true) => View::PhpCookie,
        (Source::Query, false) if raw[start..end].contains(&b'%') => View::Percent,
        _ => View::Plain,
    };
    let span = Span { start, end, view };
    let before_mangling = Decoded::with_view(&raw[start..], unmangled);
    let mangled = matches!(view, View::PhpQuery | View::PhpCookie);
    (!mangled || !made_secure_prefix(span.name(raw).decoded(), before_mangling)).then_some(span)
}

/// Whether mangling gave the name a `__Host-` or `__Secure-` prefix it did not have: PHP drops
/// such names, so that `..Host-x` cannot pose as a host-only cookie.
fn made_secure_prefix(mangled: Decoded<'_>, original: Decoded<'_>) -> bool {
    let starts_with =
        |mut bytes: Decoded<'_>, prefix: &[u8]| prefix.iter().all(|&c| bytes.next() == Some(c));
    [&b"__Host-"[..], b"__Secure-"]
        .iter()
        .any(|p| starts_with(mangled.clone(), p) && !starts_with(original.clone(), p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(raw: &str) -> Option<Vec<u8>> {
        query_name(raw.as_bytes()).map(|n| n.decoded().collect())
    }

    fn cookie(raw: &[u8]) -> Option<Vec<u8>> {
        cookie_name(raw).map(|n| n.decoded().collect())
    }

    // Expected values are what PHP 8.2's parse_str and $_COOKIE give.
    #[test]
    fn query_names() {
        for (raw, php) in [
            ("plain", Some("plain")),
            ("utm%5Fsource", Some("utm_source")),
            ("+add-to-cart", Some("add-to-cart")),
            ("%20wc-ajax", Some("wc-ajax")),
            ("++a.b", Some("a_b")),
            ("rest[route", Some("rest_route")),
            ("rest%5Broute", Some("rest_route")),
            ("doing_wp_cron%00", Some("doing_wp_cron")),
            ("%09a", Some("\ta")),
            ("a.b[c", Some("a_b_c")),
            ("a[b c[d", Some("a_b_c_d")),
            ("a[b]c[", Some("a")),
            ("a[ ]", Some("a")),
            ("a]b[", Some("a]b_")),
            ("a[%00]", Some("a_")),
            ("a[b%00]", Some("a_b")),
            ("a%00[b", Some("a")),
            ("a b[x]", Some("a_b")),
            ("a%2Bb", Some("a+b")),
            (".", Some("_")),
            ("__Host-x", Some("__Host-x")),
            ("__Host.x", Some("__Host_x")),
            ("+__Host-x", Some("__Host-x")),
            ("", None),
            ("+", None),
            ("%00a", None),
            ("[abc", None),
            ("[a]", None),
            (" [x]", None),
            ("..Host-x", None),
            ("_.Host-x", None),
            ("_%5BHost-x", None),
            ("__Secure.-x", Some("__Secure_-x")),
            ("._Secure-x", None),
        ] {
            assert_eq!(query(raw).as_deref(), php.map(str::as_bytes), "{raw:?}");
        }
    }

    #[test]
    fn cookie_names_are_not_decoded() {
        for (raw, php) in [
            (&b"wordpress_logged_in[abc"[..], Some(&b"wordpress_logged_in_abc"[..])),
            (b"\x0bwordpress_logged_in_x", Some(b"wordpress_logged_in_x")),
            (b" \t\n\r\x0b\x0ca", Some(b"a")),
            (b"a%5Fb", Some(b"a%5Fb")),
            (b"a+b", Some(b"a+b")),
            (b"a b ", Some(b"a_b_")),
            (b"a[b]", Some(b"a")),
            (b"a%00b", Some(b"a%00b")),
            (b"a\0b", Some(b"a")),
            (b"\xa0y", Some(b"\xa0y")),
            (b"", None),
            (b" \x0b", None),
            (b"..Host-x", None),
        ] {
            assert_eq!(cookie(raw).as_deref(), php, "{raw:?}");
        }
    }

    #[test]
    fn unchanged_names_stay_plain() {
        assert_eq!(query_name(b"plain").and_then(|n| n.plain()), Some(&b"plain"[..]));
        assert_eq!(query_name(b"a%00b").and_then(|n| n.plain()), Some(&b"a"[..]));
        assert_eq!(cookie_name(b" a%2E").and_then(|n| n.plain()), Some(&b"a%2E"[..]));
        assert!(query_name(b"a%2E").unwrap().plain().is_none());
        assert!(query_span(b"%61").unwrap().is_decoded_form(b"%61"));
        assert!(!query_span(b"%61[]").unwrap().is_decoded_form(b"%61[]"));
        assert!(!query_span(b"+%61").unwrap().is_decoded_form(b"+%61"));
    }

    #[test]
    fn cookie_header_parsing() {
        let names: Vec<&[u8]> = cookie_names(b" a=1;b ; =x;;c=d=e; \tdd\t=1, e=2").collect();
        assert_eq!(names, [&b" a"[..], b"b ", b" ", b"c", b" \tdd\t"]);
    }
}
