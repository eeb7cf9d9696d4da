//! The `$microcache_*` variables.

use nginx_sys::{
    __BindgenBitfieldUnit, ngx_http_request_t, ngx_http_variable_t, ngx_int_t, ngx_str_t,
    ngx_uint_t, ngx_variable_value_t, NGX_ERROR, NGX_HTTP_VAR_NOCACHEABLE, NGX_OK,
};
use ngx::ngx_string;

use crate::ffi::guard;
use crate::request;

/// Which value a variable shows; its `data`.
#[derive(Clone, Copy)]
enum Value {
    Key,
    RequestUri,
    Args,
    Stripped,
    Skip,
    SkipReason,
}

impl Value {
    const ALL: [Value; 6] = [
        Value::Key,
        Value::RequestUri,
        Value::Args,
        Value::Stripped,
        Value::Skip,
        Value::SkipReason,
    ];
}

const fn variable(name: ngx_str_t, value: Value) -> ngx_http_variable_t {
    ngx_http_variable_t {
        name,
        set_handler: None,
        get_handler: Some(get_variable),
        data: value as usize,
        // Not cached by nginx: subrequests share their parent's cache of variable values, but
        // have values of their own. The module computes them once per request anyway.
        flags: NGX_HTTP_VAR_NOCACHEABLE as ngx_uint_t,
        index: 0,
    }
}

pub static mut NGX_HTTP_MICROCACHE_VARS: [ngx_http_variable_t; 6] = [
    variable(ngx_string!("microcache_key"), Value::Key),
    variable(ngx_string!("microcache_request_uri"), Value::RequestUri),
    variable(ngx_string!("microcache_args"), Value::Args),
    variable(ngx_string!("microcache_stripped"), Value::Stripped),
    variable(ngx_string!("microcache_skip"), Value::Skip),
    variable(ngx_string!("microcache_skip_reason"), Value::SkipReason),
];

fn static_str(s: &'static str) -> ngx_str_t {
    ngx_str_t { len: s.len(), data: s.as_ptr().cast_mut() }
}

unsafe extern "C" fn get_variable(
    r: *mut ngx_http_request_t,
    v: *mut ngx_variable_value_t,
    data: usize,
) -> ngx_int_t {
    guard(r, || {
        // SAFETY: nginx passes a valid request and value slot.
        let (r, v) = unsafe { (&mut *r, &mut *v) };
        let Some(values) = request::values(r) else {
            return NGX_ERROR as ngx_int_t;
        };
        let value = match Value::ALL.get(data) {
            Some(Value::Key) => values.key,
            Some(Value::RequestUri) => values.request_uri,
            Some(Value::Args) => values.args,
            Some(Value::Stripped) => values.stripped,
            Some(Value::Skip) => static_str(if values.skip.is_some() { "1" } else { "0" }),
            Some(Value::SkipReason) => static_str(values.skip.map_or("", |r| r.as_str())),
            None => return NGX_ERROR as ngx_int_t,
        };
        v._bitfield_1 = valid_not_cacheable(value.len);
        v.data = value.data;
        NGX_OK as ngx_int_t
    })
}

/// The bit-fields of a found, valid, not cacheable value of `len` bytes: `len:28 valid:1
/// no_cacheable:1 not_found:1 escape:1`, low bits first as C lays them out on little-endian
/// targets. Packed by hand because bindgen's setters loop bit by bit, hundreds of instructions
/// per variable; [`check_value_layout`] verifies the packing against them once.
fn valid_not_cacheable(len: usize) -> __BindgenBitfieldUnit<[u8; 4]> {
    const VALID: u32 = 1 << 28;
    const NO_CACHEABLE: u32 = 1 << 29;
    let len = u32::try_from(len).unwrap_or(u32::MAX) & 0x0fff_ffff;
    __BindgenBitfieldUnit::new((len | VALID | NO_CACHEABLE).to_le_bytes())
}

/// Whether [`valid_not_cacheable`] agrees with bindgen's accessors on this build.
pub fn check_value_layout() -> bool {
    // SAFETY: an all-zero ngx_variable_value_t is a valid (empty) value.
    let mut v: ngx_variable_value_t = unsafe { core::mem::zeroed() };
    v._bitfield_1 = valid_not_cacheable(0x0abc_def1);
    cfg!(target_endian = "little")
        && v.len() == 0x0abc_def1
        && v.valid() == 1
        && v.no_cacheable() == 1
        && v.not_found() == 0
        && v.escape() == 0
}
