//! The request logic of `ngx_http_microcache_module`, free of nginx.
//!
//! Everything that looks at request bytes lives here, in safe Rust that does not allocate on the
//! request path: query normalisation ([`query`]), name patterns ([`glob`]), how PHP reads names
//! ([`php`]), skip-cache rules ([`skip`]), cache purge targets and file names ([`purge`]) and
//! what the content handlers answer ([`report`], [`purge_stats`]). Directive arguments are
//! checked in [`config`]. The cache index of keys and tags ([`index`]) lives in a flat shared
//! region; cache tags ([`tags`]), batch purge bodies ([`batch`]) and the `Cache-Status` value
//! ([`cache_status`]) are parsed and built here too, and so are edge state hydration
//! ([`hydrate`]), the caching headers an origin sends ([`litespeed`]) and the signatures, peer
//! answers and combined answer of a purge sent across a cluster ([`peers`]).
//! The nginx module is thin glue over this crate.
#![forbid(unsafe_code)]

pub mod batch;
pub mod cache_status;
pub mod config;
pub mod decode;
pub mod glob;
pub mod hydrate;
pub mod index;
pub mod key;
pub mod litespeed;
pub mod peers;
pub mod php;
pub mod purge;
pub mod purge_stats;
pub mod query;
pub mod report;
pub mod skip;
pub mod tags;

pub use decode::Name;
pub use glob::GlobSet;
pub use query::{normalise, ArgRules, Normalised};
pub use skip::{RequestFacts, SkipReason, SkipRules};
