//! Name patterns: exact names and `*` globs (`utm_*`, `wp-postpass_*`, `*_session`).
//!
//! A [`GlobSet`] is built once at configuration time and answers "does any pattern match this
//! name" without allocating. Patterns are bucketed by their first byte, so a name such as `page`
//! is tested only against the patterns that start with `p` or with `*`.

use crate::decode::Name;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Glob {
    Exact(Box<[u8]>),
    Prefix(Box<[u8]>),
    Wildcard(Box<[u8]>),
}

impl Glob {
    fn new(pattern: &[u8]) -> Glob {
        match pattern.iter().position(|&c| c == b'*') {
            None => Glob::Exact(pattern.into()),
            Some(star) if star + 1 == pattern.len() => Glob::Prefix(pattern[..star].into()),
            Some(_) => Glob::Wildcard(pattern.into()),
        }
    }

    fn first_byte(&self) -> Option<u8> {
        match self {
            Glob::Exact(p) | Glob::Prefix(p) | Glob::Wildcard(p) => {
                p.first().copied().filter(|&c| c != b'*')
            }
        }
    }

    #[inline]
    fn matches_plain(&self, name: &[u8]) -> bool {
        match self {
            Glob::Exact(p) => **p == *name,
            Glob::Prefix(p) => name.starts_with(p),
            Glob::Wildcard(p) => wildcard_match(p, name.iter().copied()),
        }
    }

    fn matches_decoded(&self, name: &Name<'_>) -> bool {
        match self {
            Glob::Exact(p) => p.iter().copied().eq(name.decoded()),
            Glob::Prefix(p) => {
                let mut decoded = name.decoded();
                p.iter().all(|&c| decoded.next() == Some(c))
            }
            Glob::Wildcard(p) => wildcard_match(p, name.decoded()),
        }
    }
}

/// Matches `pattern` (with `*` for any run of bytes) against `subject`.
///
/// The classic two-pointer algorithm: on a mismatch the last `*` absorbs one more byte. Work is
/// at most `pattern.len() * subject.len()` steps; it never recurses.
fn wildcard_match<I>(pattern: &[u8], mut subject: I) -> bool
where
    I: Iterator<Item = u8> + Clone,
{
    let mut p = 0;
    let mut retry: Option<(usize, I)> = None;
    loop {
        if pattern.get(p) == Some(&b'*') {
            p += 1;
            retry = Some((p, subject.clone()));
            continue;
        }
        let mut ahead = subject.clone();
        let Some(c) = ahead.next() else {
            return pattern[p..].iter().all(|&c| c == b'*');
        };
        if pattern.get(p) == Some(&c) {
            p += 1;
            subject = ahead;
            continue;
        }
        let Some((star_end, absorbed)) = retry.as_mut() else {
            return false;
        };
        if absorbed.next().is_none() {
            return false;
        }
        p = *star_end;
        subject = absorbed.clone();
    }
}

/// For each first byte, the range of `GlobSet::literal_first` that starts with it.
type Buckets = [(u16, u16); 256];

/// A set of patterns; matches a name when any pattern does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GlobSet {
    /// Patterns that start with a literal byte, sorted by it.
    literal_first: Vec<Glob>,
    buckets: Option<Box<Buckets>>,
    /// Patterns that start with `*`: tried for every name.
    star_first: Vec<Glob>,
}

impl GlobSet {
    /// Builds a set from patterns; duplicates are dropped. Callers validate patterns first.
    pub fn new<P: AsRef<[u8]>>(patterns: impl IntoIterator<Item = P>) -> GlobSet {
        let mut globs: Vec<Glob> = Vec::new();
        for p in patterns {
            let glob = Glob::new(p.as_ref());
            if !globs.contains(&glob) {
                globs.push(glob);
            }
        }
        let (mut literal_first, star_first): (Vec<_>, Vec<_>) =
            globs.into_iter().partition(|g| g.first_byte().is_some());
        literal_first.sort_by_key(|g| g.first_byte());

        let buckets = (!literal_first.is_empty()).then(|| {
            let mut buckets = Box::new([(0u16, 0u16); 256]);
            for (i, g) in literal_first.iter().enumerate() {
                let b = &mut buckets[usize::from(g.first_byte().unwrap_or_default())];
                let i = u16::try_from(i).unwrap_or(u16::MAX);
                if b.0 == b.1 {
                    *b = (i, i);
                }
                b.1 = i + 1;
            }
            buckets
        });
        GlobSet { literal_first, buckets, star_first }
    }

    pub fn is_empty(&self) -> bool {
        self.literal_first.is_empty() && self.star_first.is_empty()
    }

    fn bucket(&self, first: Option<u8>) -> &[Glob] {
        match (&self.buckets, first) {
            (Some(buckets), Some(first)) => {
                let (start, end) = buckets[usize::from(first)];
                self.literal_first.get(usize::from(start)..usize::from(end)).unwrap_or_default()
            }
            _ => &[],
        }
    }

    /// Whether any pattern matches the name.
    #[inline]
    pub fn matches(&self, name: &Name<'_>) -> bool {
        match name.plain() {
            Some(s) => {
                self.bucket(s.first().copied()).iter().any(|g| g.matches_plain(s))
                    || self.star_first.iter().any(|g| g.matches_plain(s))
            }
            None => {
                self.bucket(name.decoded().next()).iter().any(|g| g.matches_decoded(name))
                    || self.star_first.iter().any(|g| g.matches_decoded(name))
            }
        }
    }
}

#[cfg(test)]
impl GlobSet {
    /// Whether any pattern matches the percent-decoded `name`.
    pub(crate) fn matches_bytes(&self, name: &[u8]) -> bool {
        self.matches(&Name::new(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(p: &[&str]) -> GlobSet {
        GlobSet::new(p.iter().map(|s| s.as_bytes()))
    }

    #[test]
    fn exact_prefix_and_wildcards() {
        let s = set(&["gclid", "utm_*", "*_session", "a*b*c", "*"]);
        assert!(s.matches_bytes(b"gclid"));
        assert!(s.matches_bytes(b"utm_"));
        assert!(s.matches_bytes(b"utm_source"));
        assert!(s.matches_bytes(b"anything"));
        let s = set(&["gclid", "utm_*", "*_session", "a*b*c"]);
        assert!(!s.matches_bytes(b"gclid2"));
        assert!(!s.matches_bytes(b"utm"));
        assert!(s.matches_bytes(b"wp_session"));
        assert!(!s.matches_bytes(b"wp_sessions"));
        assert!(s.matches_bytes(b"abc"));
        assert!(s.matches_bytes(b"aXXbYYc"));
        assert!(!s.matches_bytes(b"aXXbYY"));
        assert!(!s.matches_bytes(b""));
    }

    #[test]
    fn matching_is_case_sensitive() {
        assert!(!set(&["gclid"]).matches_bytes(b"GCLID"));
    }

    #[test]
    fn decoded_names_match() {
        let s = set(&["utm_*", "gclid", "*id", "x*y"]);
        assert!(s.matches_bytes(b"utm%5Fsource"));
        assert!(s.matches_bytes(b"%67clid"));
        assert!(s.matches_bytes(b"fbcl%69d"));
        assert!(s.matches_bytes(b"x%2Fy"));
        assert!(!s.matches_bytes(b"utm%5"));
    }

    #[test]
    fn wildcard_backtracks_without_recursion() {
        let long = vec![b'a'; 4000];
        assert!(!wildcard_match(b"*a*a*a*b", long.iter().copied()));
        assert!(wildcard_match(b"*a*a*a*", long.iter().copied()));
        assert!(wildcard_match(b"**", [].iter().copied()));
        assert!(!wildcard_match(b"*x", [].iter().copied()));
    }

    #[test]
    fn empty_set_matches_nothing() {
        let s = GlobSet::default();
        assert!(s.is_empty());
        assert!(!s.matches_bytes(b"a"));
    }
}
