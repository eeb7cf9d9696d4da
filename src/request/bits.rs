//! The request's bitfields the module uses, through `bits.c`: nginx's C compiler lays them out,
//! not the Rust bindings, which place the bitfields after `uri_changes` two bits early from
//! nginx 1.29.3 on (a 16-bit `port` field precedes them there).

use nginx_sys::{ngx_http_request_t, ngx_uint_t};

extern "C" {
    fn ngx_http_microcache_request_background(r: *const ngx_http_request_t) -> ngx_uint_t;
    fn ngx_http_microcache_request_cached(r: *const ngx_http_request_t) -> ngx_uint_t;
    fn ngx_http_microcache_request_header_only(r: *const ngx_http_request_t) -> ngx_uint_t;
    fn ngx_http_microcache_request_forbid_ranges(r: *mut ngx_http_request_t);
}

/// A background cache update's subrequest (`*_cache_background_update`).
pub fn background(r: &ngx_http_request_t) -> bool {
    // SAFETY: reads one bit of a valid request.
    unsafe { ngx_http_microcache_request_background(r) != 0 }
}

/// The response comes from the cache.
pub fn cached(r: &ngx_http_request_t) -> bool {
    // SAFETY: reads one bit of a valid request.
    unsafe { ngx_http_microcache_request_cached(r) != 0 }
}

/// The response has no body to send (`HEAD`, `304`, ...).
pub fn header_only(r: &ngx_http_request_t) -> bool {
    // SAFETY: reads one bit of a valid request.
    unsafe { ngx_http_microcache_request_header_only(r) != 0 }
}

/// No range requests on this response.
pub fn forbid_ranges(r: &mut ngx_http_request_t) {
    // SAFETY: writes one bit of a valid request the caller may change.
    unsafe { ngx_http_microcache_request_forbid_ranges(r) }
}
