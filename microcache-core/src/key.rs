//! The cache key: `$scheme$request_method$host` + raw path + `?` + normalised query.

/// The part of a key before its query.
#[derive(Clone, Copy, Debug)]
pub struct KeyPrefix<'a> {
    pub scheme: &'a [u8],
    pub method: &'a [u8],
    pub host: &'a [u8],
    /// The raw path, as the client sent it.
    pub path: &'a [u8],
}

impl KeyPrefix<'_> {
    fn parts(&self) -> [&[u8]; 4] {
        [self.scheme, self.method, self.host, self.path]
    }

    pub fn len(&self) -> usize {
        self.parts().iter().map(|p| p.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the prefix at the start of `buf` (at least [`KeyPrefix::len`] bytes); returns
    /// its length.
    pub fn write(&self, buf: &mut [u8]) -> usize {
        let mut at = 0;
        for part in self.parts() {
            buf[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        at
    }

    /// The whole key: the prefix, then `?` and the query unless the query is empty.
    pub fn with_query(&self, query: &[u8]) -> Vec<u8> {
        let mut key = vec![0; self.len() + if query.is_empty() { 0 } else { 1 + query.len() }];
        let at = self.write(&mut key);
        if let Some((mark, rest)) = key[at..].split_first_mut() {
            *mark = b'?';
            rest.copy_from_slice(query);
        }
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let p =
            KeyPrefix { scheme: b"https", method: b"GET", host: b"example.com", path: b"/a%20b" };
        assert_eq!(p.with_query(b"x=1"), b"httpsGETexample.com/a%20b?x=1");
        assert_eq!(p.with_query(b""), b"httpsGETexample.com/a%20b");
        assert_eq!(p.len(), b"httpsGETexample.com/a%20b".len());
    }
}
