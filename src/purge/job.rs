//! Carrying a purge out, a bounded amount of work per event-loop turn so a large purge never
//! stalls the worker: the first turn runs at once, the rest on a timer. A purge request is
//! answered when its job ends ([`start`]); a purge a response asked for runs in the background
//! (`background.rs`) with the same [`Job`].
//!
//! Each target is purged through the cache index when one is ready for this cache — in time
//! proportional to what it matches — or else by one walk of the cache directory for all the
//! targets that need it. Without an index, a page's `GET` and `HEAD` entries are removed by
//! name. A hard purge deletes entries (unindexing them first: a response stored again
//! meanwhile is indexed again, never wrongly unindexed); a soft one marks them expired.
//!
//! A request's job lives in the request pool; dropping it (when the request ends, however it
//! ends) takes its timer out of nginx's timer tree. The timer is not cancelable: a worker told
//! to quit finishes the purge first, unless `worker_shutdown_timeout` ends the request earlier,
//! which the error log then says.

use core::ptr;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use microcache_core::batch::PurgeMode;
use microcache_core::index::{Cursor, Id, Index, Select as IndexSelect};
use microcache_core::key::{is_variant_of, variants_prefix};
use microcache_core::purge::key_hash;
use microcache_core::report::IndexUse;
use microcache_core::tags::{TagHeaders, TagSet};
use nginx_sys::{
    ngx_add_timer, ngx_del_timer, ngx_delete_posted_event, ngx_event_t, ngx_http_finalize_request,
    ngx_http_request_t, ngx_http_run_posted_requests, ngx_int_t, ngx_post_event,
    ngx_posted_next_events, ngx_time, time_t, NGX_LOG_WARN,
};
use ngx::core::Status;
use ngx::http::Request;
use ngx::ngx_log_error;

use super::answer::{answer, Outcome};
use super::target::{Select, Target};
use crate::cache::walk::{DirWalk, Step};
use crate::cache::{file, node, FileCache};
use crate::guard::guard;
use crate::index::CacheIndex;
use crate::respond::internal_error;

/// Work per turn: at most this many steps (entries purged, directory entries read, index
/// batches taken), and at most this long. The time bound is what matters on a disk cache,
/// where one unlink can take far longer than on tmpfs.
const STEPS_PER_TURN: usize = 256;
const TIME_PER_TURN: Duration = Duration::from_millis(1);
/// A job's timer keeps a worker that is told to quit alive until the purge ends (nginx waits
/// for non-cancelable timers); between turns the job is a posted event.
const KEEPALIVE_MS: usize = 1000;
/// The pause between turns of the purges responses ask for (their queue's timer).
pub const TURN_INTERVAL_MS: usize = 1;
/// Entries taken from the index at once (the index lock is held meanwhile).
const INDEX_BATCH: usize = 64;

/// How one target is purged.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Way {
    Index,
    Walk,
    /// Without an index: the `GET` and `HEAD` entries, by the name their key hashes to.
    ByName,
}

/// What a job is asked to do.
pub struct Purge {
    pub cache: FileCache,
    pub index: Option<&'static CacheIndex>,
    pub mode: PurgeMode,
    pub targets: Vec<Target>,
    /// A single page or key purge: the answer names the key too.
    pub key: Option<Vec<u8>>,
    /// The tag headers, to read a cache file's tags when walking.
    pub tag_headers: TagHeaders,
}

/// A purge's work, done a turn at a time.
pub struct Job {
    purge: Purge,
    ways: Vec<Way>,
    purged: Vec<u64>,
    /// The index selections still to take: target, and what selects.
    selections: Vec<(usize, Vec<u8>, SelectKind)>,
    cursor: Cursor,
    /// Selected entries not yet purged, with their target.
    pending: Vec<(usize, Id)>,
    walk: Option<DirWalk>,
    used: IndexUse,
    expired: time_t,
    started: Instant,
    error: Option<io::Error>,
}

/// A purge request's job: the request is answered when it ends.
struct ForRequest {
    request: *mut ngx_http_request_t,
    job: Job,
    finished: bool,
    event: ngx_event_t,
}

#[derive(Clone, Copy)]
enum SelectKind {
    Key,
    Prefix,
    Tag,
}

/// Starts a purge request's job; returns the answer's status, or `NGX_DONE` when it goes on
/// on a timer.
pub fn start(r: &mut Request, purge: Purge) -> ngx_int_t {
    let mut job = Job::new(purge);
    if job.turn() {
        return answer(r, &job.outcome());
    }
    let job = ForRequest {
        request: r.as_mut(),
        job,
        finished: false,
        // SAFETY: a zeroed ngx_event_t is its initial state in nginx too.
        event: unsafe { core::mem::zeroed() },
    };
    // SAFETY: the pool outlives the job, and runs its Drop when destroyed.
    let Some(job) = (unsafe { r.pool().allocate(job).as_mut() }) else {
        return internal_error(r, format_args!("cannot allocate a purge"));
    };
    job.event.handler = Some(next_turn);
    job.event.data = ptr::from_mut(job).cast();
    job.event.log = r.log();
    let main = r.as_ref().main;
    // SAFETY: r->main is valid; the extra reference keeps the request until it is finalized.
    unsafe { (*main).set_count((*main).count() + 1) };
    job.schedule();
    Status::NGX_DONE.into()
}

impl Drop for ForRequest {
    fn drop(&mut self) {
        if self.event.timer_set() != 0 {
            // SAFETY: the timer was added by this job and is removed before its event goes.
            unsafe { ngx_del_timer(&mut self.event) };
        }
        if self.event.posted() != 0 {
            // SAFETY: the event was posted by this job and leaves the queue before it goes.
            unsafe { ngx_delete_posted_event(&mut self.event) };
        }
        if !self.finished {
            ngx_log_error!(
                NGX_LOG_WARN,
                self.event.log,
                "microcache: purge stopped before it was done ({} entries purged): the request \
                 ended first, e.g. at worker_shutdown_timeout",
                self.job.purged()
            );
        }
    }
}

impl ForRequest {
    /// The next turn comes once the worker has served the events that are ready: the event is
    /// posted to run after the next round of them.
    fn schedule(&mut self) {
        // SAFETY: the event lives in the pool until Drop takes it out of the queue and the
        // timer tree.
        unsafe {
            if self.event.posted() == 0 {
                ngx_post_event(&mut self.event, ptr::addr_of_mut!(ngx_posted_next_events));
            }
            if self.event.timer_set() == 0 {
                ngx_add_timer(&mut self.event, KEEPALIVE_MS);
            }
        }
    }
}

unsafe extern "C" fn next_turn(ev: *mut ngx_event_t) {
    // SAFETY: the event's data is the job that owns it, alive while its timer is set.
    let bound = unsafe { &mut *(*ev).data.cast::<ForRequest>() };
    // SAFETY: the job holds a reference to its request, so the request is alive.
    let r = unsafe { Request::from_ngx_http_request(bound.request) };
    let rc = guard(r.log(), || {
        if !bound.job.turn() {
            bound.schedule();
            return Status::NGX_DONE.into();
        }
        bound.finished = true;
        answer(r, &bound.job.outcome())
    });
    if rc == Status::NGX_DONE.0 {
        return;
    }
    // SAFETY: finalizing drops the reference taken in start; the connection outlives it.
    unsafe {
        let c = r.connection();
        ngx_http_finalize_request(r.as_mut(), rc);
        ngx_http_run_posted_requests(c);
    }
}

impl Job {
    /// A planned purge; a purge that cannot be planned ends at its first turn, with the error.
    pub fn new(purge: Purge) -> Job {
        let mut job = Job {
            ways: Vec::new(),
            purged: vec![0; purge.targets.len()],
            selections: Vec::new(),
            cursor: Cursor::default(),
            pending: Vec::new(),
            walk: None,
            used: IndexUse::Used,
            expired: ngx_time() - 1,
            started: Instant::now(),
            error: None,
            purge,
        };
        if let Err(e) = job.plan() {
            job.error = Some(e);
            job.selections.clear();
            job.pending.clear();
            job.walk = None;
        }
        job
    }

    /// Entries purged so far.
    pub fn purged(&self) -> u64 {
        self.purged.iter().sum()
    }

    /// Decides how each target is purged. A hard purge of the whole zone empties the index
    /// first, so responses stored during the walk are indexed again.
    fn plan(&mut self) -> io::Result<()> {
        let index = self.purge.index;
        let mut locked = index.and_then(CacheIndex::lock);
        let mut index = locked.as_mut().and_then(|l| l.index());
        let usable = index.as_ref().is_some_and(Index::usable);
        let hard = self.purge.mode == PurgeMode::Hard;
        for (t, target) in self.purge.targets.iter().enumerate() {
            let way = match (&target.select, usable) {
                (Select::All, _) => Way::Walk,
                (_, true) => Way::Index,
                (Select::Keys(_), false) if self.purge.index.is_none() => Way::ByName,
                _ => Way::Walk,
            };
            match (&target.select, way) {
                (Select::All, _) if hard => {
                    if let Some(index) = index.as_mut() {
                        index.clear();
                    }
                }
                (Select::Keys(keys), Way::Index) => {
                    for k in keys {
                        self.selections.push((t, k.clone(), SelectKind::Key));
                        self.selections.push((t, variants_prefix(k), SelectKind::Prefix));
                    }
                }
                (Select::Prefixes(ps), Way::Index) => {
                    ps.iter()
                        .for_each(|p| self.selections.push((t, p.clone(), SelectKind::Prefix)));
                }
                (Select::Tag(tag), Way::Index) => {
                    self.selections.push((t, tag.clone(), SelectKind::Tag));
                }
                (Select::Keys(keys), Way::ByName) => {
                    keys.iter().for_each(|k| self.pending.push((t, key_hash(k))));
                }
                _ => {}
            }
            self.ways.push(way);
        }
        drop(locked);
        self.pending.reverse();
        if self.ways.contains(&Way::Walk) {
            self.used = IndexUse::Walk;
            self.walk = Some(DirWalk::new(self.purge.cache.root())?);
        } else if self.purge.index.is_none() {
            self.used = IndexUse::None;
        }
        Ok(())
    }

    /// One turn's work; true when the job is done.
    pub fn turn(&mut self) -> bool {
        let deadline = Instant::now() + TIME_PER_TURN;
        for _ in 0..STEPS_PER_TURN {
            if !self.step() {
                return true;
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        false
    }

    /// One step; false when nothing is left.
    fn step(&mut self) -> bool {
        if let Some((t, id)) = self.pending.pop() {
            let path = self.purge.cache.file_path(&id);
            match self.purge_entry(&id, &path) {
                Ok(purged) => self.purged[t] += u64::from(purged),
                Err(e) => {
                    self.mark_incomplete();
                    self.error.get_or_insert(e);
                }
            }
            return true;
        }
        if !self.selections.is_empty() {
            self.take_from_index();
            return true;
        }
        let Some(walk) = self.walk.as_mut() else {
            return false;
        };
        match walk.next() {
            None => self.walk = None,
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
        true
    }

    /// Takes the next batch of the first selection from the index: unindexed for a hard
    /// purge, read with a cursor for a soft one.
    fn take_from_index(&mut self) {
        let (t, what, kind) = &self.selections[0];
        let select = match kind {
            SelectKind::Key => IndexSelect::Key(what),
            SelectKind::Prefix => IndexSelect::Prefix(what),
            SelectKind::Tag => IndexSelect::Tag(what),
        };
        let mut ids = Vec::new();
        let done = match self.purge.index.and_then(CacheIndex::lock) {
            None => true,
            Some(mut locked) => match (locked.index(), self.purge.mode) {
                (None, _) => true,
                (Some(mut index), PurgeMode::Hard) => index.drain(select, INDEX_BATCH, &mut ids),
                (Some(index), PurgeMode::Soft) => {
                    index.collect(select, &mut self.cursor, INDEX_BATCH, &mut ids)
                }
            },
        };
        let t = *t;
        self.pending.extend(ids.into_iter().rev().map(|id| (t, id)));
        if done {
            self.selections.remove(0);
            self.cursor = Cursor::default();
        }
    }

    /// A file met by the walk: purged for the first walked target that selects it.
    fn consider(&mut self, path: &Path, hash: &[u8; 16]) -> io::Result<()> {
        let walked =
            || self.ways.iter().enumerate().filter(|(_, w)| **w == Way::Walk).map(|(t, _)| t);
        let needs_key = walked().any(|t| !matches!(self.purge.targets[t].select, Select::All));
        let needs_tags = walked().any(|t| matches!(self.purge.targets[t].select, Select::Tag(_)));
        let head = match needs_key {
            false => None,
            true => match file::read_head(path, needs_tags) {
                Ok(Some(head)) => Some(head),
                Ok(None) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            },
        };
        let key = head.as_ref().and_then(|h| h.key()).unwrap_or_default();
        let mut scratch = Vec::new();
        let tags = match head.as_ref().filter(|_| needs_tags) {
            Some(head) => head.tags(&self.purge.tag_headers, &mut scratch),
            None => TagSet::default(),
        };
        let selects = |target: &Target| match &target.select {
            Select::All => true,
            Select::Keys(keys) => keys.iter().any(|k| k.as_slice() == key || is_variant_of(key, k)),
            Select::Prefixes(ps) => ps.iter().any(|p| key.starts_with(p)),
            Select::Tag(tag) => tags.as_slice().contains(&tag.as_slice()),
        };
        let Some(t) = walked().find(|&t| selects(&self.purge.targets[t])) else {
            return Ok(());
        };
        let purged = self.purge_entry(hash, path)?;
        self.purged[t] += u64::from(purged);
        Ok(())
    }

    /// Deletes or expires one entry; true when it was there.
    fn purge_entry(&self, id: &Id, path: &Path) -> io::Result<bool> {
        match self.purge.mode {
            PurgeMode::Hard => self.purge.cache.remove(id, path),
            PurgeMode::Soft => {
                node::expire(&self.purge.cache, id, self.expired);
                file::expire(path, self.expired)
            }
        }
    }

    /// An entry could not be deleted after the index let it go: the index no longer knows
    /// every entry, and purges walk until it is rebuilt or emptied.
    fn mark_incomplete(&self) {
        if let Some(mut locked) = self.purge.index.and_then(CacheIndex::lock) {
            if let Some(mut index) = locked.index() {
                index.mark_incomplete();
            }
        }
    }

    /// How the purge went; called once it is done.
    pub fn outcome(&mut self) -> Outcome<'_> {
        let result = self.error.take().map_or(Ok(()), Err);
        Outcome {
            key: self.purge.key.as_deref(),
            mode: self.purge.mode,
            targets: self.purge.targets.iter().zip(&self.purged).map(|(t, n)| (t, *n)).collect(),
            index: self.used,
            elapsed: self.started.elapsed(),
            result,
        }
    }
}
