//! `$microcache_cache_status`: the RFC 9211 `Cache-Status` field value for a response, from
//! nginx's `$upstream_cache_status` and the skip-cache reason.
//!
//! | `$upstream_cache_status` | value                                                    |
//! |--------------------------|----------------------------------------------------------|
//! | `HIT`                    | `microcache; hit`                                        |
//! | `UPDATING`               | `microcache; hit; detail=updating` (stale, served while another request refreshes it) |
//! | `STALE`                  | `microcache; hit; detail=stale` (stale, served while this request refreshes it in the background, or because the origin failed) |
//! | `MISS`                   | `microcache; fwd=miss`, `; stored` when the response is being cached |
//! | `EXPIRED`                | `microcache; fwd=stale`, `; stored` likewise             |
//! | `REVALIDATED`            | `microcache; fwd=stale; fwd-status=304`                  |
//! | `BYPASS`                 | `microcache; fwd=bypass`, `; detail=<skip reason>` when the module skipped the cache |
//! | empty or other           | none (the variable is not found, so `add_header` sends nothing) |

/// The value, as pieces to copy out without allocating: a fixed part and an optional detail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheStatus<'a> {
    fixed: &'static str,
    detail: &'a [u8],
}

impl CacheStatus<'_> {
    pub fn parts(&self) -> [&[u8]; 3] {
        let mark: &[u8] = if self.detail.is_empty() { b"" } else { b"; detail=" };
        [self.fixed.as_bytes(), mark, self.detail]
    }

    pub fn len(&self) -> usize {
        self.parts().iter().map(|p| p.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes the value at the start of `buf` (at least [`CacheStatus::len`] bytes); returns its
    /// length.
    pub fn write(&self, buf: &mut [u8]) -> usize {
        let mut at = 0;
        for part in self.parts() {
            buf[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        at
    }
}

/// A structured-field token (RFC 8941), as a `detail` value must be to go unquoted.
fn is_token(bytes: &[u8]) -> bool {
    let tchar = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&c);
    matches!(bytes.first(), Some(c) if c.is_ascii_alphabetic() || *c == b'*')
        && bytes.iter().all(|&c| tchar(c))
}

/// The `Cache-Status` value for `$upstream_cache_status`, the skip reason
/// (`$microcache_skip_reason`, empty when none), and whether the response is being stored.
pub fn cache_status<'a>(
    upstream: &[u8],
    skip_reason: &'a [u8],
    stored: bool,
) -> Option<CacheStatus<'a>> {
    let fixed = match upstream {
        b"HIT" => "microcache; hit",
        b"UPDATING" => "microcache; hit; detail=updating",
        b"STALE" => "microcache; hit; detail=stale",
        b"MISS" if stored => "microcache; fwd=miss; stored",
        b"MISS" => "microcache; fwd=miss",
        b"EXPIRED" if stored => "microcache; fwd=stale; stored",
        b"EXPIRED" => "microcache; fwd=stale",
        b"REVALIDATED" => "microcache; fwd=stale; fwd-status=304",
        b"BYPASS" => {
            let detail = if is_token(skip_reason) { skip_reason } else { b"" };
            return Some(CacheStatus { fixed: "microcache; fwd=bypass", detail });
        }
        _ => return None,
    };
    Some(CacheStatus { fixed, detail: b"" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(upstream: &[u8], reason: &[u8], stored: bool) -> Option<String> {
        let status = cache_status(upstream, reason, stored)?;
        let mut buf = vec![0; status.len()];
        assert_eq!(status.write(&mut buf), buf.len());
        Some(String::from_utf8(buf).unwrap())
    }

    #[test]
    fn maps_every_upstream_cache_status() {
        type Case = (&'static [u8], &'static [u8], bool, Option<&'static str>);
        let cases: [Case; 12] = [
            (b"HIT", b"", false, Some("microcache; hit")),
            (b"MISS", b"", true, Some("microcache; fwd=miss; stored")),
            (b"MISS", b"", false, Some("microcache; fwd=miss")),
            (b"BYPASS", b"cookie", false, Some("microcache; fwd=bypass; detail=cookie")),
            (b"BYPASS", b"", false, Some("microcache; fwd=bypass")),
            (b"BYPASS", b"not a token", false, Some("microcache; fwd=bypass")),
            (b"EXPIRED", b"", true, Some("microcache; fwd=stale; stored")),
            (b"STALE", b"", false, Some("microcache; hit; detail=stale")),
            (b"UPDATING", b"", false, Some("microcache; hit; detail=updating")),
            (b"REVALIDATED", b"", false, Some("microcache; fwd=stale; fwd-status=304")),
            (b"", b"", false, None),
            (b"hit", b"", false, None),
        ];
        for (upstream, reason, stored, expected) in cases {
            assert_eq!(value(upstream, reason, stored).as_deref(), expected);
        }
    }

    #[test]
    fn tokens() {
        assert!(is_token(b"cookie") && is_token(b"a:b/c") && is_token(b"*x"));
        assert!(!is_token(b"") && !is_token(b"1x") && !is_token(b"a b") && !is_token(b"a\"b"));
    }
}
