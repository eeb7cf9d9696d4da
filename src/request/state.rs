//! Where a request's state lives: what the request looked like when it arrived, and its values
//! once computed.
//!
//! nginx clears module contexts on internal redirects, so the state is also registered as a
//! pool cleanup and found there again, as the realip module does. Subrequests such as SSI
//! includes or auth_request have states of their own: they are requests for other URIs.
//! Background subrequests (cache updates, mirrors) are the request itself, run again, and share
//! its state: a cache update must store under the same key.

use core::ffi::c_void;
use core::mem::size_of;
use core::ptr::{self, NonNull};

use microcache_core::key::arrival_path;
use nginx_sys::{ngx_http_request_t, ngx_pool_cleanup_add, ngx_str_t};

use super::bits::background;
use super::facts::announces_body;
use super::values::Values;
use crate::hydrate::Hydration;
use crate::ngx_http_microcache_module;
use crate::purge::peers::FanOut;

/// The request as it arrived, before any rewrite, redirect or body handling changed it.
pub struct Arrival {
    /// The raw path: the request line's, up to its query or fragment; for a subrequest the URI
    /// it was made with.
    pub path: ngx_str_t,
    /// The query as nginx parsed it (`$args`): what the origin receives, so the key's query is
    /// derived from exactly these bytes. nginx ends it at a raw `#`; the request line does not.
    pub query: ngx_str_t,
    /// `$uri`: decoded and merged, for the path rules.
    pub uri: ngx_str_t,
    /// A body was announced, recorded before anything read or discarded it.
    pub has_body: bool,
}

pub struct RequestState {
    /// The request this state describes; null once its pool is being destroyed.
    owner: *mut ngx_http_request_t,
    pub arrival: Arrival,
    pub values: Option<Values>,
    /// The counters have seen this request.
    pub counted: bool,
    /// A purge this request sends to the peers, while it waits for their answers.
    pub fan_out: Option<NonNull<FanOut>>,
    /// Edge state hydration, once a location asked for it.
    pub hydration: Option<Box<Hydration>>,
}

/// The cleanup of a state: it no longer belongs to a request, and what it owns is dropped. Its
/// address also marks the pool cleanups that carry states.
unsafe extern "C" fn release(data: *mut c_void) {
    // SAFETY: nginx passes the data of the cleanup `create` registered.
    let state = unsafe { &mut *data.cast::<RequestState>() };
    state.owner = ptr::null_mut();
    drop(state.hydration.take());
}

fn ctx_slot(r: &ngx_http_request_t) -> *mut *mut c_void {
    // SAFETY: r->ctx has one slot per HTTP module; ctx_index is ours.
    unsafe { r.ctx.add(ngx_http_microcache_module.ctx_index) }
}

/// The state `r` already has, if any. It lives in the request pool, apart from the request.
/// The state lives in the pool, apart from the request: the reference is valid while `r` is.
pub fn find<'p>(r: &ngx_http_request_t) -> Option<&'p mut RequestState> {
    let slot = ctx_slot(r);
    // SAFETY: the slot is either null or the state we stored.
    if let Some(state) = unsafe { (*slot).cast::<RequestState>().as_mut() } {
        return Some(state);
    }
    let owner: *const ngx_http_request_t = r;
    let marker = release as unsafe extern "C" fn(*mut c_void);
    // SAFETY: the pool and its cleanup list belong to this request.
    let mut cleanup = unsafe { (*r.pool).cleanup };
    // SAFETY: each cleanup is valid while the pool lives.
    while let Some(c) = unsafe { cleanup.as_ref() } {
        let ours = c.handler.is_some_and(|h| ptr::fn_addr_eq(h, marker))
            // SAFETY: a cleanup with our handler carries a RequestState; subrequests share the
            // main request's pool, so the owner tells whose it is.
            && ptr::eq(unsafe { (*c.data.cast::<RequestState>()).owner }, owner);
        if ours {
            // SAFETY: see above; the slot is re-filled for the next lookup.
            unsafe {
                *slot = c.data;
                return c.data.cast::<RequestState>().as_mut();
            }
        }
        cleanup = c.next;
    }
    None
}

/// The state of `r`, created from the request as it is now if it has none yet.
pub fn find_or_create<'p>(r: &mut ngx_http_request_t) -> Option<&'p mut RequestState> {
    if find(r).is_some() {
        return find(r);
    }
    let main = ptr::eq(r, r.main);
    let path = if main { arrival_path(r.unparsed_uri.as_bytes()) } else { r.uri.as_bytes() };
    let arrival = Arrival {
        path: ngx_str_t { len: path.len(), data: path.as_ptr().cast_mut() },
        query: r.args,
        uri: r.uri,
        // A subrequest shares its parent's headers but has no body of its own.
        has_body: main && announces_body(r),
    };
    // SAFETY: the request pool is valid; the cleanup's data is sized for a RequestState.
    let c = unsafe { ngx_pool_cleanup_add(r.pool, size_of::<RequestState>()).as_mut()? };
    let data = c.data.cast::<RequestState>();
    // SAFETY: data points to fresh, suitably aligned pool memory.
    unsafe {
        data.write(RequestState {
            owner: r,
            arrival,
            values: None,
            counted: false,
            fan_out: None,
            hydration: None,
        });
        *ctx_slot(r) = data.cast();
    }
    c.handler = Some(release);
    // SAFETY: just written; it lives as long as the request's pool.
    unsafe { data.as_mut() }
}

/// The request whose state `r` uses: `r`, or for a background subrequest its parent's.
pub fn describing<'r>(r: &mut ngx_http_request_t) -> &'r mut ngx_http_request_t {
    let mut r: *mut ngx_http_request_t = r;
    // SAFETY: a subrequest's parent outlives it.
    unsafe {
        while background(&*r) && !(*r).parent.is_null() {
            r = (*r).parent;
        }
        &mut *r
    }
}
