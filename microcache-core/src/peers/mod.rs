//! Purges across a cluster: a purge received by one node is applied there and sent, signed
//! ([`sign`]), to every peer; each peer's answer is read from its head ([`head`]), and the
//! node answers once for all of them ([`answer`], [`status`]).

pub mod head;
pub mod sign;

use core::fmt::Write as _;

use crate::batch::PurgeMode;
use crate::report::json_escape_into;

/// How one peer took the purge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerOutcome<'a> {
    /// It answered as a purge location does: `200` or `404`, with its count.
    Purged { status: u16, purged: u64 },
    /// It did not answer, or not as a purge location does. `status` is its answer's, if any.
    Failed { status: Option<u16>, error: &'a str },
    /// The peer is the node itself: its result is the local one.
    Itself,
}

/// One server of the upstream block and how it took the purge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerResult<'a> {
    /// Its address as the upstream block lists it (`10.0.0.2:80`, `unix:/run/node.sock`).
    pub peer: &'a [u8],
    pub outcome: PeerOutcome<'a>,
}

impl PeerResult<'_> {
    fn failed(&self) -> bool {
        matches!(self.outcome, PeerOutcome::Failed { .. })
    }

    fn purged(&self) -> u64 {
        match self.outcome {
            PeerOutcome::Purged { purged, .. } => purged,
            _ => 0,
        }
    }
}

/// The purge's result on the node that received it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Local<'a> {
    /// Its purge answer (`{"mode":…,"purged":N,…}` as `report::purge_summary` writes it) and
    /// its count.
    Done { summary: &'a str, purged: u64 },
    /// The cache could not be changed (the error log says why).
    Failed,
    /// A front tier: no cache here, the purge only goes to the peers.
    NoCache,
}

/// The entries purged anywhere: here and at every peer.
pub fn purged(local: Local<'_>, peers: &[PeerResult<'_>]) -> u64 {
    let here = match local {
        Local::Done { purged, .. } => purged,
        Local::Failed | Local::NoCache => 0,
    };
    here + peers.iter().map(PeerResult::purged).sum::<u64>()
}

/// The status of the answer: `500` when the local cache could not be changed; `502` when a
/// peer did not answer as a purge location; else `200` when an entry was purged anywhere and
/// `404` when none was.
pub fn status(local: Local<'_>, peers: &[PeerResult<'_>]) -> u16 {
    if local == Local::Failed {
        500
    } else if peers.iter().any(PeerResult::failed) {
        502
    } else if purged(local, peers) > 0 {
        200
    } else {
        404
    }
}

/// The answer's body: the local answer's fields, then `"peers":[…]`, one object per peer in the
/// order of the upstream block: `{"peer":"…","status":200,"purged":2}`,
/// `{"peer":"…","error":"…"}` (with `"status"` when it answered) or `{"peer":"…","self":true}`.
pub fn answer(local: Local<'_>, mode: PurgeMode, peers: &[PeerResult<'_>]) -> String {
    let mut out = String::with_capacity(64 + peers.len() * 64);
    match local {
        Local::Done { summary, .. } => {
            let fields = summary.trim_end().strip_suffix('}').unwrap_or("{");
            out.push_str(fields);
            if fields.len() > 1 {
                out.push(',');
            }
        }
        Local::Failed => {
            let _ = write!(
                out,
                "{{\"mode\":\"{}\",\"error\":\"the cache could not be changed\",",
                mode.as_str()
            );
        }
        Local::NoCache => {
            let _ = write!(out, "{{\"mode\":\"{}\",", mode.as_str());
        }
    }
    out.push_str("\"peers\":[");
    for (i, peer) in peers.iter().enumerate() {
        out.push_str(if i > 0 { ",{\"peer\":\"" } else { "{\"peer\":\"" });
        json_escape_into(&mut out, peer.peer);
        out.push('"');
        match peer.outcome {
            PeerOutcome::Purged { status, purged } => {
                let _ = write!(out, ",\"status\":{status},\"purged\":{purged}");
            }
            PeerOutcome::Failed { status, error } => {
                if let Some(status) = status {
                    let _ = write!(out, ",\"status\":{status}");
                }
                out.push_str(",\"error\":\"");
                json_escape_into(&mut out, error.as_bytes());
                out.push('"');
            }
            PeerOutcome::Itself => out.push_str(",\"self\":true"),
        }
        out.push('}');
    }
    out.push_str("]}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{purge_summary, IndexUse, TargetResult};

    const A: &[u8] = b"127.0.0.3:80";
    const B: &[u8] = b"127.0.0.4:80";

    fn purged(peer: &[u8], status: u16, purged: u64) -> PeerResult<'_> {
        PeerResult { peer, outcome: PeerOutcome::Purged { status, purged } }
    }

    #[test]
    fn the_status_needs_every_peer() {
        let local = |purged| Local::Done { summary: "", purged };
        let down =
            PeerResult { peer: B, outcome: PeerOutcome::Failed { status: None, error: "x" } };
        let itself = PeerResult { peer: A, outcome: PeerOutcome::Itself };
        assert_eq!(status(local(1), &[purged(A, 404, 0)]), 200);
        assert_eq!(status(local(0), &[purged(A, 200, 2)]), 200);
        assert_eq!(status(local(0), &[purged(A, 404, 0), itself]), 404);
        assert_eq!(status(Local::NoCache, &[purged(A, 404, 0)]), 404);
        assert_eq!(status(Local::NoCache, &[]), 404);
        assert_eq!(status(local(3), &[purged(A, 200, 1), down]), 502);
        assert_eq!(status(Local::Failed, &[purged(A, 200, 1), down]), 500);
        assert_eq!(super::purged(local(3), &[purged(A, 200, 1), down, itself]), 4);
    }

    #[test]
    fn the_answer_adds_the_peers_to_the_local_one() {
        let targets = [TargetResult { target: b"httpGETexample.com/a/", purged: 2 }];
        let summary = purge_summary(
            Some(b"httpGETexample.com/a/"),
            PurgeMode::Hard,
            &targets,
            IndexUse::Used,
            42,
        );
        let peers = [
            PeerResult { peer: A, outcome: PeerOutcome::Itself },
            purged(B, 200, 2),
            PeerResult {
                peer: b"unix:/run/\"n\".sock",
                outcome: PeerOutcome::Failed { status: Some(403), error: "answered 403" },
            },
            PeerResult {
                peer: b"10.0.0.9:80",
                outcome: PeerOutcome::Failed { status: None, error: "cannot connect" },
            },
        ];
        let body = answer(Local::Done { summary: &summary, purged: 2 }, PurgeMode::Hard, &peers);
        assert_eq!(
            body,
            "{\"key\":\"httpGETexample.com/a/\",\"mode\":\"hard\",\"purged\":2,\"targets\":\
             [{\"target\":\"httpGETexample.com/a/\",\"purged\":2}],\"index\":\"used\",\
             \"elapsed_us\":42,\"peers\":[{\"peer\":\"127.0.0.3:80\",\"self\":true},\
             {\"peer\":\"127.0.0.4:80\",\"status\":200,\"purged\":2},\
             {\"peer\":\"unix:/run/\\\"n\\\".sock\",\"status\":403,\"error\":\"answered 403\"},\
             {\"peer\":\"10.0.0.9:80\",\"error\":\"cannot connect\"}]}\n"
        );
        assert!(serde_json::from_str::<serde_json::Value>(&body).is_ok());
    }

    #[test]
    fn a_front_tier_and_a_failed_cache_answer_too() {
        let peers = [purged(A, 404, 0)];
        assert_eq!(
            answer(Local::NoCache, PurgeMode::Soft, &peers),
            "{\"mode\":\"soft\",\"peers\":[{\"peer\":\"127.0.0.3:80\",\"status\":404,\"purged\":0}]}\n"
        );
        assert_eq!(
            answer(Local::Failed, PurgeMode::Hard, &[]),
            "{\"mode\":\"hard\",\"error\":\"the cache could not be changed\",\"peers\":[]}\n"
        );
    }
}
