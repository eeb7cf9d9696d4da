//! The second line of defence for callbacks: a panic becomes an error for one request instead
//! of aborting the worker. Code that sees request bytes is written not to panic.

use std::panic::{catch_unwind, AssertUnwindSafe};

use nginx_sys::{ngx_int_t, ngx_log_t, NGX_LOG_ALERT};
use ngx::core::Status;
use ngx::ngx_log_error;

/// Runs a callback body; a panic is logged at `alert` and becomes `NGX_ERROR`.
pub fn guard(log: *mut ngx_log_t, body: impl FnOnce() -> ngx_int_t) -> ngx_int_t {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| {
        ngx_log_error!(NGX_LOG_ALERT, log, "microcache: internal error (panic) in a callback");
        Status::NGX_ERROR.into()
    })
}
