//! Any bytes as directive arguments and as the page: compiling rules names the bad value or
//! succeeds, nothing panics, the output does not depend on where the page is cut into chunks,
//! and replaying a plan recorded from the page, or from the page with its end cut off, gives
//! what parsing gives.
#![no_main]

use std::rc::Rc;

use libfuzzer_sys::fuzz_target;
use microcache_core::hydrate::{Plan, PlanUse, Rewriter, Rules, State, Summary};

fn rewrite(
    rules: &Rules,
    state: &State,
    page: &[u8],
    sizes: &[u8],
    plan: PlanUse,
) -> (Vec<u8>, Summary, Option<Plan>) {
    let mut rewriter = Rewriter::new(rules, state, Some(b"utf-8"), plan).unwrap();
    let mut out = Vec::new();
    let mut rest = page;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(usize::from(size).clamp(1, rest.len()));
        rewriter.write(chunk, |b| out.extend_from_slice(b));
        rest = tail;
    }
    let summary = rewriter.end(|b| out.extend_from_slice(b));
    (out, summary, rewriter.take_plan())
}

fuzz_target!(|data: &[u8]| {
    // Layout: chunk sizes \0 selector \0 attribute \0 template \0 page.
    let mut parts = data.splitn(5, |&c| c == 0);
    let (sizes, selector, attr, template, page) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let sizes = if sizes.is_empty() { &[1][..] } else { sizes };
    let mut rules = Rules::default();
    rules.set_script(b"S").unwrap();
    for result in [
        rules.add_text(selector, template),
        rules.add_attr(selector, attr, template),
        rules.add_text(b"p, #n, a.c span", b"v"),
        rules.add_attr(b"a, img", b"data-v", b"/{v}"),
    ] {
        if let Err(e) = result {
            assert!(!e.reason.is_empty());
        }
    }
    let state = State::parse(br#"{"v":"<\"'&\u2028>","w":{"x":[1,null]}}"#, 1000).unwrap();
    let (whole, whole_summary, plan) = rewrite(&rules, &state, page, &[u8::MAX], PlanUse::Record);
    let (chunked, chunked_summary, _) = rewrite(&rules, &state, page, sizes, PlanUse::Off);
    assert_eq!((&whole, &whole_summary), (&chunked, &chunked_summary));

    if let Some(plan) = plan.map(Rc::new) {
        let (replayed, summary, _) =
            rewrite(&rules, &state, page, sizes, PlanUse::Replay(plan.clone()));
        assert_eq!((replayed, summary), (whole, whole_summary));
        let cut = &page[..page.len().saturating_sub(usize::from(sizes[0]))];
        let parsed = rewrite(&rules, &state, cut, sizes, PlanUse::Off);
        let replayed = rewrite(&rules, &state, cut, sizes, PlanUse::Replay(plan));
        assert_eq!((replayed.0, replayed.1), (parsed.0, parsed.1));
    }
});
