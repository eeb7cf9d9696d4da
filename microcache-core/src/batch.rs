//! What a purge request asks for beyond one URL: the lines of a batch body and the purge mode.
//!
//! A batch is a `POST` body of at most [`MAX_BATCH_BODY`] bytes, one target per line:
//!
//! - `/path?query`: the page, its key built as for the keyless purge form (raw path, normalised
//!   query); as there, a path ending in `*` with no query is a prefix;
//! - `tag:NAME`: every entry carrying the tag (one tag, no spaces or commas);
//! - `prefix:/PATH`: every entry whose key continues with PATH after `$scheme$request_method$host`;
//! - `*`: the whole zone.
//!
//! Lines end with LF or CRLF (the last one may end the body instead); ASCII whitespace around a
//! target is ignored, and so are blank lines. Any other line makes the whole batch malformed
//! (400, naming the first bad line), and nothing is purged.

use core::fmt::Write as _;

use crate::report::json_escape_into;
use crate::tags::{is_separator, MAX_TAG_LEN};

/// The largest batch body; a larger one is refused with 413.
pub const MAX_BATCH_BODY: usize = 1 << 20;

/// Bytes of a bad line echoed in an error.
const ECHOED: usize = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchTarget<'a> {
    /// A page: its raw path and its query (not yet normalised; empty without `?`).
    Url {
        path: &'a [u8],
        query: &'a [u8],
    },
    /// Every key that continues with this path.
    Prefix(&'a [u8]),
    Tag(&'a [u8]),
    All,
}

/// One target of a batch, with where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchLine<'a> {
    /// 1-based.
    pub number: usize,
    /// The line as written, trimmed: what the response reports the target as.
    pub text: &'a [u8],
    pub target: BatchTarget<'a>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchError<'a> {
    TooLarge { len: usize },
    Malformed { number: usize, text: &'a [u8], reason: &'static str },
    Empty,
}

impl BatchError<'_> {
    /// The response status: 413 or 400.
    pub fn status(&self) -> u16 {
        match self {
            BatchError::TooLarge { .. } => 413,
            _ => 400,
        }
    }

    /// The JSON body of the error response.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\"error\":\"");
        match self {
            BatchError::TooLarge { len } => {
                let _ = write!(out, "batch body of {len} bytes, over {MAX_BATCH_BODY}\"");
            }
            BatchError::Malformed { number, text, reason } => {
                let _ = write!(out, "line {number}: {reason}\",\"line\":{number},\"content\":\"");
                json_escape_into(&mut out, &text[..text.len().min(ECHOED)]);
                out.push('"');
            }
            BatchError::Empty => out.push_str("no purge target\""),
        }
        out.push_str("}\n");
        out
    }
}

/// Bytes that cannot be in a request path: whitespace and control characters.
fn is_path_byte(c: u8) -> bool {
    c > b' ' && c != 0x7f
}

fn path(bytes: &[u8]) -> Result<&[u8], &'static str> {
    if !bytes.starts_with(b"/") {
        return Err("a path must start with \"/\"");
    }
    if !bytes.iter().all(|&c| is_path_byte(c)) {
        return Err("a path cannot hold spaces or control characters");
    }
    Ok(bytes)
}

fn target(line: &[u8]) -> Result<BatchTarget<'_>, &'static str> {
    if line == b"*" {
        return Ok(BatchTarget::All);
    }
    if let Some(tag) = line.strip_prefix(b"tag:") {
        if tag.is_empty() || tag.len() > MAX_TAG_LEN {
            return Err("a tag must have 1 to 1024 bytes");
        }
        if tag.iter().any(|&c| is_separator(c) || c < b' ' || c == 0x7f) {
            return Err("a tag cannot hold spaces, commas or control characters");
        }
        return Ok(BatchTarget::Tag(tag));
    }
    if let Some(prefix) = line.strip_prefix(b"prefix:") {
        return path(prefix).map(BatchTarget::Prefix);
    }
    if !line.starts_with(b"/") {
        return Err("not a purge target (/path?query, tag:NAME, prefix:/PATH or *)");
    }
    let line = path(line)?;
    Ok(match line.iter().position(|&c| c == b'?') {
        Some(q) => BatchTarget::Url { path: &line[..q], query: &line[q + 1..] },
        None => match line.strip_suffix(b"*") {
            Some(prefix) => BatchTarget::Prefix(prefix),
            None => BatchTarget::Url { path: line, query: b"" },
        },
    })
}

/// Parses a whole batch body: every target, or the first reason to refuse it.
pub fn parse_batch(body: &[u8]) -> Result<Vec<BatchLine<'_>>, BatchError<'_>> {
    if body.len() > MAX_BATCH_BODY {
        return Err(BatchError::TooLarge { len: body.len() });
    }
    let mut lines = Vec::new();
    for (i, raw) in body.split(|&c| c == b'\n').enumerate() {
        let text = raw.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let number = i + 1;
        let target =
            target(text).map_err(|reason| BatchError::Malformed { number, text, reason })?;
        lines.push(BatchLine { number, text, target });
    }
    if lines.is_empty() {
        return Err(BatchError::Empty);
    }
    Ok(lines)
}

/// Hard purges delete entries; soft purges mark them expired, to be refreshed by the next
/// request while others are served the stale copy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PurgeMode {
    #[default]
    Hard,
    Soft,
}

impl PurgeMode {
    pub const ALL: [PurgeMode; 2] = [PurgeMode::Hard, PurgeMode::Soft];

    /// The `Microcache-Purge-Mode` header or the `microcache_purge_mode` argument: `hard` or
    /// `soft`, in any case, surrounding spaces ignored.
    pub fn parse(value: &[u8]) -> Option<PurgeMode> {
        let value = value.trim_ascii();
        if value.eq_ignore_ascii_case(b"hard") {
            Some(PurgeMode::Hard)
        } else if value.eq_ignore_ascii_case(b"soft") {
            Some(PurgeMode::Soft)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PurgeMode::Hard => "hard",
            PurgeMode::Soft => "soft",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(body: &[u8]) -> Vec<BatchTarget<'_>> {
        parse_batch(body).unwrap().into_iter().map(|l| l.target).collect()
    }

    #[test]
    fn every_kind_of_line() {
        let body = b"/a/b?x=1&y\r\n  tag:post-12\t\n\nprefix:/shop/\r\n*\n/caf%C3%A9/\n/old*\n/q?*";
        assert_eq!(
            targets(body),
            [
                BatchTarget::Url { path: b"/a/b", query: b"x=1&y" },
                BatchTarget::Tag(b"post-12"),
                BatchTarget::Prefix(b"/shop/"),
                BatchTarget::All,
                BatchTarget::Url { path: b"/caf%C3%A9/", query: b"" },
                BatchTarget::Prefix(b"/old"),
                BatchTarget::Url { path: b"/q", query: b"*" },
            ]
        );
        let lines = parse_batch(body).unwrap();
        assert_eq!((lines[1].number, lines[1].text), (2, &b"tag:post-12"[..]));
        assert_eq!(lines[2].number, 4);
    }

    #[test]
    fn malformed_lines_name_themselves() {
        let cases: [(&[u8], usize, &[u8]); 8] = [
            (b"/ok\nfoo\n", 2, b"foo"),
            (b"tag:\n", 1, b"tag:"),
            (b"tag:a b\n", 1, b"tag:a b"),
            (b"tag:a,b\n", 1, b"tag:a,b"),
            (b"\n\nprefix:shop\n", 3, b"prefix:shop"),
            (b"/a b\n", 1, b"/a b"),
            (b"/a\x00\n", 1, b"/a\x00"),
            (b"GET /a HTTP/1.1\r\n", 1, b"GET /a HTTP/1.1"),
        ];
        for (body, line, content) in cases {
            match parse_batch(body) {
                Err(BatchError::Malformed { number, text, .. }) => {
                    assert_eq!((number, text), (line, content));
                }
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(body)),
            }
        }
        let err = parse_batch(b"/a\n\"x\\\n").unwrap_err();
        assert_eq!(err.status(), 400);
        assert_eq!(
            err.to_json(),
            "{\"error\":\"line 2: not a purge target (/path?query, tag:NAME, prefix:/PATH or \
             *)\",\"line\":2,\"content\":\"\\\"x\\\\\"}\n"
        );
        let long = [b"x".repeat(5000)].concat();
        assert!(parse_batch(&long).unwrap_err().to_json().len() < 400);
    }

    #[test]
    fn empty_and_oversized_bodies() {
        assert_eq!(parse_batch(b""), Err(BatchError::Empty));
        assert_eq!(parse_batch(b"\r\n \n\t\n"), Err(BatchError::Empty));
        assert_eq!(BatchError::Empty.to_json(), "{\"error\":\"no purge target\"}\n");
        let big = b"*\n".repeat(MAX_BATCH_BODY / 2 + 1);
        let err = parse_batch(&big).unwrap_err();
        assert_eq!((err.status(), err), (413, BatchError::TooLarge { len: big.len() }));
        let max = b"*\n".repeat(MAX_BATCH_BODY / 2);
        assert_eq!(parse_batch(&max).unwrap().len(), MAX_BATCH_BODY / 2);
    }

    #[test]
    fn modes() {
        assert_eq!(PurgeMode::parse(b" Soft "), Some(PurgeMode::Soft));
        assert_eq!(PurgeMode::parse(b"HARD"), Some(PurgeMode::Hard));
        assert_eq!(PurgeMode::parse(b"softer"), None);
        assert_eq!(PurgeMode::parse(b""), None);
        assert_eq!(PurgeMode::default().as_str(), "hard");
    }
}
