//! Passes what nginx-sys detected about the nginx tree to the compiler as cfg values:
//! `ngx_feature = "..."` for configure features (e.g. `http_ssl`) and `ngx_os`; and compiles
//! `src/request/bits.c` against that tree's headers and defines.
//!
//! Cargo gives these `DEP_NGINX_*` variables only to direct dependents of nginx-sys, which is
//! why Cargo.toml lists it.
use std::env;

fn main() {
    println!("cargo::rerun-if-env-changed=DEP_NGINX_FEATURES_CHECK");
    println!(
        "cargo::rustc-check-cfg=cfg(ngx_feature, values({}))",
        env::var("DEP_NGINX_FEATURES_CHECK").unwrap_or_else(|_| "any()".to_owned())
    );
    println!("cargo::rerun-if-env-changed=DEP_NGINX_FEATURES");
    if let Ok(features) = env::var("DEP_NGINX_FEATURES") {
        for feature in features.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            println!("cargo::rustc-cfg=ngx_feature=\"{feature}\"");
        }
    }

    println!("cargo::rerun-if-env-changed=DEP_NGINX_OS_CHECK");
    println!(
        "cargo::rustc-check-cfg=cfg(ngx_os, values({}))",
        env::var("DEP_NGINX_OS_CHECK").unwrap_or_else(|_| "any()".to_owned())
    );
    println!("cargo::rerun-if-env-changed=DEP_NGINX_OS");
    if let Ok(os) = env::var("DEP_NGINX_OS") {
        println!("cargo::rustc-cfg=ngx_os=\"{os}\"");
    }

    request_bits();
}

/// The request's bitfields, laid out by the C compiler (src/request/bits.rs says why).
fn request_bits() {
    println!("cargo::rerun-if-changed=src/request/bits.c");
    println!("cargo::rerun-if-env-changed=DEP_NGINX_INCLUDE");
    println!("cargo::rerun-if-env-changed=DEP_NGINX_CFLAGS");
    let mut build = cc::Build::new();
    build.file("src/request/bits.c").warnings(false);
    if let Some(includes) = env::var_os("DEP_NGINX_INCLUDE") {
        build.includes(env::split_paths(&includes));
    }
    for flag in env::var("DEP_NGINX_CFLAGS").unwrap_or_default().split_whitespace() {
        build.flag(flag);
    }
    build.compile("microcache_request_bits");
}
