//! `ngx_http_microcache_module`: the module's statics and its wiring into nginx.
//!
//! The request logic lives in the `microcache-core` crate; this crate is the glue: directives
//! ([`conf`]), variables ([`variables`]), phase handlers ([`request`]), the purge and status
//! content handlers ([`purge`], [`status`]) and the shared counters ([`counters`]).

#![deny(clippy::undocumented_unsafe_blocks)]

use core::ffi::{c_char, c_void};
use core::ptr;

use nginx_sys::{
    ngx_array_push, ngx_conf_t, ngx_http_add_variable, ngx_http_handler_pt, ngx_http_module_t,
    ngx_http_phases_NGX_HTTP_POST_READ_PHASE, ngx_http_phases_NGX_HTTP_REWRITE_PHASE, ngx_int_t,
    ngx_module_t, ngx_uint_t, NGX_ERROR, NGX_HTTP_MODULE, NGX_OK,
};
use ngx::core::NGX_CONF_ERROR;
use ngx::http::{HttpModule, HttpModuleLocationConf, HttpModuleMainConf, NgxHttpCoreModule};

mod conf;
mod counters;
mod ffi;
mod purge;
mod request;
mod status;
mod variables;

use conf::{LocConf, MainConf, NGX_HTTP_MICROCACHE_COMMANDS};
use variables::NGX_HTTP_MICROCACHE_VARS;

pub struct HttpMicrocacheModule;

static NGX_HTTP_MICROCACHE_MODULE_CTX: ngx_http_module_t = ngx_http_module_t {
    preconfiguration: Some(HttpMicrocacheModule::preconfiguration),
    postconfiguration: Some(HttpMicrocacheModule::postconfiguration),
    create_main_conf: Some(HttpMicrocacheModule::create_main_conf),
    init_main_conf: None,
    create_srv_conf: None,
    merge_srv_conf: None,
    create_loc_conf: Some(HttpMicrocacheModule::create_loc_conf),
    merge_loc_conf: Some(merge_loc_conf),
};

// The `ngx_modules` table a dynamic module built outside nginx's build system must export.
#[cfg(not(feature = "nginx-addon"))]
ngx::ngx_modules!(ngx_http_microcache_module);

// Unmangled: the table nginx's build system generates refers to the module by this name.
#[used]
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static mut ngx_http_microcache_module: ngx_module_t = ngx_module_t {
    ctx: ptr::addr_of!(NGX_HTTP_MICROCACHE_MODULE_CTX).cast_mut().cast(),
    // SAFETY: the command table is a static that nginx only reads.
    commands: unsafe { ptr::addr_of_mut!(NGX_HTTP_MICROCACHE_COMMANDS[0]) },
    type_: NGX_HTTP_MODULE as ngx_uint_t,
    ..ngx_module_t::default()
};

// SAFETY: create_main_conf allocates a MainConf for this module's slot.
unsafe impl HttpModuleMainConf for HttpMicrocacheModule {
    type MainConf = MainConf;
}

// SAFETY: create_loc_conf allocates a LocConf for this module's slot at every level.
unsafe impl HttpModuleLocationConf for HttpMicrocacheModule {
    type LocationConf = LocConf;
}

impl HttpModule for HttpMicrocacheModule {
    fn module() -> &'static ngx_module_t {
        // SAFETY: nginx writes the module's indices before any configuration callback runs and
        // never again while it is in use.
        unsafe { &*ptr::addr_of!(ngx_http_microcache_module) }
    }

    unsafe extern "C" fn preconfiguration(cf: *mut ngx_conf_t) -> ngx_int_t {
        if !variables::check_value_layout() {
            ngx::ngx_conf_log_error!(
                nginx_sys::NGX_LOG_EMERG,
                cf,
                "microcache: unexpected ngx_variable_value_t layout on this build"
            );
            return NGX_ERROR as ngx_int_t;
        }
        // SAFETY: the variable table is only read here, during configuration.
        for v in unsafe { (*ptr::addr_of_mut!(NGX_HTTP_MICROCACHE_VARS)).iter_mut() } {
            // SAFETY: cf is valid in preconfiguration; nginx copies the name.
            let var = unsafe { ngx_http_add_variable(cf, &mut v.name, v.flags) };
            // SAFETY: a non-null result is the variable nginx registered.
            let Some(var) = (unsafe { var.as_mut() }) else {
                return NGX_ERROR as ngx_int_t;
            };
            var.get_handler = v.get_handler;
            var.data = v.data;
        }
        NGX_OK as ngx_int_t
    }

    unsafe extern "C" fn postconfiguration(cf: *mut ngx_conf_t) -> ngx_int_t {
        // SAFETY: cf is valid in postconfiguration.
        let cf = unsafe { &mut *cf };
        let Some(cmcf) = NgxHttpCoreModule::main_conf_mut(cf) else {
            return NGX_ERROR as ngx_int_t;
        };
        let handlers: [(usize, ngx_http_handler_pt); 2] = [
            (ngx_http_phases_NGX_HTTP_POST_READ_PHASE as usize, Some(request::post_read_handler)),
            (ngx_http_phases_NGX_HTTP_REWRITE_PHASE as usize, Some(request::rewrite_handler)),
        ];
        for (phase, handler) in handlers {
            // SAFETY: the phase arrays are initialised by the core module before
            // postconfiguration; each element is an ngx_http_handler_pt.
            let h = unsafe { ngx_array_push(&mut cmcf.phases[phase].handlers) };
            if h.is_null() {
                return NGX_ERROR as ngx_int_t;
            }
            // SAFETY: h points to a fresh element of the array.
            unsafe { *h.cast::<ngx_http_handler_pt>() = handler };
        }

        let Some(zone) = counters::add_zone(cf) else {
            return NGX_ERROR as ngx_int_t;
        };
        match HttpMicrocacheModule::main_conf_mut(cf) {
            Some(mcf) => mcf.counters = zone,
            None => return NGX_ERROR as ngx_int_t,
        }
        NGX_OK as ngx_int_t
    }
}

/// Merges a location with its parent; resolves the purge zone, now that all are declared.
unsafe extern "C" fn merge_loc_conf(
    cf: *mut ngx_conf_t,
    prev: *mut c_void,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx passes the parent's and this level's configuration, both LocConf.
    let (prev, conf) = unsafe { (&*prev.cast::<LocConf>(), &mut *conf.cast::<LocConf>()) };
    conf.merge(prev);
    if let Some(purge) = conf.purge.as_mut() {
        // SAFETY: cf is valid while merging; every cache zone has been declared by now.
        if let Err(message) = purge.resolve_zone(unsafe { &mut *cf }) {
            ngx::ngx_conf_log_error!(nginx_sys::NGX_LOG_EMERG, cf, "{}", message);
            return NGX_CONF_ERROR;
        }
    }
    ptr::null_mut()
}
