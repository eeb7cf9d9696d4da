//! A request's values — what the `$microcache_*` variables show — computed once, with the
//! settings of the first location that needs them, into one pool allocation:
//!
//! ```text
//! scheme method host raw-path ? normalised-args # variant | stripped
//! \____________________________ key _____________________/
//!                     \____ request_uri _______/
//! ```
//!
//! so the query in the key and the query the origin receives are the same bytes by
//! construction. The variant is the value of LiteSpeed's vary cookie (`microcache_litespeed
//! on`), which the origin receives too.

use microcache_core::key::KeyParts;
use microcache_core::litespeed::{vary_cookie, VaryCookie};
use microcache_core::{normalise, Normalised, RequestFacts, SkipReason};
use nginx_sys::{ngx_pool_t, ngx_str_t};
use ngx::core::Pool;
use ngx::http::{HttpModuleLocationConf, Request};
use ngx::ngx_log_debug_http;

use super::facts::{headers, host, scheme};
use super::state::{self, Arrival, RequestState};
use crate::conf::Settings;
use crate::HttpMicrocacheModule;

/// What the variables expose.
#[derive(Clone, Copy)]
pub struct Values {
    pub key: ngx_str_t,
    pub request_uri: ngx_str_t,
    pub args: ngx_str_t,
    pub stripped: ngx_str_t,
    pub skip: Option<SkipReason>,
    /// Segments removed.
    pub stripped_count: usize,
    /// The normalised query differs from the one the request arrived with.
    pub changed: bool,
    /// `$microcache_hydrate_status`: set by hydration, empty where it does not apply.
    pub hydrate_status: &'static str,
}

/// The values of `r`, computed with the settings of `r`'s location if not yet done.
pub fn of(r: &mut Request) -> Option<Values> {
    let settings = HttpMicrocacheModule::location_conf(r)?.settings()?;
    computed(r, settings)?.values
}

/// The state of `r` (or, for a background subrequest, of the request it runs again), with its
/// values computed by `settings` unless they already were.
pub fn computed<'p>(r: &mut Request, settings: &Settings) -> Option<&'p mut RequestState> {
    // SAFETY: `describing` returns `r` or one of its parents, all valid requests.
    let r = unsafe { Request::from_ngx_http_request(state::describing(r.as_mut())) };
    let state = state::find_or_create(r.as_mut())?;
    if state.values.is_none() {
        state.values = Some(compute(r, &state.arrival, settings)?);
    }
    Some(state)
}

fn compute(r: &Request, arrival: &Arrival, settings: &Settings) -> Option<Values> {
    let raw = r.as_ref();
    let query = arrival.query.as_bytes();
    let vary = match settings.origin.litespeed {
        true => vary_cookie(headers(raw).filter(|(n, _)| *n == b"cookie").map(|(_, v)| v)),
        false => VaryCookie::Absent,
    };
    let parts = KeyParts {
        scheme: scheme(raw),
        method: raw.method_name.as_bytes(),
        host: host(raw),
        path: arrival.path.as_bytes(),
        variant: match vary {
            VaryCookie::Value(variant) => variant,
            _ => b"",
        },
    };
    let key_room = parts.capacity(query.len());
    let buf = pool_bytes(raw.pool, key_room + query.len())?;
    let (key_buf, stripped_buf) = buf.split_at_mut(key_room);
    let mut outcome = Normalised::default();
    let layout = parts.write(key_buf, |room| {
        outcome = normalise_or_copy(query, settings, room, stripped_buf);
        outcome.args_len
    });
    let facts = RequestFacts {
        method: parts.method,
        uri: arrival.uri.as_bytes(),
        headers: headers(raw),
        has_body: arrival.has_body,
    };
    let mut skip = settings.skip.evaluate(&facts, &outcome);
    if vary == VaryCookie::Ambiguous {
        // In the order of the rules: the cookie rule, unless an earlier one matched.
        skip = skip.filter(|r| r.index() < SkipReason::Cookie.index()).or(Some(SkipReason::Cookie));
    }
    let values = Values {
        key: ngx_str(&key_buf[..layout.len]),
        request_uri: ngx_str(&key_buf[layout.request_uri_start..layout.request_uri_end]),
        args: ngx_str(&key_buf[layout.query_start..layout.query_start + layout.query_len]),
        stripped: ngx_str(&stripped_buf[..outcome.stripped_len]),
        skip,
        stripped_count: outcome.stripped,
        changed: outcome.changed,
        hydrate_status: "",
    };
    ngx_log_debug_http!(
        r,
        "microcache: query \"{}\" -> \"{}\", stripped \"{}\", skip \"{}\", key \"{}\"",
        query.escape_ascii(),
        values.args.as_bytes().escape_ascii(),
        values.stripped.as_bytes().escape_ascii(),
        skip.map_or("", SkipReason::as_str),
        values.key.as_bytes().escape_ascii()
    );
    Some(values)
}

/// Normalises `query` by `settings` into `args`, the removed segments into `stripped` (both at
/// least `query.len()` bytes). Over a limit the query stands: `args` gets it as it is.
pub fn normalise_or_copy(
    query: &[u8],
    settings: &Settings,
    args: &mut [u8],
    stripped: &mut [u8],
) -> Normalised {
    let mut outcome = normalise(query, &settings.args, &settings.skip.args, args, stripped);
    if outcome.limited {
        args[..query.len()].copy_from_slice(query);
        outcome.args_len = query.len();
    }
    outcome
}

/// `len` bytes of request pool memory, living as long as the request.
pub fn pool_bytes<'p>(pool: *mut ngx_pool_t, len: usize) -> Option<&'p mut [u8]> {
    // SAFETY: the request's pool is valid while the request runs.
    let data = unsafe { Pool::from_ngx_pool(pool) }.alloc_unaligned(len).cast::<u8>();
    // SAFETY: `len` fresh bytes, used only through this slice.
    (!data.is_null()).then(|| unsafe { core::slice::from_raw_parts_mut(data, len) })
}

/// An nginx string over bytes that live in the request pool.
pub fn ngx_str(bytes: &[u8]) -> ngx_str_t {
    ngx_str_t { len: bytes.len(), data: bytes.as_ptr().cast_mut() }
}
