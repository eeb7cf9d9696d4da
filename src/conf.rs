//! Directives: the command table, their setters, and the configuration structures.
//!
//! Location configuration is created unset and merged with the enclosing level, then with the
//! defaults, like nginx's own modules. A list directive set at a lower level replaces the
//! inherited list. Merging resolves the rules a request uses into one shared [`Rules`] value, so
//! locations that set nothing share their parent's.

use core::ffi::{c_char, c_void};
use core::ptr;
use std::sync::Arc;

use microcache_core::config::{
    parse_header_globs, parse_max_args, parse_methods, parse_name_globs, parse_uri_rule, ConfError,
};
use microcache_core::skip::{MethodRule, UriRule};
use microcache_core::{ArgRules, GlobSet, SkipRules};
use nginx_sys::{
    ngx_command_t, ngx_conf_t, ngx_http_core_loc_conf_t, ngx_str_t, ngx_uint_t, NGX_CONF_1MORE,
    NGX_CONF_FLAG, NGX_CONF_NOARGS, NGX_CONF_TAKE1, NGX_CONF_TAKE12, NGX_HTTP_LOC_CONF,
    NGX_HTTP_LOC_CONF_OFFSET, NGX_HTTP_MAIN_CONF, NGX_HTTP_SRV_CONF, NGX_LOG_EMERG,
};
use ngx::core::NGX_CONF_ERROR;
use ngx::http::{HttpModuleLocationConf, HttpModuleMainConf, NgxHttpCoreModule};
use ngx::{ngx_conf_log_error, ngx_string};

use crate::purge::{self, PurgeConf};
use crate::{status, HttpMicrocacheModule};

/// What a request is normalised and judged by: the merged rules of one location.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rules {
    pub args: ArgRules,
    pub skip: SkipRules,
}

/// http-level state.
#[derive(Debug)]
pub struct MainConf {
    /// Some `microcache*` directive appears in the configuration: the post-read handler then
    /// records each request's original `$uri` for the skip rules.
    pub used: bool,
    /// The shared counters zone, added in postconfiguration.
    pub counters: *mut nginx_sys::ngx_shm_zone_t,
}

impl Default for MainConf {
    fn default() -> Self {
        MainConf { used: false, counters: ptr::null_mut() }
    }
}

/// http/server/location configuration, as set by the directives (`None` = not set here).
#[derive(Debug, Default)]
pub struct LocConf {
    pub enable: Option<bool>,
    // Lists are shared with nested levels that inherit them.
    strip: Option<Arc<GlobSet>>,
    keep: Option<Arc<GlobSet>>,
    sort: Option<bool>,
    max_args: Option<usize>,
    methods: Option<Arc<MethodRule>>,
    uri: Option<Arc<UriRule>>,
    cookies: Option<Arc<GlobSet>>,
    bypass_args: Option<Arc<GlobSet>>,
    headers: Option<Arc<GlobSet>>,
    /// Resolved at merge time; shared with the parent when nothing is set here.
    pub rules: Option<Arc<Rules>>,
    /// `microcache_purge` (location only, not inherited).
    pub purge: Option<PurgeConf>,
    /// `microcache_status` (location only, not inherited).
    pub status: bool,
}

impl LocConf {
    fn sets_rules(&self) -> bool {
        self.strip.is_some()
            || self.keep.is_some()
            || self.sort.is_some()
            || self.max_args.is_some()
            || self.methods.is_some()
            || self.uri.is_some()
            || self.cookies.is_some()
            || self.bypass_args.is_some()
            || self.headers.is_some()
    }

    /// Inherits what is not set here from `prev`, then applies the defaults.
    pub fn merge(&mut self, prev: &LocConf) {
        fn inherit<T: Clone>(this: &mut Option<T>, prev: &Option<T>) {
            if this.is_none() {
                this.clone_from(prev);
            }
        }
        let sets_rules = self.sets_rules();
        self.enable = self.enable.or(prev.enable);
        // Every setting is inherited even when the resolved rules are shared: a nested
        // location that sets one list must still inherit the others.
        inherit(&mut self.strip, &prev.strip);
        inherit(&mut self.keep, &prev.keep);
        inherit(&mut self.sort, &prev.sort);
        inherit(&mut self.max_args, &prev.max_args);
        inherit(&mut self.methods, &prev.methods);
        inherit(&mut self.uri, &prev.uri);
        inherit(&mut self.cookies, &prev.cookies);
        inherit(&mut self.bypass_args, &prev.bypass_args);
        inherit(&mut self.headers, &prev.headers);
        if !sets_rules {
            if let Some(rules) = &prev.rules {
                self.rules = Some(rules.clone());
                return;
            }
        }

        fn or_default<T: Clone>(setting: &Option<Arc<T>>, default: T) -> T {
            setting.as_deref().cloned().unwrap_or(default)
        }
        let (default_args, default_skip) = (ArgRules::default(), SkipRules::default());
        self.rules = Some(Arc::new(Rules {
            args: ArgRules {
                strip: or_default(&self.strip, default_args.strip),
                keep: self.keep.as_deref().filter(|k| !k.is_empty()).cloned(),
                sort: self.sort.unwrap_or(default_args.sort),
                max_args: self.max_args.unwrap_or(default_args.max_args),
            },
            skip: SkipRules {
                methods: or_default(&self.methods, default_skip.methods),
                uri: or_default(&self.uri, default_skip.uri),
                cookies: or_default(&self.cookies, default_skip.cookies),
                args: or_default(&self.bypass_args, default_skip.args),
                headers: or_default(&self.headers, default_skip.headers),
            },
        }));
    }

    /// The location answers with `microcache_purge` or `microcache_status`.
    pub fn answers_itself(&self) -> bool {
        self.purge.is_some() || self.status
    }

    /// The rules of a merged location. Locations are always merged before requests run.
    pub fn rules(&self) -> Option<&Rules> {
        self.rules.as_deref()
    }
}

const ANY_LEVEL: u32 = NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF;

const fn command(
    name: ngx_str_t,
    type_: u32,
    set: unsafe extern "C" fn(*mut ngx_conf_t, *mut ngx_command_t, *mut c_void) -> *mut c_char,
) -> ngx_command_t {
    ngx_command_t {
        name,
        type_: type_ as ngx_uint_t,
        set: Some(set),
        conf: NGX_HTTP_LOC_CONF_OFFSET,
        offset: 0,
        post: ptr::null_mut(),
    }
}

pub static mut NGX_HTTP_MICROCACHE_COMMANDS: [ngx_command_t; 13] = [
    command(ngx_string!("microcache"), ANY_LEVEL | NGX_CONF_FLAG, set_enable),
    command(ngx_string!("microcache_strip_args"), ANY_LEVEL | NGX_CONF_1MORE, set_strip_args),
    command(ngx_string!("microcache_keep_args"), ANY_LEVEL | NGX_CONF_1MORE, set_keep_args),
    command(ngx_string!("microcache_sort_args"), ANY_LEVEL | NGX_CONF_FLAG, set_sort_args),
    command(ngx_string!("microcache_max_args"), ANY_LEVEL | NGX_CONF_TAKE1, set_max_args),
    command(
        ngx_string!("microcache_bypass_methods"),
        ANY_LEVEL | NGX_CONF_1MORE,
        set_bypass_methods,
    ),
    command(ngx_string!("microcache_bypass_uri"), ANY_LEVEL | NGX_CONF_1MORE, set_bypass_uri),
    command(
        ngx_string!("microcache_bypass_cookies"),
        ANY_LEVEL | NGX_CONF_1MORE,
        set_bypass_cookies,
    ),
    command(ngx_string!("microcache_bypass_args"), ANY_LEVEL | NGX_CONF_1MORE, set_bypass_args),
    command(
        ngx_string!("microcache_bypass_headers"),
        ANY_LEVEL | NGX_CONF_1MORE,
        set_bypass_headers,
    ),
    command(ngx_string!("microcache_purge"), NGX_HTTP_LOC_CONF | NGX_CONF_TAKE12, set_purge),
    command(ngx_string!("microcache_status"), NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS, set_status),
    ngx_command_t::empty(),
];

/// The directive being parsed: its name and arguments. The one place that reads `cf->args`.
pub struct Directive<'cf> {
    pub cf: *mut ngx_conf_t,
    pub name: &'cf str,
    pub args: Vec<&'cf [u8]>,
    /// The arguments as nginx strings, for APIs that take them (complex values).
    pub raw: &'cf mut [ngx_str_t],
}

impl Directive<'_> {
    /// # Safety
    /// `cf` is the configuration being parsed, inside a directive handler.
    unsafe fn current<'cf>(cf: *mut ngx_conf_t) -> Directive<'cf> {
        // SAFETY: while a directive handler runs, cf->args holds the directive name followed by
        // its arguments as ngx_str_t; nginx checked the argument count against the command type.
        let all = unsafe { (*(*cf).args).as_slice_mut::<ngx_str_t>() };
        let (name, raw) = all.split_first_mut().expect("a directive has a name");
        let name = core::str::from_utf8(name.as_bytes()).unwrap_or("microcache");
        let args = raw.iter().map(|a| {
            // SAFETY: argument strings live in the configuration pool for the whole parse.
            unsafe { core::slice::from_raw_parts(a.data.cast_const(), a.len) }
        });
        Directive { cf, name, args: args.collect(), raw }
    }

    /// Logs `message` as an `[emerg]` at the directive's file and line; returns NGX_CONF_ERROR.
    pub fn fail(&self, message: &str) -> *mut c_char {
        ngx_conf_log_error!(NGX_LOG_EMERG, self.cf, "{}", message);
        NGX_CONF_ERROR
    }

    fn reject(&self, e: &ConfError) -> *mut c_char {
        self.fail(&e.message(self.name))
    }

    fn duplicate(&self) -> *mut c_char {
        self.fail(&format!("\"{}\" directive is duplicate", self.name))
    }

    fn flag(&self) -> Result<bool, ConfError> {
        match self.args[..] {
            [b"on"] => Ok(true),
            [b"off"] => Ok(false),
            [other, ..] => Err(ConfError {
                kind: "value",
                value: other.to_vec(),
                reason: "it must be \"on\" or \"off\"".to_owned(),
            }),
            [] => unreachable!("NGX_CONF_FLAG guarantees one argument"),
        }
    }
}

/// Runs a directive handler body with the parsed directive and this level's configuration.
///
/// # Safety
/// Called only from nginx directive handlers with their own arguments.
unsafe fn with_directive(
    cf: *mut ngx_conf_t,
    conf: *mut c_void,
    body: impl FnOnce(&mut Directive<'_>, &mut LocConf) -> *mut c_char,
) -> *mut c_char {
    // SAFETY: nginx passes the configuration of the level being parsed; it is a LocConf because
    // every command uses NGX_HTTP_LOC_CONF_OFFSET.
    let lcf = unsafe { &mut *conf.cast::<LocConf>() };
    // SAFETY: forwarded from the handler.
    let mut directive = unsafe { Directive::current(cf) };
    // SAFETY: cf is valid during parsing; the http main conf exists in every http context.
    if let Some(mcf) = HttpMicrocacheModule::main_conf_mut(unsafe { &*cf }) {
        mcf.used = true;
    }
    body(&mut directive, lcf)
}

/// Defines a directive handler that parses its arguments into one `LocConf` field.
macro_rules! field_setter {
    ($handler:ident, $field:ident, $parse:expr) => {
        unsafe extern "C" fn $handler(
            cf: *mut ngx_conf_t,
            _cmd: *mut ngx_command_t,
            conf: *mut c_void,
        ) -> *mut c_char {
            // SAFETY: an nginx directive handler, forwarding its own arguments.
            unsafe {
                with_directive(cf, conf, |d, lcf| {
                    if lcf.$field.is_some() {
                        return d.duplicate();
                    }
                    #[allow(clippy::redundant_closure_call)]
                    match ($parse)(&*d) {
                        Ok(value) => {
                            lcf.$field = Some(value);
                            ptr::null_mut()
                        }
                        Err(e) => d.reject(&e),
                    }
                })
            }
        }
    };
}

field_setter!(set_enable, enable, Directive::flag);
field_setter!(set_sort_args, sort, Directive::flag);
field_setter!(set_max_args, max_args, |d: &Directive| parse_max_args(d.args[0]));
field_setter!(set_strip_args, strip, |d: &Directive| globs(d, true));
field_setter!(set_keep_args, keep, |d: &Directive| globs(d, false));
field_setter!(set_bypass_args, bypass_args, |d: &Directive| globs(d, false));
field_setter!(set_bypass_cookies, cookies, |d: &Directive| globs(d, false));
field_setter!(set_bypass_headers, headers, |d: &Directive| {
    parse_header_globs(&d.args).map(Arc::new)
});
field_setter!(set_bypass_methods, methods, |d: &Directive| {
    parse_methods(&d.args).map(Arc::new)
});
field_setter!(set_bypass_uri, uri, |d: &Directive| parse_uri_rule(&d.args).map(Arc::new));

fn globs(d: &Directive<'_>, with_default: bool) -> Result<Arc<GlobSet>, ConfError> {
    parse_name_globs(&d.args, with_default).map(Arc::new)
}

/// Makes the current location answer with `handler` in the content phase.
fn set_content_handler(d: &Directive<'_>, handler: nginx_sys::ngx_http_handler_pt) {
    // SAFETY: cf is valid while parsing; a location-only directive has a core loc conf.
    let clcf: Option<&mut ngx_http_core_loc_conf_t> =
        NgxHttpCoreModule::location_conf_mut(unsafe { &*d.cf });
    if let Some(clcf) = clcf {
        clcf.handler = handler;
    }
}

unsafe extern "C" fn set_purge(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: an nginx directive handler, forwarding its own arguments.
    unsafe {
        with_directive(cf, conf, |d, lcf| {
            if lcf.purge.is_some() {
                return d.duplicate();
            }
            match PurgeConf::parse(d) {
                Ok(purge) => {
                    lcf.purge = Some(purge);
                    set_content_handler(d, Some(purge::handler));
                    ptr::null_mut()
                }
                Err(message) => d.fail(&message),
            }
        })
    }
}

unsafe extern "C" fn set_status(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: an nginx directive handler, forwarding its own arguments.
    unsafe {
        with_directive(cf, conf, |d, lcf| {
            lcf.status = true;
            set_content_handler(d, Some(status::handler));
            ptr::null_mut()
        })
    }
}
