//! Any bytes as directive arguments: parsing accepts them or names the value at fault.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microcache_core::config::{
    parse_header_globs, parse_max_args, parse_methods, parse_name_globs, parse_uri_rule, ConfError,
};

fuzz_target!(|data: &[u8]| {
    let words: Vec<&[u8]> = data.split(|&c| c == b' ').collect();
    let names_the_value = |e: ConfError| {
        assert!(
            e.value == data || words.contains(&&e.value[..]) || e.kind == "regex",
            "error names no argument: {e:?}"
        );
        assert!(!e.message("microcache_x").is_empty());
    };
    let results = [
        parse_name_globs(&words, true).map(drop),
        parse_name_globs(&words, false).map(drop),
        parse_header_globs(&words).map(drop),
        parse_methods(&words).map(drop),
        parse_uri_rule(&words).map(|rule| {
            let _ = rule.matches(data);
        }),
        parse_max_args(data).map(drop),
    ];
    for result in results {
        if let Err(e) = result {
            names_the_value(e);
        }
    }
});
