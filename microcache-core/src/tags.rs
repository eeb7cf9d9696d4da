//! Cache tags: the tag headers' values (`Surrogate-Key: post-12 term-4`, `Cache-Tag: a,b`) read
//! within per-response limits, from a live response or from the headers stored in a cache file.
//!
//! Tags are separated by spaces, tabs or commas and compared as exact bytes. A response keeps
//! at most [`MAX_TAGS`] distinct tags and [`MAX_TAG_BYTES`] of tag text; a tag longer than
//! [`MAX_TAG_LEN`] is ignored. Ignored tags are counted; the others are kept.

use std::collections::HashSet;

use crate::config::ConfError;

pub const MAX_TAGS: usize = 1000;
pub const MAX_TAG_BYTES: usize = 16 * 1024;
pub const MAX_TAG_LEN: usize = 1024;

/// `microcache_tag_headers` when not set.
pub const DEFAULT_TAG_HEADERS: [&str; 2] = ["Surrogate-Key", "Cache-Tag"];

/// The FastCGI record type of the response stream (`FCGI_STDOUT`).
const FCGI_STDOUT: u8 = 6;
const FCGI_HEADER_LEN: usize = 8;

pub fn is_separator(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b',')
}

/// The tags of one header value, repeats included.
pub fn split_tags(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&c| is_separator(c)).filter(|t| !t.is_empty())
}

/// Tags dropped by the limits, by limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ignored {
    pub too_long: usize,
    pub over_count: usize,
    pub over_bytes: usize,
}

impl Ignored {
    pub fn total(&self) -> usize {
        self.too_long + self.over_count + self.over_bytes
    }
}

/// A response's tags: distinct, in the order first seen, within the limits.
#[derive(Debug, Default)]
pub struct TagSet<'a> {
    tags: Vec<&'a [u8]>,
    seen: HashSet<&'a [u8]>,
    bytes: usize,
    pub ignored: Ignored,
}

impl<'a> TagSet<'a> {
    /// Adds the tags of one tag header value.
    pub fn add_value(&mut self, value: &'a [u8]) {
        split_tags(value).for_each(|tag| self.add(tag));
    }

    pub fn add(&mut self, tag: &'a [u8]) {
        if tag.is_empty() || self.seen.contains(tag) {
            return;
        }
        if tag.len() > MAX_TAG_LEN {
            self.ignored.too_long += 1;
        } else if self.tags.len() == MAX_TAGS {
            self.ignored.over_count += 1;
        } else if self.bytes + tag.len() > MAX_TAG_BYTES {
            self.ignored.over_bytes += 1;
        } else {
            self.seen.insert(tag);
            self.tags.push(tag);
            self.bytes += tag.len();
        }
    }

    pub fn as_slice(&self) -> &[&'a [u8]] {
        &self.tags
    }

    pub fn len(&self) -> usize {
        self.tags.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }
}

/// `microcache_tag_headers NAME ...`: the response headers that carry tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagHeaders {
    names: Vec<Vec<u8>>,
}

impl Default for TagHeaders {
    fn default() -> Self {
        TagHeaders { names: DEFAULT_TAG_HEADERS.iter().map(|n| n.as_bytes().to_vec()).collect() }
    }
}

/// An HTTP field name (`token`).
pub(crate) fn is_field_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.iter().all(|&c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}

impl TagHeaders {
    /// The directive's arguments (nginx passes at least one); the error names the first
    /// invalid one.
    pub fn parse(names: &[&[u8]]) -> Result<TagHeaders, ConfError> {
        match names.iter().find(|n| !is_field_name(n)) {
            Some(bad) => Err(ConfError {
                kind: "value",
                value: bad.to_vec(),
                reason: "not a header name".to_owned(),
            }),
            None => Ok(TagHeaders { names: names.iter().map(|n| n.to_vec()).collect() }),
        }
    }

    /// Whether a header of this name carries tags (names compare case-insensitively).
    pub fn matches(&self, name: &[u8]) -> bool {
        self.names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    pub fn names(&self) -> impl Iterator<Item = &[u8]> {
        self.names.iter().map(Vec::as_slice)
    }

    /// These names and `name`.
    pub fn including(&self, name: &str) -> TagHeaders {
        let mut with = self.clone();
        if !with.matches(name.as_bytes()) {
            with.names.push(name.as_bytes().to_vec());
        }
        with
    }
}

/// The response header lines stored in a cache file between its key line and its body
/// (`stored`, the file's bytes from `header_start` to `body_start`). A proxy cache stores them as
/// received (status line, then `Name: value` lines); a FastCGI cache stores the FastCGI records
/// themselves, whose response-stream contents are joined in `scratch`.
pub fn stored_header_block<'a>(stored: &'a [u8], scratch: &'a mut Vec<u8>) -> &'a [u8] {
    if stored.first() != Some(&1) {
        return stored;
    }
    scratch.clear();
    let mut rest = stored;
    while let Some(head) = rest.get(..FCGI_HEADER_LEN) {
        if head[0] != 1 {
            break;
        }
        let content = usize::from(u16::from_be_bytes([head[4], head[5]]));
        let padding = usize::from(head[6]);
        let body = &rest[FCGI_HEADER_LEN..];
        if head[1] == FCGI_STDOUT {
            scratch.extend_from_slice(&body[..content.min(body.len())]);
        }
        rest = body.get(content + padding..).unwrap_or_default();
    }
    scratch
}

/// Without the spaces and tabs around it.
fn trim_ows(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

/// The `(name, value)` fields of a header block, up to its blank line: a leading status line
/// (`HTTP/1.1 200 OK`) and lines that are not `name: value` are skipped; values are trimmed.
pub fn header_fields(block: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    block
        .split(|&c| c == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .take_while(|line| !line.is_empty())
        .filter_map(|line| {
            let colon = line.iter().position(|&c| c == b':')?;
            let name = &line[..colon];
            is_field_name(name).then(|| (name, trim_ows(&line[colon + 1..])))
        })
}

/// Adds the tags of the header block's tag headers.
pub fn stored_tags<'a>(block: &'a [u8], names: &TagHeaders, tags: &mut TagSet<'a>) {
    for (name, value) in header_fields(block) {
        if names.matches(name) {
            tags.add_value(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags_of<'a>(values: &[&'a [u8]]) -> (Vec<&'a [u8]>, Ignored) {
        let mut set = TagSet::default();
        values.iter().for_each(|v| set.add_value(v));
        (set.as_slice().to_vec(), set.ignored)
    }

    #[test]
    fn splits_on_spaces_tabs_and_commas() {
        let (tags, ignored) = tags_of(&[b" post-12  term-4,home,,\tfeed ", b"post-12 Post-12"]);
        assert_eq!(tags, [&b"post-12"[..], b"term-4", b"home", b"feed", b"Post-12"]);
        assert_eq!(ignored, Ignored::default());
        assert!(tags_of(&[b"", b" , ,\t"]).0.is_empty());
        let (tags, _) = tags_of(&[b"caf\xc3\xa9 a;b \"q\""]);
        assert_eq!(tags, [&b"caf\xc3\xa9"[..], b"a;b", b"\"q\""]);
    }

    #[test]
    fn limits_drop_only_the_excess() {
        let long = vec![b'x'; MAX_TAG_LEN + 1];
        let fits = vec![b'y'; MAX_TAG_LEN];
        let (tags, ignored) = tags_of(&[&long, &fits, b"a"]);
        assert_eq!(tags, [&fits[..], b"a"]);
        assert_eq!(ignored, Ignored { too_long: 1, ..Ignored::default() });

        let many: Vec<u8> = (0..MAX_TAGS + 5).flat_map(|i| format!("t{i} ").into_bytes()).collect();
        let (tags, ignored) = tags_of(&[&many, b"t0 t1"]);
        assert_eq!(tags.len(), MAX_TAGS);
        assert_eq!(ignored.over_count, 5);

        let big: Vec<Vec<u8>> = (0..20u8).map(|i| vec![b'a' + i; MAX_TAG_LEN]).collect();
        let values: Vec<&[u8]> = big.iter().map(Vec::as_slice).chain([&b"z"[..]]).collect();
        let (tags, ignored) = tags_of(&values);
        assert_eq!(tags.len(), MAX_TAG_BYTES / MAX_TAG_LEN);
        assert_eq!(ignored.over_bytes, 20 - MAX_TAG_BYTES / MAX_TAG_LEN + 1);
        assert_eq!(ignored.total(), ignored.over_bytes);
    }

    #[test]
    fn header_names() {
        let names = TagHeaders::default();
        assert!(names.matches(b"surrogate-key") && names.matches(b"CACHE-TAG"));
        assert!(!names.matches(b"X-Cache-Tag"));
        let custom = TagHeaders::parse(&[b"X-LiteSpeed-Tag"]).unwrap();
        assert_eq!(custom.names().collect::<Vec<_>>(), [&b"X-LiteSpeed-Tag"[..]]);
        assert_eq!(
            TagHeaders::parse(&[b"Bad Name"]).unwrap_err().message("microcache_tag_headers"),
            "invalid value \"Bad Name\" in \"microcache_tag_headers\" directive, not a header name"
        );
        assert!(TagHeaders::parse(&[b"a:"]).is_err());
        let joined = custom.including("Surrogate-Key").including("x-litespeed-tag");
        assert_eq!(joined.names().collect::<Vec<_>>(), [&b"X-LiteSpeed-Tag"[..], b"Surrogate-Key"]);
    }

    #[test]
    fn reads_a_proxy_cache_file() {
        // As nginx 1.22 stores a proxied response (bytes after the key line).
        let stored = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nSurrogate-Key: post-12 term-4\r\n\
            cache-tag: home,feed\r\nX-Other: x\r\n\r\nhello\n";
        let mut scratch = Vec::new();
        let block = stored_header_block(stored, &mut scratch);
        let mut tags = TagSet::default();
        stored_tags(block, &TagHeaders::default(), &mut tags);
        assert_eq!(tags.as_slice(), [&b"post-12"[..], b"term-4", b"home", b"feed"]);
    }

    #[test]
    fn reads_a_fastcgi_cache_file() {
        // As nginx 1.22 stores a PHP-FPM response: one FCGI_STDOUT record (113 bytes of content,
        // 7 of padding) whose content holds the headers and the body; the block ends at the body.
        let mut stored = vec![1, 6, 0, 1, 0, 113, 7, 0];
        stored.extend_from_slice(
            b"Surrogate-Key: post-12 term-4\r\nCache-Tag: home,feed\r\nX-Other: x\r\n\
              Content-type: text/html; charset=UTF-8\r\n\r\n",
        );
        let mut scratch = Vec::new();
        let block = stored_header_block(&stored, &mut scratch);
        let mut tags = TagSet::default();
        stored_tags(block, &TagHeaders::default(), &mut tags);
        assert_eq!(tags.as_slice(), [&b"post-12"[..], b"term-4", b"home", b"feed"]);
        let fields: Vec<_> = header_fields(block).map(|(n, _)| n).collect();
        assert_eq!(fields, [&b"Surrogate-Key"[..], b"Cache-Tag", b"X-Other", b"Content-type"]);
    }

    #[test]
    fn joins_fastcgi_records_and_skips_stderr() {
        let mut stored = vec![1, 6, 0, 1, 0, 9, 3, 0];
        stored.extend_from_slice(b"Cache-Tag");
        stored.extend_from_slice(&[0; 3]);
        stored.extend_from_slice(&[1, 7, 0, 1, 0, 4, 0, 0]);
        stored.extend_from_slice(b"oops");
        stored.extend_from_slice(&[1, 6, 0, 1, 0, 10, 0, 0]);
        stored.extend_from_slice(b": a b\r\n\r\nX");
        let mut scratch = Vec::new();
        assert_eq!(stored_header_block(&stored, &mut scratch), b"Cache-Tag: a b\r\n\r\nX");
        // A record cut short keeps what there is; a stray byte ends the records.
        let cut = [1, 6, 0, 1, 0xff, 0xff, 0, 0, b'A', b':'];
        assert_eq!(stored_header_block(&cut, &mut scratch), b"A:");
        assert_eq!(stored_header_block(&[1, 6, 0], &mut scratch), b"");
    }

    #[test]
    fn header_fields_stop_at_the_blank_line() {
        let block = b"Status: 200\nbad line\n: empty\nA b: no\nCache-Tag:x\n\nCache-Tag: body";
        let fields: Vec<_> = header_fields(block).collect();
        assert_eq!(fields, [(&b"Status"[..], &b"200"[..]), (b"Cache-Tag", b"x")]);
    }
}
