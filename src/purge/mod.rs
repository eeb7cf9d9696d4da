//! `microcache_purge`: the content handler. It reads what the request asks for — a page or key
//! (`GET`, `HEAD`, `PURGE`), the tags of a tag header (`PURGE`, `POST`), or a batch body
//! (`POST`) — as [`target`]s, carries the purge out in a [`job`], and [`answer`]s. With
//! `microcache_purge_peers`, a client's purge also goes to every peer ([`peers`], each through
//! the [`upstream`] module), signed ([`signature`]); a peer's signed purge is only applied.
//! Purges a response asked for ([`from_response`]) run the same jobs in the [`background`].

mod answer;
mod background;
mod job;
pub mod peers;
mod signature;
mod target;
mod upstream;

use core::ptr;
use std::os::unix::fs::FileExt;

use microcache_core::batch::{parse_batch, BatchError, PurgeMode, MAX_BATCH_BODY};
use microcache_core::litespeed::PurgeItem;
use nginx_sys::{
    ngx_buf_t, ngx_chain_t, ngx_file_t, ngx_http_core_loc_conf_t, ngx_http_finalize_request,
    ngx_http_read_client_request_body, ngx_http_request_t, ngx_int_t, NGX_HTTP_SPECIAL_RESPONSE,
};
use ngx::core::Status;
use ngx::http::{
    HTTPStatus, HttpModuleLocationConf, HttpModuleMainConf, NgxHttpCoreModule, Request,
};
use ngx::ngx_log_debug_http;

use self::background::ResponsePurge;
use self::job::{Job, Purge};
use self::signature::Received;
use self::target::Target;
use crate::cache::FileCache;
use crate::conf::purge::PurgeConf;
use crate::conf::{Content, Settings};
use crate::guard::guard;
use crate::request::facts::headers;
use crate::respond::{internal_error, method_is, not_allowed, send};
use crate::HttpMicrocacheModule;

const MODE_HEADER: &[u8] = b"microcache-purge-mode";

/// What a purge request asks for, once read.
struct Asked {
    mode: PurgeMode,
    targets: Vec<Target>,
    /// A single page or key purge: the answer names the key too.
    key: Option<Vec<u8>>,
    /// Signed by a peer: applied here, not sent on.
    signed: bool,
}

pub unsafe extern "C" fn handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx passes a valid request to content handlers.
    let r = unsafe { Request::from_ngx_http_request(r) };
    guard(r.log(), || {
        if peers::call_of(r.as_ref()).is_some() {
            return upstream::start(r);
        }
        if !method_is(r, &[b"GET", b"HEAD", b"PURGE", b"POST"]) {
            return not_allowed(r, "GET, HEAD, PURGE, POST");
        }
        let Some((conf, settings)) = location(r) else {
            return internal_error(r, format_args!("no purge configuration here"));
        };
        let mode = match mode(r, settings) {
            Ok(mode) => mode,
            Err(()) => return refuse(r, HTTPStatus::BAD_REQUEST, BAD_MODE),
        };
        let tagged = method_is(r, &[b"PURGE", b"POST"]);
        let tags =
            if tagged { target::of_tag_headers(r, &settings.tag_headers) } else { Vec::new() };
        if method_is(r, &[b"POST"]) && tags.is_empty() {
            // SAFETY: read_batch is called once the body is read, with this request.
            let rc = unsafe { ngx_http_read_client_request_body(r.as_mut(), Some(read_batch)) };
            if rc >= NGX_HTTP_SPECIAL_RESPONSE as ngx_int_t {
                return rc;
            }
            return Status::NGX_DONE.into();
        }
        let signed = match signature::check(r, settings, b"") {
            Received::Unsigned => false,
            Received::Signed => true,
            Received::Refused(why) => return refuse(r, HTTPStatus::FORBIDDEN, why),
        };
        let rc = r.discard_request_body();
        if rc != Status::NGX_OK {
            return rc.into();
        }
        if !tags.is_empty() {
            return start(r, conf, settings, Asked { mode, targets: tags, key: None, signed }, b"");
        }
        match target::of_location(r, conf) {
            Ok(Some(target)) => {
                let key = Some(target.shown.clone());
                start(r, conf, settings, Asked { mode, targets: vec![target], key, signed }, b"")
            }
            Ok(None) => HTTPStatus::BAD_REQUEST.0 as ngx_int_t,
            Err(why) => internal_error(r, format_args!("{why}")),
        }
    })
}

/// The purge configuration and settings of the request's location.
fn location(r: &Request) -> Option<(&'static PurgeConf, &'static Settings)> {
    let lcf = HttpMicrocacheModule::location_conf(r)?;
    match (&lcf.content, lcf.settings()) {
        (Some(Content::Purge(conf)), Some(settings)) => Some((conf, settings)),
        _ => None,
    }
}

/// The request's `Microcache-Purge-Mode`, else the location's `microcache_purge_mode`.
fn mode(r: &Request, settings: &Settings) -> Result<PurgeMode, ()> {
    match headers(r.as_ref()).find(|(name, _)| *name == MODE_HEADER) {
        Some((_, value)) => PurgeMode::parse(value).ok_or(()),
        None => Ok(settings.purge_mode),
    }
}

const BAD_MODE: &str = "the Microcache-Purge-Mode header must be hard or soft";

/// A purge not carried out, and why: `{"error":"…"}`.
fn refuse(r: &mut Request, status: HTTPStatus, why: &str) -> ngx_int_t {
    let mut body = String::from("{\"error\":\"");
    microcache_core::report::json_escape_into(&mut body, why.as_bytes());
    body.push_str("\"}\n");
    send(r, status, "application/json", &body)
}

/// Carries the purge out here — unless this is a front tier, without a cache — and sends a
/// client's purge to the peers meanwhile. `body` is a batch purge's body.
fn start(
    r: &mut Request,
    conf: &'static PurgeConf,
    settings: &Settings,
    asked: Asked,
    body: &[u8],
) -> ngx_int_t {
    let cache = match conf.zone {
        Some(zone) => match zone.cache() {
            Some(cache) => Some(cache),
            None => {
                return internal_error(r, format_args!("the purge's cache zone is not configured"))
            }
        },
        None => None,
    };
    for target in &asked.targets {
        ngx_log_debug_http!(
            r,
            "microcache: {} purge \"{}\"",
            asked.mode.as_str(),
            target.shown.escape_ascii()
        );
    }
    if let Some(peers) = conf.peers.as_ref().filter(|_| !asked.signed && r.is_main()) {
        let Some(wire) = signature::outgoing(r, settings, asked.mode, body) else {
            return internal_error(r, format_args!("no secret to sign the purge with"));
        };
        if peers::begin(r, peers, asked.mode, wire).is_none() {
            return internal_error(r, format_args!("cannot send the purge to the peers"));
        }
    }
    let Some(cache) = cache else {
        let rc = peers::without_cache(r, asked.mode);
        return peers::hold(r, rc);
    };
    let index = HttpMicrocacheModule::main_conf(r)
        .and_then(|m| m.indexes.iter().find(|i| i.indexes(&cache)));
    let Asked { mode, targets, key, .. } = asked;
    let purge =
        Purge { cache, index, mode, targets, key, tag_headers: settings.tag_headers.clone() };
    let rc = job::start(r, purge);
    peers::hold(r, rc)
}

/// Starts the purges of a response's purge headers in the zone `cache`, in the background.
/// False when the worker had too many waiting and dropped it.
pub fn from_response(
    r: &Request,
    settings: &Settings,
    cache: FileCache,
    mode: PurgeMode,
    items: &[PurgeItem<'_>],
) -> bool {
    let targets = target::of_origin(r, items, settings);
    let mcf = HttpMicrocacheModule::main_conf(r);
    let index = mcf.and_then(|m| m.indexes.iter().find(|i| i.indexes(&cache)));
    for target in &targets {
        ngx_log_debug_http!(
            r,
            "microcache: {} purge \"{}\" asked by the response",
            mode.as_str(),
            target.shown.escape_ascii()
        );
    }
    let tag_headers = settings.tag_headers.clone();
    let purge = Purge { cache, index, mode, targets, key: None, tag_headers };
    let clcf: Option<&ngx_http_core_loc_conf_t> = NgxHttpCoreModule::location_conf(r);
    background::start(ResponsePurge {
        job: Job::new(purge),
        log: clcf.map_or(r.log(), |c| c.error_log),
        counters: mcf.map_or(ptr::null_mut(), |m| m.counters),
        by: r.as_ref().request_line.as_bytes().to_vec(),
    })
}

/// Called when a batch body is read: parses it and starts the purge.
unsafe extern "C" fn read_batch(r: *mut ngx_http_request_t) {
    // SAFETY: nginx passes the request whose body it read.
    let req = unsafe { Request::from_ngx_http_request(r) };
    let rc = guard(req.log(), || {
        let Some((conf, settings)) = location(req) else {
            return internal_error(req, format_args!("no purge configuration here"));
        };
        let body = match body_bytes(req) {
            Ok(body) => body,
            Err(Some(e)) => return internal_error(req, format_args!("cannot read the batch: {e}")),
            Err(None) => {
                let e = BatchError::TooLarge { len: MAX_BATCH_BODY + 1 };
                return send(
                    req,
                    HTTPStatus::from_u16(e.status()).unwrap_or(HTTPStatus::BAD_REQUEST),
                    "application/json",
                    &e.to_json(),
                );
            }
        };
        let signed = match signature::check(req, settings, &body) {
            Received::Unsigned => false,
            Received::Signed => true,
            Received::Refused(why) => return refuse(req, HTTPStatus::FORBIDDEN, why),
        };
        let lines = match parse_batch(&body) {
            Ok(lines) => lines,
            Err(e) => {
                let status = HTTPStatus::from_u16(e.status()).unwrap_or(HTTPStatus::BAD_REQUEST);
                return send(req, status, "application/json", &e.to_json());
            }
        };
        let targets = target::of_batch(req, &lines, settings);
        let mode = match mode(req, settings) {
            Ok(mode) => mode,
            Err(()) => return refuse(req, HTTPStatus::BAD_REQUEST, BAD_MODE),
        };
        start(req, conf, settings, Asked { mode, targets, key: None, signed }, &body)
    });
    // SAFETY: the body handler ends with finalizing, which drops the body's reference.
    unsafe { ngx_http_finalize_request(r, rc) };
}

/// The request body, from memory or from its temporary file. `Err(None)` when it is over
/// [`MAX_BATCH_BODY`].
fn body_bytes(r: &Request) -> Result<Vec<u8>, Option<std::io::Error>> {
    let mut body = Vec::new();
    // SAFETY: once read, the request body and its chain live in the request pool.
    let mut chain: *const ngx_chain_t =
        unsafe { r.as_ref().request_body.as_ref() }.map_or(ptr::null(), |b| b.bufs);
    // SAFETY: each link of the chain and its buffer are valid.
    while let Some(link) = unsafe { chain.as_ref() } {
        // SAFETY: as above.
        let b: &ngx_buf_t = unsafe { &*link.buf };
        let len = if b.in_file() != 0 {
            (b.file_last - b.file_pos) as usize
        } else {
            b.last as usize - b.pos as usize
        };
        if body.len() + len > MAX_BATCH_BODY {
            return Err(None);
        }
        let at = body.len();
        body.resize(at + len, 0);
        if b.in_file() != 0 {
            // SAFETY: a file buffer's file is open while the request body is.
            let file: &ngx_file_t = unsafe { &*b.file };
            read_file_part(file.fd, b.file_pos as u64, &mut body[at..]).map_err(Some)?;
        } else if len > 0 {
            // SAFETY: an in-memory buffer holds len bytes from pos.
            body[at..].copy_from_slice(unsafe { core::slice::from_raw_parts(b.pos, len) });
        }
        chain = link.next;
    }
    Ok(body)
}

/// Reads a part of nginx's open temporary file, without taking its descriptor over.
fn read_file_part(fd: i32, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
    use std::os::fd::FromRawFd;
    // SAFETY: the descriptor is nginx's and stays open; ManuallyDrop never closes it.
    let file = core::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
    file.read_exact_at(out, offset)
}
