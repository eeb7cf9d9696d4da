//! `microcache_index ZONE`: the cache index of a file cache zone, in a shared memory zone of its
//! own. The index itself (layout, operations, limits) is `microcache_core::index`; this is where
//! it lives in nginx: the zone, its lock, and which cache it indexes.
//!
//! The zone is named `microcache_index:ZONE`. nginx keeps a zone's memory over `nginx -s
//! reload` when its name, size and tag (this module) stay the same, so the index survives a
//! reload; after a restart it is empty and rebuilt from the cache files ([`crate::rebuild`]).

use core::ffi::c_void;
use core::ptr;

use microcache_core::index::{random_seed, Index};
use nginx_sys::{
    ngx_conf_t, ngx_int_t, ngx_shared_memory_add, ngx_shm_zone_t, ngx_slab_alloc_locked,
    ngx_slab_pool_t, ngx_str_t, NGX_LOG_EMERG,
};
use ngx::core::slab::LockedSlabPool;
use ngx::core::{SlabPool, Status};
use ngx::ngx_log_error;

use crate::cache::{CacheZone, FileCache};
use crate::ngx_http_microcache_module;

/// Where the index region is, stored in the zone itself (the zone's `data`).
#[repr(C)]
struct Shared {
    region: *mut u8,
    len: usize,
}

/// The index of one cache zone.
pub struct CacheIndex {
    /// The cache zone's name, as `microcache_index` names it.
    cache_name: &'static [u8],
    shm: *mut ngx_shm_zone_t,
    /// Resolved in postconfiguration, once every cache zone is declared.
    cache: Option<CacheZone>,
}

impl CacheIndex {
    /// Declares the index zone of the cache zone `cache_name`.
    pub fn add(
        cf: &mut ngx_conf_t,
        cache_name: &'static [u8],
        size: usize,
    ) -> Result<CacheIndex, String> {
        let name = [b"microcache_index:", cache_name].concat();
        let mut name_str = ngx_str_t { len: name.len(), data: name.as_ptr().cast_mut() };
        let module = ptr::addr_of_mut!(ngx_http_microcache_module).cast::<c_void>();
        // SAFETY: cf is the configuration being parsed; nginx copies the name into the cycle's
        // pool; the tag is this module's static, the same over a reload.
        let shm = unsafe { ngx_shared_memory_add(cf, &mut name_str, size, module) };
        // SAFETY: a non-null zone returned by ngx_shared_memory_add lives for the cycle.
        let zone = unsafe { shm.as_mut() }.ok_or("cannot add the index zone")?;
        if !zone.data.is_null() {
            return Err(format!(
                "the cache zone \"{}\" has an index already",
                String::from_utf8_lossy(cache_name)
            ));
        }
        zone.init = Some(init_zone);
        // Marks the zone as declared here until init replaces it with the region's place.
        zone.data = ptr::NonNull::<Shared>::dangling().as_ptr().cast();
        Ok(CacheIndex { cache_name, shm, cache: None })
    }

    /// Finds the cache zone; called in postconfiguration.
    pub fn resolve(&mut self, cf: &ngx_conf_t) -> Result<(), String> {
        self.cache = Some(CacheZone::find(cf, self.cache_name, "microcache_index")?);
        Ok(())
    }

    pub fn cache_name(&self) -> &'static [u8] {
        self.cache_name
    }

    /// The cache it indexes.
    pub fn cache(&self) -> Option<FileCache> {
        self.cache?.cache()
    }

    /// Whether this is the index of `cache`.
    pub fn indexes(&self, cache: &FileCache) -> bool {
        self.cache().is_some_and(|c| ptr::eq(c.raw(), cache.raw()))
    }

    /// The index, locked until the guard drops. Hold it briefly: every other worker's stores
    /// and purges of this cache wait for it.
    pub fn lock(&self) -> Option<Locked> {
        // SAFETY: the zone lives for the cycle; init_zone set its data to the Shared record.
        let zone = unsafe { self.shm.as_ref()? };
        // SAFETY: a mapped zone starts with its slab pool.
        let pool = unsafe { SlabPool::from_shm_zone(zone)? };
        // SAFETY: init_zone stored a Shared record (in the zone) as the zone's data.
        let shared = unsafe { zone.data.cast::<Shared>().as_ref()? };
        let guard = pool.lock();
        // SAFETY: the region is `len` bytes of the zone, only touched under this lock.
        let mem = unsafe { core::slice::from_raw_parts_mut(shared.region, shared.len) };
        Some(Locked { _guard: guard, mem })
    }

    /// Whether the cache entry `id` exists: what the index asks before it drops a record.
    pub fn alive(cache: &FileCache) -> impl FnMut(&[u8; 16]) -> bool + '_ {
        move |id| cache.has_entry(id)
    }
}

/// The locked index region.
pub struct Locked {
    _guard: LockedSlabPool,
    mem: &'static mut [u8],
}

impl Locked {
    /// The index, formatted first if the region holds none (or an interrupted change). None
    /// only if the region were too small, which init_zone rules out.
    pub fn index(&mut self) -> Option<Index<'_>> {
        Index::attach(self.mem, random_seed()).ok().map(|(index, _)| index)
    }
}

/// Maps the index: on a reload, the previous cycle's region with its index; else a region of
/// all the zone's free pages, formatted on first use.
unsafe extern "C" fn init_zone(zone: *mut ngx_shm_zone_t, data: *mut c_void) -> ngx_int_t {
    // SAFETY: nginx calls init with the zone it maps.
    let zone = unsafe { &mut *zone };
    if !data.is_null() {
        zone.data = data;
        return Status::NGX_OK.into();
    }
    let pool = zone.shm.addr.cast::<ngx_slab_pool_t>();
    // SAFETY: nginx initialised the slab pool at the start of the zone; no worker runs yet.
    let (shared, region, len) = unsafe {
        let pages = (*pool).pfree;
        let page = 1usize << nginx_sys::ngx_pagesize_shift;
        let shared = ngx_slab_alloc_locked(pool, core::mem::size_of::<Shared>()).cast::<Shared>();
        // What remains after the record's page, as one run of whole pages.
        let len = (pages - 1) * page;
        let region = ngx_slab_alloc_locked(pool, len).cast::<u8>();
        (shared, region, len)
    };
    let log = ngx::log::ngx_cycle_log().as_ptr();
    if shared.is_null() || region.is_null() || len < Index::min_len() {
        ngx_log_error!(
            NGX_LOG_EMERG,
            log,
            "microcache: zone \"{}\" is too small for an index",
            zone.shm.name.as_bytes().escape_ascii()
        );
        return Status::NGX_ERROR.into();
    }
    // SAFETY: fresh slab memory for the record.
    unsafe { shared.write(Shared { region, len }) };
    zone.data = shared.cast();
    Status::NGX_OK.into()
}
