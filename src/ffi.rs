//! Small safe views over nginx structures, and the panic guard for callbacks.

use core::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};

use nginx_sys::{
    ngx_chain_t, ngx_create_temp_buf, ngx_http_output_filter, ngx_http_request_t,
    ngx_http_send_header, ngx_int_t, ngx_list_part_t, ngx_list_push, ngx_str_t, ngx_table_elt_t,
    ngx_uint_t, off_t, NGX_ERROR, NGX_HTTP_NOT_ALLOWED, NGX_LOG_ALERT, NGX_OK,
};
use ngx::ngx_log_error;

/// Runs a callback body; a panic becomes `NGX_ERROR` for this request instead of an abort of
/// the worker. Request-facing code is written not to panic: this is the second line of defence.
pub fn guard(r: *mut ngx_http_request_t, body: impl FnOnce() -> ngx_int_t) -> ngx_int_t {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(rc) => rc,
        Err(_) => {
            // SAFETY: nginx passes a valid request to every callback that calls guard.
            let log = unsafe { (*(*r).connection).log };
            ngx_log_error!(
                NGX_LOG_ALERT,
                log,
                "microcache: internal error (panic) while handling a request"
            );
            NGX_ERROR as ngx_int_t
        }
    }
}

/// The bytes of an nginx string that lives as long as `'a`.
///
/// # Safety
/// `s` must describe `s.len` readable bytes that outlive `'a` (request or configuration pool).
pub unsafe fn bytes<'a>(s: &ngx_str_t) -> &'a [u8] {
    if s.len == 0 {
        &[]
    } else {
        // SAFETY: guaranteed by the caller.
        unsafe { core::slice::from_raw_parts(s.data, s.len) }
    }
}

/// Iterator over a request's headers as (lower-case name, value); deleted entries are skipped.
#[derive(Clone)]
pub struct Headers<'r> {
    part: *const ngx_list_part_t,
    index: usize,
    _request: PhantomData<&'r ngx_http_request_t>,
}

impl<'r> Headers<'r> {
    pub fn of(r: &'r ngx_http_request_t) -> Self {
        Headers { part: &r.headers_in.headers.part, index: 0, _request: PhantomData }
    }
}

impl<'r> Iterator for Headers<'r> {
    type Item = (&'r [u8], &'r [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            // SAFETY: the parts of a request's header list stay valid for the request.
            let part = unsafe { self.part.as_ref()? };
            if self.index >= part.nelts {
                self.part = part.next;
                self.index = 0;
                continue;
            }
            // SAFETY: index < nelts, and the elements of headers_in.headers are ngx_table_elt_t.
            let h = unsafe { &*part.elts.cast::<ngx_table_elt_t>().add(self.index) };
            self.index += 1;
            if h.hash == 0 || h.lowcase_key.is_null() {
                continue;
            }
            // SAFETY: nginx sets lowcase_key to key.len lower-cased bytes in the request pool.
            let name = unsafe { core::slice::from_raw_parts(h.lowcase_key, h.key.len) };
            // SAFETY: header values live in the request's buffers.
            return Some((name, unsafe { bytes(&h.value) }));
        }
    }
}

/// Sends a complete response with a small in-memory body; the return value is for
/// `ngx_http_finalize_request` (or to return from a content handler).
pub fn send_response(
    r: &mut ngx_http_request_t,
    status: ngx_uint_t,
    content_type: &'static str,
    body: &[u8],
) -> ngx_int_t {
    r.headers_out.status = status;
    r.headers_out.content_length_n = body.len() as off_t;
    r.headers_out.content_type =
        ngx_str_t { len: content_type.len(), data: content_type.as_ptr().cast_mut() };
    r.headers_out.content_type_len = content_type.len();
    r.headers_out.content_type_lowcase = core::ptr::null_mut();

    // SAFETY: r is a valid request in its content phase.
    let rc = unsafe { ngx_http_send_header(r) };
    if rc == NGX_ERROR as ngx_int_t
        || rc > NGX_OK as ngx_int_t
        || r.header_only() != 0
        || body.is_empty()
    {
        return rc;
    }
    // SAFETY: a temporary buffer from the request pool, filled below.
    let Some(b) = (unsafe { ngx_create_temp_buf(r.pool, body.len()).as_mut() }) else {
        return NGX_ERROR as ngx_int_t;
    };
    // SAFETY: the buffer has room for body.len() bytes from pos.
    unsafe {
        core::ptr::copy_nonoverlapping(body.as_ptr(), b.pos, body.len());
        b.last = b.pos.add(body.len());
    }
    b.set_last_buf(u32::from(core::ptr::eq(r, r.main)));
    b.set_last_in_chain(1);
    let mut out = ngx_chain_t { buf: b, next: core::ptr::null_mut() };
    // SAFETY: the chain and buffer outlive the call; nginx copies what it keeps.
    unsafe { ngx_http_output_filter(r, &mut out) }
}

/// Whether the request's method is one of `allowed`.
pub fn method_is(r: &ngx_http_request_t, allowed: &[&[u8]]) -> bool {
    // SAFETY: the method name lives in the request's buffers.
    let method = unsafe { bytes(&r.method_name) };
    allowed.contains(&method)
}

/// `405 Not Allowed`, with the `Allow` header HTTP requires.
pub fn not_allowed(r: &mut ngx_http_request_t, allow: &'static str) -> ngx_int_t {
    // SAFETY: headers_out.headers is the request's initialised header list; the entry is
    // filled before nginx can see it, with static strings.
    unsafe {
        let h = ngx_list_push(&mut r.headers_out.headers).cast::<ngx_table_elt_t>();
        if let Some(h) = h.as_mut() {
            // Zeroed first: nginx 1.23 added a `next` field that must be null.
            core::ptr::write_bytes(h, 0, 1);
            h.hash = 1;
            h.key = ngx_str_t { len: 5, data: c"Allow".as_ptr().cast_mut().cast() };
            h.value = ngx_str_t { len: allow.len(), data: allow.as_ptr().cast_mut() };
            h.lowcase_key = c"allow".as_ptr().cast_mut().cast();
        }
    }
    NGX_HTTP_NOT_ALLOWED as ngx_int_t
}
