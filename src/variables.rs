//! The `$microcache_*` variables, registered in preconfiguration.

use nginx_sys::{
    ngx_conf_t, ngx_http_add_variable, ngx_http_request_t, ngx_http_variable_t, ngx_int_t,
    ngx_str_t, ngx_uint_t, ngx_variable_value_t, NGX_HTTP_VAR_NOCACHEABLE, NGX_LOG_ERR,
};
use ngx::core::Status;
use ngx::http::Request;
use ngx::{ngx_log_error, ngx_string};

use crate::guard::guard;
use crate::request::bits;
use crate::request::values::{self, Values};

/// A variable: its name and what it shows.
struct Variable {
    name: ngx_str_t,
    shows: Shows,
}

enum Shows {
    /// A part of the request's values.
    Value(fn(&Values) -> &[u8]),
    /// The `Cache-Status` of the response.
    CacheStatus,
}

const VARIABLES: [Variable; 8] = [
    Variable { name: ngx_string!("microcache_key"), shows: Shows::Value(|v| v.key.as_bytes()) },
    Variable {
        name: ngx_string!("microcache_request_uri"),
        shows: Shows::Value(|v| v.request_uri.as_bytes()),
    },
    Variable { name: ngx_string!("microcache_args"), shows: Shows::Value(|v| v.args.as_bytes()) },
    Variable {
        name: ngx_string!("microcache_stripped"),
        shows: Shows::Value(|v| v.stripped.as_bytes()),
    },
    Variable {
        name: ngx_string!("microcache_skip"),
        shows: Shows::Value(|v| if v.skip.is_some() { b"1" } else { b"0" }),
    },
    Variable {
        name: ngx_string!("microcache_skip_reason"),
        shows: Shows::Value(|v| v.skip.map_or("", |r| r.as_str()).as_bytes()),
    },
    Variable {
        name: ngx_string!("microcache_hydrate_status"),
        shows: Shows::Value(|v| v.hydrate_status.as_bytes()),
    },
    Variable { name: ngx_string!("microcache_cache_status"), shows: Shows::CacheStatus },
];

/// Registers the variables; called in preconfiguration.
pub fn register(cf: &mut ngx_conf_t) -> Option<()> {
    for (index, variable) in VARIABLES.iter().enumerate() {
        let mut name = variable.name;
        // Not cached by nginx: subrequests share their parent's cache of variable values but
        // have values of their own. The module computes them once per request anyway.
        let flags = NGX_HTTP_VAR_NOCACHEABLE as ngx_uint_t;
        // SAFETY: cf is valid in preconfiguration; nginx copies the name.
        let var: &mut ngx_http_variable_t =
            unsafe { ngx_http_add_variable(cf, &mut name, flags).as_mut()? };
        var.get_handler = Some(get_variable);
        var.data = index;
    }
    Some(())
}

/// Whether `name` is one of the module's variables.
pub fn is_ours(name: &[u8]) -> bool {
    VARIABLES.iter().any(|v| v.name.as_bytes() == name)
}

unsafe extern "C" fn get_variable(
    r: *mut ngx_http_request_t,
    v: *mut ngx_variable_value_t,
    index: usize,
) -> ngx_int_t {
    // SAFETY: nginx passes a valid request and value slot.
    let (r, v) = unsafe { (Request::from_ngx_http_request(r), &mut *v) };
    guard(r.log(), || {
        let Some(values) = values::of(r) else {
            ngx_log_error!(NGX_LOG_ERR, r.log(), "microcache: cannot compute the request's values");
            return Status::NGX_ERROR.into();
        };
        let bytes = match VARIABLES.get(index).map(|v| &v.shows) {
            Some(Shows::Value(value)) => value(&values),
            Some(Shows::CacheStatus) => match cache_status(r, &values) {
                Some(bytes) => bytes,
                None => {
                    v.set_not_found(1);
                    return Status::NGX_OK.into();
                }
            },
            None => return Status::NGX_ERROR.into(),
        };
        v.data = bytes.as_ptr().cast_mut();
        v.set_len(bytes.len() as u32);
        v.set_valid(1);
        v.set_no_cacheable(1);
        v.set_not_found(0);
        Status::NGX_OK.into()
    })
}

/// `Cache-Status` from `$upstream_cache_status` (its numbers, as nginx names them), the skip
/// reason, and whether the response is being stored; in pool memory. None without an upstream
/// cache status.
fn cache_status<'r>(r: &'r Request, values: &Values) -> Option<&'r [u8]> {
    const NAMES: [&[u8]; 8] =
        [b"MISS", b"BYPASS", b"EXPIRED", b"STALE", b"UPDATING", b"REVALIDATED", b"HIT", b"SCARCE"];
    let raw = r.as_ref();
    // SAFETY: the upstream, if any, lives in the request pool.
    let u = unsafe { raw.upstream.as_ref()? };
    let name = NAMES.get(usize::try_from(u.cache_status()).ok()?.checked_sub(1)?)?;
    let stored = u.cacheable() != 0 && !bits::cached(raw);
    let reason = values.skip.map_or("", |s| s.as_str()).as_bytes();
    let status = microcache_core::cache_status::cache_status(name, reason, stored)?;
    let buf = values::pool_bytes(raw.pool, status.len())?;
    let len = status.write(buf);
    Some(&buf[..len])
}
