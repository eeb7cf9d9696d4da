//! Per-request state and the phase handlers.
//!
//! The values of the variables depend only on the request as it arrived. They are computed
//! once, with the rules of the first location that needs them, into one pool allocation laid
//! out as
//!
//! ```text
//! scheme method host raw-path ? normalised-args | stripped
//! \____________________________ key ___________/
//!                     \____ request_uri _______/
//! ```
//!
//! so the query in the key and the query the origin receives are the same bytes by
//! construction. nginx clears module contexts on internal redirects; the state is therefore
//! also registered as a pool cleanup and found there again, as the realip module does.
//! Subrequests such as SSI includes or auth_request have states of their own: they are
//! requests for other URIs. Background subrequests (cache updates, mirrors) are the request
//! itself, run again, and share its state: a cache update must store under the same key.

use core::ffi::c_void;
use core::mem::size_of;
use core::ptr;

use microcache_core::key::KeyPrefix;
use microcache_core::query::MAX_QUERY_LEN;
use microcache_core::{normalise, split_request_uri, RequestFacts, SkipReason};
use nginx_sys::{
    ngx_http_core_srv_conf_t, ngx_http_request_t, ngx_int_t, ngx_pnalloc, ngx_pool_cleanup_add,
    ngx_str_t, NGX_DECLINED, NGX_ERROR,
};
use ngx::http::{
    HttpModuleLocationConf, HttpModuleMainConf, HttpModuleServerConf, NgxHttpCoreModule,
};

use crate::conf::Rules;
use crate::counters::{self, Counters};
use crate::ffi::{bytes, guard, Headers};
use crate::{ngx_http_microcache_module, HttpMicrocacheModule};

/// What the variables expose; computed once per request.
#[derive(Clone, Copy)]
pub struct Computed {
    pub key: ngx_str_t,
    pub request_uri: ngx_str_t,
    pub args: ngx_str_t,
    pub stripped: ngx_str_t,
    pub skip: Option<SkipReason>,
    stripped_count: usize,
    changed: bool,
}

struct RequestState {
    /// The request this state describes; null once its pool is being destroyed.
    owner: *mut ngx_http_request_t,
    /// The raw path and query as the request arrived: from the request line, or for a
    /// subrequest the URI and arguments it was made with.
    path: ngx_str_t,
    query: Option<ngx_str_t>,
    /// `$uri` as the request arrived, before any rewrite or redirect.
    original_uri: ngx_str_t,
    /// The request announced a body, recorded before anything read or discarded it (both zero
    /// `content_length_n`).
    has_body: bool,
    computed: Option<Computed>,
    /// The counters have seen this request.
    counted: bool,
}

/// The cleanup of a state: it no longer belongs to a request. Its address also marks the pool
/// cleanups that carry states.
unsafe extern "C" fn state_cleanup(data: *mut c_void) {
    // SAFETY: nginx passes the data of the cleanup create_state registered.
    unsafe { (*data.cast::<RequestState>()).owner = ptr::null_mut() };
}

fn ctx_slot(r: &ngx_http_request_t) -> *mut *mut c_void {
    // SAFETY: r->ctx has one slot per HTTP module; ctx_index is ours.
    unsafe { r.ctx.add(ngx_http_microcache_module.ctx_index) }
}

/// The state of `r`, if it has one. It lives in the request pool, apart from the request
/// structure, hence the raw pointer.
fn find_state(r: &mut ngx_http_request_t) -> Option<*mut RequestState> {
    let slot = ctx_slot(r);
    // SAFETY: the slot is either null or the state we stored.
    let stored = unsafe { *slot };
    if !stored.is_null() {
        return Some(stored.cast());
    }
    let owner: *mut ngx_http_request_t = r;
    let marker = state_cleanup as unsafe extern "C" fn(*mut c_void);
    // SAFETY: the pool and its cleanup list belong to this request.
    let mut cleanup = unsafe { (*r.pool).cleanup };
    // SAFETY: each cleanup is valid while the pool lives.
    while let Some(c) = unsafe { cleanup.as_ref() } {
        let ours = c.handler.is_some_and(|h| core::ptr::fn_addr_eq(h, marker))
            // SAFETY: a cleanup with our handler carries a RequestState; subrequests share the
            // main request's pool, so the owner tells whose it is.
            && unsafe { (*c.data.cast::<RequestState>()).owner } == owner;
        if ours {
            // SAFETY: see above; the slot is re-filled for the next lookup.
            unsafe { *slot = c.data };
            return Some(c.data.cast());
        }
        cleanup = c.next;
    }
    None
}

fn create_state(r: &mut ngx_http_request_t) -> Option<*mut RequestState> {
    let main = ptr::eq(r, r.main);
    let (path, query) = if main {
        // SAFETY: the request line lives in the request's buffers.
        let (path, query) = split_request_uri(unsafe { bytes(&r.unparsed_uri) });
        (ngx_str(path), query.map(ngx_str))
    } else {
        (r.uri, Some(r.args))
    };
    let state = RequestState {
        owner: r,
        path,
        query,
        original_uri: r.uri,
        // A subrequest shares its parent's headers but has no body of its own.
        has_body: main && announces_body(r),
        computed: None,
        counted: false,
    };
    // SAFETY: the request pool is valid; the cleanup's data is sized for a RequestState.
    let c = unsafe { ngx_pool_cleanup_add(r.pool, size_of::<RequestState>()).as_mut()? };
    let data = c.data.cast::<RequestState>();
    // SAFETY: data points to fresh, suitably aligned pool memory.
    unsafe {
        data.write(state);
        *ctx_slot(r) = data.cast();
    }
    c.handler = Some(state_cleanup);
    Some(data)
}

fn ngx_str(s: &[u8]) -> ngx_str_t {
    ngx_str_t { len: s.len(), data: s.as_ptr().cast_mut() }
}

/// Content-Length above zero, or a chunked (HTTP/1.1) or open-ended (HTTP/2) body. The header
/// itself counts too: discarding a body zeroes `content_length_n` (for states created late).
fn announces_body(r: &ngx_http_request_t) -> bool {
    // SAFETY: a non-null header entry and its value live in the request's buffers.
    let content_length = unsafe { r.headers_in.content_length.as_ref().map(|h| bytes(&h.value)) };
    r.headers_in.content_length_n > 0
        || r.headers_in.chunked() != 0
        || content_length.is_some_and(|value| value.iter().any(|&c| c != b'0'))
}

/// The request whose state `r` uses: `r`, or for a background subrequest its parent's.
fn describing(r: &mut ngx_http_request_t) -> &mut ngx_http_request_t {
    let mut r: *mut ngx_http_request_t = r;
    // SAFETY: a subrequest's parent outlives it.
    unsafe {
        while (*r).background() != 0 && !(*r).parent.is_null() {
            r = (*r).parent;
        }
        &mut *r
    }
}

/// The state of `r`, computed (once) with `rules`.
fn computed<'r>(r: &'r mut ngx_http_request_t, rules: &Rules) -> Option<&'r mut RequestState> {
    let r = describing(r);
    let state = match find_state(r) {
        Some(s) => s,
        None => create_state(r)?,
    };
    // SAFETY: the state lives in the request pool, as long as the request, apart from it.
    let state = unsafe { &mut *state };
    if state.computed.is_none() {
        state.computed = Some(compute(r, state, rules)?);
    }
    Some(state)
}

/// `$scheme`, as nginx computes it.
pub fn scheme(r: &ngx_http_request_t) -> &'static [u8] {
    #[cfg(ngx_feature = "http_ssl")]
    // SAFETY: the connection outlives the request.
    if !unsafe { (*r.connection).ssl }.is_null() {
        return b"https";
    }
    let _ = r;
    b"http"
}

/// `$host`, as nginx computes it: the request's host, else the server's name.
pub fn host(r: &ngx_http_request_t) -> &[u8] {
    if r.headers_in.server.len > 0 {
        // SAFETY: the validated host lives in the request's buffers.
        return unsafe { bytes(&r.headers_in.server) };
    }
    let cscf: Option<&ngx_http_core_srv_conf_t> = NgxHttpCoreModule::server_conf(r);
    // SAFETY: server names live in the configuration pool.
    cscf.map_or(&[], |c| unsafe { bytes(&c.server_name) })
}

/// The raw path `r` arrived with, once its values are computed.
pub fn raw_path(r: &ngx_http_request_t) -> Option<&[u8]> {
    // SAFETY: the slot is null or holds this request's state, which lives in its pool.
    let state = unsafe { (*ctx_slot(r)).cast::<RequestState>().as_ref()? };
    // SAFETY: the path lives in the request's buffers.
    Some(unsafe { bytes(&state.path) })
}

fn compute(r: &ngx_http_request_t, state: &RequestState, rules: &Rules) -> Option<Computed> {
    // SAFETY: the query, method and path live in the request's buffers.
    let query = state.query.map_or(&[][..], |q| unsafe { bytes(&q) });
    // SAFETY: as above.
    let method = unsafe { bytes(&r.method_name) };
    let prefix = KeyPrefix {
        scheme: scheme(r),
        method,
        host: host(r),
        // SAFETY: as above.
        path: unsafe { bytes(&state.path) },
    };
    let prefix_len = prefix.len();
    let size = prefix_len + 1 + 2 * query.len();
    // SAFETY: the pool is the request's; the memory lives as long as the request.
    let data = unsafe { ngx_pnalloc(r.pool, size) }.cast::<u8>();
    if data.is_null() {
        return None;
    }
    // SAFETY: `size` fresh bytes, used only through this slice.
    let buf = unsafe { core::slice::from_raw_parts_mut(data, size) };
    prefix.write(buf);
    buf[prefix_len] = b'?';
    let (key_part, stripped_buf) = buf.split_at_mut(prefix_len + 1 + query.len());
    let args_buf = &mut key_part[prefix_len + 1..];
    let outcome = normalise(query, &rules.args, &rules.skip.args, args_buf, stripped_buf);
    let args_len = if outcome.limited {
        args_buf.copy_from_slice(query);
        query.len()
    } else {
        outcome.args_len
    };
    let key_len = if args_len == 0 { prefix_len } else { prefix_len + 1 + args_len };

    let facts = RequestFacts {
        method,
        // SAFETY: $uri as the request arrived lives in its pool or buffers.
        uri: unsafe { bytes(&state.original_uri) },
        headers: Headers::of(r),
        has_body: state.has_body,
    };
    let skip = rules.skip.evaluate(&facts, &outcome);

    let slice = |start: usize, len: usize| ngx_str_t {
        len,
        // SAFETY: start is within the allocation.
        data: unsafe { data.add(start) },
    };
    let request_uri_start = prefix_len - prefix.path.len();
    Some(Computed {
        key: slice(0, key_len),
        request_uri: slice(request_uri_start, key_len - request_uri_start),
        args: slice(prefix_len + 1, args_len),
        stripped: slice(prefix_len + 1 + query.len(), outcome.stripped_len),
        skip,
        stripped_count: outcome.stripped,
        changed: outcome.changed,
    })
}

/// The request's values, computed with the rules of `r`'s location if not yet done.
pub fn values(r: &mut ngx_http_request_t) -> Option<Computed> {
    let lcf = HttpMicrocacheModule::location_conf(r)?;
    let rules = lcf.rules()?;
    computed(r, rules)?.computed
}

/// POST_READ phase: records the original `$uri` and whether a body was announced, before any
/// rewrite, redirect or body handling changes them.
pub unsafe extern "C" fn post_read_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    guard(r, || {
        // SAFETY: nginx passes a valid request.
        let r = unsafe { &mut *r };
        let used = HttpMicrocacheModule::main_conf(r).is_some_and(|m| m.used);
        if used && find_state(r).is_none() && create_state(r).is_none() {
            return NGX_ERROR as ngx_int_t;
        }
        NGX_DECLINED as ngx_int_t
    })
}

/// REWRITE phase, where `microcache on` applies: `$args` becomes the normalised query before
/// the rewrite module's directives of the location run, and the counters see the request once.
pub unsafe extern "C" fn rewrite_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    guard(r, || {
        // SAFETY: nginx passes a valid request.
        let r = unsafe { &mut *r };
        let Some(lcf) = HttpMicrocacheModule::location_conf(r) else {
            return NGX_DECLINED as ngx_int_t;
        };
        // The module's own content handlers (purge, status) are not site traffic.
        if lcf.enable != Some(true) || lcf.answers_itself() {
            return NGX_DECLINED as ngx_int_t;
        }
        let Some(rules) = lcf.rules() else {
            return NGX_DECLINED as ngx_int_t;
        };
        let counters = HttpMicrocacheModule::main_conf(r).and_then(|m| counters::get(m.counters));
        let Some(state) = computed(r, rules) else {
            return NGX_ERROR as ngx_int_t;
        };
        let Some(values) = state.computed else {
            return NGX_ERROR as ngx_int_t;
        };
        if !state.counted {
            state.counted = true;
            if let Some(c) = counters {
                count(c, &values);
            }
        }
        let original = state.query;
        match apply(r, original, &values, rules) {
            Some(()) => NGX_DECLINED as ngx_int_t,
            None => NGX_ERROR as ngx_int_t,
        }
    })
}

fn count(c: &Counters, values: &Computed) {
    Counters::add(&c.requests, 1);
    if values.changed {
        Counters::add(&c.rewritten, 1);
    }
    Counters::add(&c.stripped_args, values.stripped_count as u64);
    if let Some(reason) = values.skip {
        Counters::add(&c.skips[reason.index()], 1);
    }
}

/// Puts the normalised query in `$args`.
///
/// `r->args` is normally still the query the request arrived with, and becomes the computed
/// one. After a rewrite or an internal redirect it is whatever that set:
/// `try_files ... /index.php?$args` carries the already normalised query and is left alone,
/// anything else is normalised with this location's rules (normalisation is idempotent).
fn apply(
    r: &mut ngx_http_request_t,
    original: Option<ngx_str_t>,
    values: &Computed,
    rules: &Rules,
) -> Option<()> {
    // proxy_pass without a URI sends nginx's normalised URI, not the raw request line, for
    // every request: one cache key, one upstream URI, whether or not the query changed.
    r.set_valid_unparsed_uri(0);
    // SAFETY: args, the original query and the computed values live in the request's buffers
    // and pool.
    let (current, normalised, original) =
        unsafe { (bytes(&r.args), bytes(&values.args), original.map(|q| bytes(&q))) };
    if current == normalised {
        return Some(());
    }
    if Some(current) == original {
        r.args = values.args;
        return Some(());
    }
    if current.len() > MAX_QUERY_LEN {
        return Some(());
    }
    let len = current.len();
    // SAFETY: fresh pool memory for args and the scratch space for stripped segments.
    let data = unsafe { ngx_pnalloc(r.pool, 2 * len) }.cast::<u8>();
    if data.is_null() {
        return None;
    }
    // SAFETY: 2 * len fresh bytes.
    let buf = unsafe { core::slice::from_raw_parts_mut(data, 2 * len) };
    let (args, stripped) = buf.split_at_mut(len);
    let outcome = normalise(current, &rules.args, &rules.skip.args, args, stripped);
    if !outcome.limited && outcome.changed {
        r.args = ngx_str_t { len: outcome.args_len, data };
    }
    Some(())
}
