//! The signature of purges between peers: the request a node sends to each peer (the same
//! purge, signed), and the check of a signature a node receives. The purge headers a signature
//! covers are the request's tag headers and `Microcache-Purge-Mode`, in the order they come.

use std::io::Write as _;

use microcache_core::batch::PurgeMode;
use microcache_core::peers::sign::{sign, verify, Purge, SIGNATURE_HEADER, SIGNATURE_HEADER_LOWER};
use nginx_sys::ngx_time;
use ngx::http::Request;

use super::MODE_HEADER;
use crate::conf::Settings;
use crate::request::facts::{headers, host};

/// Names the fan-out in the peers' access logs.
const USER_AGENT: &[u8] = b"microcache-purge-peers";

/// What a purge request is, as far as its signature goes.
pub enum Received {
    /// A client's purge: applied, and sent to the peers.
    Unsigned,
    /// A peer's purge, signed with this location's secret: applied, never sent on.
    Signed,
    /// A signature that does not verify here: refused.
    Refused(&'static str),
}

/// Checks the request's signature, if it has one. `body` is what the purge acts on: a batch
/// body, else nothing.
pub fn check(r: &Request, settings: &Settings, body: &[u8]) -> Received {
    let raw = r.as_ref();
    let Some((_, value)) = headers(raw).find(|(name, _)| *name == SIGNATURE_HEADER_LOWER) else {
        return Received::Unsigned;
    };
    let Some(secret) = settings.purge_secret.as_ref() else {
        return Received::Refused(
            "a signed purge, but this location has no microcache_purge_secret",
        );
    };
    // SAFETY: a non-null Host header entry lives in the request's pool.
    let host = unsafe { raw.headers_in.host.as_ref() }.map_or(&[][..], |h| h.value.as_bytes());
    let headers: Vec<_> = purge_headers(r, settings).collect();
    let purge = Purge {
        method: raw.method_name.as_bytes(),
        uri: raw.unparsed_uri.as_bytes(),
        host,
        headers: &headers,
        body,
    };
    match verify(secret, ngx_time(), value, &purge) {
        Ok(()) => Received::Signed,
        Err(e) => Received::Refused(e.reason()),
    }
}

/// The request every peer receives: the same method and request target, the request's `Host`
/// (as `$host`), a `User-Agent` that names the fan-out, its tag headers, the purge's mode (the location's default made explicit, so
/// each peer purges the same way), the signature and the body. HTTP/1.0: the peer closes the
/// connection after its answer. None without a secret.
pub fn outgoing(r: &Request, settings: &Settings, mode: PurgeMode, body: &[u8]) -> Option<Vec<u8>> {
    let secret = settings.purge_secret.as_ref()?;
    let raw = r.as_ref();
    let (method, uri, host) = (raw.method_name.as_bytes(), raw.unparsed_uri.as_bytes(), host(raw));
    let mut signed: Vec<_> =
        purge_headers(r, settings).filter(|(n, _)| *n != MODE_HEADER).collect();
    signed.push((MODE_HEADER, mode.as_str().as_bytes()));
    let purge = Purge { method, uri, host, headers: &signed, body };
    let signature = sign(secret, ngx_time(), &purge);
    let mut wire = Vec::with_capacity(256 + uri.len() + body.len());
    for part in [method, b" ", uri, b" HTTP/1.0\r\nUser-Agent: ", USER_AGENT, b"\r\nHost: ", host] {
        wire.extend_from_slice(part);
    }
    for (name, value) in &signed {
        for part in [&b"\r\n"[..], name, b": ", value] {
            wire.extend_from_slice(part);
        }
    }
    let _ = write!(
        wire,
        "\r\n{SIGNATURE_HEADER}: {signature}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    wire.extend_from_slice(body);
    Some(wire)
}

/// The request's tag headers and mode headers, in order: (lower-case name, value).
fn purge_headers<'r>(
    r: &'r Request,
    settings: &'r Settings,
) -> impl Iterator<Item = (&'r [u8], &'r [u8])> + 'r {
    headers(r.as_ref())
        .filter(move |(name, _)| *name == MODE_HEADER || settings.tag_headers.matches(name))
}
