//! What hydration keeps for one request: the state subrequest while it runs, then the state or
//! why it failed, then the rewrite of the response. It hangs off the request's state
//! (`request/state.rs`), so it survives internal redirects: the state is fetched once per
//! request, in the first location that asks for it.

use microcache_core::hydrate::{State, StateError};
use nginx_sys::{ngx_http_request_t, ngx_int_t, ngx_str_t, NGX_HTTP_GATEWAY_TIME_OUT, NGX_HTTP_OK};

use super::stream::Stream;

pub struct Hydration {
    /// The state's URI as requested, for log lines (request pool memory).
    pub uri: ngx_str_t,
    pub phase: Phase,
    /// The rewrite of the response, once its header says it is hydrated.
    pub stream: Option<Stream>,
}

pub enum Phase {
    /// The subrequest runs or has just ended.
    Fetching(Fetch),
    /// The state, ready for the response.
    Ready(State),
    /// A `HEAD` request: no body to rewrite, so no state; the header is a hydrated one.
    Head,
    /// The state is unavailable; the fallback applies.
    Failed,
}

/// The state subrequest and its response body.
pub struct Fetch {
    pub subrequest: *mut ngx_http_request_t,
    pub max_size: usize,
    pub body: Vec<u8>,
    /// The body grew past `max_size`; the rest was read and dropped.
    pub too_large: bool,
    /// The response broke off (its upstream failed after the header).
    pub broken: bool,
    /// nginx has finalized the subrequest.
    pub done: bool,
}

/// Why the state is unavailable: the `REASON` of `$microcache_hydrate_status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// An answer other than `200`.
    Status(ngx_int_t),
    /// `504`: the state location's upstream timed out.
    Timeout,
    /// The answer broke off after its header.
    Incomplete,
    TooLarge,
    InvalidJson,
    /// The URI evaluated to something nginx refuses as a subrequest URI.
    Uri,
    /// The page's charset is one the rewriter cannot read.
    Charset,
    /// The rewriter stopped part way through the page.
    Rewrite,
}

impl Failure {
    /// `$microcache_hydrate_status`.
    pub fn status(self) -> &'static str {
        match self {
            Failure::Status(_) => "failed:status",
            Failure::Timeout => "failed:timeout",
            Failure::Incomplete => "failed:incomplete",
            Failure::TooLarge => "failed:too_large",
            Failure::InvalidJson => "failed:invalid_json",
            Failure::Uri => "failed:uri",
            Failure::Charset => "failed:charset",
            Failure::Rewrite => "failed:rewrite",
        }
    }
}

pub const OK: &str = "ok";

impl Fetch {
    /// Keeps the next bytes of the response, up to `max_size`.
    pub fn keep(&mut self, bytes: &[u8]) {
        if self.too_large {
            return;
        }
        if self.body.len() + bytes.len() > self.max_size {
            self.too_large = true;
            self.body = Vec::new();
            return;
        }
        self.body.extend_from_slice(bytes);
    }

    /// The state, or why there is none, once the subrequest is done.
    pub fn outcome(&self, status: usize) -> Result<State, (Failure, String)> {
        let status = status as ngx_int_t;
        if self.broken {
            return Err((Failure::Incomplete, "the response broke off".to_owned()));
        }
        if status == NGX_HTTP_GATEWAY_TIME_OUT as ngx_int_t {
            return Err((Failure::Timeout, "the state location timed out (504)".to_owned()));
        }
        if status != NGX_HTTP_OK as ngx_int_t {
            return Err((Failure::Status(status), format!("status {status}")));
        }
        if self.too_large {
            let reason = format!("larger than {} bytes", self.max_size);
            return Err((Failure::TooLarge, reason));
        }
        State::parse(&self.body, self.max_size).map_err(|e| {
            let failure = match e {
                StateError::TooLarge { .. } => Failure::TooLarge,
                StateError::Json(_) => Failure::InvalidJson,
            };
            (failure, e.to_string())
        })
    }
}
