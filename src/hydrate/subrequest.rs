//! The state subrequest, issued in the PRECONTENT phase the way `auth_request` issues its own
//! in ACCESS: the request waits, and goes on to its content handler once the state, or why it is
//! unavailable, is known, before the first byte of the page.
//!
//! The subrequest is not an in-memory one: nginx would collect that into one buffer of the state
//! location's `subrequest_output_buffer_size` (4k or 8k by default) and fail the whole request
//! beyond it. Instead, this module's body filter, the first of the chain, keeps the body as it
//! passes, up to `microcache_hydrate_max_size`, reading the file of a cached state itself. So
//! the state location behaves as any location does: its own timeouts, buffering and cache,
//! filled on a MISS and answered from on a HIT.

use core::ffi::c_void;
use core::ptr;

use microcache_core::SkipReason;
use nginx_sys::{
    ngx_array_push, ngx_buf_t, ngx_chain_t, ngx_conf_t, ngx_http_handler_pt,
    ngx_http_phases_NGX_HTTP_PRECONTENT_PHASE, ngx_http_post_subrequest_t, ngx_http_request_body_t,
    ngx_http_request_t, ngx_http_subrequest, ngx_int_t, ngx_palloc, ngx_pcalloc, ngx_str_t,
    ngx_uint_t, NGX_ERROR, NGX_HTTP_HEAD, NGX_HTTP_LOG_UNSAFE, NGX_HTTP_SUBREQUEST_WAITED,
    NGX_LOG_WARN,
};
use ngx::core::Status;
use ngx::http::{HttpModuleLocationConf, HttpModuleMainConf, NgxHttpCoreModule, Request};
use ngx::{ngx_log_debug_http, ngx_log_error};

use super::conf::Fallback;
use super::request::{Failure, Fetch, Hydration, Phase, OK};
use super::stream::{needs_reading, take};
use crate::conf::Settings;
use crate::counters::{self, Counters};
use crate::guard::guard;
use crate::request::bits;
use crate::request::state::RequestState;
use crate::request::values;
use crate::respond::internal_error;
use crate::HttpMicrocacheModule;

/// Adds the PRECONTENT handler; called in postconfiguration.
pub fn register(cf: &mut ngx_conf_t) -> Option<()> {
    let cmcf = NgxHttpCoreModule::main_conf_mut(cf)?;
    let phase = &mut cmcf.phases[ngx_http_phases_NGX_HTTP_PRECONTENT_PHASE as usize];
    // SAFETY: the phase arrays are initialised by the core module before postconfiguration;
    // each element is an ngx_http_handler_pt.
    let h = unsafe { ngx_array_push(&mut phase.handlers) }.cast::<ngx_http_handler_pt>();
    // SAFETY: a non-null h is a fresh element of the array.
    unsafe { *h.as_mut()? = Some(precontent_handler) };
    Some(())
}

/// PRECONTENT of a main request whose location has a state URI and rules and passes requests
/// to an upstream (a content handler such as `fastcgi_pass`; not static files, not the module's
/// own purge and status), unless a skip rule sends the request to the origin anyway: fetches the
/// state once, waits for it, then decides.
unsafe extern "C" fn precontent_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx passes a valid request.
    let r = unsafe { Request::from_ngx_http_request(r) };
    guard(r.log(), || {
        if !r.is_main() {
            return Status::NGX_DECLINED.into();
        }
        let Some(lcf) = HttpMicrocacheModule::location_conf(r) else {
            return Status::NGX_DECLINED.into();
        };
        let Some(settings) = lcf.settings().filter(|_| lcf.content.is_none()) else {
            return Status::NGX_DECLINED.into();
        };
        if r.as_ref().content_handler.is_none() {
            return Status::NGX_DECLINED.into();
        }
        let Some(uri) = settings.hydrate.state.filter(|_| !settings.hydrate.rules.is_empty())
        else {
            return Status::NGX_DECLINED.into();
        };
        let Some(state) = values::computed(r, settings) else {
            return internal_error(r, format_args!("cannot allocate the request's values"));
        };
        if let Some(hydration) = &mut state.hydration {
            return match &hydration.phase {
                Phase::Fetching(fetch) if !fetch.done => Status::NGX_AGAIN.into(),
                Phase::Fetching(_) => decide(r, state, settings),
                Phase::Ready(_) | Phase::Head | Phase::Failed => Status::NGX_DECLINED.into(),
            };
        }
        if state.values.is_some_and(|v| v.skip.is_some()) {
            return Status::NGX_DECLINED.into();
        }
        let Some(uri) = r.get_complex_value(uri.0).map(|u| u.as_bytes()) else {
            return internal_error(r, format_args!("cannot evaluate the hydration state URI"));
        };
        if uri.is_empty() {
            ngx_log_debug_http!(r, "microcache: no hydration state URI");
            return Status::NGX_DECLINED.into();
        }
        let uri = ngx_str_t { len: uri.len(), data: uri.as_ptr().cast_mut() };
        if r.as_ref().method == NGX_HTTP_HEAD as ngx_uint_t {
            // PHP answers a subrequest of a HEAD request without a body ($request_method is
            // the main request's), and the header does not depend on the state.
            let phase = Phase::Head;
            state.hydration = Some(Box::new(Hydration { uri, phase, stream: None }));
            if let Some(values) = &mut state.values {
                values.hydrate_status = OK;
            }
            return Status::NGX_DECLINED.into();
        }
        start(r, state, settings, uri)
    })
}

/// Issues the subrequest; the request waits for it.
fn start(
    r: &mut Request,
    state: &mut RequestState,
    settings: &Settings,
    uri: ngx_str_t,
) -> ngx_int_t {
    let fetch = Fetch {
        subrequest: ptr::null_mut(),
        max_size: settings.hydrate.max_size,
        body: Vec::new(),
        too_large: false,
        broken: false,
        done: false,
    };
    let hydration: &mut Hydration = state.hydration.insert(Box::new(Hydration {
        uri,
        phase: Phase::Fetching(fetch),
        stream: None,
    }));
    let (mut path, mut args, mut flags) =
        (uri, ngx_str_t::empty(), NGX_HTTP_LOG_UNSAFE as ngx_uint_t);
    // SAFETY: the request and the strings are valid; nginx may decode the path in place, in
    // the request pool where the evaluated URI lives.
    let safe = unsafe {
        nginx_sys::ngx_http_parse_unsafe_uri(r.as_mut(), &mut path, &mut args, &mut flags)
    };
    if safe != ngx_int_t::from(Status::NGX_OK) {
        let failure = (Failure::Uri, "an unsafe URI".to_owned());
        return fail(r, hydration, state.values.as_mut(), settings, failure);
    }
    let pool = r.as_ref().pool;
    // SAFETY: pool memory for the post-subrequest callback, which points at the hydration
    // (boxed: its address holds while the request lives).
    let ps = unsafe { ngx_palloc(pool, size_of::<ngx_http_post_subrequest_t>()) }
        .cast::<ngx_http_post_subrequest_t>();
    // SAFETY: as above; checked for null.
    let Some(ps) = (unsafe { ps.as_mut() }) else {
        return NGX_ERROR as ngx_int_t;
    };
    ps.handler = Some(state_done);
    ps.data = ptr::from_mut::<Hydration>(hydration).cast::<c_void>();
    let mut sr: *mut ngx_http_request_t = ptr::null_mut();
    let flags = NGX_HTTP_SUBREQUEST_WAITED as ngx_uint_t;
    // SAFETY: r is the main request in its PRECONTENT phase, the strings live in its pool.
    let rc = unsafe { ngx_http_subrequest(r.as_mut(), &mut path, &mut args, &mut sr, ps, flags) };
    // SAFETY: on success nginx returns the new subrequest.
    let Some(sr) = (unsafe { sr.as_mut() }).filter(|_| rc == ngx_int_t::from(Status::NGX_OK))
    else {
        return NGX_ERROR as ngx_int_t;
    };
    // As auth_request does: a request body of its own, so the subrequest neither reads the
    // client's body nor closes a body file the main request may still need.
    // SAFETY: pool memory, zeroed.
    sr.request_body = unsafe { ngx_pcalloc(pool, size_of::<ngx_http_request_body_t>()) }.cast();
    if sr.request_body.is_null() {
        return NGX_ERROR as ngx_int_t;
    }
    if let Phase::Fetching(fetch) = &mut hydration.phase {
        fetch.subrequest = sr;
    }
    ngx_log_debug_http!(
        r,
        "microcache: hydration state \"{}?{}\"",
        path.as_bytes().escape_ascii(),
        args.as_bytes().escape_ascii()
    );
    Status::NGX_AGAIN.into()
}

/// The subrequest is finalized (nginx may call this more than once: an error status, then the
/// error page). A response that broke off after its header would make nginx terminate the
/// whole request; it is a failure of the state, so the subrequest ends normally instead,
/// unless the client is gone.
unsafe extern "C" fn state_done(
    sr: *mut ngx_http_request_t,
    data: *mut c_void,
    rc: ngx_int_t,
) -> ngx_int_t {
    // SAFETY: `data` is the boxed Hydration `start` registered; it lives as long as the main
    // request, which outlives its subrequest. nginx passes the subrequest.
    let (hydration, sr) = unsafe { (&mut *data.cast::<Hydration>(), &mut *sr) };
    let Phase::Fetching(fetch) = &mut hydration.phase else {
        return rc;
    };
    fetch.done = true;
    // SAFETY: the subrequest's connection is the main request's.
    let client_gone = unsafe { (*sr.connection).error() } != 0;
    if rc == NGX_ERROR as ngx_int_t && !client_gone {
        fetch.broken = true;
        return Status::NGX_OK.into();
    }
    rc
}

/// The state subrequest's share of the body filter: its body is kept, not passed on.
/// `Some(rc)` when `r` is the state subrequest of a hydration.
pub fn capture(r: &mut ngx_http_request_t, mut input: *mut ngx_chain_t) -> Option<ngx_int_t> {
    let fetch = fetch_of(r)?;
    let mut scratch = Vec::new();
    // SAFETY: the chain and its buffers are valid during the call.
    while let Some(link) = unsafe { input.as_mut() } {
        // SAFETY: as above.
        let b = unsafe { &mut *link.buf };
        if fetch.too_large {
            skip(b);
        }
        loop {
            if needs_reading(b) && scratch.is_empty() {
                scratch.resize(fetch.max_size.clamp(1, 16 * 1024), 0);
            }
            let Some(piece) = take(b, &mut scratch, usize::MAX) else {
                return Some(NGX_ERROR as ngx_int_t);
            };
            if piece.is_empty() {
                break;
            }
            fetch.keep(piece);
        }
        input = link.next;
    }
    Some(Status::NGX_OK.into())
}

/// Marks a buffer's data consumed without reading it.
fn skip(b: &mut ngx_buf_t) {
    b.pos = b.last;
    b.file_pos = b.file_last;
}

/// The fetch of the hydration whose state subrequest `r` is.
fn fetch_of<'r>(r: &ngx_http_request_t) -> Option<&'r mut Fetch> {
    // SAFETY: a subrequest's post-subrequest callback lives in the pool.
    let ps = unsafe { r.post_subrequest.as_ref()? };
    let ours: unsafe extern "C" fn(*mut ngx_http_request_t, *mut c_void, ngx_int_t) -> ngx_int_t =
        state_done;
    if !ps.handler.is_some_and(|h| ptr::fn_addr_eq(h, ours)) {
        return None;
    }
    // SAFETY: our callback's data is the Hydration; see `state_done`.
    match unsafe { &mut (*ps.data.cast::<Hydration>()).phase } {
        Phase::Fetching(fetch) => Some(fetch),
        _ => None,
    }
}

/// The subrequest is done: the state is ready, or the fallback applies.
fn decide(r: &mut Request, state: &mut RequestState, settings: &Settings) -> ngx_int_t {
    let Some(hydration) = state.hydration.as_deref_mut() else {
        return Status::NGX_DECLINED.into();
    };
    let Phase::Fetching(fetch) = &mut hydration.phase else {
        return Status::NGX_DECLINED.into();
    };
    // SAFETY: the subrequest lives in the main request's pool.
    let sr = unsafe { &*fetch.subrequest };
    fetch.broken |= upstream_failed(sr);
    match fetch.outcome(sr.headers_out.status) {
        Ok(parsed) => {
            hydration.phase = Phase::Ready(parsed);
            if let Some(values) = &mut state.values {
                values.hydrate_status = OK;
            }
            ngx_log_debug_http!(r, "microcache: hydration state ready");
            Status::NGX_DECLINED.into()
        }
        Err(failure) => fail(r, hydration, state.values.as_mut(), settings, failure),
    }
}

/// Whether the subrequest's upstream failed after the header. nginx then ends the response as
/// if it were complete (for a client, it closes the connection).
fn upstream_failed(sr: &ngx_http_request_t) -> bool {
    // SAFETY: the upstream and its pipe live in the request pool.
    let pipe = unsafe { sr.upstream.as_ref().and_then(|u| u.pipe.as_ref()) };
    !bits::cached(sr) && pipe.is_some_and(|p| p.upstream_error() != 0)
}

/// The state is unavailable: says why (the variable, one `warn` line) and applies the fallback.
fn fail(
    r: &Request,
    hydration: &mut Hydration,
    values: Option<&mut values::Values>,
    settings: &Settings,
    (failure, detail): (Failure, String),
) -> ngx_int_t {
    hydration.phase = Phase::Failed;
    let origin = settings.hydrate.fallback == Fallback::Origin;
    ngx_log_error!(
        NGX_LOG_WARN,
        r.log(),
        "microcache: hydration state \"{}\" unavailable ({}: {}), serving {}",
        hydration.uri.as_bytes().escape_ascii(),
        failure.status(),
        detail,
        if origin { "the origin's page" } else { "the cached page unchanged" }
    );
    let Some(values) = values else {
        return Status::NGX_DECLINED.into();
    };
    values.hydrate_status = failure.status();
    if origin {
        values.skip = Some(SkipReason::Hydrate);
        if let Some(c) = HttpMicrocacheModule::main_conf(r).and_then(|m| counters::get(m.counters))
        {
            Counters::add(&c.skips[SkipReason::Hydrate.index()], 1);
        }
    }
    Status::NGX_DECLINED.into()
}
