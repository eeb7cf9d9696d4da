//! Memory per response does not grow with the page: the live heap of a rewrite, measured by a
//! counting allocator, peaks at the same height for a 20 KB and a 4 MB page fed in 1 KB chunks.

mod page;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use microcache_core::hydrate::{PlanUse, Rewriter, MEMORY_LIMIT, PLAN_MAX_PAGE};

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn grow(by: isize) {
    // try_with: the allocator also serves thread start-up and tear-down.
    let _ = LIVE.try_with(|live| {
        live.set(live.get() + by);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
    });
}

// SAFETY: forwards to the system allocator; tracks this thread's live bytes and their peak.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size() as isize);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        grow(-(layout.size() as isize));
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grow(new_size as isize - layout.size() as isize);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The highest the live heap rose above its level at the start while rewriting `page`, and
/// the number of bytes that came out.
fn peak_heap(page: &[u8], plan: PlanUse) -> (usize, usize) {
    let (rules, state) = (page::mini_cart_rules(), page::mini_cart_state());
    let start = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(start));
    let mut rewriter = Rewriter::new(&rules, &state, Some(b"utf-8"), plan).unwrap();
    let mut emitted = 0;
    for chunk in page.chunks(1024) {
        rewriter.write(chunk, |out| emitted += out.len());
    }
    let summary = rewriter.end(|out| emitted += out.len());
    assert!(summary.script_inserted && summary.bailed_out.is_none());
    drop(rewriter);
    assert_eq!(LIVE.with(Cell::get), start, "the rewriter leaks");
    (PEAK.with(Cell::get).abs_diff(start), emitted)
}

#[test]
fn memory_per_response_does_not_grow_with_the_page() {
    let small = page::shop_page(page::PRODUCTS_20_KB);
    let large = page::shop_page(page::PRODUCTS_20_KB * 250);
    assert!(large.len() > 4_000_000);
    let (small_peak, small_out) = peak_heap(small.as_bytes(), PlanUse::Off);
    let (large_peak, large_out) = peak_heap(large.as_bytes(), PlanUse::Off);
    println!(
        "peak heap: {} KB page {small_peak} B, {} KB page {large_peak} B",
        small.len() / 1000,
        large.len() / 1000
    );
    assert!(small_out > small.len() && large_out > large.len());
    // The same height, within the slack of where a chunk happens to cut a tag.
    assert!(large_peak <= small_peak + 4096, "{large_peak} vs {small_peak}");
    assert!(large_peak < MEMORY_LIMIT / 4, "{large_peak}");
}

#[test]
fn recording_a_plan_gives_up_past_its_limit() {
    let large = page::shop_page(page::PRODUCTS_20_KB * 250);
    let (peak, _) = peak_heap(large.as_bytes(), PlanUse::Record);
    println!("peak heap recording a {} KB page: {peak} B", large.len() / 1000);
    // The page and its rewrite, each up to the limit (a vector may double past it once).
    assert!(peak < 3 * PLAN_MAX_PAGE, "{peak}");
}
