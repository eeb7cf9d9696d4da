/*
 * Bits of ngx_http_request_t, read and written by the C compiler for the nginx tree the
 * module is built against. From nginx 1.29.3 a 16-bit field precedes the request's bitfields,
 * and the Rust bindings (bindgen) place every bitfield from uri_changes on two bits early:
 * their accessors would read and write neighbouring bits. See src/request/bits.rs.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_uint_t
ngx_http_microcache_request_background(ngx_http_request_t *r)
{
    return r->background;
}


ngx_uint_t
ngx_http_microcache_request_cached(ngx_http_request_t *r)
{
    return r->cached;
}


ngx_uint_t
ngx_http_microcache_request_header_only(ngx_http_request_t *r)
{
    return r->header_only;
}


void
ngx_http_microcache_request_forbid_ranges(ngx_http_request_t *r)
{
    r->allow_ranges = 0;
}
