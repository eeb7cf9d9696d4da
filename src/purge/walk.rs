//! Prefix and zone purges: a walk of the cache directory, a bounded amount of work per timer
//! tick so a large cache never stalls the worker. The walk lives in the request pool; dropping
//! it (when the request ends, however it ends) takes its timer out of nginx's timer tree.
//!
//! The timer is not cancelable: a worker told to quit finishes the purge first. A
//! `worker_shutdown_timeout` shorter than the walk cuts it off; the error log says so.

use core::ptr;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use nginx_sys::{
    ngx_add_timer, ngx_del_timer, ngx_event_t, ngx_http_finalize_request, ngx_http_request_t,
    ngx_http_run_posted_requests, ngx_int_t, NGX_LOG_WARN,
};
use ngx::core::Status;
use ngx::http::Request;
use ngx::ngx_log_error;

use super::answer::answer;
use super::target::{Scope, Target};
use crate::cache::file::read_stored_key;
use crate::cache::walk::{DirWalk, Step};
use crate::cache::FileCache;
use crate::guard::guard;
use crate::respond::internal_error;

/// Work per timer tick: at most this many directory entries, and at most this long. The time
/// bound is what matters on a disk cache, where one unlink can take far longer than on tmpfs.
const ENTRIES_PER_TICK: usize = 256;
const TIME_PER_TICK: Duration = Duration::from_millis(1);
/// The pause between ticks, in which the worker serves other events.
const TICK_INTERVAL_MS: usize = 1;

struct PurgeWalk {
    request: *mut ngx_http_request_t,
    cache: FileCache,
    target: Target,
    files: DirWalk,
    started: Instant,
    purged: u64,
    error: Option<io::Error>,
    finished: bool,
    event: ngx_event_t,
}

/// Starts a walk for `target`; the request is answered when it ends.
pub fn start(r: &mut Request, cache: FileCache, target: Target, started: Instant) -> ngx_int_t {
    let files = match DirWalk::new(cache.root()) {
        Ok(files) => files,
        Err(e) => return answer(r, &target.shown, started, Err(e)),
    };
    let walk = PurgeWalk {
        request: r.as_mut(),
        cache,
        target,
        files,
        started,
        purged: 0,
        error: None,
        finished: false,
        // SAFETY: a zeroed ngx_event_t is its initial state in nginx too.
        event: unsafe { core::mem::zeroed() },
    };
    // SAFETY: the pool outlives the walk, and runs its Drop when destroyed.
    let Some(walk) = (unsafe { r.pool().allocate(walk).as_mut() }) else {
        return internal_error(r, format_args!("cannot allocate a purge walk"));
    };
    walk.event.handler = Some(tick);
    walk.event.data = ptr::from_mut(walk).cast();
    walk.event.log = r.log();
    let main = r.as_ref().main;
    // SAFETY: r->main is valid; the extra reference keeps the request until it is finalized.
    unsafe { (*main).set_count((*main).count() + 1) };
    // SAFETY: the event lives in the pool until Drop removes its timer.
    unsafe { ngx_add_timer(&mut walk.event, TICK_INTERVAL_MS) };
    Status::NGX_DONE.into()
}

impl Drop for PurgeWalk {
    fn drop(&mut self) {
        if self.event.timer_set() != 0 {
            // SAFETY: the timer was added by this walk and is removed before its event goes.
            unsafe { ngx_del_timer(&mut self.event) };
        }
        if !self.finished {
            ngx_log_error!(
                NGX_LOG_WARN,
                self.event.log,
                "microcache: purge of \"{}\" stopped before the end of the cache directory \
                 ({} entries purged): the request ended first, e.g. at worker_shutdown_timeout",
                self.target.shown.escape_ascii(),
                self.purged
            );
        }
    }
}

unsafe extern "C" fn tick(ev: *mut ngx_event_t) {
    // SAFETY: the event's data is the walk that owns it, alive while its timer is set.
    let walk = unsafe { &mut *(*ev).data.cast::<PurgeWalk>() };
    // SAFETY: the walk holds a reference to its request, so the request is alive.
    let r = unsafe { Request::from_ngx_http_request(walk.request) };
    let rc = guard(r.log(), || {
        if !walk.step() {
            // SAFETY: as in start.
            unsafe { ngx_add_timer(&mut walk.event, TICK_INTERVAL_MS) };
            return Status::NGX_DONE.into();
        }
        walk.finished = true;
        let result = walk.error.take().map_or(Ok(walk.purged), Err);
        answer(r, &walk.target.shown, walk.started, result)
    });
    if rc == ngx_int_t::from(Status::NGX_DONE) {
        return;
    }
    // SAFETY: finalizing drops the reference taken in start; the connection outlives it.
    unsafe {
        let c = r.connection();
        ngx_http_finalize_request(r.as_mut(), rc);
        ngx_http_run_posted_requests(c);
    }
}

impl PurgeWalk {
    /// One tick's work; true when the walk is over.
    fn step(&mut self) -> bool {
        let deadline = Instant::now() + TIME_PER_TICK;
        for _ in 0..ENTRIES_PER_TICK {
            match self.files.next() {
                None => return true,
                Some(Step::File(path, hash)) => {
                    if let Err(e) = self.consider(&path, &hash) {
                        self.error.get_or_insert(e);
                    }
                }
                Some(Step::Error(e)) => {
                    self.error.get_or_insert(e);
                }
                Some(Step::Other) => {}
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        false
    }

    fn consider(&mut self, path: &Path, hash: &[u8; 16]) -> io::Result<()> {
        if let Scope::Prefixes(prefixes) = &self.target.scope {
            let stored = match read_stored_key(path) {
                Ok(Some(k)) => k,
                Ok(None) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            };
            if !prefixes.iter().any(|p| stored.starts_with(p)) {
                return Ok(());
            }
        }
        self.purged += u64::from(self.cache.remove(hash, path)?);
        Ok(())
    }
}
