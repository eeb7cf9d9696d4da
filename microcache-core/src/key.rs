//! The cache key, laid out in one place: `$scheme$request_method$host`, the raw path, then `?`
//! and the query — no `?` when the query is empty — then, for a visitor's variant of a page
//! (LiteSpeed's vary cookie), `#` and the variant.
//!
//! The hex digits of the path's percent-escapes are written in upper case (their case is not
//! significant: `%d0%bf` and `%D0%BF` are the same path), so a page linked with one case and
//! purged with the other is one entry. The bytes after the host, up to the variant, are what the
//! origin receives as `REQUEST_URI`, so the key and the origin still see the same bytes.
//!
//! nginx ends a request's path and query at a raw `#`, so in a key the first `#` after the host
//! starts the variant: a page's variants are exactly the keys that continue it with `#`.

use crate::decode::hex_value;

/// What separates a page's key from a variant of it.
pub const VARIANT_SEPARATOR: u8 = b'#';

/// The parts of a key.
#[derive(Clone, Copy, Debug)]
pub struct KeyParts<'a> {
    pub scheme: &'a [u8],
    pub method: &'a [u8],
    pub host: &'a [u8],
    /// The raw path, as the client sent it.
    pub path: &'a [u8],
    /// The visitor's variant of the page; empty for the page itself.
    pub variant: &'a [u8],
}

/// Where the pieces of a key written by [`KeyParts::write`] are in its buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyLayout {
    /// The key's length.
    pub len: usize,
    /// Where `$microcache_request_uri` is: `buf[request_uri_start..request_uri_end]`.
    pub request_uri_start: usize,
    pub request_uri_end: usize,
    /// Where the query starts (after the `?`) and its length.
    pub query_start: usize,
    pub query_len: usize,
}

impl KeyParts<'_> {
    fn prefix_len(&self) -> usize {
        self.scheme.len() + self.method.len() + self.host.len() + self.path.len()
    }

    /// The buffer size [`KeyParts::write`] needs for a query of at most `max_query_len` bytes.
    pub fn capacity(&self, max_query_len: usize) -> usize {
        self.prefix_len() + 1 + max_query_len + 1 + self.variant.len()
    }

    /// Writes the key into `buf` (at least [`KeyParts::capacity`] bytes). `write_query` is given
    /// the room after the `?` and returns how many bytes of query it wrote there.
    ///
    /// # Panics
    /// When `buf` is shorter than the capacity for the query written: a caller bug.
    pub fn write(&self, buf: &mut [u8], write_query: impl FnOnce(&mut [u8]) -> usize) -> KeyLayout {
        let mut at = 0;
        for part in [self.scheme, self.method, self.host] {
            buf[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        let request_uri_start = at;
        let path = &mut buf[at..at + self.path.len()];
        path.copy_from_slice(self.path);
        uppercase_escapes(path);
        at += self.path.len();
        buf[at] = b'?';
        let query_start = at + 1;
        let query_len = write_query(&mut buf[query_start..]);
        let request_uri_end = if query_len == 0 { at } else { query_start + query_len };
        let mut len = request_uri_end;
        if !self.variant.is_empty() {
            buf[len] = VARIANT_SEPARATOR;
            buf[len + 1..len + 1 + self.variant.len()].copy_from_slice(self.variant);
            len += 1 + self.variant.len();
        }
        KeyLayout { len, request_uri_start, request_uri_end, query_start, query_len }
    }

    /// The whole key, with `query` as it is.
    pub fn to_vec(&self, query: &[u8]) -> Vec<u8> {
        let mut key = vec![0; self.capacity(query.len())];
        let layout = self.write(&mut key, |room| {
            room[..query.len()].copy_from_slice(query);
            query.len()
        });
        key.truncate(layout.len);
        key
    }
}

/// The start every variant of the page whose key is `key` has: `key#`.
pub fn variants_prefix(key: &[u8]) -> Vec<u8> {
    [key, &[VARIANT_SEPARATOR]].concat()
}

/// Whether `key` is a variant of the page whose key is `page`.
pub fn is_variant_of(key: &[u8], page: &[u8]) -> bool {
    key.strip_prefix(page).is_some_and(|rest| rest.first() == Some(&VARIANT_SEPARATOR))
}

/// The raw path of a request line's URI: up to the first `?` or `#`, where nginx ends `$uri`
/// (an absolute-form URI without a path, `http://host?q`, has the path `/`, as in nginx).
pub fn arrival_path(unparsed_uri: &[u8]) -> &[u8] {
    let end = unparsed_uri.iter().position(|&c| c == b'?' || c == b'#');
    match &unparsed_uri[..end.unwrap_or(unparsed_uri.len())] {
        b"" => b"/",
        path => path,
    }
}

/// Upper-cases the hex digits of every valid `%XX` escape in `path`.
fn uppercase_escapes(path: &mut [u8]) {
    let mut i = 0;
    while i + 2 < path.len() {
        if path[i] == b'%' && hex_value(path[i + 1]).is_some() && hex_value(path[i + 2]).is_some() {
            path[i + 1].make_ascii_uppercase();
            path[i + 2].make_ascii_uppercase();
            i += 3;
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(path: &[u8]) -> KeyParts<'_> {
        KeyParts { scheme: b"https", method: b"GET", host: b"example.com", path, variant: b"" }
    }

    #[test]
    fn keys() {
        let p = parts(b"/a%20b");
        assert_eq!(p.to_vec(b"x=1"), b"httpsGETexample.com/a%20b?x=1");
        assert_eq!(p.to_vec(b""), b"httpsGETexample.com/a%20b");
    }

    #[test]
    fn layout_locates_request_uri_and_query() {
        let p = parts(b"/p/");
        let mut buf = vec![0; p.capacity(8)];
        let layout = p.write(&mut buf, |room| {
            room[..3].copy_from_slice(b"a=1");
            3
        });
        assert_eq!(&buf[..layout.len], b"httpsGETexample.com/p/?a=1");
        assert_eq!(&buf[layout.request_uri_start..layout.request_uri_end], b"/p/?a=1");
        assert_eq!(layout.request_uri_end, layout.len);
        assert_eq!(&buf[layout.query_start..layout.query_start + layout.query_len], b"a=1");
        let empty = p.write(&mut buf, |_| 0);
        assert_eq!(&buf[..empty.len], b"httpsGETexample.com/p/");
    }

    #[test]
    fn variants_follow_the_request_uri() {
        let p = KeyParts { variant: b"9f#e", ..parts(b"/p/") };
        let mut buf = vec![0; p.capacity(3)];
        let layout = p.write(&mut buf, |room| {
            room[..3].copy_from_slice(b"a=1");
            3
        });
        assert_eq!(&buf[..layout.len], b"httpsGETexample.com/p/?a=1#9f#e");
        assert_eq!(&buf[layout.request_uri_start..layout.request_uri_end], b"/p/?a=1");
        assert_eq!(p.to_vec(b""), b"httpsGETexample.com/p/#9f#e");
        let page = parts(b"/p/").to_vec(b"");
        assert!(is_variant_of(&p.to_vec(b""), &page));
        assert!(!is_variant_of(&page, &page));
        assert!(!is_variant_of(b"httpsGETexample.com/p/x", &page));
        assert!(p.to_vec(b"").starts_with(&variants_prefix(&page)));
    }

    #[test]
    fn arrival_paths_end_where_nginx_ends_uri() {
        assert_eq!(arrival_path(b"/p/?a=1#x"), b"/p/");
        assert_eq!(arrival_path(b"/p/#x?a=1"), b"/p/");
        assert_eq!(arrival_path(b"/a?b?c"), b"/a");
        assert_eq!(arrival_path(b"?x=1"), b"/");
        assert_eq!(arrival_path(b"/%23/"), b"/%23/");
    }

    #[test]
    fn escapes_in_the_path_are_upper_case() {
        assert_eq!(parts(b"/%d0%bf/").to_vec(b"q=%d0"), b"httpsGETexample.com/%D0%BF/?q=%d0");
        // Only valid escapes change; `%` alone or before non-hex stays as it is.
        assert_eq!(parts(b"/%zz%a/%").to_vec(b""), b"httpsGETexample.com/%zz%a/%");
        assert_eq!(parts(b"/%%af").to_vec(b""), b"httpsGETexample.com/%%AF");
    }
}
