//! The header of a hydrated response: what it says about the body no longer holds, and the
//! response is personal.

use core::ptr;

use nginx_sys::{
    ngx_array_t, ngx_http_request_t, ngx_list_part_t, ngx_list_push, ngx_pool_t, ngx_table_elt_t,
};

use crate::request::bits;
use crate::request::values::{ngx_str, pool_bytes};

/// Drops what describes the cached bytes (their length, ranges of them, their validators, so
/// that a conditional request cannot be answered `304` for a page that changed), and sets
/// `Cache-Control` to `cache_control` unless it is `None`. `None` when out of memory.
pub fn make_personal(r: &mut ngx_http_request_t, cache_control: Option<&[u8]>) -> Option<()> {
    bits::forbid_ranges(r);
    let out = &mut r.headers_out;
    out.content_length_n = -1;
    out.last_modified_time = -1;
    for header in
        [&mut out.content_length, &mut out.accept_ranges, &mut out.etag, &mut out.last_modified]
    {
        hide(header);
    }
    let Some(value) = cache_control else {
        return Some(());
    };
    let value = copy_to_pool(r.pool, value)?;
    let out = &mut r.headers_out;
    hide(&mut out.expires);
    out.cache_control.forget();
    hide_all(&mut out.headers.part, b"cache-control");
    // SAFETY: headers_out.headers is the request's header list; the new entry is zeroed, then
    // filled with static and request pool strings before nginx can see it.
    unsafe {
        let h = ngx_list_push(&mut out.headers).cast::<ngx_table_elt_t>().as_mut()?;
        ptr::write_bytes(h, 0, 1);
        h.hash = 1;
        h.key = ngx_str(b"Cache-Control");
        h.lowcase_key = b"cache-control".as_ptr().cast_mut();
        h.value = ngx_str(value);
    }
    Some(())
}

fn copy_to_pool<'p>(pool: *mut ngx_pool_t, bytes: &[u8]) -> Option<&'p [u8]> {
    let copy = pool_bytes(pool, bytes.len())?;
    copy.copy_from_slice(bytes);
    Some(copy)
}

/// Takes a header out of the response (nginx's `ngx_http_clear_*` macros).
fn hide(header: &mut *mut ngx_table_elt_t) {
    // SAFETY: a header entry in the request's list, or null.
    if let Some(h) = unsafe { header.as_mut() } {
        h.hash = 0;
    }
    *header = ptr::null_mut();
}

/// Takes every header called `lowcase` out of the list starting at `part`.
fn hide_all(mut part: *mut ngx_list_part_t, lowcase: &[u8]) {
    // SAFETY: the parts of the request's header list and their elements are valid; a header's
    // lower-case key has key.len bytes.
    unsafe {
        while let Some(p) = part.as_mut() {
            let headers =
                core::slice::from_raw_parts_mut(p.elts.cast::<ngx_table_elt_t>(), p.nelts);
            for h in headers {
                let name = match h.lowcase_key.is_null() {
                    true => &[][..],
                    false => core::slice::from_raw_parts(h.lowcase_key, h.key.len),
                };
                if h.hash != 0 && name == lowcase {
                    h.hash = 0;
                }
            }
            part = p.next;
        }
    }
}

/// `headers_out.cache_control`, which nginx 1.23 turned from an array into a list of entries:
/// forgetting it makes `expires` or `add_header` add a header of their own rather than rewrite
/// the hidden ones.
trait Forget {
    fn forget(&mut self);
}

impl Forget for *mut ngx_table_elt_t {
    fn forget(&mut self) {
        *self = ptr::null_mut();
    }
}

impl Forget for ngx_array_t {
    fn forget(&mut self) {
        self.nelts = 0;
        self.elts = ptr::null_mut();
    }
}
