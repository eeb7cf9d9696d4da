//! The request path allocates nothing: the nginx module gives it pool memory, once.

use microcache_core::skip::RequestFacts;
use microcache_core::{normalise, ArgRules, GlobSet, SkipRules};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;

#[test]
fn normalising_and_judging_a_request_does_not_allocate() {
    let sorted = ArgRules { sort: true, ..ArgRules::default() };
    let skip = SkipRules {
        cookies: GlobSet::new(["wordpress_logged_in_*", "wp-postpass_*"]),
        args: GlobSet::new(["add-to-cart", "rest_route"]),
        ..SkipRules::default()
    };
    // Names PHP reads differently from their bytes take the slow paths.
    let query = b"p=1&utm_source=x&%67clid=2&b[]=1&a=%ZZ&&s=shoes&+gclid=1&rest[route=/&x.y=1";
    let headers =
        [(&b"cookie"[..], &b"a=1; \x0bwordpress[logged_in_x=1"[..]), (b"user-agent", b"curl")];
    let mut args = [0u8; 128];
    let mut stripped = [0u8; 128];
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
