//! How a purge went: counted and logged at `info` ([`record`]); for a purge request, the answer
//! too: `200` with the JSON summary when something was purged, `404` when nothing was, `500` on
//! an I/O error ([`answer`]). With peers, the answer waits for theirs ([`peers::deliver`]).

use std::io;
use std::time::Duration;

use microcache_core::batch::PurgeMode;
use microcache_core::report::{purge_summary, IndexUse, PurgeOutcome, TargetResult};
use nginx_sys::{ngx_int_t, ngx_log_t, NGX_LOG_ERR, NGX_LOG_INFO};
use ngx::http::{HTTPStatus, HttpModuleMainConf, Request};
use ngx::ngx_log_error;

use super::peers;
use super::target::Target;
use crate::counters::{self, Counters};
use crate::HttpMicrocacheModule;

/// How a purge went.
pub struct Outcome<'a> {
    /// A single page or key purge names its key.
    pub key: Option<&'a [u8]>,
    pub mode: PurgeMode,
    /// Each target and the entries it purged.
    pub targets: Vec<(&'a Target, u64)>,
    pub index: IndexUse,
    pub elapsed: Duration,
    pub result: io::Result<()>,
}

/// Counts a purge and logs how it went: its line at `info`, or the error. `origin` names the
/// request whose response asked for it, if it was not a purge request. Returns the entries
/// purged.
pub fn record(
    log: *mut ngx_log_t,
    counters: Option<&Counters>,
    outcome: &Outcome<'_>,
    origin: Option<&[u8]>,
) -> u64 {
    let elapsed_us = elapsed_us(outcome);
    let purged: u64 = outcome.targets.iter().map(|(_, n)| n).sum();
    let result = match (&outcome.result, purged) {
        (Err(_), _) => PurgeOutcome::Failed,
        (Ok(()), 0) => PurgeOutcome::NotFound,
        (Ok(()), _) => PurgeOutcome::Purged,
    };
    if let Some(c) = counters {
        let by_kind = outcome.targets.iter().map(|(t, n)| (t.kind(), *n));
        c.purge(result, outcome.mode, by_kind, elapsed_us);
    }
    let shown: Vec<&[u8]> = outcome.targets.iter().map(|(t, _)| t.shown.as_slice()).collect();
    let asked = Asked(origin);
    match &outcome.result {
        Err(e) => {
            ngx_log_error!(
                NGX_LOG_ERR,
                log,
                "microcache: purge of {}{asked} failed: {e}",
                Shown(&shown)
            );
        }
        Ok(()) => {
            ngx_log_error!(
                NGX_LOG_INFO,
                log,
                "microcache: {} purge of {}{asked}: {purged} entries in {elapsed_us} us (index: {})",
                outcome.mode.as_str(),
                Shown(&shown),
                outcome.index.as_str()
            );
        }
    }
    purged
}

fn elapsed_us(outcome: &Outcome<'_>) -> u64 {
    u64::try_from(outcome.elapsed.as_micros()).unwrap_or(u64::MAX)
}

/// Answers a purge request.
pub fn answer(r: &mut Request, outcome: &Outcome<'_>) -> ngx_int_t {
    let counters = HttpMicrocacheModule::main_conf(r).and_then(|m| counters::get(m.counters));
    let purged = record(r.log(), counters, outcome, None);
    if outcome.result.is_err() {
        return peers::deliver(r, HTTPStatus::INTERNAL_SERVER_ERROR, None, purged);
    }
    let targets: Vec<TargetResult<'_>> = outcome
        .targets
        .iter()
        .map(|(t, n)| TargetResult { target: &t.shown, purged: *n })
        .collect();
    let body =
        purge_summary(outcome.key, outcome.mode, &targets, outcome.index, elapsed_us(outcome));
    let status = if purged > 0 { HTTPStatus::OK } else { HTTPStatus::NOT_FOUND };
    peers::deliver(r, status, Some(&body), purged)
}

/// Where a purge came from, for the log: nothing for a purge request.
struct Asked<'a>(Option<&'a [u8]>);

impl core::fmt::Display for Asked<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(request) => {
                write!(f, " (asked by the response to \"{}\")", request.escape_ascii())
            }
            None => Ok(()),
        }
    }
}

/// The targets for the log: quoted, escaped, the first few.
struct Shown<'a>(&'a [&'a [u8]]);

impl core::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, target) in self.0.iter().take(3).enumerate() {
            let comma = if i > 0 { ", " } else { "" };
            write!(f, "{comma}\"{}\"", target.escape_ascii())?;
        }
        match self.0.len() {
            n if n > 3 => write!(f, " and {} more", n - 3),
            _ => Ok(()),
        }
    }
}
