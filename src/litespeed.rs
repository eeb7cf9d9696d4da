//! Origin-driven caching: the header filter that lets an origin decide what nginx stores and
//! purges (README: "microcache_litespeed", "microcache_purge_header"). The grammars are
//! `microcache_core::litespeed`; this reads nginx's upstream response and acts on it.
//!
//! With `microcache_litespeed on`, an upstream response is stored only if its
//! `X-LiteSpeed-Cache-Control` says `public` (for its `max-age`, capped), its `X-LiteSpeed-Vary`
//! names no cookie outside the key, and a request with the vary cookie has it in its key. nginx
//! decides to store after the header filters ran, so clearing `u->cacheable` here keeps a
//! response out, and `r->cache->valid_sec` set here is its validity. Purge headers
//! (`X-LiteSpeed-Purge`, `microcache_purge_header`) of any upstream response, stored or not,
//! start purges in the location's cache zone. The protocol's headers never reach a client,
//! cached or not; a client's request headers are never read here.

use core::ptr;
use core::sync::atomic::AtomicU64;

use microcache_core::batch::PurgeMode;
use microcache_core::key::VARIANT_SEPARATOR;
use microcache_core::litespeed::{
    vary_cookie, vary_within_key, CacheControl, HeaderKind, OriginPurges, OriginStats, Refusal,
    Storage, VaryCookie, CACHE_CONTROL, HEADERS, PURGE, PURGE2, TAG, VARY,
};
use microcache_core::tags::TagHeaders;
use nginx_sys::{
    ngx_conf_t, ngx_http_cache_t, ngx_http_file_cache_t, ngx_http_output_header_filter_pt,
    ngx_http_request_t, ngx_http_upstream_t, ngx_int_t, ngx_str_t, ngx_table_elt_t, ngx_time,
    NGX_LOG_INFO,
};
use ngx::core::Status;
use ngx::http::{HttpModuleLocationConf, HttpModuleMainConf, Request};
use ngx::{ngx_log_debug_http, ngx_log_error};

use crate::cache::{CacheZone, FileCache};
use crate::conf::Settings;
use crate::counters::{self, Counters};
use crate::guard::guard;
use crate::header_filter;
use crate::list::elements;
use crate::request::bits;
use crate::request::facts::headers;
use crate::request::state;
use crate::HttpMicrocacheModule;

/// What a level says about origins: `microcache_litespeed`, `microcache_litespeed_max_age`,
/// `microcache_purge_header`.
#[derive(Clone, Debug)]
pub struct OriginRules {
    pub litespeed: bool,
    /// The longest an origin's `max-age` may keep a response, in seconds.
    pub max_age: u64,
    /// The generic purge header's name, lower case.
    pub purge_header: Option<Vec<u8>>,
}

impl Default for OriginRules {
    fn default() -> Self {
        OriginRules { litespeed: false, max_age: 86_400, purge_header: None }
    }
}

impl OriginRules {
    fn active(&self) -> bool {
        self.litespeed || self.purge_header.is_some()
    }

    /// The tag headers of a level: LiteSpeed's tags are the entries' tags too.
    pub fn tag_headers(&self, names: &TagHeaders) -> TagHeaders {
        match self.litespeed {
            true => names.including(TAG),
            false => names.clone(),
        }
    }

    /// Whether a response header is one of those clients never see.
    fn hides(&self, name: &[u8]) -> bool {
        (self.litespeed && HEADERS.iter().any(|h| h.as_bytes().eq_ignore_ascii_case(name)))
            || self.purge_header.as_deref().is_some_and(|p| p.eq_ignore_ascii_case(name))
    }

    /// Whether a response header asks for purges.
    fn purges_by(&self, name: &[u8]) -> bool {
        (self.litespeed
            && (PURGE.as_bytes().eq_ignore_ascii_case(name)
                || PURGE2.as_bytes().eq_ignore_ascii_case(name)))
            || self.purge_header.as_deref().is_some_and(|p| p.eq_ignore_ascii_case(name))
    }
}

/// `microcache_litespeed_max_age TIME`: seconds, as nginx reads times (`1d`, `12h`, `3600`).
pub fn parse_max_age(arg: &[u8]) -> Option<u64> {
    let mut s = ngx_str_t { len: arg.len(), data: arg.as_ptr().cast_mut() };
    // SAFETY: ngx_parse_time only reads the string.
    let seconds = unsafe { nginx_sys::ngx_parse_time(&mut s, 1) };
    u64::try_from(seconds).ok().filter(|&n| n > 0)
}

/// The counters of what origins said, in the shared counters zone.
#[repr(C)]
pub struct OriginCounters {
    stored: AtomicU64,
    not_stored: [AtomicU64; Refusal::ALL.len()],
    malformed: [AtomicU64; HeaderKind::ALL.len()],
    purges: AtomicU64,
    purges_dropped: AtomicU64,
}

impl OriginCounters {
    pub fn stats(&self) -> OriginStats {
        let read = |c: &AtomicU64| c.load(core::sync::atomic::Ordering::Relaxed);
        OriginStats {
            stored: read(&self.stored),
            not_stored: self.not_stored.each_ref().map(read),
            malformed: self.malformed.each_ref().map(read),
            purges: read(&self.purges),
            purges_dropped: read(&self.purges_dropped),
        }
    }

    /// A purge started by a response, or dropped.
    pub fn purge(&self, started: bool) {
        Counters::add(if started { &self.purges } else { &self.purges_dropped }, 1);
    }
}

static mut NEXT_HEADER_FILTER: ngx_http_output_header_filter_pt = None;

/// Puts the filter on top of the header filter chain, and makes an index rebuild read
/// LiteSpeed's tags; called in postconfiguration.
pub fn register(cf: &mut ngx_conf_t) {
    // SAFETY: configuration runs in one thread, before any request; the chain is nginx's.
    unsafe {
        NEXT_HEADER_FILTER = nginx_sys::ngx_http_top_header_filter;
        nginx_sys::ngx_http_top_header_filter = Some(header_filter);
    }
    // A rebuild cannot know which location stored a file: it reads LiteSpeed's tags always
    // (a file holds them only when its origin spoke the protocol).
    if let Some(mcf) = HttpMicrocacheModule::main_conf_mut(cf) {
        mcf.rebuild_tag_headers = mcf.rebuild_tag_headers.including(TAG);
    }
}

unsafe extern "C" fn header_filter(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx passes a valid request to header filters.
    let req = unsafe { Request::from_ngx_http_request(r) };
    let rc = guard(req.log(), || {
        let settings = HttpMicrocacheModule::location_conf(req).and_then(|l| l.settings());
        if let Some(settings) = settings.filter(|s| s.origin.active()) {
            if let Some(u) = upstream_response(req) {
                if settings.origin.litespeed {
                    judge(req, u, settings);
                }
                purge(req, u, settings);
            }
            header_filter::remove(req, |name| settings.origin.hides(name));
        }
        Status::NGX_OK.into()
    });
    // SAFETY: the next filter was set in register, before any request; r is ours.
    unsafe { header_filter::pass_on(rc, NEXT_HEADER_FILTER, r) }
}

/// The upstream whose response this is: none for a cached response or one nginx made itself.
fn upstream_response(r: &Request) -> Option<&'static mut ngx_http_upstream_t> {
    let raw = r.as_ref();
    // SAFETY: the upstream, if any, lives in the request pool.
    let u = unsafe { raw.upstream.as_mut()? };
    (!bits::cached(raw) && u.headers_in.status_n != 0).then_some(u)
}

/// The upstream response's headers as (name, value), deleted ones skipped.
fn upstream_headers(u: &ngx_http_upstream_t) -> impl Iterator<Item = (&[u8], &[u8])> {
    // SAFETY: the upstream's header list holds ngx_table_elt_t living with the request.
    let all = unsafe { elements::<ngx_table_elt_t>(&u.headers_in.headers) };
    all.filter(|h| h.hash != 0).map(|h| (h.key.as_bytes(), h.value.as_bytes()))
}

fn counters(r: &Request) -> Option<&'static OriginCounters> {
    let mcf = HttpMicrocacheModule::main_conf(r)?;
    counters::get(mcf.counters).map(|c| &c.origin)
}

fn malformed(r: &Request, header: &str, kind: HeaderKind, why: &str, value: &[u8]) {
    if let Some(c) = counters(r) {
        Counters::add(&c.malformed[kind.index()], 1);
    }
    ngx_log_error!(
        NGX_LOG_INFO,
        r.log(),
        "microcache: malformed {header} ignored ({why}): \"{}\"",
        value.escape_ascii()
    );
}

/// Whether nginx may store the response, and for how long; applied when it would store it.
fn judge(r: &mut Request, u: &mut ngx_http_upstream_t, settings: &Settings) {
    if u.cacheable() == 0 {
        return;
    }
    let mut control = CacheControl::default();
    let mut vary_in_key = true;
    for (name, value) in upstream_headers(u) {
        if CACHE_CONTROL.as_bytes().eq_ignore_ascii_case(name) {
            if let Err(e) = control.add_value(value) {
                malformed(r, CACHE_CONTROL, HeaderKind::CacheControl, e.0, value);
            }
        } else if VARY.as_bytes().eq_ignore_ascii_case(name) {
            match vary_within_key(value) {
                Ok(within) => vary_in_key &= within,
                Err(e) => {
                    vary_in_key = false;
                    malformed(r, VARY, HeaderKind::Vary, e.0, value);
                }
            }
        }
    }
    let storage = match control.storage(settings.origin.max_age) {
        Storage::Refused(why) => Storage::Refused(why),
        _ if !vary_in_key || !key_holds_variant(r) => Storage::Refused(Refusal::Vary),
        storage => storage,
    };
    let counters = counters(r);
    if !matches!(storage, Storage::Refused(_)) {
        overrule_cache_headers(u);
    }
    match storage {
        Storage::Refused(why) => {
            u.set_cacheable(0);
            if let Some(c) = counters {
                Counters::add(&c.not_stored[why.index()], 1);
            }
            ngx_log_debug_http!(r, "microcache: origin response not stored: {}", why.as_str());
        }
        Storage::For(seconds) => {
            // SAFETY: a cacheable upstream response has its cache entry in the request pool.
            if let Some(c) = unsafe { r.as_ref().cache.as_mut() } {
                c.valid_sec = ngx_time() + seconds as nginx_sys::time_t;
            }
            if let Some(c) = counters {
                Counters::add(&c.stored, 1);
            }
            ngx_log_debug_http!(r, "microcache: origin response stored for {seconds} s");
        }
        Storage::AsConfigured => {
            if let Some(c) = counters {
                Counters::add(&c.stored, 1);
            }
            ngx_log_debug_http!(r, "microcache: origin response stored as configured");
        }
    }
}

/// The origin's word on storing replaces the response's `Cache-Control` and `Expires`:
/// WordPress marks every page for a logged-in visitor `no-cache`, which a `*_no_cache` rule
/// reading `$upstream_http_cache_control` (the shipped `$origin_forbids_store`) would otherwise
/// turn into "never store" for the pages the plugin caches per role. Only nginx's view of the
/// upstream response changes: the client receives those headers as sent.
fn overrule_cache_headers(u: &ngx_http_upstream_t) {
    let overruled = |name: &[u8]| {
        name.eq_ignore_ascii_case(b"cache-control") || name.eq_ignore_ascii_case(b"expires")
    };
    // SAFETY: the upstream's header list holds ngx_table_elt_t living with the request.
    unsafe { header_filter::delete(&u.headers_in.headers, overruled) };
}

/// Whether the response may be stored under its cache key as far as the vary cookie goes: a
/// request without one has no variant; a request with one only under its `$microcache_key`
/// computed with `microcache_litespeed on` (which ends with the variant); an ambiguous one
/// never.
fn key_holds_variant(r: &mut Request) -> bool {
    // SAFETY: the request's headers live as long as the request.
    let raw: &'static ngx_http_request_t = unsafe { &*ptr::from_ref(r.as_ref()) };
    let cookies = headers(raw).filter(|(n, _)| *n == b"cookie").map(|(_, v)| v);
    let variant = match vary_cookie(cookies) {
        VaryCookie::Absent => return true,
        VaryCookie::Ambiguous => return false,
        VaryCookie::Value(v) => v,
    };
    // SAFETY: the cache entry, if any, lives in the request pool.
    let Some(c) = (unsafe { r.as_ref().cache.as_ref() }) else {
        return false;
    };
    let describing = state::describing(r.as_mut());
    let Some(key) = state::find(describing).and_then(|s| s.values).map(|v| v.key) else {
        return false;
    };
    let key = key.as_bytes();
    let suffix_at = key.len().checked_sub(variant.len() + 1);
    suffix_at.is_some_and(|at| key[at] == VARIANT_SEPARATOR && &key[at + 1..] == variant)
        && cache_key_is(c, key)
}

/// Whether the cache entry's key (the parts of `*_cache_key`) is `key`.
fn cache_key_is(c: &ngx_http_cache_t, key: &[u8]) -> bool {
    // SAFETY: the cache entry's keys are the ngx_str_t nginx hashed into its id.
    let parts = unsafe { c.keys.as_slice::<ngx_str_t>() };
    let mut rest = key;
    for part in parts {
        match rest.strip_prefix(part.as_bytes()) {
            Some(after) => rest = after,
            None => return false,
        }
    }
    rest.is_empty()
}

/// Starts the purges the response's purge headers ask for.
fn purge(r: &mut Request, u: &ngx_http_upstream_t, settings: &Settings) {
    let mut purges = OriginPurges::default();
    for (name, value) in upstream_headers(u) {
        if settings.origin.purges_by(name) {
            if let Err(e) = purges.add_value(value) {
                let shown = String::from_utf8_lossy(name).into_owned();
                malformed(r, &shown, HeaderKind::Purge, e.0, value);
            }
        }
    }
    if purges.is_empty() {
        return;
    }
    let Some(cache) = cache_zone(r, u) else {
        ngx_log_error!(
            NGX_LOG_INFO,
            r.log(),
            "microcache: purge headers of a response ignored: its location has no cache zone"
        );
        return;
    };
    let modes = [(settings.purge_mode, &purges.hard), (PurgeMode::Soft, &purges.soft)];
    for (mode, items) in modes.into_iter().filter(|(_, items)| !items.is_empty()) {
        let started = crate::purge::from_response(r, settings, cache, mode, items);
        if let Some(c) = counters(r) {
            c.purge(started);
        }
    }
}

/// The cache zone of the location the response came through: the request's own, else the
/// location's `*_cache` zone (a `POST` has no cache entry), named or evaluated.
fn cache_zone(r: &mut Request, u: &ngx_http_upstream_t) -> Option<FileCache> {
    // SAFETY: the request's cache entry, if any, points at its configured file cache.
    if let Some(c) = unsafe { r.as_ref().cache.as_ref() } {
        // SAFETY: as above.
        return Some(FileCache::of(unsafe { &*c.file_cache }));
    }
    // SAFETY: the upstream's configuration is the location's, configuration memory.
    let conf = unsafe { u.conf.as_ref()? };
    // SAFETY: a cache zone's data is its file cache once configured.
    if let Some(zone) = unsafe { conf.cache_zone.as_ref() } {
        let cache = zone.data.cast::<ngx_http_file_cache_t>();
        // SAFETY: as above; configuration memory.
        return unsafe { cache.as_ref() }.map(FileCache::of);
    }
    // SAFETY: a non-null cache value is the location's complex value (`*_cache $zone`).
    let name = r.get_complex_value(unsafe { conf.cache_value.as_ref()? })?.as_bytes().to_vec();
    // SAFETY: the running cycle, valid while the worker runs.
    let cycle = unsafe { &*nginx_sys::ngx_cycle };
    CacheZone::find_in(cycle, &name, "*_cache").ok()?.cache()
}
