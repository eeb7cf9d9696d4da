//! `microcache_status`: the shared counters, as JSON or (`?format=prometheus`) Prometheus text.

use nginx_sys::{ngx_http_arg, ngx_http_request_t, ngx_int_t, ngx_str_t};
use ngx::core::Status;
use ngx::http::{HTTPStatus, HttpModuleMainConf, Request};

use microcache_core::purge_stats::IndexReading;

use crate::counters;
use crate::guard::guard;
use crate::index::CacheIndex;
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
        let purges = counters.purge_stats();
        let indexes = index_readings(r);
        if format_arg(r) == b"prometheus" {
            let mut body = snapshot.to_prometheus();
            purges.extend_prometheus(&mut body, &indexes);
            counters.origin.stats().extend_prometheus(&mut body);
            send(r, HTTPStatus::OK, "text/plain; version=0.0.4; charset=utf-8", &body)
        } else {
            let mut body = snapshot.to_json();
            purges.extend_json(&mut body, &indexes);
            counters.origin.stats().extend_json(&mut body);
            send(r, HTTPStatus::OK, "application/json", &body)
        }
    })
}

/// How full each index is.
fn index_readings(r: &Request) -> Vec<IndexReading<'static>> {
    let indexes = HttpMicrocacheModule::main_conf(r).map_or(&[][..], |m| &m.indexes[..]);
    let reading = |index: &'static CacheIndex| {
        let mut locked = index.lock()?;
        let stats = locked.index()?.stats();
        Some(IndexReading { zone: index.cache_name(), stats })
    };
    indexes.iter().filter_map(reading).collect()
}

/// The `format` argument (nginx's own `$arg_format`).
fn format_arg(r: &mut Request) -> &[u8] {
    let mut value = ngx_str_t::empty();
    let name = b"format";
    // SAFETY: ngx_http_arg only reads r->args and points value into them.
    let rc = unsafe { ngx_http_arg(r.as_mut(), name.as_ptr().cast_mut(), name.len(), &mut value) };
    if rc != Status::NGX_OK.0 || value.len == 0 {
        return &[];
    }
    // SAFETY: value points into r->args, which live as long as the request.
    unsafe { core::slice::from_raw_parts(value.data, value.len) }
}
