//! `microcache_status`: the shared counters, as JSON or (`?format=prometheus`) Prometheus text.

use nginx_sys::{ngx_http_arg, ngx_http_request_t, ngx_int_t, ngx_str_t};
use ngx::core::Status;
use ngx::http::{HTTPStatus, HttpModuleMainConf, Request};

use crate::counters;
use crate::guard::guard;
use crate::respond::{internal_error, method_is, not_allowed, send};
use crate::HttpMicrocacheModule;

pub unsafe extern "C" fn handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx passes a valid request to content handlers.
    let r = unsafe { Request::from_ngx_http_request(r) };
    guard(r.log(), || {
        if !method_is(r, &[b"GET", b"HEAD"]) {
            return not_allowed(r, "GET, HEAD");
        }
        let rc = r.discard_request_body();
        if rc != Status::NGX_OK {
            return rc.into();
        }
        let counters = HttpMicrocacheModule::main_conf(r).and_then(|m| counters::get(m.counters));
        let Some(counters) = counters else {
            return internal_error(r, format_args!("the counters zone is not mapped"));
        };
        let snapshot = counters.snapshot();
        if format_arg(r) == b"prometheus" {
            let body = snapshot.to_prometheus();
            send(r, HTTPStatus::OK, "text/plain; version=0.0.4; charset=utf-8", &body)
        } else {
            send(r, HTTPStatus::OK, "application/json", &snapshot.to_json())
        }
    })
}

/// The `format` argument (nginx's own `$arg_format`).
fn format_arg(r: &mut Request) -> &[u8] {
    let mut value = ngx_str_t::empty();
    let name = b"format";
    // SAFETY: ngx_http_arg only reads r->args and points value into them.
    let rc = unsafe { ngx_http_arg(r.as_mut(), name.as_ptr().cast_mut(), name.len(), &mut value) };
    if rc != ngx_int_t::from(Status::NGX_OK) || value.len == 0 {
        return &[];
    }
    // SAFETY: value points into r->args, which live as long as the request.
    unsafe { core::slice::from_raw_parts(value.data, value.len) }
}
