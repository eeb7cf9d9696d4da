//! `microcache_purge ZONE [KEY]`: removes entries from a `fastcgi_cache_path` /
//! `proxy_cache_path` zone.
//!
//! One key is removed at once: its node in the zone's shared memory is marked absent (as nginx
//! itself does when it deletes an entry) and its file is unlinked. A prefix (`KEY*`) or the
//! whole zone (`*`) means walking the cache directory; that walk handles a bounded number of
//! entries per timer tick, so a large cache never stalls the worker. The walk's timer is not
//! cancelable: a worker told to quit finishes the purge first.

use core::ffi::c_void;
use core::fmt;
use core::mem::{offset_of, size_of};
use core::ptr;
use std::ffi::OsStr;
use std::fs::{self, File, ReadDir};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use microcache_core::key::KeyPrefix;
use microcache_core::purge::{
    cache_file_path, key_hash, keyless_target, parse_hex_name, stored_key, PurgeTarget,
};
use microcache_core::report::{purge_response, PurgeOutcome};
use nginx_sys::{
    ngx_add_timer, ngx_conf_t, ngx_del_timer, ngx_event_t, ngx_http_compile_complex_value,
    ngx_http_compile_complex_value_t, ngx_http_complex_value, ngx_http_complex_value_t,
    ngx_http_core_loc_conf_t, ngx_http_discard_request_body, ngx_http_file_cache_header_t,
    ngx_http_file_cache_node_t, ngx_http_file_cache_t, ngx_http_finalize_request,
    ngx_http_request_t, ngx_http_run_posted_requests, ngx_int_t, ngx_pcalloc, ngx_pool_cleanup_add,
    ngx_rbtree_key_t, ngx_shm_zone_t, ngx_shmtx_lock, ngx_shmtx_unlock, ngx_str_t, NGX_DONE,
    NGX_ERROR, NGX_HTTP_BAD_REQUEST, NGX_HTTP_CACHE_KEY_LEN, NGX_HTTP_INTERNAL_SERVER_ERROR,
    NGX_HTTP_NOT_FOUND, NGX_HTTP_OK, NGX_LOG_ERR, NGX_OK,
};
use ngx::http::{HttpModuleLocationConf, HttpModuleMainConf, NgxHttpCoreModule};
use ngx::ngx_log_error;

use crate::conf::Directive;
use crate::counters;
use crate::ffi::{bytes, guard, method_is, not_allowed, send_response};
use crate::request;
use crate::HttpMicrocacheModule;

/// The modules whose `*_cache_path` directive declares file cache zones; a zone's tag is its
/// module. Looked up by name, so the module loads into an nginx built without some of them.
const CACHE_MODULES: [&[u8]; 4] = [
    b"ngx_http_fastcgi_module",
    b"ngx_http_proxy_module",
    b"ngx_http_scgi_module",
    b"ngx_http_uwsgi_module",
];

/// Directory entries handled per timer tick by prefix and zone purges.
const ENTRIES_PER_TICK: usize = 256;

pub struct PurgeConf {
    zone_name: ngx_str_t,
    /// The complex value KEY; null for the keyless form.
    key: *mut ngx_http_complex_value_t,
    /// The location's prefix, for the keyless form.
    location: ngx_str_t,
    /// Resolved when locations are merged.
    zone: *mut ngx_shm_zone_t,
}

impl fmt::Debug for PurgeConf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: configuration strings live in the configuration pool.
        let zone = unsafe { bytes(&self.zone_name) };
        f.debug_struct("PurgeConf").field("zone", &String::from_utf8_lossy(zone)).finish()
    }
}

impl PurgeConf {
    pub fn parse(d: &mut Directive<'_>) -> Result<PurgeConf, String> {
        let mut conf = PurgeConf {
            zone_name: d.raw[0],
            key: ptr::null_mut(),
            location: ngx_str_t { len: 0, data: ptr::null_mut() },
            zone: ptr::null_mut(),
        };
        if let Some(value) = d.raw.get_mut(1) {
            // SAFETY: cf is valid while parsing; the complex value is allocated from its pool.
            let cv = unsafe { ngx_pcalloc((*d.cf).pool, size_of::<ngx_http_complex_value_t>()) };
            if cv.is_null() {
                return Err("out of memory".to_owned());
            }
            let mut ccv = ngx_http_compile_complex_value_t {
                cf: d.cf,
                value,
                complex_value: cv.cast(),
                _bitfield_align_1: [],
                _bitfield_1: Default::default(),
                __bindgen_padding_0: Default::default(),
            };
            // SAFETY: ccv is fully initialised; nginx logs its own error on failure.
            if unsafe { ngx_http_compile_complex_value(&mut ccv) } != NGX_OK as ngx_int_t {
                return Err(format!("invalid key in \"{}\" directive", d.name));
            }
            conf.key = cv.cast();
            return Ok(conf);
        }
        // SAFETY: cf is valid while parsing a location.
        let clcf: Option<&ngx_http_core_loc_conf_t> =
            NgxHttpCoreModule::location_conf(unsafe { &*d.cf });
        let Some(clcf) = clcf else {
            return Err(format!("\"{}\" is not allowed here", d.name));
        };
        #[cfg(ngx_feature = "pcre")]
        let regex = !clcf.regex.is_null();
        #[cfg(not(ngx_feature = "pcre"))]
        let regex = false;
        if regex || clcf.named() != 0 || clcf.exact_match() != 0 || clcf.name.len == 0 {
            return Err(format!(
                "\"{}\" without a key needs a prefix location such as \"location /purge/\"; \
                 give the key explicitly in other locations",
                d.name
            ));
        }
        conf.location = clcf.name;
        Ok(conf)
    }

    /// Finds the cache zone by name among the zones of the cycle being configured.
    pub fn resolve_zone(&mut self, cf: &mut ngx_conf_t) -> Result<(), String> {
        // SAFETY: zone names live in the configuration pool.
        let name = unsafe { bytes(&self.zone_name) };
        // SAFETY: cf->cycle is the cycle being configured; its zone list holds ngx_shm_zone_t.
        let mut part = unsafe { ptr::addr_of!((*cf.cycle).shared_memory.part) };
        // SAFETY: list parts are valid while the cycle is configured.
        while let Some(p) = unsafe { part.as_ref() } {
            for i in 0..p.nelts {
                // SAFETY: i < nelts.
                let zone = unsafe { p.elts.cast::<ngx_shm_zone_t>().add(i) };
                // SAFETY: as above; names live in the configuration pool.
                let (zone_name, tag, data) =
                    unsafe { (bytes(&(*zone).shm.name), (*zone).tag, (*zone).data) };
                if zone_name != name {
                    continue;
                }
                if !is_cache_module(cf, tag) || data.is_null() {
                    return Err(format!(
                        "zone \"{}\" in \"microcache_purge\" directive is not a \
                         fastcgi_cache_path or proxy_cache_path zone",
                        String::from_utf8_lossy(name)
                    ));
                }
                self.zone = zone;
                return Ok(());
            }
            part = p.next;
        }
        Err(format!(
            "unknown cache zone \"{}\" in \"microcache_purge\" directive",
            String::from_utf8_lossy(name)
        ))
    }

    fn cache(&self) -> Option<&'static ngx_http_file_cache_t> {
        // SAFETY: resolve_zone checked this is a file cache zone, whose data is the cache.
        unsafe { self.zone.as_ref()?.data.cast::<ngx_http_file_cache_t>().as_ref() }
    }
}

/// Whether `tag` is one of the modules whose zones are file caches.
fn is_cache_module(cf: &ngx_conf_t, tag: *mut c_void) -> bool {
    // SAFETY: the cycle's module table has modules_n entries, each a valid module with a
    // NUL-terminated name.
    let modules =
        unsafe { core::slice::from_raw_parts((*cf.cycle).modules, (*cf.cycle).modules_n) };
    modules.iter().any(|&m| {
        // SAFETY: as above.
        let name = unsafe { core::ffi::CStr::from_ptr((*m).name) }.to_bytes();
        m.cast::<c_void>() == tag && CACHE_MODULES.contains(&name)
    })
}

/// The cache's root directory and level widths (`levels=1:2` is `[1, 2]`).
fn cache_layout(cache: &ngx_http_file_cache_t) -> (&'static [u8], &'static [usize]) {
    // SAFETY: the cache path is configuration memory.
    let path = unsafe { &*cache.path };
    // SAFETY: as above.
    (unsafe { bytes(&path.name) }, &path.level[..])
}

fn os_path(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}

/// Marks the entry absent in shared memory, as nginx does before it deletes a file. Returns
/// whether the zone knew the entry as present.
fn forget_node(cache: &ngx_http_file_cache_t, hash: &[u8; 16]) -> bool {
    const NODE_KEY: usize = size_of::<ngx_rbtree_key_t>();
    let mut node_key_bytes = [0u8; NODE_KEY];
    node_key_bytes.copy_from_slice(&hash[..NODE_KEY]);
    let node_key = ngx_rbtree_key_t::from_ne_bytes(node_key_bytes);
    let rest = &hash[NODE_KEY..NGX_HTTP_CACHE_KEY_LEN as usize];

    // SAFETY: the zone is mapped and shared with other processes: its tree and nodes are only
    // touched through raw pointers, under the zone's mutex (as ngx_http_file_cache_lookup).
    unsafe {
        let sh = cache.sh;
        let mutex = ptr::addr_of_mut!((*cache.shpool).mutex);
        ngx_shmtx_lock(mutex);
        let sentinel = (*sh).rbtree.sentinel;
        let mut node = (*sh).rbtree.root;
        let mut present = false;
        while node != sentinel {
            if node_key != (*node).key {
                node = if node_key < (*node).key { (*node).left } else { (*node).right };
                continue;
            }
            let fcn = node.cast::<ngx_http_file_cache_node_t>();
            let node_rest = (*fcn).key;
            match rest.cmp(&node_rest[..]) {
                core::cmp::Ordering::Less => node = (*node).left,
                core::cmp::Ordering::Greater => node = (*node).right,
                core::cmp::Ordering::Equal => {
                    if ngx_http_file_cache_node_t::exists_raw(fcn) != 0 {
                        (*sh).size -= (*fcn).fs_size;
                        (*fcn).fs_size = 0;
                        ngx_http_file_cache_node_t::set_exists_raw(fcn, 0);
                        present = true;
                    }
                    break;
                }
            }
        }
        ngx_shmtx_unlock(mutex);
        present
    }
}

/// Removes one entry; `Ok(true)` when something was there.
fn purge_entry(cache: &ngx_http_file_cache_t, hash: &[u8; 16], file: &Path) -> io::Result<bool> {
    let known = forget_node(cache, hash);
    match fs::remove_file(file) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(known),
        Err(e) => Err(e),
    }
}

fn purge_key(cache: &ngx_http_file_cache_t, key: &[u8]) -> io::Result<bool> {
    let hash = key_hash(key);
    let (root, levels) = cache_layout(cache);
    purge_entry(cache, &hash, os_path(&cache_file_path(root, levels, &hash)))
}

/// The key stored in a cache file, read from its header.
fn read_stored_key(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let header_size = size_of::<ngx_http_file_cache_header_t>();
    let mut file = File::open(path)?;
    let mut head = vec![0; header_size];
    if file.read_exact(&mut head).is_err() {
        return Ok(None);
    }
    let at = offset_of!(ngx_http_file_cache_header_t, header_start);
    let header_start = usize::from(u16::from_ne_bytes([head[at], head[at + 1]]));
    if header_start <= header_size {
        return Ok(None);
    }
    head.resize(header_start, 0);
    if file.read_exact(&mut head[header_size..]).is_err() {
        return Ok(None);
    }
    Ok(stored_key(&head, header_size, header_start).map(<[u8]>::to_vec))
}

/// What one purge request removes.
struct Target {
    /// The key the answer names.
    shown: Vec<u8>,
    /// Exact keys, or key prefixes; empty with `all`.
    keys: Vec<Vec<u8>>,
    prefix: bool,
    all: bool,
}

impl Target {
    fn from_key(key: Vec<u8>) -> Target {
        let (keys, prefix, all) = match PurgeTarget::parse(&key) {
            PurgeTarget::Key(k) => (vec![k.to_vec()], false, false),
            PurgeTarget::Prefix(p) => (vec![p.to_vec()], true, false),
            PurgeTarget::All => (Vec::new(), false, true),
        };
        Target { shown: key, keys, prefix, all }
    }
}

/// The request's target: the complex value, or for the keyless form what `$microcache_key`
/// would be for a GET (and a HEAD) of the URI after the location prefix. `Ok(None)` when the
/// URI has no such form.
fn request_target(r: &mut ngx_http_request_t, conf: &PurgeConf) -> Result<Option<Target>, ()> {
    if !conf.key.is_null() {
        let mut value = ngx_str_t { len: 0, data: ptr::null_mut() };
        // SAFETY: the complex value was compiled at configuration time.
        if unsafe { ngx_http_complex_value(r, conf.key, &mut value) } != NGX_OK as ngx_int_t {
            return Err(());
        }
        // SAFETY: the value lives in the request pool.
        return Ok(Some(Target::from_key(unsafe { bytes(&value) }.to_vec())));
    }
    let values = request::values(r).ok_or(())?;
    let raw_path = request::raw_path(r).ok_or(())?;
    // SAFETY: the location name and the values live in configuration and request memory.
    let (location, args) = unsafe { (bytes(&conf.location), bytes(&values.args)) };
    let Some(path) = keyless_target(location, raw_path) else {
        return Ok(None);
    };
    // A `*` ends a prefix only in the path; in a query it is just a byte.
    let (path, prefix) = match path.strip_suffix(b"*") {
        Some(p) if args.is_empty() => (p, true),
        _ => (path, false),
    };
    let (scheme, host) = (request::scheme(r), request::host(r));
    let key = |method: &[u8]| KeyPrefix { scheme, method, host, path }.with_query(args);
    let mut shown = key(b"GET");
    if prefix {
        shown.push(b'*');
    }
    Ok(Some(Target { shown, keys: vec![key(b"GET"), key(b"HEAD")], prefix, all: false }))
}

pub unsafe extern "C" fn handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    guard(r, || {
        // SAFETY: nginx passes a valid request to content handlers.
        let r = unsafe { &mut *r };
        if !method_is(r, &[b"GET", b"HEAD", b"PURGE"]) {
            return not_allowed(r, "GET, HEAD, PURGE");
        }
        // SAFETY: as above.
        let rc = unsafe { ngx_http_discard_request_body(r) };
        if rc != NGX_OK as ngx_int_t {
            return rc;
        }
        let Some(conf) = HttpMicrocacheModule::location_conf(r).and_then(|l| l.purge.as_ref())
        else {
            return NGX_ERROR as ngx_int_t;
        };
        let Some(cache) = conf.cache() else {
            return NGX_ERROR as ngx_int_t;
        };
        let target = match request_target(r, conf) {
            Ok(Some(t)) => t,
            Ok(None) => return NGX_HTTP_BAD_REQUEST as ngx_int_t,
            Err(()) => return NGX_ERROR as ngx_int_t,
        };
        if target.prefix || target.all {
            return start_walk(r, cache, target);
        }
        let mut purged = 0;
        for key in &target.keys {
            match purge_key(cache, key) {
                Ok(found) => purged += u64::from(found),
                Err(e) => return finish(r, &target.shown, Err(e)),
            }
        }
        finish(r, &target.shown, Ok(purged))
    })
}

/// Answers 200 with what was purged, 404 when nothing was, 500 on an I/O error.
fn finish(r: &mut ngx_http_request_t, key: &[u8], result: io::Result<u64>) -> ngx_int_t {
    let counters = HttpMicrocacheModule::main_conf(r).and_then(|m| counters::get(m.counters));
    let (outcome, purged) = match result {
        Ok(0) => (PurgeOutcome::NotFound, 0),
        Ok(n) => (PurgeOutcome::Purged, n),
        Err(e) => {
            // SAFETY: the connection and its log outlive the request.
            let log = unsafe { (*r.connection).log };
            ngx_log_error!(NGX_LOG_ERR, log, "microcache_purge: {e}");
            (PurgeOutcome::Failed, 0)
        }
    };
    if let Some(c) = counters {
        c.purge(outcome, purged);
    }
    let status = match outcome {
        PurgeOutcome::Purged => NGX_HTTP_OK,
        PurgeOutcome::NotFound => NGX_HTTP_NOT_FOUND,
        PurgeOutcome::Failed => return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t,
    };
    send_response(r, status as _, "application/json", purge_response(key, purged).as_bytes())
}

/// A prefix or zone purge in progress. It lives in the request pool; the pool cleanup that
/// drops it also takes its timer out of nginx's timer tree, should the request end early.
struct Walk {
    request: *mut ngx_http_request_t,
    cache: &'static ngx_http_file_cache_t,
    target: Target,
    dirs: Vec<ReadDir>,
    purged: u64,
    error: Option<io::Error>,
    event: ngx_event_t,
}

fn start_walk(
    r: &mut ngx_http_request_t,
    cache: &'static ngx_http_file_cache_t,
    target: Target,
) -> ngx_int_t {
    let (root, _) = cache_layout(cache);
    let dirs = match fs::read_dir(os_path(root)) {
        Ok(d) => vec![d],
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return finish(r, &target.shown, Err(e)),
    };
    // SAFETY: the request pool is valid; the cleanup's data is sized for a Walk.
    let Some(c) = (unsafe { ngx_pool_cleanup_add(r.pool, size_of::<Walk>()).as_mut() }) else {
        return NGX_ERROR as ngx_int_t;
    };
    let walk = c.data.cast::<Walk>();
    // SAFETY: fresh, suitably aligned pool memory; a zeroed ngx_event_t is its initial state
    // in nginx too.
    unsafe {
        walk.write(Walk {
            request: r,
            cache,
            target,
            dirs,
            purged: 0,
            error: None,
            event: core::mem::zeroed(),
        });
    }
    c.handler = Some(drop_walk);
    // SAFETY: just initialised; it stays at this address until the pool is destroyed.
    let walk = unsafe { &mut *walk };
    walk.event.handler = Some(walk_event);
    walk.event.data = ptr::from_mut(walk).cast();
    // SAFETY: the connection outlives the request.
    walk.event.log = unsafe { (*r.connection).log };
    // SAFETY: r->main is valid; the extra reference keeps the request until it is finalized.
    unsafe { (*r.main).set_count((*r.main).count() + 1) };
    // SAFETY: the event lives in the pool; drop_walk removes the timer with it.
    unsafe { ngx_add_timer(&mut walk.event, 1) };
    NGX_DONE as ngx_int_t
}

unsafe extern "C" fn drop_walk(data: *mut c_void) {
    let walk = data.cast::<Walk>();
    // SAFETY: the cleanup's data is the Walk start_walk wrote; nginx calls this once.
    unsafe {
        if (*walk).event.timer_set() != 0 {
            ngx_del_timer(&mut (*walk).event);
        }
        ptr::drop_in_place(walk);
    }
}

unsafe extern "C" fn walk_event(ev: *mut ngx_event_t) {
    // SAFETY: the event's data is the Walk that owns it, alive while its timer is set.
    let walk = unsafe { &mut *(*ev).data.cast::<Walk>() };
    let r = walk.request;
    let rc = guard(r, || {
        if !walk.step() {
            // SAFETY: as in start_walk.
            unsafe { ngx_add_timer(&mut walk.event, 1) };
            return NGX_DONE as ngx_int_t;
        }
        let result = match walk.error.take() {
            Some(e) => Err(e),
            None => Ok(walk.purged),
        };
        // SAFETY: the request is alive: the walk holds a reference to it.
        finish(unsafe { &mut *r }, &walk.target.shown, result)
    });
    if rc == NGX_DONE as ngx_int_t {
        return;
    }
    // SAFETY: as above; finalizing drops the reference taken in start_walk.
    unsafe {
        let c = (*r).connection;
        ngx_http_finalize_request(r, rc);
        ngx_http_run_posted_requests(c);
    }
}

impl Walk {
    /// Handles up to ENTRIES_PER_TICK directory entries; true when the walk is over.
    fn step(&mut self) -> bool {
        let mut budget = ENTRIES_PER_TICK;
        while budget > 0 {
            let Some(dir) = self.dirs.last_mut() else {
                return true;
            };
            let entry = match dir.next() {
                None => {
                    self.dirs.pop();
                    continue;
                }
                Some(Err(e)) => {
                    self.dirs.pop();
                    self.error.get_or_insert(e);
                    continue;
                }
                Some(Ok(entry)) => entry,
            };
            budget -= 1;
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => match fs::read_dir(&path) {
                    Ok(d) => self.dirs.push(d),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => {
                        self.error.get_or_insert(e);
                    }
                },
                Ok(t) if t.is_file() => {
                    if let Some(hash) = parse_hex_name(entry.file_name().as_bytes()) {
                        if let Err(e) = self.consider(&path, &hash) {
                            self.error.get_or_insert(e);
                        }
                    }
                }
                _ => {}
            }
        }
        false
    }

    fn consider(&mut self, path: &Path, hash: &[u8; 16]) -> io::Result<()> {
        if !self.target.all {
            let stored = match read_stored_key(path) {
                Ok(Some(k)) => k,
                Ok(None) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            };
            if !self.target.keys.iter().any(|p| stored.starts_with(p)) {
                return Ok(());
            }
        }
        if purge_entry(self.cache, hash, path)? {
            self.purged += 1;
        }
        Ok(())
    }
}
