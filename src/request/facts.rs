//! What nginx knows about a request that the module reads: `$scheme`, `$host`, headers, whether a
//! body was announced. Computed as nginx computes them, read-only.

use nginx_sys::{ngx_http_core_srv_conf_t, ngx_http_request_t, ngx_table_elt_t};
use ngx::http::{HttpModuleServerConf, NgxHttpCoreModule};

use crate::list::elements;

/// `$scheme`.
pub fn scheme(r: &ngx_http_request_t) -> &'static [u8] {
    #[cfg(ngx_feature = "http_ssl")]
    // SAFETY: the connection outlives the request.
    if !unsafe { (*r.connection).ssl }.is_null() {
        return b"https";
    }
    let _ = r;
    b"http"
}

/// `$host`: the request's host, else the server's name.
pub fn host(r: &ngx_http_request_t) -> &[u8] {
    if !r.headers_in.server.is_empty() {
        return r.headers_in.server.as_bytes();
    }
    let cscf: Option<&ngx_http_core_srv_conf_t> = NgxHttpCoreModule::server_conf(r);
    cscf.map_or(&[], |c| c.server_name.as_bytes())
}

/// Content-Length above zero, or a chunked (HTTP/1.1) or open-ended (HTTP/2) body. The header
/// itself counts too: discarding a body zeroes `content_length_n`.
pub fn announces_body(r: &ngx_http_request_t) -> bool {
    // SAFETY: a non-null header entry lives in the request's pool.
    let content_length = unsafe { r.headers_in.content_length.as_ref() };
    r.headers_in.content_length_n > 0
        || r.headers_in.chunked() != 0
        || content_length.is_some_and(|h| h.value.as_bytes().iter().any(|&c| c != b'0'))
}

/// A request's headers as (lower-case name, value); deleted entries are skipped. Hand-written
/// because the crate's iterator yields `&str` and skips nothing: names and values here are bytes.
pub fn headers(r: &ngx_http_request_t) -> impl Iterator<Item = (&[u8], &[u8])> + Clone {
    // SAFETY: headers_in.headers holds ngx_table_elt_t living as long as the request.
    let all = unsafe { elements::<ngx_table_elt_t>(&r.headers_in.headers) };
    all.filter(|h| h.hash != 0 && !h.lowcase_key.is_null()).map(|h| {
        // SAFETY: nginx sets lowcase_key to key.len lower-cased bytes in the request pool.
        let name = unsafe { core::slice::from_raw_parts(h.lowcase_key, h.key.len) };
        (name, h.value.as_bytes())
    })
}
