//! The header filter for tags: a response stored in an indexed cache has its key and tags
//! recorded in the index, and the tag headers (`microcache_tag_headers`) are hidden from
//! clients, on hits too (`microcache_tag_headers_hide`).
//!
//! A response is recorded when its request ends, once nginx has stored it (or its background
//! update has): nginx decides whether to store a response only after the header filters ran.
//! What is recorded is what the cache file holds, its key and the tags of its stored upstream
//! headers (so `*_hide_header` does not hide them from the index), as a rebuild reads them.

use microcache_core::index::Replace;
use microcache_core::tags::TagHeaders;
use nginx_sys::{
    ngx_http_cache_t, ngx_http_output_header_filter_pt, ngx_http_request_t, ngx_http_upstream_t,
    ngx_int_t, NGX_LOG_INFO,
};
use ngx::core::Status;
use ngx::http::{HttpModuleLocationConf, HttpModuleMainConf, Request};
use ngx::{ngx_log_debug_http, ngx_log_error};

use crate::cache::{file, node, FileCache};
use crate::guard::guard;
use crate::header_filter;
use crate::index::CacheIndex;
use crate::request::bits;
use crate::HttpMicrocacheModule;

static mut NEXT_HEADER_FILTER: ngx_http_output_header_filter_pt = None;

/// Puts the filter on top of the header filter chain; called in postconfiguration.
pub fn register() {
    // SAFETY: configuration runs in one thread, before any request; the chain is nginx's.
    unsafe {
        NEXT_HEADER_FILTER = nginx_sys::ngx_http_top_header_filter;
        nginx_sys::ngx_http_top_header_filter = Some(header_filter);
    }
}

unsafe extern "C" fn header_filter(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx passes a valid request to header filters.
    let req = unsafe { Request::from_ngx_http_request(r) };
    let rc = guard(req.log(), || {
        let settings = HttpMicrocacheModule::location_conf(req).and_then(|l| l.settings());
        if let Some(settings) = settings {
            if record_on_store(req, &settings.tag_headers).is_none() {
                return Status::NGX_ERROR.into();
            }
            if settings.hide_tag_headers && req.is_main() {
                header_filter::remove(req, |name| settings.tag_headers.matches(name));
            }
        }
        Status::NGX_OK.into()
    });
    // SAFETY: the next filter was set in register, before any request; r is ours.
    unsafe { header_filter::pass_on(rc, NEXT_HEADER_FILTER, r) }
}

/// For a response from the upstream that nginx may store in an indexed cache: records it in
/// the index when the request ends. None when memory runs out.
fn record_on_store(r: &mut Request, names: &'static TagHeaders) -> Option<()> {
    let raw = r.as_ref();
    // SAFETY: the upstream and the cache, if any, live in the request pool.
    let (Some(u), Some(c)) = (unsafe { raw.upstream.as_ref() }, unsafe { raw.cache.as_ref() })
    else {
        return Some(());
    };
    if u.cacheable() == 0 || bits::cached(raw) {
        return Some(());
    }
    // SAFETY: a request's cache points at its configured file cache.
    let cache = FileCache::of(unsafe { &*c.file_cache });
    let mcf = HttpMicrocacheModule::main_conf(r)?;
    let Some(index) = mcf.indexes.iter().find(|i| i.indexes(&cache)) else {
        return Some(());
    };
    let pending = PendingStore { index, cache, upstream: u, entry: c, tag_headers: names };
    ngx_log_debug_http!(r, "microcache: to be indexed if stored");
    (!r.pool().allocate(pending).is_null()).then_some(())
}

/// A response that may be stored: recorded in the index when the request's pool goes, after
/// nginx stored it. nginx decides late (`*_no_cache`, validity), and a background update
/// stores after its main request answered, so the end of the request is the first time the
/// outcome is known.
struct PendingStore {
    index: &'static CacheIndex,
    cache: FileCache,
    upstream: *const ngx_http_upstream_t,
    entry: *const ngx_http_cache_t,
    tag_headers: &'static TagHeaders,
}

impl Drop for PendingStore {
    fn drop(&mut self) {
        // SAFETY: the pool's memory, upstream and cache entry included, is freed only after
        // its cleanups ran; nginx's own cache cleanup runs after this one.
        let (u, c) = unsafe { (&*self.upstream, &*self.entry) };
        if u.cacheable() == 0 {
            return;
        }
        let id = c.key;
        let Some(mut locked) = self.index.lock() else {
            return;
        };
        let Some(mut index) = locked.index() else {
            return;
        };
        if !node::exists(&self.cache, &id) {
            return;
        }
        // The file, read under the index lock, rather than this response: of two requests
        // storing one key, the last to end (a slow client keeps its request open) is not
        // always the last to have stored, but it reads what the last store left.
        let Ok(Some(head)) = file::read_head(&self.cache.file_path(&id), true) else {
            return;
        };
        let Some(key) = head.key() else {
            return;
        };
        let mut scratch = Vec::new();
        let tags = head.tags(self.tag_headers, &mut scratch);
        let log = ngx::log::ngx_cycle_log().as_ptr();
        if tags.ignored.total() > 0 {
            ngx_log_error!(
                NGX_LOG_INFO,
                log,
                "microcache: {} tags of \"{}\" ignored: over the per-response limits",
                tags.ignored.total(),
                key.escape_ascii()
            );
        }
        let mut alive = CacheIndex::alive(&self.cache);
        if index.insert(&id, key, tags.as_slice(), Replace::Always, &mut alive).is_err() {
            ngx_log_error!(
                NGX_LOG_INFO,
                log,
                "microcache: the index of \"{}\" is full: purges walk the cache directory \
                 until it is emptied by a purge of the whole zone",
                self.index.cache_name().escape_ascii()
            );
        }
    }
}
