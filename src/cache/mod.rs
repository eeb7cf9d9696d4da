//! nginx's file cache — the zones `fastcgi_cache_path` / `proxy_cache_path` declare: finding a
//! zone by name, where its entries' files are, and removing entries from shared memory
//! ([`node`]) and disk. Reading cache files is [`file`]; walking the cache directory is
//! [`walk`].

pub mod file;
pub mod node;
pub mod walk;

use core::ffi::{c_void, CStr};
use core::ptr;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use microcache_core::purge::cache_file_path;
use nginx_sys::{ngx_conf_t, ngx_cycle_t, ngx_http_file_cache_t, ngx_shm_zone_t};

use crate::list::elements;

/// The modules whose `*_cache_path` directive declares file cache zones; a zone's tag is its
/// module. Looked up by name, so the module loads into an nginx built without some of them.
const CACHE_MODULES: [&[u8]; 4] = [
    b"ngx_http_fastcgi_module",
    b"ngx_http_proxy_module",
    b"ngx_http_scgi_module",
    b"ngx_http_uwsgi_module",
];

/// A file cache zone of the running configuration.
#[derive(Clone, Copy, Debug)]
pub struct CacheZone(*mut ngx_shm_zone_t);

impl CacheZone {
    /// The file cache zone called `name` among the zones of the cycle being configured; errors
    /// name `directive`.
    pub fn find(cf: &ngx_conf_t, name: &[u8], directive: &str) -> Result<CacheZone, String> {
        // SAFETY: cf->cycle is the cycle being configured.
        Self::find_in(unsafe { &*cf.cycle }, name, directive)
    }

    /// The file cache zone called `name` in `cycle`.
    pub fn find_in(cycle: &ngx_cycle_t, name: &[u8], directive: &str) -> Result<CacheZone, String> {
        let shown = String::from_utf8_lossy(name);
        // SAFETY: the cycle's zone list holds ngx_shm_zone_t.
        let mut zones = unsafe { elements::<ngx_shm_zone_t>(&cycle.shared_memory) };
        let zone = zones.find(|z| z.shm.name.as_bytes() == name).ok_or_else(|| {
            format!("unknown cache zone \"{shown}\" in \"{directive}\" directive")
        })?;
        if !is_cache_module(cycle, zone.tag) || zone.data.is_null() {
            return Err(format!(
                "zone \"{shown}\" in \"{directive}\" directive is not a fastcgi_cache_path or \
                 proxy_cache_path zone"
            ));
        }
        Ok(CacheZone(ptr::from_ref(zone).cast_mut()))
    }

    /// The cache, once configured.
    pub fn cache(&self) -> Option<FileCache> {
        // SAFETY: `find` checked this is a file cache zone, whose data is the cache; it lives as
        // long as the configuration cycle.
        unsafe { self.0.as_ref()?.data.cast::<ngx_http_file_cache_t>().as_ref().map(FileCache) }
    }

    pub fn name(&self) -> &[u8] {
        // SAFETY: the zone and its name live as long as the configuration cycle.
        unsafe { (*self.0).shm.name.as_bytes() }
    }
}

/// Whether `tag` is one of the modules whose zones are file caches.
fn is_cache_module(cycle: &ngx_cycle_t, tag: *mut c_void) -> bool {
    // SAFETY: the cycle's module table has modules_n entries, each a valid module with a
    // NUL-terminated name.
    let modules = unsafe { core::slice::from_raw_parts(cycle.modules, cycle.modules_n) };
    modules.iter().any(|&m| {
        // SAFETY: as above.
        let name = unsafe { CStr::from_ptr((*m).name) }.to_bytes();
        m.cast::<c_void>() == tag && CACHE_MODULES.contains(&name)
    })
}

/// A configured file cache.
#[derive(Clone, Copy)]
pub struct FileCache(&'static ngx_http_file_cache_t);

impl FileCache {
    pub fn of(cache: &'static ngx_http_file_cache_t) -> FileCache {
        FileCache(cache)
    }

    pub fn raw(&self) -> &'static ngx_http_file_cache_t {
        self.0
    }

    /// The cache's root directory.
    pub fn root(&self) -> &'static Path {
        // SAFETY: the cache path is configuration memory.
        os_path(unsafe { (*self.0.path).name.as_bytes() })
    }

    /// Where nginx keeps the entry with this hash.
    pub fn file_path(&self, hash: &[u8; 16]) -> PathBuf {
        // SAFETY: the cache path is configuration memory.
        let path = unsafe { &*self.0.path };
        let bytes = cache_file_path(path.name.as_bytes(), &path.level, hash);
        PathBuf::from(OsStr::from_bytes(&bytes))
    }

    /// Whether the entry is in the cache. Its node in the zone says, except after a start:
    /// nginx's cache loader gives the files on disk their nodes only a minute or more later,
    /// and until it is done (the zone is "cold") an entry on disk may have no node yet. Its
    /// file says then.
    pub fn has_entry(&self, hash: &[u8; 16]) -> bool {
        node::exists(self, hash) || (self.is_cold() && self.file_path(hash).exists())
    }

    fn is_cold(&self) -> bool {
        // SAFETY: the zone's shared part lives as long as the cache; `cold` is a word that
        // nginx's loader clears, read without the zone's lock as nginx itself does.
        unsafe { ptr::read_volatile(ptr::addr_of!((*self.0.sh).cold)) != 0 }
    }

    /// Removes an entry: its node in shared memory is marked absent (as nginx does before it
    /// deletes an entry) and its file unlinked. `Ok(true)` when this call unlinked the file, so
    /// concurrent purges of one entry count it once.
    pub fn remove(&self, hash: &[u8; 16], file: &Path) -> io::Result<bool> {
        node::forget(self, hash);
        match std::fs::remove_file(file) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

pub fn os_path(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}
