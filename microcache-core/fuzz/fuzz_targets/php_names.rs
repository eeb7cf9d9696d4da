//! The crate's names against the real PHP (see `examples/php_names`): any bytes as a query
//! string and a `Cookie` header, compared with what a persistent `php` CLI and PHP-FPM read.
#![no_main]

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;

// Shared with the example, which uses all of it.
#[path = "../../examples/php_names/oracle.rs"]
#[allow(dead_code)]
mod oracle;

use oracle::{check, Case, Php};

static PHP: OnceLock<Mutex<Php>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    // Layout: query \0 cookie-header. Other NUL bytes are dropped: nginx refuses them in the
    // request line and in headers, so PHP never gets one.
    let (query, cookie) = match data.iter().position(|&c| c == 0) {
        Some(nul) => (&data[..nul], &data[nul + 1..]),
        None => (data, &[][..]),
    };
    let case = Case {
        query: query.to_vec(),
        cookie: cookie.iter().copied().filter(|&c| c != 0).collect(),
    };
    let php = PHP.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/php_names/names.php");
        Mutex::new(Php::start(&script).expect("PHP starts"))
    });
    let mut php = php.lock().unwrap_or_else(|e| e.into_inner());
    let mismatches = check(&mut php, &case).expect("PHP answers");
    assert!(mismatches.is_empty(), "{mismatches:#?}");
});
