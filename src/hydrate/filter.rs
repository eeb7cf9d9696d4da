//! The header and body filters. A dynamic module is loaded after nginx's own modules, so these
//! are the first filters of both chains: they see a response before `not_modified`, `range`,
//! the copy filter (hence file buffers of cached responses) and gzip, which compresses what
//! they put out.

use microcache_core::hydrate::{html_charset, PlanUse, Rewriter, UnsupportedCharset};
use nginx_sys::{
    ngx_chain_t, ngx_conf_t, ngx_http_output_body_filter_pt, ngx_http_output_header_filter_pt,
    ngx_http_request_t, ngx_http_top_body_filter, ngx_http_top_header_filter, ngx_int_t, NGX_ERROR,
    NGX_HTTP_OK, NGX_LOG_WARN,
};
use ngx::http::{HttpModuleLocationConf, Request};
use ngx::{ngx_log_debug_http, ngx_log_error};

use super::headers::make_personal;
use super::plans::{self, PlanKey};
use super::request::{Failure, Hydration, Phase};
use super::stream::Stream;
use super::subrequest::capture;
use crate::conf::Settings;
use crate::guard::guard;
use crate::request::bits;
use crate::request::state;
use crate::HttpMicrocacheModule;

static mut NEXT_HEADER: ngx_http_output_header_filter_pt = None;
static mut NEXT_BODY: ngx_http_output_body_filter_pt = None;

/// Puts the filters at the top of nginx's chains; called in postconfiguration.
pub fn register(_cf: &mut ngx_conf_t) {
    // SAFETY: configuration runs on one thread; each filter module saves the top filter and
    // takes its place, as nginx's own do.
    unsafe {
        NEXT_HEADER = ngx_http_top_header_filter;
        ngx_http_top_header_filter = Some(header_filter);
        NEXT_BODY = ngx_http_top_body_filter;
        ngx_http_top_body_filter = Some(body_filter);
    }
}

/// # Safety
/// `r` is a request whose header is being sent.
unsafe fn next_header(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: set in postconfiguration, before any request.
    match unsafe { NEXT_HEADER } {
        // SAFETY: the next filter of the chain, with the caller's request.
        Some(next) => unsafe { next(r) },
        None => NGX_ERROR as ngx_int_t,
    }
}

/// # Safety
/// `r` is a request whose body is being sent, `input` its chain.
unsafe fn next_body(r: *mut ngx_http_request_t, input: *mut ngx_chain_t) -> ngx_int_t {
    // SAFETY: set in postconfiguration, before any request.
    match unsafe { NEXT_BODY } {
        // SAFETY: the next filter of the chain, with the caller's request and chain.
        Some(next) => unsafe { next(r, input) },
        None => NGX_ERROR as ngx_int_t,
    }
}

unsafe extern "C" fn header_filter(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx passes a valid request.
    let request = unsafe { Request::from_ngx_http_request(r) };
    guard(request.log(), || {
        if request.is_main() {
            prepare(request);
        }
        // SAFETY: the next filter with the same request.
        unsafe { next_header(r) }
    })
}

unsafe extern "C" fn body_filter(r: *mut ngx_http_request_t, input: *mut ngx_chain_t) -> ngx_int_t {
    // SAFETY: nginx passes a valid request.
    let request = unsafe { Request::from_ngx_http_request(r) };
    guard(request.log(), || {
        if !request.is_main() {
            return match capture(request.as_mut(), input) {
                Some(rc) => rc,
                // SAFETY: the next filter with the same request and chain.
                None => unsafe { next_body(r, input) },
            };
        }
        let rules = HttpMicrocacheModule::location_conf(request)
            .and_then(|l| l.settings())
            .is_some_and(|s| !s.hydrate.rules.is_empty());
        let hydration = rules.then(|| hydration_of(request.as_ref())).flatten();
        let Some(hydration) = hydration.filter(|_| !bits::header_only(request.as_ref())) else {
            // SAFETY: the next filter with the same request and chain.
            return unsafe { next_body(r, input) };
        };
        let Some(stream) = hydration.stream.as_mut().filter(|s| !s.done) else {
            // SAFETY: the next filter with the same request and chain.
            return unsafe { next_body(r, input) };
        };
        // SAFETY: the request, its chain and the next filter.
        let rc = unsafe { stream.filter(request.as_mut(), input, next_body) };
        if let Some(summary) = stream.take_summary() {
            ngx_log_debug_http!(
                request,
                "microcache: hydrated; script {}",
                if summary.script_inserted { "inserted" } else { "not inserted" }
            );
            if let Some(why) = summary.bailed_out {
                ngx_log_error!(
                    NGX_LOG_WARN,
                    request.log(),
                    "microcache: hydration stopped part way through the page, the rest is \
                     unchanged: {}",
                    why
                );
                set_status(request.as_ref(), Failure::Rewrite);
            }
        }
        rc
    })
}

/// The hydration of `r`, if it has one.
fn hydration_of<'r>(r: &ngx_http_request_t) -> Option<&'r mut Hydration> {
    state::find(r)?.hydration.as_deref_mut()
}

fn set_status(r: &ngx_http_request_t, failure: Failure) {
    if let Some(values) = state::find(r).and_then(|s| s.values.as_mut()) {
        values.hydrate_status = failure.status();
    }
}

/// For a `200` HTML response, unencoded, of a request whose state is ready: the header becomes
/// that of a personal page and the body will be rewritten.
fn prepare(request: &mut Request) {
    let settings: Option<&Settings> =
        HttpMicrocacheModule::location_conf(request).and_then(|l| l.settings());
    let Some(settings) = settings.filter(|s| !s.hydrate.rules.is_empty()) else {
        return;
    };
    let r = request.as_mut();
    let Some(hydration) = hydration_of(r) else {
        return;
    };
    let state = match &hydration.phase {
        Phase::Ready(state) => Some(state),
        Phase::Head => None,
        Phase::Fetching(_) | Phase::Failed => return,
    };
    if hydration.stream.is_some() || r.headers_out.status != NGX_HTTP_OK as usize {
        return;
    }
    let Some(charset) = html_charset(r.headers_out.content_type.as_bytes()) else {
        return;
    };
    // SAFETY: a response header entry of the request, or null.
    let encoding = unsafe { r.headers_out.content_encoding.as_ref() };
    if encoding.is_some_and(|h| {
        h.hash != 0 && !h.value.is_empty() && !h.value.as_bytes().eq_ignore_ascii_case(b"identity")
    }) {
        return;
    }
    let charset =
        charset.or_else(|| Some(r.headers_out.charset.as_bytes()).filter(|c| !c.is_empty()));
    let cache_control = settings.hydrate.cache_control.as_deref();
    let Some(state) = state else {
        make_personal(request.as_mut(), cache_control);
        return;
    };
    let key = PlanKey::of(r, settings);
    let plan = key.as_ref().map_or(PlanUse::Off, plans::lookup);
    match Rewriter::new(&settings.hydrate.rules, state, charset, plan) {
        Ok(rewriter) => {
            ngx_log_debug_http!(request, "microcache: hydrating the response");
            if make_personal(request.as_mut(), cache_control).is_none() {
                hydration.phase = Phase::Failed;
                return;
            }
            hydration.stream = Some(Stream::new(rewriter, key));
        }
        Err(UnsupportedCharset(label)) => {
            ngx_log_error!(
                NGX_LOG_WARN,
                request.log(),
                "microcache: hydration skipped, the page's charset \"{}\" is not one it can read",
                label.escape_ascii()
            );
            hydration.phase = Phase::Failed;
            set_status(request.as_ref(), Failure::Charset);
        }
    }
}
