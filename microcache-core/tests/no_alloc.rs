//! The request path allocates nothing: the nginx module gives it pool memory, once.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use microcache_core::skip::RequestFacts;
use microcache_core::{normalise, ArgRules, GlobSet, SkipRules};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; counts this thread's calls while enabled.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    COUNT.with(Cell::get)
}

#[test]
fn normalising_and_judging_a_request_does_not_allocate() {
    let sorted = ArgRules { sort: true, ..ArgRules::default() };
    let skip = SkipRules {
        cookies: GlobSet::new(["wordpress_logged_in_*", "wp-postpass_*"]),
        ..SkipRules::default()
    };
    let query = b"p=1&utm_source=x&%67clid=2&b[]=1&a=%ZZ&&s=shoes";
    let headers =
        [(&b"cookie"[..], &b"a=1; wordpress.logged_in_x=1"[..]), (b"user-agent", b"curl")];
    let mut args = [0u8; 64];
    let mut stripped = [0u8; 64];
    for rules in [ArgRules::default(), sorted] {
        let n = allocations(|| {
            let out = normalise(query, &rules, &skip.args, &mut args, &mut stripped);
            let facts = RequestFacts {
                method: b"GET",
                uri: b"/x",
                headers: headers.iter().copied(),
                has_body: false,
            };
            assert!(skip.evaluate(&facts, &out).is_some());
        });
        assert_eq!(n, 0, "sort: {}", rules.sort);
    }
}
