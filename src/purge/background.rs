//! Purges that responses asked for (`X-LiteSpeed-Purge`, `microcache_purge_header`), carried
//! out apart from any request: the first turn runs at once, in the response's header filter,
//! so a small purge is done before the response is; the rest wait in the worker's queue. One
//! timer serves the queue, one job's turn per tick, in turn, so the work per event-loop turn
//! stays bounded however many responses purge. At most [`MAX_QUEUED`] wait; a purge beyond
//! that is dropped, counted and logged.
//!
//! Each ends with the purge log line of a purge request and the same counters. The timer is
//! not cancelable: a worker told to quit finishes its queue first, unless
//! `worker_shutdown_timeout` ends it.

use core::cell::RefCell;
use core::ptr;
use std::collections::VecDeque;

use nginx_sys::{ngx_add_timer, ngx_event_t, ngx_log_t, ngx_shm_zone_t, NGX_LOG_WARN};
use ngx::ngx_log_error;

use super::answer::record;
use super::job::{Job, TURN_INTERVAL_MS};
use crate::counters;

/// Purges waiting for their next turn, at most.
const MAX_QUEUED: usize = 1024;

/// A purge a response asked for.
pub struct ResponsePurge {
    pub job: Job,
    /// The error log of the response's location (configuration memory).
    pub log: *mut ngx_log_t,
    pub counters: *mut ngx_shm_zone_t,
    /// The request line of the response's request, for the log.
    pub by: Vec<u8>,
}

impl ResponsePurge {
    fn finish(mut self) {
        let counters = counters::get(self.counters);
        record(self.log, counters, &self.job.outcome(), Some(&self.by));
    }
}

struct Queue {
    waiting: VecDeque<ResponsePurge>,
    event: ngx_event_t,
}

thread_local! {
    /// The worker's queue; boxed, so its event stays where nginx's timer tree points.
    static QUEUE: RefCell<Option<Box<Queue>>> = const { RefCell::new(None) };
}

/// Runs a purge's first turn now and queues the rest. False when it had to be dropped.
pub fn start(mut asked: ResponsePurge) -> bool {
    if asked.job.turn() {
        asked.finish();
        return true;
    }
    QUEUE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let queue = slot.get_or_insert_with(|| {
            let mut queue = Box::new(Queue {
                waiting: VecDeque::new(),
                // SAFETY: a zeroed ngx_event_t is its initial state in nginx too.
                event: unsafe { core::mem::zeroed() },
            });
            queue.event.handler = Some(next_turn);
            queue.event.log = ngx::log::ngx_cycle_log().as_ptr();
            queue
        });
        if queue.waiting.len() >= MAX_QUEUED {
            ngx_log_error!(
                NGX_LOG_WARN,
                asked.log,
                "microcache: purge asked by the response to \"{}\" dropped: {MAX_QUEUED} purges \
                 are waiting already ({} entries purged)",
                asked.by.escape_ascii(),
                asked.job.purged()
            );
            return false;
        }
        queue.waiting.push_back(asked);
        if queue.event.timer_set() == 0 {
            // SAFETY: the event lives in the boxed queue for the life of the worker.
            unsafe { ngx_add_timer(ptr::from_mut(&mut queue.event), TURN_INTERVAL_MS) };
        }
        true
    })
}

unsafe extern "C" fn next_turn(_ev: *mut ngx_event_t) {
    let turn = std::panic::catch_unwind(|| {
        QUEUE.with(|cell| {
            let mut slot = cell.borrow_mut();
            let Some(queue) = slot.as_mut() else {
                return;
            };
            if let Some(mut asked) = queue.waiting.pop_front() {
                match asked.job.turn() {
                    true => asked.finish(),
                    false => queue.waiting.push_back(asked),
                }
            }
            if !queue.waiting.is_empty() {
                // SAFETY: as in start.
                unsafe { ngx_add_timer(ptr::from_mut(&mut queue.event), TURN_INTERVAL_MS) };
            }
        })
    });
    if turn.is_err() {
        let log = ngx::log::ngx_cycle_log().as_ptr();
        ngx_log_error!(
            nginx_sys::NGX_LOG_ALERT,
            log,
            "microcache: internal error (panic) in a background purge"
        );
    }
}
