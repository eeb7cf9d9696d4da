//! `microcache_purge`: the content handler. It resolves the request's [`target`], removes one
//! key at once or starts a [`walk`] of the cache directory, and [`answer`]s.

mod answer;
mod target;
mod walk;

use std::time::Instant;

use nginx_sys::{ngx_http_request_t, ngx_int_t};
use ngx::core::Status;
use ngx::http::{HTTPStatus, HttpModuleLocationConf, Request};
use ngx::ngx_log_debug_http;

use self::answer::answer;
use self::target::Scope;
use crate::conf::Content;
use crate::guard::guard;
use crate::respond::{internal_error, method_is, not_allowed};
use crate::HttpMicrocacheModule;

pub unsafe extern "C" fn handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx passes a valid request to content handlers.
    let r = unsafe { Request::from_ngx_http_request(r) };
    guard(r.log(), || {
        if !method_is(r, &[b"GET", b"HEAD", b"PURGE"]) {
            return not_allowed(r, "GET, HEAD, PURGE");
        }
        let rc = r.discard_request_body();
        if rc != Status::NGX_OK {
            return rc.into();
        }
        let conf = match HttpMicrocacheModule::location_conf(r).and_then(|l| l.content.as_ref()) {
            Some(Content::Purge(conf)) => conf,
            _ => return internal_error(r, format_args!("no purge configuration here")),
        };
        let Some(cache) = conf.zone.and_then(|z| z.cache()) else {
            return internal_error(r, format_args!("the purge's cache zone is not configured"));
        };
        let target = match target::of(r, conf) {
            Ok(Some(target)) => target,
            Ok(None) => return HTTPStatus::BAD_REQUEST.0 as ngx_int_t,
            Err(why) => return internal_error(r, format_args!("{why}")),
        };
        ngx_log_debug_http!(r, "microcache: purge \"{}\"", target.shown.escape_ascii());
        let started = Instant::now();
        let Scope::Keys(keys) = &target.scope else {
            return walk::start(r, cache, target, started);
        };
        let mut purged = 0;
        for key in keys {
            let hash = microcache_core::purge::key_hash(key);
            match cache.remove(&hash, &cache.file_path(&hash)) {
                Ok(removed) => purged += u64::from(removed),
                Err(e) => return answer(r, &target.shown, started, Err(e)),
            }
        }
        answer(r, &target.shown, started, Ok(purged))
    })
}
