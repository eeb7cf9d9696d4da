//! Recorded rewrites of cached pages (README "microcache_hydrate", plans): one per cache entry
//! and location, in each worker, the least recently used dropped first.
//!
//! A cached page is the same bytes for every visitor, so its first hydrated response records a
//! plan and later ones replay it by copying instead of parsing. The key names the entry as
//! nginx has it on disk; the plan itself compares the page with its copy, so a key that outlives
//! its entry can only cost a parse.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use microcache_core::hydrate::{Plan, PlanUse, PLAN_MAX_PAGE};
use nginx_sys::{ngx_http_request_t, NGX_HTTP_CACHE_KEY_LEN};

use crate::conf::Settings;
use crate::request::bits;

/// Memory for plans in one worker.
const BUDGET: usize = 32 * 1024 * 1024;
/// Plans in one worker.
const MAX_PLANS: usize = 4096;

/// A cache entry (its key's MD5, and the file's inode, length, date and body offset) as one
/// location's rules rewrite it (the address of the location's settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PlanKey {
    location: usize,
    key: [u8; NGX_HTTP_CACHE_KEY_LEN as usize],
    uniq: u64,
    length: i64,
    date: i64,
    body_start: usize,
}

impl PlanKey {
    /// The key of the response `r` sends from the cache, if it is small enough to record.
    pub fn of(r: &ngx_http_request_t, settings: &Settings) -> Option<PlanKey> {
        if !bits::cached(r) {
            return None;
        }
        // SAFETY: a request answered from the cache has its cache context in the pool.
        let c = unsafe { r.cache.as_ref()? };
        let page = usize::try_from(c.length).ok()?.checked_sub(c.body_start)?;
        (page <= PLAN_MAX_PAGE).then_some(PlanKey {
            location: core::ptr::from_ref(settings) as usize,
            key: c.key,
            uniq: c.uniq,
            length: c.length,
            date: c.date,
            body_start: c.body_start,
        })
    }
}

struct Slot {
    plan: Rc<Plan>,
    used: u64,
}

#[derive(Default)]
struct Plans {
    slots: HashMap<PlanKey, Slot>,
    /// Keys by last use.
    order: BTreeMap<u64, PlanKey>,
    clock: u64,
    bytes: usize,
}

thread_local! {
    static PLANS: RefCell<Plans> = RefCell::new(Plans::default());
}

impl Plans {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn remove(&mut self, key: &PlanKey) {
        if let Some(slot) = self.slots.remove(key) {
            self.order.remove(&slot.used);
            self.bytes -= slot.plan.size();
        }
    }
}

/// How to rewrite the response of the entry `key`: replay its plan, or record one.
pub fn lookup(key: &PlanKey) -> PlanUse {
    PLANS.with_borrow_mut(|plans| {
        let now = plans.tick();
        let Some(slot) = plans.slots.get_mut(key) else {
            return PlanUse::Record;
        };
        let used = core::mem::replace(&mut slot.used, now);
        let plan = slot.plan.clone();
        plans.order.remove(&used);
        plans.order.insert(now, *key);
        PlanUse::Replay(plan)
    })
}

/// Keeps the plan recorded for `key`, dropping the least recently used ones beyond the budget.
pub fn store(key: PlanKey, plan: Plan) {
    PLANS.with_borrow_mut(|plans| {
        plans.remove(&key);
        let size = plan.size();
        if size > BUDGET {
            return;
        }
        while plans.bytes + size > BUDGET || plans.slots.len() >= MAX_PLANS {
            let Some((_, oldest)) = plans.order.pop_first() else { break };
            plans.remove(&oldest);
        }
        let used = plans.tick();
        plans.bytes += size;
        plans.order.insert(used, key);
        plans.slots.insert(key, Slot { plan: Rc::new(plan), used });
    })
}
