//! `ngx_http_microcache_module`: the module's statics and its wiring into nginx. The README's
//! "Architecture" section says which file does what and how a request flows through them.

#![deny(clippy::undocumented_unsafe_blocks)]

mod cache;
mod conf;
mod counters;
mod guard;
mod header_filter;
mod hydrate;
mod index;
mod list;
mod litespeed;
mod phases;
mod purge;
mod request;
mod respond;
mod status;
mod tags;
mod upkeep;
mod variables;

use core::ffi::{c_char, c_void};
use core::ptr;

use nginx_sys::{
    ngx_conf_t, ngx_cycle_t, ngx_http_core_loc_conf_t, ngx_http_handler_pt, ngx_http_module_t,
    ngx_http_variable_t, ngx_int_t, ngx_module_t, ngx_process, ngx_uint_t, NGX_HTTP_MODULE,
    NGX_PROCESS_HELPER,
};
use ngx::core::{Status, NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::http::{HttpModule, HttpModuleLocationConf, HttpModuleMainConf, Merge, NgxHttpCoreModule};

use conf::ext::ConfExt;
use conf::{Content, LocConf, MainConf, NGX_HTTP_MICROCACHE_COMMANDS};

pub struct HttpMicrocacheModule;

static NGX_HTTP_MICROCACHE_MODULE_CTX: ngx_http_module_t = ngx_http_module_t {
    preconfiguration: Some(HttpMicrocacheModule::preconfiguration),
    postconfiguration: Some(HttpMicrocacheModule::postconfiguration),
    create_main_conf: Some(HttpMicrocacheModule::create_main_conf),
    init_main_conf: None,
    create_srv_conf: None,
    merge_srv_conf: None,
    create_loc_conf: Some(HttpMicrocacheModule::create_loc_conf),
    merge_loc_conf: Some(HttpMicrocacheModule::merge_loc_conf),
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
    init_process: Some(init_process),
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
        // SAFETY: nginx passes the configuration being parsed.
        let cf = unsafe { &mut *cf };
        match variables::register(cf) {
            Some(()) => Status::NGX_OK.into(),
            None => Status::NGX_ERROR.into(),
        }
    }

    unsafe extern "C" fn postconfiguration(cf: *mut ngx_conf_t) -> ngx_int_t {
        // SAFETY: nginx passes the configuration being parsed.
        let cf = unsafe { &mut *cf };
        if phases::register(cf).is_none() || hydrate::register(cf).is_none() {
            return Status::NGX_ERROR.into();
        }
        let zone = match counters::add_zone(cf) {
            Ok(zone) => zone,
            Err(message) => {
                cf.error(message);
                return Status::NGX_ERROR.into();
            }
        };
        tags::register();
        let variables_used = variables_used(cf);
        // The http level's settings, for what is not per location: the tag headers an index
        // rebuild reads.
        let http_settings = HttpMicrocacheModule::location_conf(cf).map(LocConf::http_settings);
        let Some(mcf) = HttpMicrocacheModule::main_conf_mut(cf) else {
            return Status::NGX_ERROR.into();
        };
        mcf.counters = zone;
        mcf.used |= variables_used;
        mcf.rebuild_tag_headers = http_settings.map(|s| s.tag_headers.clone()).unwrap_or_default();
        for index in &mut mcf.indexes {
            if let Err(message) = index.resolve(cf) {
                cf.error(message);
                return Status::NGX_ERROR.into();
            }
        }
        litespeed::register(cf);
        Status::NGX_OK.into()
    }

    /// Merges a level with its parent; a location that answers by itself gets its content
    /// handler, now that every directive of it and every cache zone is known.
    unsafe extern "C" fn merge_loc_conf(
        cf: *mut ngx_conf_t,
        prev: *mut c_void,
        conf: *mut c_void,
    ) -> *mut c_char {
        // SAFETY: nginx passes the configuration being merged and the parent's and this level's
        // LocConf.
        let (cf, prev, conf) =
            unsafe { (&mut *cf, &*prev.cast::<LocConf>(), &mut *conf.cast::<LocConf>()) };
        if conf.merge(prev).is_err() {
            return NGX_CONF_ERROR;
        }
        if let Err(message) = conf.attach_peers(cf) {
            return cf.error(message);
        }
        let Some(content) = conf.content.as_mut() else {
            return NGX_CONF_OK;
        };
        if let Content::Purge(purge) = content {
            if let Err(message) = purge.resolve_zone(cf) {
                return cf.error(message);
            }
        }
        let handler: ngx_http_handler_pt = match content {
            Content::Purge(_) => Some(purge::handler),
            Content::Status => Some(status::handler),
        };
        // While merging a location, cf->ctx holds that location's configuration.
        let clcf: Option<&mut ngx_http_core_loc_conf_t> = NgxHttpCoreModule::location_conf_mut(cf);
        let Some(clcf) = clcf else {
            return NGX_CONF_ERROR;
        };
        if clcf.handler.is_some() {
            return cf.error(format_args!(
                "\"{}\" cannot be combined with proxy_pass, fastcgi_pass or another directive \
                 that answers the request in location \"{}\"",
                content.directive(),
                clcf.name.as_bytes().escape_ascii()
            ));
        }
        clcf.handler = handler;
        NGX_CONF_OK
    }
}

/// Starts the indexes' upkeep in a worker. nginx calls this in its cache manager and cache
/// loader too, which are left out: the loader exits after its first minute, and a rebuild it
/// had claimed would stall until another process took it over.
unsafe extern "C" fn init_process(cycle: *mut ngx_cycle_t) -> ngx_int_t {
    // SAFETY: nginx sets ngx_process before it initialises a process's modules.
    if unsafe { ngx_process } == NGX_PROCESS_HELPER as ngx_uint_t {
        return Status::NGX_OK.into();
    }
    // SAFETY: nginx passes the worker's cycle.
    let cycle = unsafe { &*cycle };
    if let Some(mcf) = HttpMicrocacheModule::main_conf(cycle) {
        upkeep::start(cycle, &mcf.indexes, &mcf.rebuild_tag_headers);
    }
    Status::NGX_OK.into()
}

/// Whether the configuration refers to one of the module's variables: requests then need their
/// arrival recorded even where no directive of the module is set.
fn variables_used(cf: &mut ngx_conf_t) -> bool {
    let Some(cmcf) = NgxHttpCoreModule::main_conf(cf) else {
        return false;
    };
    // SAFETY: the core module's `variables` array holds the variables indexed so far.
    let indexed = unsafe { cmcf.variables.as_slice::<ngx_http_variable_t>() };
    indexed.iter().any(|v| variables::is_ours(v.name.as_bytes()))
}
