//! Counters in shared memory, exact across worker processes and kept over `nginx -s reload`.
//!
//! The zone is reused on reload because its name, size and tag (this module) do not change; its
//! counters are plain atomics, so workers never take a lock to count.

use core::ffi::c_void;
use core::mem::size_of;
use core::sync::atomic::{AtomicU64, Ordering};

use microcache_core::batch::PurgeMode;
use microcache_core::purge_stats::{latency_bucket, PurgeKind, PurgeStats, LATENCY_BUCKETS};
use microcache_core::report::{PurgeOutcome, Snapshot};
use microcache_core::SkipReason;
use nginx_sys::{
    ngx_conf_t, ngx_int_t, ngx_shared_memory_add, ngx_shm_zone_t, ngx_slab_calloc, ngx_slab_pool_t,
    ngx_str_t, NGX_LOG_EMERG,
};
use ngx::core::Status;
use ngx::{ngx_log_error, ngx_string};

use crate::list::elements;
use crate::litespeed::OriginCounters;
use crate::ngx_http_microcache_module;

const ZONE_NAME: ngx_str_t = ngx_string!("microcache_counters");
const ZONE_SIZE: usize = 64 * 1024;

#[repr(C)]
pub struct Counters {
    /// Requests in a `microcache on` scope.
    pub requests: AtomicU64,
    /// Requests whose query the normaliser changed.
    pub rewritten: AtomicU64,
    /// Query segments removed.
    pub stripped_args: AtomicU64,
    /// Requests that skip the cache, by [`SkipReason::index`].
    pub skips: [AtomicU64; SkipReason::ALL.len()],
    /// Purge requests, by [`PurgeOutcome`].
    pub purges: [AtomicU64; PurgeOutcome::ALL.len()],
    /// Cache entries removed by purges.
    pub purged_entries: AtomicU64,
    /// Entries purged, by [`PurgeKind::index`] then [`PurgeMode::index`].
    pub purged_by: [[AtomicU64; PurgeMode::ALL.len()]; PurgeKind::ALL.len()],
    /// Purge requests by [`latency_bucket`], and their total time.
    pub purge_latency: [AtomicU64; LATENCY_BUCKETS],
    pub purge_latency_sum_us: AtomicU64,
    /// What origins said about storing and purging.
    pub origin: OriginCounters,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// A request in a `microcache on` scope.
    pub fn request(&self, changed: bool, stripped: usize, skip: Option<SkipReason>) {
        Self::add(&self.requests, 1);
        Self::add(&self.rewritten, u64::from(changed));
        Self::add(&self.stripped_args, stripped as u64);
        if let Some(reason) = skip {
            Self::add(&self.skips[reason.index()], 1);
        }
    }

    /// A purge request: how it ended, what it purged by kind, and how long it took.
    pub fn purge(
        &self,
        outcome: PurgeOutcome,
        mode: PurgeMode,
        by_kind: impl Iterator<Item = (PurgeKind, u64)>,
        elapsed_us: u64,
    ) {
        Self::add(&self.purges[outcome.index()], 1);
        for (kind, entries) in by_kind {
            Self::add(&self.purged_entries, entries);
            Self::add(&self.purged_by[kind.index()][mode.index()], entries);
        }
        Self::add(&self.purge_latency[latency_bucket(elapsed_us)], 1);
        Self::add(&self.purge_latency_sum_us, elapsed_us);
    }

    pub fn snapshot(&self) -> Snapshot {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            requests: read(&self.requests),
            rewritten: read(&self.rewritten),
            stripped_args: read(&self.stripped_args),
            skips: self.skips.each_ref().map(read),
            purges: self.purges.each_ref().map(read),
            purged_entries: read(&self.purged_entries),
        }
    }

    pub fn purge_stats(&self) -> PurgeStats {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        PurgeStats {
            purged: self.purged_by.each_ref().map(|modes| modes.each_ref().map(read)),
            latency: self.purge_latency.each_ref().map(read),
            latency_sum_us: read(&self.purge_latency_sum_us),
        }
    }
}

/// Declares the zone; called once per configuration cycle.
pub fn add_zone(cf: &mut ngx_conf_t) -> Result<*mut ngx_shm_zone_t, String> {
    let module = core::ptr::addr_of_mut!(ngx_http_microcache_module).cast::<c_void>();
    // SAFETY: the cycle's zone list holds ngx_shm_zone_t, valid while it is configured.
    let mut zones = unsafe { elements::<ngx_shm_zone_t>(&(*cf.cycle).shared_memory) };
    if zones.any(|z| z.shm.name.as_bytes() == ZONE_NAME.as_bytes() && z.tag != module) {
        return Err(format!(
            "the shared memory zone \"{}\" is used by ngx_http_microcache_module for its \
             counters: give the other zone another name",
            String::from_utf8_lossy(ZONE_NAME.as_bytes())
        ));
    }
    let mut name = ZONE_NAME;
    // SAFETY: cf is the configuration being parsed; the tag is this module's static, whose
    // address stays the same over a reload, which is what lets the zone be reused.
    let zone = unsafe { ngx_shared_memory_add(cf, &mut name, ZONE_SIZE, module) };
    // SAFETY: a non-null zone returned by ngx_shared_memory_add is valid for the cycle.
    let zone_ref = unsafe { zone.as_mut() }.ok_or("cannot add the counters zone")?;
    zone_ref.init = Some(init_zone);
    Ok(zone)
}

/// Counters of the running cycle, once the zone is mapped.
pub fn get(zone: *mut ngx_shm_zone_t) -> Option<&'static Counters> {
    // SAFETY: the zone pointer comes from add_zone; its data is set by init_zone before any
    // request runs and stays mapped for the life of the cycle.
    unsafe { zone.as_ref()?.data.cast::<Counters>().as_ref() }
}

unsafe extern "C" fn init_zone(zone: *mut ngx_shm_zone_t, data: *mut c_void) -> ngx_int_t {
    // SAFETY: nginx calls init with the zone it maps.
    let zone = unsafe { &mut *zone };
    if !data.is_null() {
        // Reload: keep the previous cycle's counters.
        zone.data = data;
        return Status::NGX_OK.into();
    }
    let pool = zone.shm.addr.cast::<ngx_slab_pool_t>();
    // SAFETY: nginx initialised the slab pool at the start of the zone; the allocation is
    // zeroed, which is a valid state for atomics.
    let counters = unsafe { ngx_slab_calloc(pool, size_of::<Counters>()) };
    if counters.is_null() {
        let log = ngx::log::ngx_cycle_log().as_ptr();
        ngx_log_error!(NGX_LOG_EMERG, log, "microcache: cannot allocate the counters");
        return Status::NGX_ERROR.into();
    }
    zone.data = counters;
    Status::NGX_OK.into()
}
