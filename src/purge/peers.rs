//! `microcache_purge_peers`: a purge sent to every peer while the local one runs, and one
//! answer for all of them.
//!
//! Each peer is an in-memory subrequest cloned into the purge location, so it runs the purge
//! handler again, which drives nginx's upstream module to that peer's address
//! ([`super::upstream`]). The local purge hands its answer over with [`deliver`]; each peer's
//! result arrives in its post-subrequest handler, which wakes the main request. Whichever comes
//! last sends the combined answer.
//!
//! References: nginx counts one reference per subrequest until it ends. A content handler (or
//! body handler) that returns `NGX_DONE` gives one up, so when the local purge's answer is
//! handed over before that return while peers still work, the fan-out takes one ([`hold`]),
//! which the final `ngx_http_finalize_request` gives back.

use core::ptr::{self, NonNull};

use microcache_core::batch::PurgeMode;
use microcache_core::peers::head::{PeerHead, PURGED_HEADER, PURGED_HEADER_LOWER};
use microcache_core::peers::{answer, purged, status, Local, PeerOutcome, PeerResult};
use nginx_sys::{
    ngx_cmp_sockaddr, ngx_connection_local_sockaddr, ngx_http_finalize_request,
    ngx_http_post_subrequest_t, ngx_http_request_t, ngx_http_subrequest, ngx_int_t, ngx_msec_t,
    ngx_str_t, NGX_HTTP_BAD_GATEWAY, NGX_HTTP_GATEWAY_TIME_OUT, NGX_HTTP_SUBREQUEST_CLONE,
    NGX_HTTP_SUBREQUEST_IN_MEMORY, NGX_HTTP_SUBREQUEST_WAITED, NGX_LOG_WARN,
};
use ngx::core::Status;
use ngx::http::{HTTPStatus, Request};
use ngx::{ngx_log_debug_http, ngx_log_error};

use crate::conf::peers::{Peer, PeersConf};
use crate::request::state;
use crate::respond::{add_header, send};

/// The local purge's answer.
enum LocalReply {
    Done { body: String, purged: u64 },
    Failed,
    NoCache,
}

/// One peer's share.
pub struct Call {
    pub peer: &'static Peer,
    request: *mut ngx_http_request_t,
    /// The head of its answer, once read.
    pub head: Option<PeerHead>,
    outcome: Option<PeerOutcome<'static>>,
}

pub struct FanOut {
    conf: &'static PeersConf,
    mode: PurgeMode,
    /// The request every peer receives: the same purge, signed.
    pub wire: Vec<u8>,
    calls: Vec<Call>,
    local: Option<LocalReply>,
    answered: bool,
}

/// Sends the purge to every peer but the node itself; the answer waits for them. None when
/// memory ran out.
pub fn begin(
    r: &mut Request,
    conf: &'static PeersConf,
    mode: PurgeMode,
    wire: Vec<u8>,
) -> Option<()> {
    let calls = conf
        .peers
        .iter()
        .map(|peer| Call {
            peer,
            request: ptr::null_mut(),
            head: None,
            outcome: is_itself(r, peer).then_some(PeerOutcome::Itself),
        })
        .collect();
    let fan_out = FanOut { conf, mode, wire, calls, local: None, answered: false };
    // The pool outlives the fan-out and runs its Drop when destroyed.
    let fan_out = NonNull::new(r.pool().allocate(fan_out))?;
    let state = state::find_or_create(r.as_mut())?;
    state.fan_out = Some(fan_out);
    // SAFETY: just allocated; the request is single-threaded.
    let fan = unsafe { &mut *fan_out.as_ptr() };
    for call in fan.calls.iter_mut().filter(|c| c.outcome.is_none()) {
        match subrequest(r, fan_out) {
            Some(sr) => call.request = sr,
            None => call.outcome = Some(failed(None, "cannot start a subrequest")),
        }
    }
    r.as_mut().write_event_handler = Some(wake);
    Some(())
}

/// An in-memory subrequest, cloned into this location, whose end calls [`peer_done`].
fn subrequest(r: &mut Request, fan_out: NonNull<FanOut>) -> Option<*mut ngx_http_request_t> {
    // SAFETY: the pool outlives the subrequest.
    let ps = unsafe { r.pool().calloc_type::<ngx_http_post_subrequest_t>().as_mut()? };
    ps.handler = Some(peer_done);
    ps.data = fan_out.as_ptr().cast();
    let raw = r.as_mut();
    let (mut uri, mut args): (ngx_str_t, ngx_str_t) = (raw.uri, raw.args);
    let mut sr = ptr::null_mut();
    let flags =
        NGX_HTTP_SUBREQUEST_IN_MEMORY | NGX_HTTP_SUBREQUEST_WAITED | NGX_HTTP_SUBREQUEST_CLONE;
    // SAFETY: r is a live request; uri and args are copied into the subrequest.
    let rc = unsafe { ngx_http_subrequest(raw, &mut uri, &mut args, &mut sr, ps, flags as _) };
    (rc == Status::NGX_OK.0 && !sr.is_null()).then_some(sr)
}

/// Whether the peer is the address this request arrived on: the node has purged already.
fn is_itself(r: &Request, peer: &Peer) -> bool {
    let c = r.connection();
    // SAFETY: the connection outlives the request; with no buffer nginx only fills in
    // c->local_sockaddr when the listening socket is a wildcard one.
    unsafe {
        if ngx_connection_local_sockaddr(c, ptr::null_mut(), 0) != Status::NGX_OK.0 {
            return false;
        }
        ngx_cmp_sockaddr((*c).local_sockaddr, (*c).local_socklen, peer.sockaddr, peer.socklen, 1)
            == Status::NGX_OK.0
    }
}

/// The fan-out of the request `r`, if it sends one.
fn of(r: &ngx_http_request_t) -> Option<&'static mut FanOut> {
    let fan_out = state::find(r)?.fan_out?;
    // SAFETY: the fan-out lives in the request pool; callbacks of one request never overlap.
    Some(unsafe { &mut *fan_out.as_ptr() })
}

/// The fan-out and peer a subrequest serves, if it is one of a fan-out's.
pub fn call_of(sr: &ngx_http_request_t) -> Option<(&'static mut FanOut, usize)> {
    if ptr::eq(sr, sr.main) || !ptr::eq(sr.parent, sr.main) {
        return None;
    }
    // SAFETY: a subrequest's main request outlives it.
    let fan = of(unsafe { &*sr.main })?;
    let i = fan.calls.iter().position(|c| ptr::eq(c.request, sr))?;
    Some((fan, i))
}

impl FanOut {
    pub fn peers_conf(&self) -> &'static PeersConf {
        self.conf
    }

    pub fn call(&mut self, i: usize) -> &mut Call {
        &mut self.calls[i]
    }

    fn peers_done(&self) -> bool {
        self.calls.iter().all(|c| c.outcome.is_some())
    }

    /// The combined answer, with the number of entries purged anywhere.
    fn send(&mut self, r: &mut Request) -> ngx_int_t {
        self.answered = true;
        let results: Vec<PeerResult<'_>> = self
            .calls
            .iter()
            .map(|c| PeerResult {
                peer: c.peer.name.as_bytes(),
                outcome: c.outcome.unwrap_or(failed(None, "no answer")),
            })
            .collect();
        let local = match &self.local {
            Some(LocalReply::Done { body, purged }) => {
                Local::Done { summary: body, purged: *purged }
            }
            Some(LocalReply::Failed) => Local::Failed,
            Some(LocalReply::NoCache) | None => Local::NoCache,
        };
        for result in &results {
            if let PeerOutcome::Failed { error, .. } = result.outcome {
                ngx_log_error!(
                    NGX_LOG_WARN,
                    r.log(),
                    "microcache: peer {} did not take the purge: {error}",
                    result.peer.escape_ascii()
                );
            }
        }
        let status = status(local, &results);
        let body = answer(local, self.mode, &results);
        let status = HTTPStatus::from_u16(status).unwrap_or(HTTPStatus::BAD_GATEWAY);
        send_counted(r, status, &body, purged(local, &results))
    }
}

/// Sends a purge answer with its count in the `Microcache-Purged` header, which a node reads
/// from its peers' answers.
fn send_counted(r: &mut Request, status: HTTPStatus, body: &str, purged: u64) -> ngx_int_t {
    let count = purged.to_string();
    if add_header(r, PURGED_HEADER, PURGED_HEADER_LOWER, count.as_bytes()).is_none() {
        return HTTPStatus::INTERNAL_SERVER_ERROR.0 as ngx_int_t;
    }
    send(r, status, "application/json", body)
}

/// The local purge's answer: sent as it is, or kept for the combined answer. `body` is None
/// when the cache could not be changed (`status` is then the error, already logged).
pub fn deliver(r: &mut Request, status: HTTPStatus, body: Option<&str>, purged: u64) -> ngx_int_t {
    let local = match body {
        Some(body) => LocalReply::Done { body: body.to_owned(), purged },
        None => LocalReply::Failed,
    };
    let Some(fan) = of(r.as_ref()).filter(|f| !f.answered) else {
        return match body {
            Some(body) => send_counted(r, status, body, purged),
            None => status.0 as ngx_int_t,
        };
    };
    fan.local = Some(local);
    if fan.peers_done() {
        return fan.send(r);
    }
    Status::NGX_DONE.into()
}

/// A front tier has no local purge: the answer is the peers'.
pub fn without_cache(r: &mut Request, mode: PurgeMode) -> ngx_int_t {
    match of(r.as_ref()).filter(|f| !f.answered) {
        Some(fan) => {
            fan.local = Some(LocalReply::NoCache);
            if fan.peers_done() {
                return fan.send(r);
            }
            Status::NGX_DONE.into()
        }
        None => send_counted(r, HTTPStatus::NOT_FOUND, &answer(Local::NoCache, mode, &[]), 0),
    }
}

/// After the local purge started: when its answer was handed over at once but peers still
/// work, the fan-out keeps a reference to the request (see the module's comment).
pub fn hold(r: &mut Request, rc: ngx_int_t) -> ngx_int_t {
    let waiting = rc == Status::NGX_DONE.0
        && of(r.as_ref()).is_some_and(|f| f.local.is_some() && !f.answered);
    if waiting {
        let main = r.as_ref().main;
        // SAFETY: r->main is valid; the final finalize gives the reference back.
        unsafe { (*main).set_count((*main).count() + 1) };
    }
    rc
}

/// The end of a peer's subrequest: its outcome, from the head it answered or why it did not.
/// Called again when nginx finalizes a finished subrequest later; the first call counts.
unsafe extern "C" fn peer_done(
    sr: *mut ngx_http_request_t,
    _data: *mut core::ffi::c_void,
    rc: ngx_int_t,
) -> ngx_int_t {
    // SAFETY: nginx passes the subrequest that ends.
    let Some((fan, i)) = call_of(unsafe { &*sr }) else {
        return Status::NGX_OK.into();
    };
    let call = &mut fan.calls[i];
    if call.outcome.is_none() {
        // SAFETY: the subrequest ran the upstream module, whose state lives in the pool.
        let connected = unsafe { (*sr).upstream.as_ref().and_then(|u| u.state.as_ref()) }
            .is_some_and(|s| s.connect_time != CONNECT_TIME_UNSET);
        call.outcome = Some(outcome(call.head, rc, connected));
        // SAFETY: as above.
        let r = unsafe { Request::from_ngx_http_request(sr) };
        ngx_log_debug_http!(
            r,
            "microcache: peer {} done: {rc}",
            call.peer.name.as_bytes().escape_ascii()
        );
    }
    // The result is recorded: the subrequest ends without an error page of its own.
    Status::NGX_OK.into()
}

/// `(ngx_msec_t) -1`: the connect time of an upstream that never connected.
const CONNECT_TIME_UNSET: ngx_msec_t = ngx_msec_t::MAX;

fn failed(status: Option<u16>, error: &'static str) -> PeerOutcome<'static> {
    PeerOutcome::Failed { status, error }
}

/// How a peer took the purge: its answer's head, else the upstream module's result.
fn outcome(head: Option<PeerHead>, rc: ngx_int_t, connected: bool) -> PeerOutcome<'static> {
    match head {
        Some(PeerHead { status: status @ (200 | 404), purged: Some(purged), .. }) => {
            PeerOutcome::Purged { status, purged }
        }
        Some(PeerHead { status: status @ (200 | 404), .. }) => {
            failed(Some(status), "not a purge location")
        }
        Some(PeerHead { status: 403, .. }) => failed(Some(403), "refused"),
        Some(PeerHead { status, .. }) => failed(Some(status), "failed"),
        None => match (rc == NGX_HTTP_GATEWAY_TIME_OUT as ngx_int_t, connected) {
            (true, false) => failed(None, "connect timed out"),
            (true, true) => failed(None, "timed out"),
            (false, false) if rc == NGX_HTTP_BAD_GATEWAY as ngx_int_t => {
                failed(None, "cannot connect")
            }
            _ => failed(None, "no valid answer"),
        },
    }
}

/// The main request's write handler while it waits: the last peer to end sends the answer,
/// once the local purge has answered too.
unsafe extern "C" fn wake(r: *mut ngx_http_request_t) {
    // SAFETY: nginx passes the main request of the fan-out.
    let req = unsafe { Request::from_ngx_http_request(r) };
    let Some(fan) = of(req.as_ref()) else {
        return;
    };
    if fan.answered || fan.local.is_none() || !fan.peers_done() {
        return;
    }
    let rc = crate::guard::guard(req.log(), || fan.send(req));
    // SAFETY: gives back the reference the fan-out or the local purge kept.
    unsafe { ngx_http_finalize_request(r, rc) };
}
