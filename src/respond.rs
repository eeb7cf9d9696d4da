//! Answers of the module's own content handlers (purge, status): small in-memory bodies.

use core::fmt;
use core::ptr;

use nginx_sys::{
    ngx_chain_t, ngx_int_t, ngx_list_push, ngx_str_t, ngx_table_elt_t, off_t, NGX_LOG_ERR,
};
use ngx::core::{Buffer, Status};
use ngx::http::{HTTPStatus, Request};
use ngx::ngx_log_error;

use crate::request::bits;

/// Whether the request's method is one of `allowed`.
pub fn method_is(r: &Request, allowed: &[&[u8]]) -> bool {
    allowed.contains(&r.as_ref().method_name.as_bytes())
}

/// Sends a complete response; the result is for returning from a content handler or for
/// `ngx_http_finalize_request`.
pub fn send(
    r: &mut Request,
    status: HTTPStatus,
    content_type: &'static str,
    body: &str,
) -> ngx_int_t {
    {
        let out = &mut r.as_mut().headers_out;
        out.status = status.into();
        out.content_length_n = body.len() as off_t;
        out.content_type =
            ngx_str_t { len: content_type.len(), data: content_type.as_ptr().cast_mut() };
        out.content_type_len = content_type.len();
        out.content_type_lowcase = ptr::null_mut();
    }
    let rc = r.send_header();
    if rc == Status::NGX_ERROR
        || rc > Status::NGX_OK
        || bits::header_only(r.as_ref())
        || body.is_empty()
    {
        return rc.into();
    }
    let Some(mut buf) = r.pool().create_buffer_from_str(body) else {
        return internal_error(r, format_args!("cannot allocate a {} byte response", body.len()));
    };
    buf.set_last_buf(r.is_main());
    buf.set_last_in_chain(true);
    let mut out = ngx_chain_t { buf: buf.as_ngx_buf_mut(), next: ptr::null_mut() };
    r.output_filter(&mut out).into()
}

/// `405 Not Allowed`, with the `Allow` header HTTP requires.
pub fn not_allowed(r: &mut Request, allow: &'static str) -> ngx_int_t {
    add_header(r, "Allow", "allow", allow.as_bytes());
    HTTPStatus::NOT_ALLOWED.0 as ngx_int_t
}

/// Adds a response header with a static name; the value is copied to the request pool. None
/// when memory ran out. Hand-written because the crate's `add_header_out` leaves the `next`
/// field nginx 1.23+ reads uninitialised.
pub fn add_header(
    r: &mut Request,
    name: &'static str,
    lowcase: &'static str,
    value: &[u8],
) -> Option<()> {
    let data = r.pool().alloc_unaligned(value.len()).cast::<u8>();
    if data.is_null() && !value.is_empty() {
        return None;
    }
    // SAFETY: data has room for value's bytes.
    unsafe { ptr::copy_nonoverlapping(value.as_ptr(), data, value.len()) };
    let name_str = ngx_str_t { len: name.len(), data: name.as_ptr().cast_mut() };
    // SAFETY: headers_out.headers is the request's initialised header list; the new entry is
    // zeroed, then filled with the static name and the pool copy before nginx can see it.
    unsafe {
        let h = ngx_list_push(&mut r.as_mut().headers_out.headers).cast::<ngx_table_elt_t>();
        let h = h.as_mut()?;
        ptr::write_bytes(h, 0, 1);
        h.hash = 1;
        h.key = name_str;
        h.value = ngx_str_t { len: value.len(), data };
        h.lowcase_key = lowcase.as_ptr().cast_mut();
    }
    Some(())
}

/// Logs why a request failed and answers `500`.
pub fn internal_error(r: &Request, why: fmt::Arguments<'_>) -> ngx_int_t {
    ngx_log_error!(NGX_LOG_ERR, r.log(), "microcache: {}", why);
    HTTPStatus::INTERNAL_SERVER_ERROR.0 as ngx_int_t
}
