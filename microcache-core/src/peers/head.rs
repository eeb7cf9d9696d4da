//! The head of a peer's answer to a purge: its status, and the entries it purged from the
//! `Microcache-Purged` header every purge answer carries. The body is not needed, so a batch
//! answer of any length costs nothing to read.

/// The response header in which a purge answer gives its count of purged entries.
pub const PURGED_HEADER: &str = "Microcache-Purged";
/// Its lower-case name, as nginx stores header names for lookups.
pub const PURGED_HEADER_LOWER: &str = "microcache-purged";

/// A complete answer head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerHead {
    pub status: u16,
    /// `Microcache-Purged`, when present and a number.
    pub purged: Option<u64>,
    /// `Content-Length`, when present and a number.
    pub content_length: Option<u64>,
    /// The head's length, its blank line included: where the body starts.
    pub len: usize,
}

/// Why an answer is not HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidHead;

/// Reads the head at the start of `buf`: `Ok(None)` until its blank line has arrived. Lines end
/// with CRLF or a bare LF, as nginx accepts them.
pub fn parse_head(buf: &[u8]) -> Result<Option<PeerHead>, InvalidHead> {
    let mut lines = Lines { rest: buf, at: 0 };
    let Some(status_line) = lines.next() else {
        return Ok(None);
    };
    let status = status_of(status_line).ok_or(InvalidHead)?;
    let (mut purged, mut content_length) = (None, None);
    loop {
        let Some(line) = lines.next() else {
            return Ok(None);
        };
        if line.is_empty() {
            return Ok(Some(PeerHead { status, purged, content_length, len: lines.at }));
        }
        let colon = line.iter().position(|&c| c == b':').ok_or(InvalidHead)?;
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.is_empty() || name.iter().any(|&c| c <= b' ' || c >= 0x7f) {
            return Err(InvalidHead);
        }
        if name.eq_ignore_ascii_case(PURGED_HEADER.as_bytes()) {
            purged = number(value);
        } else if name.eq_ignore_ascii_case(b"content-length") {
            content_length = number(value);
        }
    }
}

/// The complete lines of a buffer, without their line ends.
struct Lines<'a> {
    rest: &'a [u8],
    /// Bytes consumed so far.
    at: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let end = self.rest.iter().position(|&c| c == b'\n')?;
        let line = &self.rest[..end];
        self.rest = &self.rest[end + 1..];
        self.at += end + 1;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }
}

/// `HTTP/1.x NNN reason`.
fn status_of(line: &[u8]) -> Option<u16> {
    let rest = line.strip_prefix(b"HTTP/1.")?;
    let (minor, rest) = rest.split_first()?;
    let rest = rest.strip_prefix(b" ").filter(|_| minor.is_ascii_digit())?;
    let code = rest.get(..3).filter(|c| c.iter().all(u8::is_ascii_digit))?;
    if rest.get(3).is_some_and(|&c| c != b' ') {
        return None;
    }
    let status = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    (100..=599).contains(&status).then_some(status)
}

/// A decimal number of at most 18 digits (no sign, no spaces).
fn number(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 18 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(value.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_purge_answer_as_nginx_sends_it() {
        let answer = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/json\r\n\
                       Content-Length: 120\r\nConnection: close\r\nMicrocache-Purged: 3\r\n\r\n{\"mode\"";
        let head = parse_head(answer).unwrap().unwrap();
        let len = answer.len() - b"{\"mode\"".len();
        assert_eq!(head, PeerHead { status: 200, purged: Some(3), content_length: Some(120), len });
        for end in 0..head.len {
            assert_eq!(parse_head(&answer[..end]), Ok(None), "{end}");
        }
        let bare = b"HTTP/1.0 404 Not Found\nmicrocache-purged:0\n\n";
        let head = parse_head(bare).unwrap().unwrap();
        assert_eq!(
            (head.status, head.purged, head.content_length, head.len),
            (404, Some(0), None, bare.len())
        );
    }

    #[test]
    fn other_answers_have_no_count() {
        let head = parse_head(b"HTTP/1.1 403 Forbidden\r\nMicrocache-Purged: -1\r\n\r\n").unwrap();
        assert_eq!(head.map(|h| (h.status, h.purged)), Some((403, None)));
        let head = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").unwrap();
        assert_eq!(head.map(|h| (h.purged, h.content_length)), Some((None, Some(5))));
    }

    #[test]
    fn what_is_not_http_is_invalid() {
        for bad in [
            &b"SSH-2.0-OpenSSH\r\n"[..],
            b"HTTP/1.1 20 OK\r\n",
            b"HTTP/1.1 2000 OK\r\n",
            b"HTTP/1.1 999 Nine\r\n",
            b"HTTP/2 200\r\n",
            b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        ] {
            assert_eq!(parse_head(bad), Err(InvalidHead), "{}", bad.escape_ascii());
        }
    }
}
