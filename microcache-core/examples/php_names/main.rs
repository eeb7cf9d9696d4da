//! Differential test of the crate's model of PHP's names against the real PHP
//! (`make test-php-names`).
//!
//! Generates query strings and `Cookie` headers from a seeded random generator, with bytes that
//! PHP treats specially (`[ ] . + space %xx \v \f \t \r \n # = & ;`) around real cookie and
//! argument names, and compares PHP's names with the crate's (see `oracle.rs`). Raw NUL bytes are
//! left out: nginx refuses them in the request line and in headers (a decoded `%00` is in).
//!
//! `cargo run --release -p microcache-core --example php_names -- [--seconds N] [--seed N]`
//! prints the number of cases and every kind of mismatch with examples; it exits 1 on any.

mod oracle;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use oracle::{check, show, Case, Mismatch, Php};

/// Examples shown for each kind of mismatch.
const EXAMPLES: usize = 5;

/// SplitMix64: small, seedable, good enough to pick bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Real names, and pieces of names PHP reads specially.
const WORDS: &[&str] = &[
    "wordpress_logged_in_",
    "wp-postpass_",
    "woocommerce_items_in_cart",
    "add-to-cart",
    "rest_route",
    "utm_source",
    "gclid",
    "__Host-",
    "__Secure-",
    "a",
    "b",
    "_",
    "-",
    "0",
    "1",
];
const SPECIAL: &[&str] = &[
    "[", "]", "[]", ".", "+", " ", "\x0b", "\x0c", "\t", "\r", "\n", "#", "=", "&", ";", ",", "%",
];
const ESCAPES: &[&str] = &[
    "%00", "%20", "%2E", "%2e", "%5B", "%5b", "%5D", "%2B", "%09", "%0B", "%0C", "%0D", "%0A",
    "%5F", "%3D", "%26", "%3B", "%41", "%4", "%G1", "%%",
];

fn piece(rng: &mut Rng, out: &mut Vec<u8>) {
    match rng.below(10) {
        0..=3 => out.extend_from_slice(rng.pick(WORDS).as_bytes()),
        4..=6 => out.extend_from_slice(rng.pick(SPECIAL).as_bytes()),
        7 | 8 => out.extend_from_slice(rng.pick(ESCAPES).as_bytes()),
        _ if rng.below(2) == 0 => {
            out.extend_from_slice(format!("%{:02X}", rng.below(256)).as_bytes())
        }
        // Any byte but NUL.
        _ => out.push(1 + rng.below(255) as u8),
    }
}

fn pieces(rng: &mut Rng, out: &mut Vec<u8>, most: usize) {
    for _ in 0..rng.below(most + 1) {
        piece(rng, out);
    }
}

fn generate(rng: &mut Rng) -> Case {
    let mut case = Case::default();
    for i in 0..1 + rng.below(5) {
        if i > 0 {
            case.query.extend_from_slice(rng.pick(&["&", "&", "&", "&&"]).as_bytes());
        }
        pieces(rng, &mut case.query, 5);
        if rng.below(4) > 0 {
            case.query.push(b'=');
            pieces(rng, &mut case.query, 2);
        }
    }
    for i in 0..1 + rng.below(4) {
        if i > 0 {
            case.cookie
                .extend_from_slice(rng.pick(&[";", "; ", "; ", ";\t", " ;", ";;"]).as_bytes());
        }
        pieces(rng, &mut case.cookie, 5);
        if rng.below(4) > 0 {
            case.cookie.push(b'=');
            pieces(rng, &mut case.cookie, 2);
        }
    }
    case
}

fn arg<T: std::str::FromStr>(name: &str) -> Option<T> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1)?.parse().ok()
}

fn main() -> ExitCode {
    let seconds = arg("--seconds").unwrap_or(30.0);
    let seed = arg("--seed").unwrap_or_else(|| {
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(1, |d| d.as_secs())
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/php_names/names.php");
    let mut php = match Php::start(&script) {
        Ok(php) => php,
        Err(e) => {
            eprintln!("php-names: cannot start PHP: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut cases = 0u64;
    let mut found: BTreeMap<&'static str, Vec<Mismatch>> = BTreeMap::new();
    while started.elapsed() < Duration::from_secs_f64(seconds) {
        let case = generate(&mut rng);
        match check(&mut php, &case) {
            Ok(mismatches) => {
                for m in mismatches {
                    found.entry(m.kind).or_default().push(m);
                }
            }
            Err(e) => {
                eprintln!(
                    "php-names: PHP failed on query {} cookie {}: {e}",
                    show(&case.query),
                    show(&case.cookie)
                );
                return ExitCode::FAILURE;
            }
        }
        cases += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "php-names: PHP {}, seed {seed}: {cases} cases in {elapsed:.1} s ({:.0}/s), each a query through \
         parse_str and PHP-FPM and a Cookie header through PHP-FPM",
        Php::version(),
        cases as f64 / elapsed
    );
    let total: usize = found.values().map(Vec::len).sum();
    println!("php-names: {total} mismatches");
    for (kind, list) in &found {
        println!("  {kind}: {}", list.len());
        for m in list.iter().take(EXAMPLES) {
            println!(
                "    query {} cookie {}: {}",
                show(&m.case.query),
                show(&m.case.cookie),
                m.detail
            );
        }
    }
    if total == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
