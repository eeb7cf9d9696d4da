//! `cargo bench -p microcache-core --bench hydrate`: rewriting a 20 KB shop page with the
//! mini-cart rules (a script, two texts, one attribute) against copying its bytes.
//!
//! The machine is shared, so each case is timed in this thread's CPU time, not wall time, and
//! the cases take turns: 31 rounds each run one batch (about 2 ms) of every case, and the median
//! round gives ns per page. A counting allocator gives allocations per page.

#[path = "../tests/page/mod.rs"]
mod page;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use lol_html::{HtmlRewriter, Settings};
use std::rc::Rc;

use microcache_core::hydrate::{PlanUse, Rewriter, Rules, State, DEFAULT_MAX_SIZE};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
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

/// This thread's CPU time in ns.
fn cpu_ns() -> u64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `t` is a valid timespec to write into.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

struct Case<'a> {
    name: &'static str,
    bytes: usize,
    call: Box<dyn FnMut() + 'a>,
    batch: u64,
    samples: Vec<f64>,
    allocations: usize,
}

fn run(cases: &mut [Case<'_>]) {
    // `cargo bench -p microcache-core --bench hydrate -- chunks` runs the cases naming "chunks".
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut cases: Vec<&mut Case<'_>> = cases
        .iter_mut()
        .filter(|c| filter.as_ref().is_none_or(|f| c.name.contains(f.as_str())))
        .collect();
    // A fixed number of calls and no timing, for instruction counts under callgrind:
    // `BENCH_CALLS=200 valgrind --tool=callgrind target/release/deps/hydrate-* one`.
    if let Some(calls) = std::env::var("BENCH_CALLS").ok().and_then(|n| n.parse::<u64>().ok()) {
        for case in &mut cases {
            (0..calls).for_each(|_| (case.call)());
        }
        return;
    }
    for case in &mut cases {
        loop {
            let t = cpu_ns();
            (0..case.batch).for_each(|_| (case.call)());
            if cpu_ns() - t > 2_000_000 {
                break;
            }
            case.batch *= 2;
        }
    }
    for _ in 0..31 {
        for case in &mut cases {
            let before = ALLOCATIONS.load(Ordering::Relaxed);
            let t = cpu_ns();
            (0..case.batch).for_each(|_| (case.call)());
            case.samples.push((cpu_ns() - t) as f64 / case.batch as f64);
            case.allocations += ALLOCATIONS.load(Ordering::Relaxed) - before;
        }
    }
    println!("| case                                                 |  bytes |  ns/page |    MB/s | allocs |");
    println!("|------------------------------------------------------|--------|----------|---------|--------|");
    for case in cases {
        case.samples.sort_by(f64::total_cmp);
        let ns = case.samples[case.samples.len() / 2];
        println!(
            "| {:<52} | {:>6} | {ns:>8.0} | {:>7.0} | {:>6.0} |",
            case.name,
            case.bytes,
            case.bytes as f64 / ns * 1e3,
            case.allocations as f64 / (case.samples.len() as u64 * case.batch) as f64
        );
    }
}

fn case<'a>(name: &'static str, bytes: usize, call: impl FnMut() + 'a) -> Case<'a> {
    Case { name, bytes, call: Box::new(call), batch: 1, samples: Vec::new(), allocations: 0 }
}

fn main() {
    let page = page::shop_page(page::PRODUCTS_20_KB);
    let page = page.as_bytes();
    let rules = page::mini_cart_rules();
    let state = page::mini_cart_state();
    let state_json = br#"{"cart":{"count":3,"count_text":"3 articles","total":"59,70 \u20ac","items":[{"name":"Chapeau n\u00b01","qty":2},{"name":"Chapeau n\u00b07","qty":1}]},"user":{"greeting":"Bonjour"}}"#;
    let utf8 = Some(&b"utf-8"[..]);
    let mut script_only = Rules::default();
    script_only.set_script(b"__MICROCACHE_STATE__").unwrap();
    let mut one_text = Rules::default();
    one_text.add_text(b"a.cart-contents .count", b"cart.count_text").unwrap();
    let variant = |count: &[u8], amount: &[u8], link: &[u8]| {
        let mut rules = Rules::default();
        rules.set_script(b"__MICROCACHE_STATE__").unwrap();
        rules.add_text(count, b"cart.count_text").unwrap();
        rules.add_text(amount, b"cart.total").unwrap();
        rules.add_attr(link, b"data-count", b"{cart.count}").unwrap();
        rules
    };
    // The same page with ids on the mini-cart's elements, for the id selectors.
    let page_with_ids = String::from_utf8(page.to_vec())
        .unwrap()
        .replacen("<a class=\"cart-contents\"", "<a id=\"cart\" class=\"cart-contents\"", 1)
        .replacen("<span class=\"count\"", "<span id=\"cart-count\" class=\"count\"", 1)
        .replacen(
            "<span class=\"woocommerce-Price-amount amount\"><bdi>0,00",
            "<span id=\"cart-amount\" class=\"woocommerce-Price-amount amount\"><bdi>0,00",
            1,
        );
    let by_id = variant(b"#cart-count", b"#cart-amount", b"#cart");
    let tag_qualified =
        variant(b"a.cart-contents span.count", b"a.cart-contents span.amount", b"a.cart-contents");
    let by_class = variant(b".count", b".amount", b".cart-contents");
    let nothing_renders = {
        let mut rules = Rules::default();
        rules.add_text(b"a.cart-contents .count", b"missing").unwrap();
        rules
    };
    let out = std::cell::RefCell::new(Vec::with_capacity(page.len() * 2));
    let run_page = |page: &[u8], rules: &Rules, charset: Option<&[u8]>, chunk: usize, plan| {
        let out = &mut *out.borrow_mut();
        out.clear();
        let mut rewriter = Rewriter::new(rules, &state, charset, plan).unwrap();
        for piece in black_box(page).chunks(chunk) {
            rewriter.write(piece, |b| out.extend_from_slice(b));
        }
        rewriter.end(|b| out.extend_from_slice(b));
        rewriter
    };
    let hydrate_page = |page: &[u8], rules: &Rules, charset: Option<&[u8]>, chunk: usize| {
        run_page(page, rules, charset, chunk, PlanUse::Off);
    };
    let hydrate = |rules: &Rules, charset: Option<&[u8]>, chunk: usize| {
        hydrate_page(page, rules, charset, chunk)
    };
    let plan = Rc::new(
        run_page(page, &rules, utf8, page.len(), PlanUse::Record).take_plan().expect("a plan"),
    );
    let n = page.len();
    run(&mut [
        case("copy the page (the plain HIT's body work)", n, || {
            let out = &mut *out.borrow_mut();
            out.clear();
            out.extend_from_slice(black_box(page));
        }),
        case("hydrate, one write, charset from Content-Type", n, || hydrate(&rules, utf8, n)),
        case("replay the plan (page seen before), one write", n, || {
            run_page(page, &rules, utf8, n, PlanUse::Replay(plan.clone()));
        }),
        case("replay the plan, 4 KB chunks", n, || {
            run_page(page, &rules, utf8, 4096, PlanUse::Replay(plan.clone()));
        }),
        case("record a plan (first response of a page), one write", n, || {
            run_page(page, &rules, utf8, n, PlanUse::Record);
        }),
        case("hydrate, one write, charset from <meta>", n, || hydrate(&rules, None, n)),
        case("hydrate, 4 KB chunks", n, || hydrate(&rules, utf8, 4096)),
        case("hydrate, 1 KB chunks", n, || hydrate(&rules, utf8, 1024)),
        case("same, tag-qualified (a.cart-contents span.count)", n, || {
            hydrate(&tag_qualified, utf8, n)
        }),
        case("same, selectors by class alone (.count)", n, || hydrate(&by_class, utf8, n)),
        case("same, selectors by id alone (#id, three elements)", n, || {
            hydrate_page(page_with_ids.as_bytes(), &by_id, utf8, n)
        }),
        case("no field renders (the page is copied)", n, || hydrate(&nothing_renders, utf8, n)),
        case("script rule only, one write", n, || hydrate(&script_only, utf8, n)),
        case("one descendant-selector text rule only, one write", n, || {
            hydrate(&one_text, utf8, n)
        }),
        case("lol_html with no handlers (parse cost), one write", n, || {
            let out = &mut *out.borrow_mut();
            out.clear();
            let settings = Settings::new().with_strict(false);
            let mut html = HtmlRewriter::new(settings, |b: &[u8]| out.extend_from_slice(b));
            html.write(black_box(page)).unwrap();
            html.end().unwrap();
        }),
        case("Rewriter::new alone (per-response set-up)", 0, || {
            black_box(Rewriter::new(&rules, &state, utf8, PlanUse::Off).unwrap());
        }),
        case("State::parse of the mini-cart state", state_json.len(), || {
            black_box(State::parse(black_box(state_json), DEFAULT_MAX_SIZE).unwrap());
        }),
    ]);
}
