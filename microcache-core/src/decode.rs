//! Names as bytes to match, without allocating: percent-decoded, or as PHP reads them.
//!
//! Argument and cookie names are compared after percent-decoding (`utm%5Fsource` is
//! `utm_source`). A `%` that does not start a valid `%XX` escape is kept as a literal byte, like
//! PHP's `urldecode`. `+` is not a space in the decoded form: names are matched byte for byte
//! otherwise. What PHP makes of a name ([`crate::php`]) is a [`Name`] too, read with PHP's rules.

/// How the raw bytes of a [`Name`] become the bytes that are matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum View {
    /// The raw bytes as they are.
    Plain,
    /// `%XX` decoded.
    Percent,
    /// A query name as PHP registers it: `+` and `%XX` decoded, then `.`, space and `[`
    /// become `_`. The raw bytes are already cut to the part PHP keeps.
    PhpQuery,
    /// A cookie name as PHP registers it: not decoded; `.`, space and `[` become `_`.
    PhpCookie,
}

/// Iterator over the bytes of a [`Name`].
#[derive(Clone, Debug)]
pub struct Decoded<'a> {
    rest: &'a [u8],
    view: View,
}

impl<'a> Decoded<'a> {
    /// The percent-decoded bytes of `raw`.
    pub fn new(raw: &'a [u8]) -> Self {
        Decoded { rest: raw, view: View::Percent }
    }

    pub(crate) fn with_view(raw: &'a [u8], view: View) -> Self {
        Decoded { rest: raw, view }
    }

    /// How many raw bytes are left.
    pub(crate) fn raw_left(&self) -> usize {
        self.rest.len()
    }
}

impl Iterator for Decoded<'_> {
    type Item = u8;

    #[inline]
    fn next(&mut self) -> Option<u8> {
        let (&first, tail) = self.rest.split_first()?;
        let mut byte = first;
        self.rest = tail;
        if self.view == View::Plain {
            return Some(byte);
        }
        if first == b'%' && self.view != View::PhpCookie {
            if let [hi, lo, after @ ..] = tail {
                if let (Some(hi), Some(lo)) = (hex_value(*hi), hex_value(*lo)) {
                    self.rest = after;
                    byte = hi << 4 | lo;
                }
            }
        } else if first == b'+' && self.view == View::PhpQuery {
            byte = b' ';
        }
        if matches!(self.view, View::PhpQuery | View::PhpCookie)
            && matches!(byte, b'.' | b' ' | b'[')
        {
            byte = b'_';
        }
        Some(byte)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let min = match self.view {
            View::Percent | View::PhpQuery => self.rest.len().div_ceil(3),
            View::Plain | View::PhpCookie => self.rest.len(),
        };
        (min, Some(self.rest.len()))
    }
}

#[inline]
pub(crate) fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// A name as it appears on the wire, with how to read it.
///
/// Most names need no decoding, and then the raw bytes are the name: comparisons take a plain
/// slice path.
#[derive(Clone, Copy, Debug)]
pub struct Name<'a> {
    raw: &'a [u8],
    view: View,
}

impl<'a> Name<'a> {
    /// A percent-encoded name (query arguments, cookies), decoded.
    #[inline]
    pub fn new(raw: &'a [u8]) -> Self {
        Name::with_escapes(raw, raw.contains(&b'%'))
    }

    /// A percent-encoded name whose caller already knows whether it contains a `%`.
    #[inline]
    pub(crate) fn with_escapes(raw: &'a [u8], escaped: bool) -> Self {
        Name { raw, view: if escaped { View::Percent } else { View::Plain } }
    }

    pub(crate) fn with_view(raw: &'a [u8], view: View) -> Self {
        Name { raw, view }
    }

    /// A name taken as it is (header names).
    pub fn literal(raw: &'a [u8]) -> Self {
        Name { raw, view: View::Plain }
    }

    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The name as a slice when its bytes are the raw bytes.
    #[inline]
    pub fn plain(&self) -> Option<&'a [u8]> {
        (self.view == View::Plain).then_some(self.raw)
    }

    /// The bytes of the name.
    pub fn decoded(&self) -> Decoded<'a> {
        Decoded::with_view(self.raw, self.view)
    }

    /// Orders names by their bytes.
    #[inline]
    pub fn cmp_decoded(&self, other: &Name<'_>) -> core::cmp::Ordering {
        match (self.plain(), other.plain()) {
            (Some(a), Some(b)) => a.cmp(b),
            _ => self.decoded().cmp(other.decoded()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &[u8]) -> Vec<u8> {
        Decoded::new(s).collect()
    }

    #[test]
    fn decodes_valid_escapes_only() {
        assert_eq!(decode(b"utm%5Fsource"), b"utm_source");
        assert_eq!(decode(b"utm%5fsource"), b"utm_source");
        assert_eq!(decode(b"a%2"), b"a%2");
        assert_eq!(decode(b"a%zz"), b"a%zz");
        assert_eq!(decode(b"%"), b"%");
        assert_eq!(decode(b"%%41"), b"%A");
        assert_eq!(decode(b"a+b"), b"a+b");
        assert_eq!(decode(b"%00"), b"\0");
    }

    #[test]
    fn php_views_mangle_after_decoding() {
        let view = |s: &[u8], v| Decoded::with_view(s, v).collect::<Vec<u8>>();
        assert_eq!(view(b"a.b+c%20d%5Be%2B", View::PhpQuery), b"a_b_c_d_e+");
        assert_eq!(view(b"a.b+c%20d[", View::PhpCookie), b"a_b+c%20d_");
        assert_eq!(view(b"a.b+c%2E", View::Plain), b"a.b+c%2E");
    }

    #[test]
    fn orders_by_decoded_bytes() {
        use core::cmp::Ordering::*;
        assert_eq!(Name::new(b"b").cmp_decoded(&Name::new(b"%61")), Greater);
        assert_eq!(Name::new(b"a").cmp_decoded(&Name::new(b"%61")), Equal);
        assert_eq!(Name::new(b"a").cmp_decoded(&Name::new(b"ab")), Less);
    }
}
