//! Edge state hydration (README "microcache_hydrate"): a cached HTML page, rewritten as it
//! streams with a JSON state fetched per request. The decisions (rules, state parsing, escaping,
//! the rewrite itself, plans) are `microcache_core::hydrate`; this is how nginx runs them.
//!
//! - [`conf`]: the directives.
//! - [`subrequest`]: PRECONTENT fetches the state with a subrequest and waits for it; the body
//!   filter keeps the subrequest's body; the state is parsed, or the fallback applies.
//! - [`filter`]: the header filter makes a `200` HTML response personal and starts a
//!   [`stream`]; the body filter feeds it, bounded in memory whatever the page's size.
//! - [`plans`]: recorded rewrites of cached pages, replayed for the next visitors.
//! - [`request`]: what one request keeps, in its state (`request/state.rs`).

pub mod conf;
mod filter;
mod headers;
mod plans;
mod request;
mod stream;
mod subrequest;

use nginx_sys::ngx_conf_t;

pub use conf::HydrateSettings;
pub use request::Hydration;

/// Adds the PRECONTENT handler and the filters; called in postconfiguration.
pub fn register(cf: &mut ngx_conf_t) -> Option<()> {
    subrequest::register(cf)?;
    filter::register(cf);
    Some(())
}
