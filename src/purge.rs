//! `microcache_purge ZONE [KEY]`: removes entries from a `fastcgi_cache_path` /
//! `proxy_cache_path` zone.
//!
//! One key is removed at once: its node in the zone's shared memory is marked absent (as nginx
//! itself does when it deletes an entry) and its file is unlinked. A prefix (`KEY*`) or the
//! whole zone (`*`) means walking the cache directory; that walk handles a bounded number of
//! entries per event-loop turn, so a large cache never stalls the worker.

use core::ffi::c_void;
use core::fmt;
use core::mem::{offset_of, size_of};
use core::ptr;
use std::ffi::OsStr;
use std::fs::{self, File, ReadDir};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use microcache_core::purge::{
    cache_file_path, key_hash, keyless_target, parse_hex_name, stored_key, PurgeTarget,
};
use microcache_core::report::{purge_response, PurgeOutcome};
use microcache_core::split_request_uri;
use nginx_sys::{
    ngx_conf_t, ngx_event_t, ngx_http_compile_complex_value, ngx_http_compile_complex_value_t,
    ngx_http_complex_value, ngx_http_complex_value_t, ngx_http_core_loc_conf_t,
    ngx_http_discard_request_body, ngx_http_file_cache_header_t, ngx_http_file_cache_node_t,
    ngx_http_file_cache_t, ngx_http_finalize_request, ngx_http_request_t,
    ngx_http_run_posted_requests, ngx_int_t, ngx_module_t, ngx_pcalloc, ngx_post_event,
    ngx_posted_next_events, ngx_rbtree_key_t, ngx_shm_zone_t, ngx_shmtx_lock, ngx_shmtx_unlock,
    ngx_str_t, NGX_DONE, NGX_ERROR, NGX_HTTP_BAD_REQUEST, NGX_HTTP_CACHE_KEY_LEN,
    NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_HTTP_NOT_ALLOWED, NGX_HTTP_NOT_FOUND, NGX_HTTP_OK,
    NGX_LOG_ERR, NGX_OK,
};
use ngx::core::Pool;
use ngx::http::{HttpModuleLocationConf, HttpModuleMainConf, NgxHttpCoreModule};
use ngx::ngx_log_error;

use crate::conf::Directive;
use crate::counters;
use crate::ffi::{bytes, guard, method_is, send_response};
use crate::request;
use crate::HttpMicrocacheModule;

// The modules whose `*_cache_path` zones can be purged; a zone's tag is its module.
extern "C" {
    static mut ngx_http_fastcgi_module: ngx_module_t;
    static mut ngx_http_proxy_module: ngx_module_t;
}

/// Directory entries handled per event-loop turn by prefix and zone purges.
const ENTRIES_PER_TURN: usize = 256;

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
        f.debug_struct("PurgeConf")
            .field("zone", &String::from_utf8_lossy(zone))
            .finish()
    }
}

impl PurgeConf {
    pub fn parse(d: &mut Directive<'_>) -> Result<PurgeConf, String> {
        let mut conf = PurgeConf {
            zone_name: d.raw[0],
            key: ptr::null_mut(),
            location: ngx_str_t {
                len: 0,
                data: ptr::null_mut(),
            },
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
        // Taking the addresses of nginx's module statics, not reading them.
        let cache_tags: [*mut c_void; 2] = [
            ptr::addr_of_mut!(ngx_http_fastcgi_module).cast(),
            ptr::addr_of_mut!(ngx_http_proxy_module).cast(),
        ];
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
                if !cache_tags.contains(&tag) || data.is_null() {
                    return Err(format!(
                        "zone \"{}\" in \"microcache_purge\" directive is not a fastcgi_cache_path or proxy_cache_path zone",
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
        unsafe {
            self.zone
                .as_ref()?
                .data
                .cast::<ngx_http_file_cache_t>()
                .as_ref()
        }
    }
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

    // SAFETY: the zone is mapped; every access to its tree and nodes is under its mutex.
    unsafe {
        let sh = &mut *cache.sh;
        ngx_shmtx_lock(&mut (*cache.shpool).mutex);
        let sentinel = sh.rbtree.sentinel;
        let mut node = sh.rbtree.root;
        let mut present = false;
        while node != sentinel {
            if node_key != (*node).key {
                node = if node_key < (*node).key {
                    (*node).left
                } else {
                    (*node).right
                };
                continue;
            }
            let fcn = &mut *node.cast::<ngx_http_file_cache_node_t>();
            match rest.cmp(&fcn.key[..]) {
                core::cmp::Ordering::Less => node = (*node).left,
                core::cmp::Ordering::Greater => node = (*node).right,
                core::cmp::Ordering::Equal => {
                    if fcn.exists() != 0 {
                        sh.size -= fcn.fs_size;
                        fcn.fs_size = 0;
                        fcn.set_exists(0);
                        present = true;
                    }
                    break;
                }
            }
        }
        ngx_shmtx_unlock(&mut (*cache.shpool).mutex);
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

/// The request's key: the complex value, or for the keyless form the `$microcache_key` of a
/// GET of the URI after the location prefix. `None` when the URI has no such form.
fn request_key(
    r: &mut ngx_http_request_t,
    conf: &PurgeConf,
) -> Result<Option<(Vec<u8>, bool)>, ()> {
    if !conf.key.is_null() {
        let mut value = ngx_str_t {
            len: 0,
            data: ptr::null_mut(),
        };
        // SAFETY: the complex value was compiled at configuration time.
        if unsafe { ngx_http_complex_value(r, conf.key, &mut value) } != NGX_OK as ngx_int_t {
            return Err(());
        }
        // SAFETY: the value lives in the request pool.
        return Ok(Some((unsafe { bytes(&value) }.to_vec(), true)));
    }
    let values = request::values(r).ok_or(())?;
    // SAFETY: request strings live in the request's buffers and pool.
    let (raw_path, location, args) = unsafe {
        (
            split_request_uri(bytes(&r.unparsed_uri)).0,
            bytes(&conf.location),
            bytes(&values.args),
        )
    };
    let Some(target) = keyless_target(location, raw_path) else {
        return Ok(None);
    };
    let (scheme, host) = (request::scheme(r), request::host(r));
    let mut out = Vec::with_capacity(scheme.len() + 3 + host.len() + target.len() + 1 + args.len());
    for part in [scheme, b"GET", host, target] {
        out.extend_from_slice(part);
    }
    if !args.is_empty() {
        out.push(b'?');
        out.extend_from_slice(args);
    }
    // A `*` ends a prefix only in the path; in a query it is just a byte.
    Ok(Some((out, args.is_empty())))
}

pub unsafe extern "C" fn handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    guard(r, || {
        // SAFETY: nginx passes a valid request to content handlers.
        let r = unsafe { &mut *r };
        if !method_is(r, &[b"GET", b"HEAD", b"PURGE"]) {
            return NGX_HTTP_NOT_ALLOWED as ngx_int_t;
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
        let (key, wildcards) = match request_key(r, conf) {
            Ok(Some(k)) => k,
            Ok(None) => return NGX_HTTP_BAD_REQUEST as ngx_int_t,
            Err(()) => return NGX_ERROR as ngx_int_t,
        };
        let target = if wildcards {
            PurgeTarget::parse(&key)
        } else {
            PurgeTarget::Key(&key)
        };
        let prefix = match target {
            PurgeTarget::Key(k) => {
                let result = purge_key(cache, k);
                return finish(r, &key, result.map(u64::from));
            }
            PurgeTarget::Prefix(p) => Some(p.to_vec()),
            PurgeTarget::All => None,
        };
        start_walk(r, cache, key.clone(), prefix)
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
    send_response(
        r,
        status as _,
        "application/json",
        purge_response(key, purged).as_bytes(),
    )
}

/// A prefix or zone purge in progress; lives in the request pool.
struct Walk {
    request: *mut ngx_http_request_t,
    cache: &'static ngx_http_file_cache_t,
    key: Vec<u8>,
    /// `None` purges everything.
    prefix: Option<Vec<u8>>,
    dirs: Vec<ReadDir>,
    purged: u64,
    error: Option<io::Error>,
    event: ngx_event_t,
}

fn start_walk(
    r: &mut ngx_http_request_t,
    cache: &'static ngx_http_file_cache_t,
    key: Vec<u8>,
    prefix: Option<Vec<u8>>,
) -> ngx_int_t {
    let (root, _) = cache_layout(cache);
    let dirs = match fs::read_dir(os_path(root)) {
        Ok(d) => vec![d],
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return finish(r, &key, Err(e)),
    };
    // SAFETY: the request pool outlives the walk, which finalizes the request when done.
    let pool = unsafe { Pool::from_ngx_pool(r.pool) };
    // SAFETY: a zeroed ngx_event_t is its initial state in nginx too.
    let event: ngx_event_t = unsafe { core::mem::zeroed() };
    let walk = pool.allocate(Walk {
        request: r,
        cache,
        key,
        prefix,
        dirs,
        purged: 0,
        error: None,
        event,
    });
    // SAFETY: allocate returns null or a valid, initialised, pool-owned Walk.
    let Some(walk) = (unsafe { walk.as_mut() }) else {
        return NGX_ERROR as ngx_int_t;
    };
    walk.event.handler = Some(walk_event);
    walk.event.data = ptr::from_mut(walk).cast();
    // SAFETY: the connection outlives the request.
    walk.event.log = unsafe { (*r.connection).log };
    // SAFETY: r->main is valid; the extra reference keeps the request alive until finalized.
    unsafe { (*r.main).set_count((*r.main).count() + 1) };
    post(&mut walk.event);
    NGX_DONE as ngx_int_t
}

/// Runs the event on the next turn of the event loop, after pending I/O.
fn post(ev: &mut ngx_event_t) {
    // SAFETY: the event lives in the request pool until the walk finalizes the request.
    unsafe { ngx_post_event(ev, ptr::addr_of_mut!(ngx_posted_next_events)) };
}

unsafe extern "C" fn walk_event(ev: *mut ngx_event_t) {
    // SAFETY: the event's data is the Walk that owns it.
    let walk = unsafe { &mut *(*ev).data.cast::<Walk>() };
    let r = walk.request;
    let rc = guard(r, || {
        if !walk.step() {
            post(&mut walk.event);
            return NGX_DONE as ngx_int_t;
        }
        let result = match walk.error.take() {
            Some(e) => Err(e),
            None => Ok(walk.purged),
        };
        // SAFETY: the request is alive: the walk holds a reference to it.
        finish(unsafe { &mut *r }, &walk.key, result)
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
    /// Handles up to ENTRIES_PER_TURN directory entries; true when the walk is over.
    fn step(&mut self) -> bool {
        let mut budget = ENTRIES_PER_TURN;
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
        if let Some(prefix) = &self.prefix {
            let stored = match read_stored_key(path) {
                Ok(Some(k)) => k,
                Ok(None) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            };
            if !stored.starts_with(prefix) {
                return Ok(());
            }
        }
        if purge_entry(self.cache, hash, path)? {
            self.purged += 1;
        }
        Ok(())
    }
}
