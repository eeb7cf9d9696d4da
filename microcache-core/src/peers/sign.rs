//! The signature of a purge that one node sends to its peers: an HMAC-SHA256, keyed with the
//! shared `microcache_purge_secret`, over everything that decides what the purge removes — the
//! method, the request target, `Host`, the time it was signed, the purge headers (tags, mode)
//! and the body's digest. A peer applies a purge whose signature verifies and never sends it on;
//! a wrong or stale one is refused.

use core::fmt::Write as _;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::config::ConfError;

/// The request header that carries the signature: `t=<unix seconds>,sha256=<64 hex digits>`.
pub const SIGNATURE_HEADER: &str = "Microcache-Purge-Signature";
/// Its lower-case name, as nginx stores header names for lookups.
pub const SIGNATURE_HEADER_LOWER: &[u8] = b"microcache-purge-signature";
/// How far a signature's time may be from the receiver's clock, either way. A purge travels in
/// milliseconds; this leaves room for clocks that drift apart. Within it a captured purge can
/// only be repeated as it was, which purges nothing new.
pub const MAX_SKEW_SECS: i64 = 60;
/// A shorter secret could be found from one captured signature by trying candidates offline.
pub const MIN_SECRET_LEN: usize = 16;

/// Separates this use of the secret from any other HMAC it might key.
const CONTEXT: &[u8] = b"microcache-purge-v1";

/// `microcache_purge_secret`: never shown, not even in debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl core::fmt::Debug for Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// The directive's argument. The error does not repeat it: configuration errors are logged.
    pub fn parse(arg: &[u8]) -> Result<Secret, ConfError> {
        if arg.len() < MIN_SECRET_LEN {
            return Err(ConfError {
                kind: "value",
                value: b"(not shown)".to_vec(),
                reason: format!(
                    "the secret is {} bytes long, it must be at least {MIN_SECRET_LEN}",
                    arg.len()
                ),
            });
        }
        Ok(Secret(arg.to_vec()))
    }
}

/// What a signature covers.
#[derive(Clone, Copy, Debug)]
pub struct Purge<'a> {
    pub method: &'a [u8],
    /// The request target as sent: path and query, raw.
    pub uri: &'a [u8],
    /// The `Host` header's value.
    pub host: &'a [u8],
    /// The purge headers in the order they are sent, names in lower case.
    pub headers: &'a [(&'a [u8], &'a [u8])],
    /// The body a batch purge carries; empty otherwise.
    pub body: &'a [u8],
}

/// Why a signature is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureError {
    /// Not `t=<seconds>,sha256=<64 hex digits>`.
    Malformed,
    /// Signed more than [`MAX_SKEW_SECS`] away from now.
    Stale,
    /// Not made with this secret over this purge.
    Mismatch,
}

impl SignatureError {
    pub fn reason(self) -> &'static str {
        match self {
            SignatureError::Malformed => "malformed purge signature",
            SignatureError::Stale => {
                "stale purge signature (the clocks differ, or it was replayed)"
            }
            SignatureError::Mismatch => {
                "wrong purge signature (another secret, or an altered purge)"
            }
        }
    }
}

/// The header value that signs `purge` at `time` (unix seconds).
pub fn sign(secret: &Secret, time: i64, purge: &Purge<'_>) -> String {
    let tag = mac(secret, time, purge).finalize().into_bytes();
    let mut out = String::with_capacity(96);
    let _ = write!(out, "t={time},sha256=");
    for b in tag {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Checks a signature header's value against `purge`, at `now` (unix seconds). The comparison
/// takes the same time whatever the bytes.
pub fn verify(
    secret: &Secret,
    now: i64,
    value: &[u8],
    purge: &Purge<'_>,
) -> Result<(), SignatureError> {
    let (time, tag) = parse(value).ok_or(SignatureError::Malformed)?;
    if now.abs_diff(time) > MAX_SKEW_SECS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    mac(secret, time, purge).verify_slice(&tag).map_err(|_| SignatureError::Mismatch)
}

/// `t=<seconds>,sha256=<64 hex digits>`, exactly.
fn parse(value: &[u8]) -> Option<(i64, [u8; 32])> {
    let rest = value.strip_prefix(b"t=")?;
    let comma = rest.iter().position(|&c| c == b',')?;
    let (digits, rest) = (&rest[..comma], &rest[comma + 1..]);
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let time = digits.iter().fold(0i64, |n, &d| n * 10 + i64::from(d - b'0'));
    let hex = rest.strip_prefix(b"sha256=")?;
    if hex.len() != 64 {
        return None;
    }
    let mut tag = [0u8; 32];
    for (byte, pair) in tag.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some((time, tag))
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// The MAC over the purge: each field length-prefixed, so no two purges share an input.
fn mac(secret: &Secret, time: i64, purge: &Purge<'_>) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&secret.0).expect("any key length");
    let mut field = |bytes: &[u8]| {
        mac.update(&(bytes.len() as u64).to_be_bytes());
        mac.update(bytes);
    };
    field(CONTEXT);
    field(purge.method);
    field(purge.uri);
    field(purge.host);
    field(time.to_string().as_bytes());
    field(&(purge.headers.len() as u64).to_be_bytes());
    for (name, value) in purge.headers {
        field(name);
        field(value);
    }
    field(&Sha256::digest(purge.body));
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::parse(b"0123456789abcdef-cluster").unwrap()
    }

    const HEADERS: &[(&[u8], &[u8])] =
        &[(b"surrogate-key", b"post-12 home"), (b"microcache-purge-mode", b"soft")];

    fn purge() -> Purge<'static> {
        Purge {
            method: b"PURGE",
            uri: b"/purge/caf%C3%A9/?p=2",
            host: b"example.com",
            headers: HEADERS,
            body: b"",
        }
    }

    #[test]
    fn a_signature_verifies_within_the_window_only() {
        let value = sign(&secret(), 1_700_000_000, &purge());
        assert!(value.starts_with("t=1700000000,sha256="));
        assert_eq!(value.len(), "t=1700000000,sha256=".len() + 64);
        for now in [1_700_000_000, 1_700_000_060, 1_699_999_940] {
            assert_eq!(verify(&secret(), now, value.as_bytes(), &purge()), Ok(()), "{now}");
        }
        for now in [1_700_000_061, 1_699_999_939, 0, i64::MAX] {
            let got = verify(&secret(), now, value.as_bytes(), &purge());
            assert_eq!(got, Err(SignatureError::Stale), "{now}");
        }
    }

    #[test]
    fn anything_altered_is_a_mismatch() {
        let value = sign(&secret(), 1_700_000_000, &purge());
        let check = |p: &Purge<'_>| verify(&secret(), 1_700_000_000, value.as_bytes(), p);
        let other_headers: &[(&[u8], &[u8])] = &[(b"surrogate-key", b"post-12 home")];
        let swapped: &[(&[u8], &[u8])] =
            &[(b"microcache-purge-mode", b"soft"), (b"surrogate-key", b"post-12 home")];
        let altered = [
            Purge { method: b"GET", ..purge() },
            Purge { uri: b"/purge/caf%C3%A9/?p=3", ..purge() },
            Purge { host: b"example.org", ..purge() },
            Purge { headers: other_headers, ..purge() },
            Purge { headers: swapped, ..purge() },
            Purge { body: b"*\n", ..purge() },
        ];
        for p in &altered {
            assert_eq!(check(p), Err(SignatureError::Mismatch), "{p:?}");
        }
        let other = Secret::parse(b"another secret, long enough").unwrap();
        assert_eq!(
            verify(&other, 1_700_000_000, value.as_bytes(), &purge()),
            Err(SignatureError::Mismatch)
        );
        // Moving bytes from one field to the next changes the input: fields are length-prefixed.
        let a = Purge { method: b"PURGE/", uri: b"purge", ..purge() };
        let b = Purge { method: b"PURGE", uri: b"/purge", ..purge() };
        assert_ne!(sign(&secret(), 1, &a), sign(&secret(), 1, &b));
    }

    #[test]
    fn malformed_values_are_refused() {
        let good = sign(&secret(), 1_700_000_000, &purge());
        let hex = &good["t=1700000000,sha256=".len()..];
        let bad = [
            String::new(),
            "t=,sha256=".to_owned() + hex,
            "t=-5,sha256=".to_owned() + hex,
            "t=1700000000,sha256=".to_owned() + &hex[1..],
            "t=1700000000,sha256=".to_owned() + &hex.to_uppercase(),
            "t=1700000000;sha256=".to_owned() + hex,
            "t=1700000000,sha1=".to_owned() + hex,
            "t=9999999999999999999,sha256=".to_owned() + hex,
            good.clone() + " ",
        ];
        for value in &bad {
            let got = verify(&secret(), 1_700_000_000, value.as_bytes(), &purge());
            assert_eq!(got, Err(SignatureError::Malformed), "{value}");
        }
    }

    #[test]
    fn short_secrets_are_refused_without_being_shown() {
        let e = Secret::parse(b"short").unwrap_err();
        assert_eq!(
            e.message("microcache_purge_secret"),
            "invalid value \"(not shown)\" in \"microcache_purge_secret\" directive, the secret \
             is 5 bytes long, it must be at least 16"
        );
        assert_eq!(format!("{:?}", secret()), "Secret(..)");
    }
}
