//! Cache purge: targets, file names and stored keys of nginx's file cache.
//!
//! nginx stores an entry under the MD5 of its key, as 32 hex digits, in the level directories
//! taken from the end of that name (`levels=1:2`: `c/29/b7f5...029c`). Each file starts with a
//! binary header, then `\nKEY: <key>\n`, then the response headers.

use md5::{Digest, Md5};

/// What a purge key asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PurgeTarget<'k> {
    /// One entry, by its exact key.
    Key(&'k [u8]),
    /// Every entry whose key starts with the bytes (the key ended with `*`).
    Prefix(&'k [u8]),
    /// The whole zone (the key was `*`).
    All,
}

impl<'k> PurgeTarget<'k> {
    pub fn parse(key: &'k [u8]) -> Self {
        match key {
            b"*" => PurgeTarget::All,
            [prefix @ .., b'*'] => PurgeTarget::Prefix(prefix),
            _ => PurgeTarget::Key(key),
        }
    }
}

/// The MD5 nginx names a cache entry by.
pub fn key_hash(key: &[u8]) -> [u8; 16] {
    Md5::digest(key).into()
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Lower-case hex, as nginx writes cache file names.
pub fn hex_name(hash: &[u8; 16]) -> [u8; 32] {
    let mut out = [0; 32];
    for (i, b) in hash.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 0xf)];
    }
    out
}

/// The hash of a cache file name, or `None` for anything else in the cache directory (temporary
/// files are `<hash>.<number>`).
pub fn parse_hex_name(name: &[u8]) -> Option<[u8; 16]> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    if name.len() != 32 {
        return None;
    }
    let mut hash = [0; 16];
    for (i, pair) in name.chunks_exact(2).enumerate() {
        hash[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(hash)
}

/// `root/<levels>/<hex>`: where nginx keeps the entry with this hash (`ngx_create_hashed_filename`).
pub fn cache_file_path(root: &[u8], levels: &[usize], hash: &[u8; 16]) -> Vec<u8> {
    let name = hex_name(hash);
    let mut path = Vec::with_capacity(root.len() + 8 + name.len());
    path.extend_from_slice(root);
    let mut end = name.len();
    for &level in levels.iter().take_while(|&&l| l > 0) {
        let Some(start) = end.checked_sub(level) else {
            break;
        };
        path.push(b'/');
        path.extend_from_slice(&name[start..end]);
        end = start;
    }
    path.push(b'/');
    path.extend_from_slice(&name);
    path
}

/// The key stored in a cache file, given its first bytes, the size of nginx's binary header and
/// the header's `header_start` field (where the response headers begin).
pub fn stored_key(head: &[u8], header_size: usize, header_start: usize) -> Option<&[u8]> {
    const MARK: &[u8] = b"\nKEY: ";
    let start = header_size + MARK.len();
    let end = header_start.checked_sub(1)?;
    if end < start || head.get(header_size..start)? != MARK || head.get(end)? != &b'\n' {
        return None;
    }
    head.get(start..end)
}

/// For `microcache_purge ZONE;` in `location /purge/`: the raw path of the page to purge, i.e.
/// what follows the location's prefix in the raw request path (`/purge/a%20b` gives `/a%20b`).
///
/// Nothing after the prefix (`/purge` in `location = /purge`, which Nginx Helper requests for the
/// home page) is the home page, `/`.
///
/// `None` when the raw path does not literally start with the prefix (it matched only after
/// decoding) or something other than a path follows it (`/purgeall` after `/purge`).
pub fn keyless_target<'p>(location: &[u8], raw_path: &'p [u8]) -> Option<&'p [u8]> {
    let prefix = location.strip_suffix(b"/").unwrap_or(location);
    match raw_path.strip_prefix(prefix)? {
        b"" => Some(b"/"),
        rest => rest.starts_with(b"/").then_some(rest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(PurgeTarget::parse(b"*"), PurgeTarget::All);
        assert_eq!(PurgeTarget::parse(b"httpGEThost/a*"), PurgeTarget::Prefix(b"httpGEThost/a"));
        assert_eq!(PurgeTarget::parse(b"httpGEThost/a"), PurgeTarget::Key(b"httpGEThost/a"));
        assert_eq!(PurgeTarget::parse(b""), PurgeTarget::Key(b""));
    }

    #[test]
    fn file_names_match_nginx() {
        // echo -n "httpGETlocalhost/" | md5sum
        let hash = key_hash(b"httpGETlocalhost/");
        let name = hex_name(&hash);
        assert_eq!(parse_hex_name(&name), Some(hash));
        let path = cache_file_path(b"/c", &[1, 2], &hash);
        let n = core::str::from_utf8(&name).unwrap();
        assert_eq!(
            String::from_utf8(path).unwrap(),
            format!("/c/{}/{}/{}", &n[31..], &n[29..31], n)
        );
        assert_eq!(cache_file_path(b"/c", &[], &hash), [&b"/c/"[..], &name].concat());
        assert!(parse_hex_name(b"0123456789abcdef0123456789abcdeF").is_none());
        assert!(parse_hex_name(b"0123456789abcdef0123456789abcdef.0000000001").is_none());
    }

    #[test]
    fn reads_the_stored_key() {
        let mut file = vec![0u8; 10];
        file.extend_from_slice(b"\nKEY: httpGEThost/a\nb\nStatus: 200\r\n");
        let header_start = 10 + b"\nKEY: httpGEThost/a\nb\n".len();
        assert_eq!(stored_key(&file, 10, header_start), Some(&b"httpGEThost/a\nb"[..]));
        assert_eq!(stored_key(&file, 10, 5), None);
        assert_eq!(stored_key(&file, 11, header_start), None);
        assert_eq!(stored_key(&file[..20], 10, header_start), None);
    }

    #[test]
    fn keyless_targets() {
        assert_eq!(keyless_target(b"/purge/", b"/purge/a/b"), Some(&b"/a/b"[..]));
        assert_eq!(keyless_target(b"/purge/", b"/purge/"), Some(&b"/"[..]));
        assert_eq!(keyless_target(b"/purge", b"/purge/x%20y"), Some(&b"/x%20y"[..]));
        assert_eq!(keyless_target(b"/purge/", b"/pur%67e/a"), None);
        assert_eq!(keyless_target(b"/purge", b"/purgeall"), None);
        assert_eq!(keyless_target(b"/purge", b"/purge"), Some(&b"/"[..]));
        assert_eq!(keyless_target(b"/purge/", b"/purge"), Some(&b"/"[..]));
        assert_eq!(keyless_target(b"/purge", b"/purg%65"), None);
    }
}
