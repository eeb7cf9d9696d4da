//! Keeping the indexes true in the background, in every worker, a bounded amount of work per
//! timer tick: after a restart one worker reads the cache files back into the empty index
//! (purges walk the cache directory until it is done); every worker sweeps out the records of
//! entries the cache manager removed (`inactive`, `max_size`), so they never fill the index.

use core::ptr;
use std::time::{Duration, Instant};

use microcache_core::index::{Id, Replace, State};
use microcache_core::tags::TagHeaders;
use nginx_sys::{
    ngx_add_timer, ngx_cycle_t, ngx_event_t, ngx_pid, ngx_time, NGX_LOG_INFO, NGX_LOG_NOTICE,
};
use ngx::core::Pool;
use ngx::ngx_log_error;

use crate::cache::file::read_head;
use crate::cache::walk::{DirWalk, Step};
use crate::index::CacheIndex;

/// Between sweeps, and how many records one looks at.
const SWEEP_INTERVAL_MS: usize = 1000;
const SWEEP_BUDGET: usize = 512;
/// A rebuild's pace: files read per tick (then inserted under one lock), time per tick, and
/// the pause between ticks.
const REBUILD_FILES_PER_TICK: usize = 64;
const REBUILD_TIME_PER_TICK: Duration = Duration::from_millis(1);
const REBUILD_INTERVAL_MS: usize = 1;
/// A rebuild whose owner has not reported for this long (it died) is taken over.
const REBUILD_LEASE_SECS: u64 = 30;

struct Upkeep {
    index: &'static CacheIndex,
    /// The tag headers a rebuild reads from the cache files.
    tag_headers: TagHeaders,
    /// The rebuild this worker owns, if any: its generation and where the walk is.
    rebuild: Option<(u64, DirWalk)>,
    event: ngx_event_t,
}

/// Starts the upkeep of every index in this worker; called from init_process.
pub fn start(cycle: &ngx_cycle_t, indexes: &'static [CacheIndex], tag_headers: &TagHeaders) {
    // SAFETY: the cycle's pool lives as long as the worker.
    let pool = unsafe { Pool::from_ngx_pool(cycle.pool) };
    for index in indexes {
        let upkeep = Upkeep {
            index,
            tag_headers: tag_headers.clone(),
            rebuild: None,
            // SAFETY: a zeroed ngx_event_t is its initial state in nginx too.
            event: unsafe { core::mem::zeroed() },
        };
        // SAFETY: the pool outlives the worker's event loop.
        let Some(upkeep) = (unsafe { pool.allocate(upkeep).as_mut() }) else {
            continue;
        };
        upkeep.event.handler = Some(tick);
        upkeep.event.data = ptr::from_mut(upkeep).cast();
        upkeep.event.log = cycle.log;
        // A worker that is told to quit does not wait for it.
        upkeep.event.set_cancelable(1);
        // SAFETY: the event lives in the cycle pool for the worker's life.
        unsafe { ngx_add_timer(&mut upkeep.event, REBUILD_INTERVAL_MS) };
    }
}

unsafe extern "C" fn tick(ev: *mut ngx_event_t) {
    // SAFETY: the event's data is the Upkeep that owns it, in the cycle pool.
    let upkeep = unsafe { &mut *(*ev).data.cast::<Upkeep>() };
    let next = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| upkeep.tick()))
        .unwrap_or(SWEEP_INTERVAL_MS);
    // SAFETY: as above; re-armed for the next tick.
    unsafe { ngx_add_timer(&mut upkeep.event, next) };
}

impl Upkeep {
    /// One tick; returns the delay to the next.
    fn tick(&mut self) -> usize {
        let Some(cache) = self.index.cache() else {
            return SWEEP_INTERVAL_MS;
        };
        let now = u64::try_from(ngx_time()).unwrap_or(0);
        if self.rebuild.is_none() {
            let Some(mut locked) = self.index.lock() else {
                return SWEEP_INTERVAL_MS;
            };
            let Some(mut index) = locked.index() else {
                return SWEEP_INTERVAL_MS;
            };
            let owner = pid();
            if index.state() != State::Ready {
                if let Some(generation) = index.claim_rebuild(owner, now, REBUILD_LEASE_SECS) {
                    drop(locked);
                    match DirWalk::new(cache.root()) {
                        Ok(walk) => {
                            self.log(NGX_LOG_NOTICE, "rebuilding the index from the cache files");
                            self.rebuild = Some((generation, walk));
                        }
                        Err(e) => self.log(NGX_LOG_NOTICE, &format!("cannot rebuild: {e}")),
                    }
                    return REBUILD_INTERVAL_MS;
                }
                return SWEEP_INTERVAL_MS;
            }
            index.sweep(SWEEP_BUDGET, &mut CacheIndex::alive(&cache));
            return SWEEP_INTERVAL_MS;
        }
        self.rebuild_step(now)
    }

    /// Reads a few cache files and indexes them; the next delay.
    fn rebuild_step(&mut self, now: u64) -> usize {
        let Some((generation, walk)) = self.rebuild.as_mut() else {
            return SWEEP_INTERVAL_MS;
        };
        let deadline = Instant::now() + REBUILD_TIME_PER_TICK;
        let mut read: Vec<(Id, Vec<u8>, Vec<Vec<u8>>)> = Vec::new();
        let mut done = false;
        while read.len() < REBUILD_FILES_PER_TICK && Instant::now() < deadline {
            match walk.next() {
                None => {
                    done = true;
                    break;
                }
                Some(Step::File(path, id)) => {
                    let Ok(Some(head)) = read_head(&path, true) else {
                        continue;
                    };
                    let Some(key) = head.key() else {
                        continue;
                    };
                    let mut scratch = Vec::new();
                    let tags = head.tags(&self.tag_headers, &mut scratch);
                    let tags = tags.as_slice().iter().map(|t| t.to_vec()).collect();
                    read.push((id, key.to_vec(), tags));
                }
                Some(_) => {}
            }
        }
        let generation = *generation;
        let Some(cache) = self.index.cache() else {
            return SWEEP_INTERVAL_MS;
        };
        let Some(mut locked) = self.index.lock() else {
            return SWEEP_INTERVAL_MS;
        };
        let Some(mut index) = locked.index() else {
            return SWEEP_INTERVAL_MS;
        };
        if !index.rebuild_beat(pid(), generation, now) {
            drop(locked);
            self.rebuild = None;
            return SWEEP_INTERVAL_MS;
        }
        let mut alive = CacheIndex::alive(&cache);
        for (id, key, tags) in &read {
            let tags: Vec<&[u8]> = tags.iter().map(Vec::as_slice).collect();
            let _ = index.insert(id, key, &tags, Replace::IfAbsent, &mut alive);
        }
        if !done {
            return REBUILD_INTERVAL_MS;
        }
        let finished = index.finish_rebuild(pid(), generation);
        let stats = index.stats();
        drop(locked);
        self.rebuild = None;
        if finished {
            let message = format!(
                "index rebuilt: {} entries{}",
                stats.entries,
                if stats.overflowed { ", overflowed: purges walk" } else { "" }
            );
            self.log(NGX_LOG_INFO, &message);
        }
        SWEEP_INTERVAL_MS
    }

    fn log(&self, level: u32, message: &str) {
        ngx_log_error!(
            level,
            self.event.log,
            "microcache: \"{}\": {message}",
            self.index.cache_name().escape_ascii()
        );
    }
}

fn pid() -> u64 {
    // SAFETY: ngx_pid is set once when the process starts.
    u64::try_from(unsafe { ngx_pid }).unwrap_or(0)
}
