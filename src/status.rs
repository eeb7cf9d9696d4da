//! `microcache_status`: the shared counters, as JSON or (`?format=prometheus`) Prometheus text.

use nginx_sys::{
    ngx_http_arg, ngx_http_discard_request_body, ngx_http_request_t, ngx_int_t, ngx_str_t,
    NGX_ERROR, NGX_HTTP_OK, NGX_OK,
};
use ngx::http::HttpModuleMainConf;

use crate::counters;
use crate::ffi::{bytes, guard, method_is, not_allowed, send_response};
use crate::HttpMicrocacheModule;

pub unsafe extern "C" fn handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    guard(r, || {
        // SAFETY: nginx passes a valid request to content handlers.
        let r = unsafe { &mut *r };
        if !method_is(r, &[b"GET", b"HEAD"]) {
            return not_allowed(r, "GET, HEAD");
        }
        // SAFETY: as above.
        let rc = unsafe { ngx_http_discard_request_body(r) };
        if rc != NGX_OK as ngx_int_t {
            return rc;
        }
        let Some(counters) =
            HttpMicrocacheModule::main_conf(r).and_then(|m| counters::get(m.counters))
        else {
            return NGX_ERROR as ngx_int_t;
        };
        let snapshot = counters.snapshot();
        if format_arg(r) == b"prometheus" {
            let body = snapshot.to_prometheus();
            send_response(
                r,
                NGX_HTTP_OK as _,
                "text/plain; version=0.0.4; charset=utf-8",
                body.as_bytes(),
            )
        } else {
            let body = snapshot.to_json();
            send_response(r, NGX_HTTP_OK as _, "application/json", body.as_bytes())
        }
    })
}

fn format_arg(r: &mut ngx_http_request_t) -> &[u8] {
    let mut value = ngx_str_t { len: 0, data: core::ptr::null_mut() };
    let name = b"format";
    // SAFETY: ngx_http_arg only reads r->args and points value into them.
    let rc = unsafe { ngx_http_arg(r, name.as_ptr().cast_mut(), name.len(), &mut value) };
    if rc != NGX_OK as ngx_int_t {
        return &[];
    }
    // SAFETY: value points into r->args.
    unsafe { bytes(&value) }
}
