//! The phase handlers: POST_READ records each request as it arrived; REWRITE, where
//! `microcache on` applies, puts the normalised query in `$args` and counts the request.

use microcache_core::query::MAX_QUERY_LEN;
use nginx_sys::{
    ngx_array_push, ngx_conf_t, ngx_http_handler_pt, ngx_http_phases_NGX_HTTP_POST_READ_PHASE,
    ngx_http_phases_NGX_HTTP_REWRITE_PHASE, ngx_http_request_t, ngx_int_t, ngx_str_t,
};
use ngx::core::Status;
use ngx::http::{HttpModuleLocationConf, HttpModuleMainConf, NgxHttpCoreModule, Request};
use ngx::ngx_log_debug_http;

use crate::conf::Settings;
use crate::counters;
use crate::guard::guard;
use crate::request::state;
use crate::request::values::{self, ngx_str, normalise_or_copy, pool_bytes, Values};
use crate::respond::internal_error;
use crate::HttpMicrocacheModule;

/// Adds the handlers to their phases; called in postconfiguration.
pub fn register(cf: &mut ngx_conf_t) -> Option<()> {
    let cmcf = NgxHttpCoreModule::main_conf_mut(cf)?;
    let handlers: [(u32, ngx_http_handler_pt); 2] = [
        (ngx_http_phases_NGX_HTTP_POST_READ_PHASE, Some(post_read_handler)),
        (ngx_http_phases_NGX_HTTP_REWRITE_PHASE, Some(rewrite_handler)),
    ];
    for (phase, handler) in handlers {
        // SAFETY: the phase arrays are initialised by the core module before postconfiguration;
        // each element is an ngx_http_handler_pt.
        let h = unsafe { ngx_array_push(&mut cmcf.phases[phase as usize].handlers) };
        // SAFETY: a non-null h is a fresh element of the array.
        unsafe { h.cast::<ngx_http_handler_pt>().as_mut()?.clone_from(&handler) };
    }
    Some(())
}

/// POST_READ: records the request as it arrived, before any rewrite, redirect or body handling
/// changes it.
unsafe extern "C" fn post_read_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx passes a valid request.
    let r = unsafe { Request::from_ngx_http_request(r) };
    guard(r.log(), || {
        let used = HttpMicrocacheModule::main_conf(r).is_some_and(|m| m.used);
        if used && state::find_or_create(r.as_mut()).is_none() {
            return internal_error(r, format_args!("cannot allocate the request state"));
        }
        Status::NGX_DECLINED.into()
    })
}

/// REWRITE, where `microcache on` applies: `$args` becomes the normalised query before the
/// rewrite module's directives of the location run; the counters see the request once.
unsafe extern "C" fn rewrite_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx passes a valid request.
    let r = unsafe { Request::from_ngx_http_request(r) };
    guard(r.log(), || {
        let Some(lcf) = HttpMicrocacheModule::location_conf(r) else {
            return Status::NGX_DECLINED.into();
        };
        let Some(settings) = lcf.settings().filter(|s| s.enable) else {
            return Status::NGX_DECLINED.into();
        };
        // The module's own content handlers (purge, status) are not site traffic.
        if lcf.content.is_some() {
            return Status::NGX_DECLINED.into();
        }
        let Some(state) = values::computed(r, settings) else {
            return internal_error(r, format_args!("cannot allocate the request's values"));
        };
        let Some(values) = state.values else {
            return internal_error(r, format_args!("the request's values are missing"));
        };
        if !state.counted {
            state.counted = true;
            if let Some(c) =
                HttpMicrocacheModule::main_conf(r).and_then(|m| counters::get(m.counters))
            {
                c.request(values.changed, values.stripped_count, values.skip);
            }
        }
        match apply(r, state.arrival.query, &values, settings) {
            Some(()) => Status::NGX_DECLINED.into(),
            None => internal_error(r, format_args!("cannot allocate the normalised query")),
        }
    })
}

/// Puts the normalised query in `$args`.
///
/// `$args` is normally still the query the request arrived with, and becomes the computed one.
/// After a rewrite or an internal redirect it is whatever that set:
/// `try_files ... /index.php?$args` carries the already normalised query and is left alone,
/// anything else is normalised with this location's settings (normalisation is idempotent).
fn apply(r: &mut Request, arrived: ngx_str_t, values: &Values, settings: &Settings) -> Option<()> {
    let raw = r.as_mut();
    let current = raw.args;
    let current = current.as_bytes();
    // proxy_pass without a URI sends nginx's normalised URI, not the raw request line, for
    // every request: one cache key, one upstream URI, whether or not the query changed.
    raw.set_valid_unparsed_uri(0);
    if current == values.args.as_bytes() {
        return Some(());
    }
    if current == arrived.as_bytes() {
        raw.args = values.args;
        return Some(());
    }
    // Over the limit nothing would be rewritten: no need for room to try.
    if current.len() > MAX_QUERY_LEN {
        return Some(());
    }
    let buf = pool_bytes(raw.pool, 2 * current.len())?;
    let (args, stripped) = buf.split_at_mut(current.len());
    let outcome = normalise_or_copy(current, settings, args, stripped);
    if outcome.changed {
        ngx_log_debug_http!(
            r,
            "microcache: rewritten query \"{}\" -> \"{}\"",
            current.escape_ascii(),
            args[..outcome.args_len].escape_ascii()
        );
        r.as_mut().args = ngx_str(&args[..outcome.args_len]);
    }
    Some(())
}
