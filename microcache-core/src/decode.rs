//! Percent-decoding of names, without allocating.
//!
//! Argument and cookie names are compared after percent-decoding (`utm%5Fsource` is
//! `utm_source`), as PHP does before it fills `$_GET` and `$_COOKIE`. A `%` that does not start
//! a valid `%XX` escape is kept as a literal byte, like PHP's `urldecode`. `+` is not a space
//! here: names are matched byte for byte otherwise.

/// Iterator over the percent-decoded bytes of `raw`.
#[derive(Clone, Debug)]
pub struct Decoded<'a> {
    rest: &'a [u8],
    /// PHP's view of a variable name: until the first `[`, `.`, ` ` and `+` become `_`.
    php: bool,
}

impl<'a> Decoded<'a> {
    pub fn new(raw: &'a [u8]) -> Self {
        Decoded { rest: raw, php: false }
    }

    /// The name as PHP registers it in `$_GET` / `$_COOKIE` (`a.b` is `$_COOKIE['a_b']`).
    pub fn php(raw: &'a [u8]) -> Self {
        Decoded { rest: raw, php: true }
    }
}

impl Iterator for Decoded<'_> {
    type Item = u8;

    #[inline]
    fn next(&mut self) -> Option<u8> {
        let (&first, tail) = self.rest.split_first()?;
        let mut byte = first;
        self.rest = tail;
        if first == b'%' {
            if let [hi, lo, after @ ..] = tail {
                if let (Some(hi), Some(lo)) = (hex_value(*hi), hex_value(*lo)) {
                    self.rest = after;
                    byte = hi << 4 | lo;
                }
            }
        }
        if self.php {
            match byte {
                // PHP decodes `+` to a space in query names, then mangles the space.
                b'.' | b' ' | b'+' => byte = b'_',
                b'[' => self.php = false,
                _ => {}
            }
        }
        Some(byte)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.rest.len().div_ceil(3), Some(self.rest.len()))
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

/// A name as it appears on the wire, with the fact whether decoding can change it.
///
/// Most names contain no `%`, and then the raw bytes are the decoded name: comparisons take a
/// plain slice path.
#[derive(Clone, Copy, Debug)]
pub struct Name<'a> {
    raw: &'a [u8],
    escaped: bool,
    php: bool,
}

impl<'a> Name<'a> {
    /// A percent-encoded name (query arguments, cookies).
    #[inline]
    pub fn new(raw: &'a [u8]) -> Self {
        Name { raw, escaped: raw.contains(&b'%'), php: false }
    }

    /// A name whose caller already knows whether it contains a `%`.
    #[inline]
    pub(crate) fn with_escapes(raw: &'a [u8], escaped: bool) -> Self {
        Name { raw, escaped, php: false }
    }

    /// A name taken as it is (header names).
    pub fn literal(raw: &'a [u8]) -> Self {
        Name { raw, escaped: false, php: false }
    }

    /// The name PHP would see, when that differs from the decoded name; see [`Decoded::php`].
    pub fn php(raw: &'a [u8]) -> Option<Self> {
        let mangled =
            raw.iter().take_while(|&&c| c != b'[').any(|&c| matches!(c, b'.' | b' ' | b'+' | b'%'));
        mangled.then_some(Name { raw, escaped: true, php: true })
    }

    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The decoded name as a slice when decoding is the identity.
    #[inline]
    pub fn plain(&self) -> Option<&'a [u8]> {
        (!self.escaped).then_some(self.raw)
    }

    pub fn decoded(&self) -> Decoded<'a> {
        if self.php {
            Decoded::php(self.raw)
        } else {
            Decoded::new(self.raw)
        }
    }

    /// Orders names by their decoded bytes.
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
    fn php_view_of_names() {
        let php = |s: &[u8]| Decoded::php(s).collect::<Vec<u8>>();
        assert_eq!(php(b"wordpress.logged in_x"), b"wordpress_logged_in_x");
        assert_eq!(php(b"doing%2Ewp+cron"), b"doing_wp_cron");
        assert!(Name::php(b"rest+route").is_some());
        assert_eq!(php(b"a%2Eb[c.d]"), b"a_b[c.d]");
        assert!(Name::php(b"plain_name").is_none());
        assert!(Name::php(b"a[.]").is_none());
    }

    #[test]
    fn orders_by_decoded_bytes() {
        use core::cmp::Ordering::*;
        assert_eq!(Name::new(b"b").cmp_decoded(&Name::new(b"%61")), Greater);
        assert_eq!(Name::new(b"a").cmp_decoded(&Name::new(b"%61")), Equal);
        assert_eq!(Name::new(b"a").cmp_decoded(&Name::new(b"ab")), Less);
    }
}
