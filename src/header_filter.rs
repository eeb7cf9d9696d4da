//! What the module's header filters share: passing the response on down the chain, and removing
//! response headers that clients must not see.

use core::ptr;

use nginx_sys::{
    ngx_http_output_header_filter_pt, ngx_http_request_t, ngx_int_t, ngx_list_t, ngx_table_elt_t,
};
use ngx::core::Status;
use ngx::http::Request;

use crate::list::elements;

/// The next header filter's result, or this filter's when it failed (`rc` not `NGX_OK`).
///
/// # Safety
/// `next` is the filter that was on top of the chain when this one was put there, and `r` is
/// the request this filter was called with.
pub unsafe fn pass_on(
    rc: ngx_int_t,
    next: ngx_http_output_header_filter_pt,
    r: *mut ngx_http_request_t,
) -> ngx_int_t {
    if rc != Status::NGX_OK.0 {
        return rc;
    }
    match next {
        // SAFETY: nginx's filter chain, called with the request it was given (the caller's
        // contract).
        Some(next) => unsafe { next(r) },
        None => Status::NGX_OK.into(),
    }
}

/// Removes the response headers whose name `hidden` says.
pub fn remove(r: &mut Request, hidden: impl Fn(&[u8]) -> bool) {
    // SAFETY: headers_out.headers holds the response's ngx_table_elt_t.
    unsafe { delete(&r.as_mut().headers_out.headers, hidden) };
}

/// Deletes the headers of `list` whose name `hidden` says.
///
/// # Safety
/// `list` holds `ngx_table_elt_t` that live with the request.
pub unsafe fn delete(list: &ngx_list_t, hidden: impl Fn(&[u8]) -> bool) {
    // SAFETY: the caller's contract; a zero hash is how nginx deletes a header.
    for h in unsafe { elements::<ngx_table_elt_t>(list) } {
        if h.hash != 0 && hidden(h.key.as_bytes()) {
            // SAFETY: as above; the entry belongs to this request's list.
            unsafe { (*ptr::from_ref(h).cast_mut()).hash = 0 };
        }
    }
}
