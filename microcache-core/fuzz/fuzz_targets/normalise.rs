//! Any bytes as query, cookies and path, under a fixed set of rule configurations built once:
//! nothing panics and the normaliser keeps its invariants. (Configuration parsing has its own
//! target, `config`: compiling rules per input would cost more than the rest together.)
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use microcache_core::config::{parse_name_globs, parse_uri_rule};
use microcache_core::php::{cookie_name, cookie_names};
use microcache_core::query::{DEFAULT_MAX_ARGS, MAX_ARGS_LIMIT};
use microcache_core::{normalise, ArgRules, GlobSet, RequestFacts, SkipRules};

/// One location's rules.
struct Config {
    args: ArgRules,
    skip: SkipRules,
}

fn globs(patterns: &str) -> GlobSet {
    let words: Vec<&[u8]> = patterns.split(' ').map(str::as_bytes).collect();
    parse_name_globs(&words, true).expect("valid patterns")
}

/// Every combination of a strip list, a keep list, sorting and a segment limit, with skip rules
/// that exercise each kind of pattern.
fn configs() -> Vec<Config> {
    let strips = ["default", "off", "* a", "*a*a*a*b *_* x*y z", "default ref aff a_b"];
    let keeps = [None, Some("a* p *[] _"), Some("*")];
    let uri =
        parse_uri_rule(&[b"/wp-admin/", br"~*^/(cart|checkout)/", br"~\d+\.\w+$", br"~\bx\s"])
            .expect("valid regexes");
    let mut configs = Vec::new();
    for strip in strips {
        for keep in keeps {
            for sort in [false, true] {
                for max_args in [1, 3, DEFAULT_MAX_ARGS, MAX_ARGS_LIMIT] {
                    configs.push(Config {
                        args: ArgRules {
                            strip: globs(strip),
                            keep: keep.map(globs),
                            sort,
                            max_args,
                        },
                        skip: SkipRules {
                            uri: uri.clone(),
                            cookies: globs("wordpress_logged_in_* wp-postpass_* *session* a"),
                            args: globs("add-to-cart rest_route *preview* a_b"),
                            ..SkipRules::default()
                        },
                    });
                }
            }
        }
    }
    configs
}

static CONFIGS: OnceLock<Vec<Config>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    // Layout: a byte choosing the configuration, then query \0 cookie-header \0 path.
    let Some((&choice, rest)) = data.split_first() else { return };
    let configs = CONFIGS.get_or_init(configs);
    let config = &configs[usize::from(choice) % configs.len()];
    let mut parts = rest.splitn(3, |&c| c == 0);
    let (query, cookie, path) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );

    let mut args = vec![0; query.len()];
    let mut stripped = vec![0; query.len()];
    let out = normalise(query, &config.args, &config.skip.args, &mut args, &mut stripped);
    assert!(out.args_len <= query.len() && out.stripped_len <= query.len());
    if !out.limited {
        let args = &args[..out.args_len];
        let mut again = vec![0; args.len()];
        let mut again_stripped = vec![0; args.len()];
        let second =
            normalise(args, &config.args, &config.skip.args, &mut again, &mut again_stripped);
        assert!(!second.changed && second.stripped == 0, "not idempotent");
        assert_eq!(&again[..second.args_len], args);
        assert_eq!(second.bypass, out.bypass);
    }

    let headers = [(&b"cookie"[..], cookie), (&b"authorization"[..], path)];
    let facts =
        RequestFacts { method: b"GET", uri: path, headers: headers.into_iter(), has_body: false };
    let _ = config.skip.evaluate(&facts, &out);
    for raw in cookie_names(cookie) {
        assert!(!raw.contains(&b';'));
        let _ = cookie_name(raw).map(|n| n.decoded().count());
    }
});
