//! One peer's purge, through nginx's upstream module as `ngx_http_memcached_module` drives it:
//! the peer's subrequest gets an upstream aimed at the peer's address (`u->resolved`), with the
//! location's timeouts; the request it sends is the fan-out's signed purge, the head of the
//! answer is read here, and its body is read and dropped.

use core::ffi::c_void;
use core::ptr;

use microcache_core::peers::head::parse_head;
use nginx_sys::{
    ngx_buf_t, ngx_chain_t, ngx_http_request_t, ngx_http_upstream_create, ngx_http_upstream_init,
    ngx_http_upstream_resolved_t, ngx_int_t, off_t, NGX_HTTP_INTERNAL_SERVER_ERROR,
    NGX_HTTP_UPSTREAM_INVALID_HEADER, NGX_LOG_ERR,
};
use ngx::core::Status;
use ngx::http::{HttpModule, Request};
use ngx::{ngx_log_debug_http, ngx_log_error};

use super::peers::call_of;
use crate::HttpMicrocacheModule;

const SCHEMA: &str = "http://";

/// Starts the purge of the subrequest's peer; the content handler's result.
pub fn start(sr: &mut Request) -> ngx_int_t {
    let raw: *mut ngx_http_request_t = sr.as_mut();
    let Some((fan, i)) = call_of(sr.as_ref()) else {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    };
    let peer = fan.call(i).peer;
    // SAFETY: raw is a live request.
    if unsafe { ngx_http_upstream_create(raw) } != Status::NGX_OK.0 {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    }
    // SAFETY: the pool outlives the upstream; zeroed is its unset state.
    let Some(resolved) =
        (unsafe { sr.pool().calloc_type::<ngx_http_upstream_resolved_t>().as_mut() })
    else {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    };
    // The host is the address itself, which no upstream block is named after: nginx connects
    // to this address and no other.
    resolved.host = peer.name;
    resolved.name = peer.name;
    resolved.port = peer.port;
    resolved.naddrs = 1;
    resolved.sockaddr = peer.sockaddr;
    resolved.socklen = peer.socklen;
    // SAFETY: ngx_http_upstream_create made r->upstream.
    let u = unsafe { &mut *(*raw).upstream };
    u.schema.len = SCHEMA.len();
    u.schema.data = SCHEMA.as_ptr().cast_mut();
    u.output.tag = ptr::from_ref(HttpMicrocacheModule::module()).cast_mut().cast();
    u.conf = ptr::from_ref(fan.peers_conf().upstream_conf).cast_mut();
    u.resolved = resolved;
    u.create_request = Some(create_request);
    u.reinit_request = Some(reinit_request);
    u.process_header = Some(process_header);
    u.abort_request = Some(abort_request);
    u.finalize_request = Some(finalize_request);
    u.input_filter_init = Some(filter_init);
    u.input_filter = Some(filter);
    u.input_filter_ctx = raw.cast();
    // SAFETY: the reference is given back when the content handler returns NGX_DONE.
    unsafe {
        let main = (*raw).main;
        (*main).set_count((*main).count() + 1);
        ngx_http_upstream_init(raw);
    }
    Status::NGX_DONE.into()
}

/// The request to send: the fan-out's bytes, shared by every peer, in one read-only buffer.
unsafe extern "C" fn create_request(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx passes the peer's subrequest.
    let req = unsafe { Request::from_ngx_http_request(r) };
    let Some((fan, _)) = call_of(req.as_ref()) else {
        return Status::NGX_ERROR.into();
    };
    let wire = fan.wire.as_slice();
    let pool = req.pool();
    // SAFETY: zeroed buffers and chain links are their initial state.
    let (b, cl) = unsafe {
        (pool.calloc_type::<ngx_buf_t>().as_mut(), pool.calloc_type::<ngx_chain_t>().as_mut())
    };
    let (Some(b), Some(cl)) = (b, cl) else {
        return Status::NGX_ERROR.into();
    };
    // The fan-out lives in the main request's pool, longer than the subrequest.
    b.start = wire.as_ptr().cast_mut();
    b.pos = b.start;
    // SAFETY: one past the end of the slice.
    b.last = unsafe { b.start.add(wire.len()) };
    b.end = b.last;
    b.set_memory(1);
    cl.buf = b;
    // SAFETY: the subrequest's upstream was created in `start`.
    unsafe { (*(*r).upstream).request_bufs = cl };
    Status::NGX_OK.into()
}

unsafe extern "C" fn reinit_request(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx passes the peer's subrequest.
    if let Some((fan, i)) = call_of(unsafe { &*r }) {
        fan.call(i).head = None;
    }
    Status::NGX_OK.into()
}

/// Reads the answer's head once it is complete; the body starts after it.
unsafe extern "C" fn process_header(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx passes the peer's subrequest, whose upstream buffer holds what arrived.
    let (req, u) = unsafe { (Request::from_ngx_http_request(r), &mut *(*r).upstream) };
    let Some((fan, i)) = call_of(req.as_ref()) else {
        return Status::NGX_ERROR.into();
    };
    let len = u.buffer.last as usize - u.buffer.pos as usize;
    // SAFETY: the buffer holds len bytes from pos.
    let arrived = unsafe { core::slice::from_raw_parts(u.buffer.pos, len) };
    let call = fan.call(i);
    match parse_head(arrived) {
        Ok(None) => Status::NGX_AGAIN.into(),
        Err(_) => {
            ngx_log_error!(
                NGX_LOG_ERR,
                req.log(),
                "microcache: peer {} sent an invalid answer to a purge",
                call.peer.name.as_bytes().escape_ascii()
            );
            NGX_HTTP_UPSTREAM_INVALID_HEADER as ngx_int_t
        }
        Ok(Some(head)) => {
            ngx_log_debug_http!(
                req,
                "microcache: peer answered {} ({:?})",
                head.status,
                head.purged
            );
            call.head = Some(head);
            u.headers_in.status_n = head.status.into();
            // SAFETY: the upstream state is set before the answer is read.
            if let Some(state) = unsafe { u.state.as_mut() } {
                state.status = head.status.into();
            }
            // The body is dropped, not kept in memory: no length for the subrequest's output.
            u.headers_in.content_length_n = -1;
            // SAFETY: the head is within the buffer.
            u.buffer.pos = unsafe { u.buffer.pos.add(head.len) };
            Status::NGX_OK.into()
        }
    }
}

/// How much body follows the head: none for `HEAD`, `204` and `304`; else `Content-Length`,
/// or up to the end of the connection.
unsafe extern "C" fn filter_init(data: *mut c_void) -> ngx_int_t {
    let r = data.cast::<ngx_http_request_t>();
    // SAFETY: the filter context is the subrequest.
    let (req, u) = unsafe { (&*r, &mut *(*r).upstream) };
    let head = call_of(req).and_then(|(fan, i)| fan.call(i).head);
    let bodiless = req.method_name.as_bytes() == b"HEAD"
        || head.is_some_and(|h| matches!(h.status, 204 | 304));
    u.length = match head.and_then(|h| h.content_length) {
        _ if bodiless => 0,
        Some(len) => off_t::try_from(len).unwrap_or(off_t::MAX),
        None => -1,
    };
    Status::NGX_OK.into()
}

/// Drops `bytes` of body: the buffer is reused for the next read.
unsafe extern "C" fn filter(data: *mut c_void, bytes: isize) -> ngx_int_t {
    // SAFETY: the filter context is the subrequest.
    let u = unsafe { &mut *(*data.cast::<ngx_http_request_t>()).upstream };
    if u.length > 0 {
        u.length = (u.length - bytes as off_t).max(0);
    }
    Status::NGX_OK.into()
}

unsafe extern "C" fn abort_request(_r: *mut ngx_http_request_t) {}

unsafe extern "C" fn finalize_request(_r: *mut ngx_http_request_t, _rc: ngx_int_t) {}
