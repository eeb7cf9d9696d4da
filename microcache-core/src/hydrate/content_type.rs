//! Which responses are rewritten: the type and charset a `Content-Type` value names.

/// The charset of a `text/html` `Content-Type` (`Some(None)` when it names none); `None` when
/// the type is another one. The type is matched case-insensitively; a quoted charset is
/// unquoted; the first `charset` parameter counts.
pub fn html_charset(content_type: &[u8]) -> Option<Option<&[u8]>> {
    let mut parts = content_type.split(|&c| c == b';');
    let mime = parts.next().map(<[u8]>::trim_ascii)?;
    if !mime.eq_ignore_ascii_case(b"text/html") {
        return None;
    }
    for part in parts {
        let Some(eq) = part.iter().position(|&c| c == b'=') else { continue };
        if !part[..eq].trim_ascii().eq_ignore_ascii_case(b"charset") {
            continue;
        }
        let value = part[eq + 1..].trim_ascii();
        let value = value.strip_prefix(b"\"").and_then(|v| v.strip_suffix(b"\"")).unwrap_or(value);
        return Some(Some(value).filter(|v| !v.is_empty()));
    }
    Some(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Content-Type` value and the charset `html_charset` finds in it.
    type Case = (&'static [u8], Option<Option<&'static [u8]>>);

    #[test]
    fn html_types_and_their_charsets() {
        let cases: &[Case] = &[
            (b"text/html", Some(None)),
            (b"TEXT/HTML", Some(None)),
            (b" text/html ; ", Some(None)),
            (b"text/html; charset=utf-8", Some(Some(b"utf-8"))),
            (b"text/html;charset=\"ISO-8859-1\"", Some(Some(b"ISO-8859-1"))),
            (b"text/html; level=1; Charset = windows-1252 ; x=y", Some(Some(b"windows-1252"))),
            (b"text/html; charset=", Some(None)),
            (b"text/html; charset=a; charset=b", Some(Some(b"a"))),
            (b"text/htmlx", None),
            (b"text/plain; charset=utf-8", None),
            (b"application/xhtml+xml", None),
            (b"", None),
        ];
        for (value, expected) in cases {
            assert_eq!(html_charset(value), *expected, "{:?}", value.escape_ascii().to_string());
        }
    }
}
