//! The answer to a purge: `200` with what was purged, `404` when nothing was, `500` on an I/O
//! error; counted, and logged at `info`.

use std::io;
use std::time::Instant;

use microcache_core::report::{purge_response, PurgeOutcome};
use nginx_sys::{ngx_int_t, NGX_LOG_INFO};
use ngx::http::{HTTPStatus, HttpModuleMainConf, Request};
use ngx::ngx_log_error;

use crate::counters;
use crate::respond::{internal_error, send};
use crate::HttpMicrocacheModule;

pub fn answer(
    r: &mut Request,
    shown: &[u8],
    started: Instant,
    result: io::Result<u64>,
) -> ngx_int_t {
    let elapsed = started.elapsed().as_micros();
    let (outcome, purged) = match &result {
        Ok(0) => (PurgeOutcome::NotFound, 0),
        Ok(n) => (PurgeOutcome::Purged, *n),
        Err(_) => (PurgeOutcome::Failed, 0),
    };
    if let Some(c) = HttpMicrocacheModule::main_conf(r).and_then(|m| counters::get(m.counters)) {
        c.purge(outcome, purged);
    }
    if let Err(e) = result {
        return internal_error(
            r,
            format_args!("purge of \"{}\" failed: {e}", shown.escape_ascii()),
        );
    }
    ngx_log_error!(
        NGX_LOG_INFO,
        r.log(),
        "microcache: purge of \"{}\": {purged} entries in {elapsed} us",
        shown.escape_ascii()
    );
    let status = if purged > 0 { HTTPStatus::OK } else { HTTPStatus::NOT_FOUND };
    send(r, status, "application/json", &purge_response(shown, purged))
}
