//! The one place that reads a directive's arguments (`cf->args`) and reports configuration
//! errors.

use core::ffi::c_char;
use core::fmt;

use nginx_sys::{
    ngx_conf_t, ngx_http_compile_complex_value, ngx_http_compile_complex_value_t,
    ngx_http_complex_value_t, ngx_str_t, NGX_LOG_EMERG,
};
use ngx::core::{Pool, Status, NGX_CONF_ERROR};
use ngx::ngx_conf_log_error;

pub trait ConfExt {
    /// The directive's name followed by its arguments, as nginx strings.
    fn words(&mut self) -> &mut [ngx_str_t];

    /// The directive's name, for messages.
    fn directive(&mut self) -> String {
        let name = self.words().first().map(|w| String::from_utf8_lossy(w.as_bytes()).into_owned());
        name.unwrap_or_default()
    }

    /// The directive's arguments as bytes (they live in the configuration pool).
    fn arguments(&mut self) -> Vec<&'static [u8]> {
        self.words()
            .iter()
            .skip(1)
            .map(|w| match w.len {
                0 => &[][..],
                // SAFETY: argument strings live in the configuration pool for the whole cycle.
                len => unsafe { core::slice::from_raw_parts(w.data.cast_const(), len) },
            })
            .collect()
    }

    /// Logs `message` as an `[emerg]` at the directive's file and line.
    fn error(&mut self, message: impl fmt::Display) -> *mut c_char;
}

impl ConfExt for ngx_conf_t {
    fn words(&mut self) -> &mut [ngx_str_t] {
        // SAFETY: while a directive handler runs, cf->args holds ngx_str_t values.
        unsafe { self.args.as_mut().map(|a| a.as_slice_mut()).unwrap_or_default() }
    }

    fn error(&mut self, message: impl fmt::Display) -> *mut c_char {
        ngx_conf_log_error!(NGX_LOG_EMERG, self, "{}", message);
        NGX_CONF_ERROR
    }
}

/// Compiles the directive's argument `index` as a complex value (`"$scheme$host$1"`), in the
/// configuration pool. nginx logs its own error when the value does not compile.
pub fn compile_complex_value(
    cf: &mut ngx_conf_t,
    index: usize,
) -> Option<&'static ngx_http_complex_value_t> {
    // SAFETY: cf is valid while parsing; the pool outlives the cycle's configuration.
    let pool = unsafe { Pool::from_ngx_pool(cf.pool) };
    let cv = pool.calloc_type::<ngx_http_complex_value_t>();
    let value: *mut ngx_str_t = cf.words().get_mut(index)?;
    let mut ccv = ngx_http_compile_complex_value_t {
        cf,
        value,
        complex_value: cv,
        _bitfield_align_1: [],
        _bitfield_1: Default::default(),
        __bindgen_padding_0: Default::default(),
    };
    // SAFETY: ccv is fully initialised and points at live configuration memory.
    let rc = unsafe { ngx_http_compile_complex_value(&mut ccv) };
    if rc != Status::NGX_OK.0 {
        return None;
    }
    // SAFETY: on success nginx filled the zeroed, pool-allocated complex value.
    unsafe { cv.as_ref() }
}
