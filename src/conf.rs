//! Directives: the command table, one handler per directive, and the configuration they build.
//!
//! Everything a level inherits is one [`Settings`] value. A directive handler parses its
//! arguments into an override of one field; merging applies a level's overrides to the settings
//! of the enclosing level (then to the defaults), like nginx's own merge, so a list set at a
//! lower level replaces the inherited one. Levels that set nothing share their parent's
//! settings. Adding a directive means a row in the table and a handler, nothing else.

pub mod ext;
pub mod peers;
pub mod purge;

use core::ffi::{c_char, c_void};
use core::ptr;
use std::sync::Arc;

use microcache_core::batch::PurgeMode;
use microcache_core::config::{
    parse_header_globs, parse_max_args, parse_methods, parse_name_globs, parse_uri_rule, ConfError,
};
use microcache_core::litespeed::purge_header_name;
use microcache_core::peers::sign::Secret;
use microcache_core::tags::TagHeaders;
use microcache_core::{ArgRules, SkipRules};
use nginx_sys::{
    ngx_command_t, ngx_conf_t, ngx_shm_zone_t, ngx_str_t, ngx_uint_t, NGX_CONF_1MORE,
    NGX_CONF_FLAG, NGX_CONF_NOARGS, NGX_CONF_TAKE1, NGX_CONF_TAKE12, NGX_CONF_TAKE123,
    NGX_CONF_TAKE2, NGX_CONF_TAKE3, NGX_HTTP_LOC_CONF, NGX_HTTP_LOC_CONF_OFFSET,
    NGX_HTTP_MAIN_CONF, NGX_HTTP_MAIN_CONF_OFFSET, NGX_HTTP_SRV_CONF,
};
use ngx::core::NGX_CONF_OK;
use ngx::http::{HttpModuleMainConf, Merge, MergeConfigError};
use ngx::ngx_string;

use self::ext::ConfExt;
use self::peers::PeersConf;
use self::purge::PurgeConf;
use crate::hydrate::{self, HydrateSettings};
use crate::index::CacheIndex;
use crate::litespeed::{parse_max_age, OriginRules};
use crate::HttpMicrocacheModule;

/// http-level state.
pub struct MainConf {
    /// Some `microcache*` directive or variable appears in the configuration: the post-read
    /// handler then records each request as it arrived.
    pub used: bool,
    /// The shared counters zone, added in postconfiguration.
    pub counters: *mut ngx_shm_zone_t,
    /// `microcache_index`, one per indexed cache zone.
    pub indexes: Vec<CacheIndex>,
    /// The tag headers an index rebuild reads from cache files: the http level's.
    pub rebuild_tag_headers: TagHeaders,
}

impl Default for MainConf {
    fn default() -> Self {
        MainConf {
            used: false,
            counters: ptr::null_mut(),
            indexes: Vec::new(),
            rebuild_tag_headers: TagHeaders::default(),
        }
    }
}

/// What a level inherits: whether `microcache on` applies, the rules a request is normalised
/// and judged by, how responses and purges are tagged, and the secret purges between peers
/// are signed with.
#[derive(Clone, Debug)]
pub struct Settings {
    pub enable: bool,
    pub args: ArgRules,
    pub skip: SkipRules,
    pub hydrate: HydrateSettings,
    pub tag_headers: TagHeaders,
    pub hide_tag_headers: bool,
    pub purge_mode: PurgeMode,
    pub purge_secret: Option<Secret>,
    pub origin: OriginRules,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enable: false,
            args: ArgRules::default(),
            skip: SkipRules::default(),
            hydrate: HydrateSettings::default(),
            tag_headers: TagHeaders::default(),
            hide_tag_headers: true,
            purge_mode: PurgeMode::Hard,
            purge_secret: None,
            origin: OriginRules::default(),
        }
    }
}

/// One directive's effect on the settings of its level.
pub type Override = Box<dyn Fn(&mut Settings)>;

/// What a location answers by itself in the content phase.
pub enum Content {
    Purge(PurgeConf),
    Status,
}

impl Content {
    pub fn directive(&self) -> &'static str {
        match self {
            Content::Purge(_) => "microcache_purge",
            Content::Status => "microcache_status",
        }
    }
}

/// http, server and location configuration.
#[derive(Default)]
pub struct LocConf {
    /// The overrides set at this level, by the command that set them.
    overrides: Vec<(*const ngx_command_t, Override)>,
    /// Resolved when merging.
    settings: Option<Arc<Settings>>,
    /// `microcache_purge` or `microcache_status`: location only, not inherited.
    pub content: Option<Content>,
    /// `microcache_purge_peers`, until merging gives it to the location's purge configuration.
    peers: Option<PeersConf>,
}

impl LocConf {
    /// The settings of a merged level (every level a request runs in is merged).
    pub fn settings(&self) -> Option<&Settings> {
        self.settings.as_deref()
    }

    /// The settings of the http level, which is never merged itself.
    pub fn http_settings(&self) -> Arc<Settings> {
        self.resolve(None)
    }

    /// Gives the location's `microcache_purge_peers` to its purge configuration, or makes a
    /// purge location without a cache (a front tier) of a location that has only it. Called
    /// when merging, once the upstream blocks and this level's settings are known.
    pub fn attach_peers(&mut self, cf: &ngx_conf_t) -> Result<(), String> {
        let Some(mut peers) = self.peers.take() else {
            return Ok(());
        };
        peers.resolve(cf)?;
        if self.settings().is_none_or(|s| s.purge_secret.is_none()) {
            return Err("\"microcache_purge_peers\" needs \"microcache_purge_secret\": peers \
                        accept only signed purges"
                .to_owned());
        }
        match &mut self.content {
            Some(Content::Purge(purge)) => purge.peers = Some(peers),
            Some(Content::Status) => {
                return Err("\"microcache_purge_peers\" cannot be combined with \
                            \"microcache_status\" in one location"
                    .to_owned())
            }
            None => self.content = Some(Content::Purge(PurgeConf::front(peers)?)),
        }
        Ok(())
    }

    /// This level's settings, from `inherited` (or the defaults).
    fn resolve(&self, inherited: Option<&Arc<Settings>>) -> Arc<Settings> {
        match (inherited, self.overrides.is_empty()) {
            (Some(inherited), true) => inherited.clone(),
            _ => {
                let mut settings = inherited.map(|s| Settings::clone(s)).unwrap_or_default();
                for (_, apply) in &self.overrides {
                    apply(&mut settings);
                }
                settings.tag_headers = settings.origin.tag_headers(&settings.tag_headers);
                Arc::new(settings)
            }
        }
    }
}

impl Merge for LocConf {
    fn merge(&mut self, prev: &LocConf) -> Result<(), MergeConfigError> {
        // The http level is never merged itself: resolve it on the way down.
        let inherited = prev.settings.clone().unwrap_or_else(|| prev.resolve(None));
        self.settings = Some(self.resolve(Some(&inherited)));
        Ok(())
    }
}

const ANY_LEVEL: u32 = NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF;

/// How an inherited setting's directive turns its arguments into an override.
pub type Parse = fn(&[&[u8]]) -> Result<Override, ConfError>;

/// How a location-only directive makes its location answer by itself.
type ParseContent = fn(&mut ngx_conf_t) -> Result<Content, String>;

type Handler =
    unsafe extern "C" fn(*mut ngx_conf_t, *mut ngx_command_t, *mut c_void) -> *mut c_char;

/// A row of the table. Each directive's parser rides in the command's `post` field, where
/// nginx's own modules keep per-directive handlers too.
const fn command(name: ngx_str_t, type_: u32, set: Handler, post: *mut c_void) -> ngx_command_t {
    ngx_command_t {
        name,
        type_: type_ as ngx_uint_t,
        set: Some(set),
        conf: NGX_HTTP_LOC_CONF_OFFSET,
        offset: 0,
        post,
    }
}

/// A directive that sets an inherited setting, at any level.
const fn setting(name: ngx_str_t, type_: u32, parse: Parse) -> ngx_command_t {
    command(name, ANY_LEVEL | type_, set_setting, parse as *mut c_void)
}

/// A setting directive with more to it than `setting`: its parser reads the configuration (to
/// compile a complex value); it may repeat at a level; it may belong to a group of directives
/// that build one setting together (the hydration rules), of which the first at a level
/// replaces what the level inherits, as `add_header` does.
pub struct Extended {
    pub parse: fn(&mut ngx_conf_t) -> Result<Override, String>,
    pub repeat: bool,
    /// Empties the group's setting: the same function for every directive of a group.
    pub group: Option<fn(&mut Settings)>,
}

const fn extended(name: ngx_str_t, type_: u32, how: &'static Extended) -> ngx_command_t {
    command(name, ANY_LEVEL | type_, set_extended, ptr::from_ref(how).cast_mut().cast())
}

/// A location-only directive whose location answers by itself.
const fn content(name: ngx_str_t, type_: u32, parse: ParseContent) -> ngx_command_t {
    command(name, NGX_HTTP_LOC_CONF | type_, set_content, parse as *mut c_void)
}

pub static mut NGX_HTTP_MICROCACHE_COMMANDS: [ngx_command_t; 29] = [
    setting(ngx_string!("microcache"), NGX_CONF_FLAG, enable),
    setting(ngx_string!("microcache_strip_args"), NGX_CONF_1MORE, strip_args),
    setting(ngx_string!("microcache_keep_args"), NGX_CONF_1MORE, keep_args),
    setting(ngx_string!("microcache_sort_args"), NGX_CONF_FLAG, sort_args),
    setting(ngx_string!("microcache_max_args"), NGX_CONF_TAKE1, max_args),
    setting(ngx_string!("microcache_bypass_methods"), NGX_CONF_1MORE, bypass_methods),
    setting(ngx_string!("microcache_bypass_uri"), NGX_CONF_1MORE, bypass_uri),
    setting(ngx_string!("microcache_bypass_cookies"), NGX_CONF_1MORE, bypass_cookies),
    setting(ngx_string!("microcache_bypass_args"), NGX_CONF_1MORE, bypass_args),
    setting(ngx_string!("microcache_bypass_headers"), NGX_CONF_1MORE, bypass_headers),
    setting(ngx_string!("microcache_tag_headers"), NGX_CONF_1MORE, tag_headers),
    setting(ngx_string!("microcache_tag_headers_hide"), NGX_CONF_FLAG, tag_headers_hide),
    setting(ngx_string!("microcache_purge_mode"), NGX_CONF_TAKE1, purge_mode),
    setting(ngx_string!("microcache_purge_secret"), NGX_CONF_TAKE1, purge_secret),
    setting(ngx_string!("microcache_litespeed"), NGX_CONF_FLAG, litespeed),
    setting(ngx_string!("microcache_litespeed_max_age"), NGX_CONF_TAKE1, litespeed_max_age),
    setting(ngx_string!("microcache_purge_header"), NGX_CONF_TAKE1, purge_header),
    content(ngx_string!("microcache_purge"), NGX_CONF_TAKE12, purge),
    command(
        ngx_string!("microcache_purge_peers"),
        NGX_HTTP_LOC_CONF | NGX_CONF_TAKE123,
        set_peers,
        ptr::null_mut(),
    ),
    content(ngx_string!("microcache_status"), NGX_CONF_NOARGS, status),
    extended(ngx_string!("microcache_hydrate"), NGX_CONF_TAKE1, &hydrate::conf::STATE),
    setting(ngx_string!("microcache_hydrate_max_size"), NGX_CONF_TAKE1, hydrate::conf::max_size),
    extended(ngx_string!("microcache_hydrate_script"), NGX_CONF_TAKE1, &hydrate::conf::SCRIPT),
    extended(ngx_string!("microcache_hydrate_text"), NGX_CONF_TAKE2, &hydrate::conf::TEXT),
    extended(ngx_string!("microcache_hydrate_attr"), NGX_CONF_TAKE3, &hydrate::conf::ATTR),
    setting(ngx_string!("microcache_hydrate_fallback"), NGX_CONF_TAKE1, hydrate::conf::fallback),
    setting(
        ngx_string!("microcache_hydrate_cache_control"),
        NGX_CONF_TAKE1,
        hydrate::conf::cache_control,
    ),
    ngx_command_t {
        name: ngx_string!("microcache_index"),
        type_: (NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE12) as ngx_uint_t,
        set: Some(set_index),
        conf: NGX_HTTP_MAIN_CONF_OFFSET,
        offset: 0,
        post: ptr::null_mut(),
    },
    ngx_command_t::empty(),
];

fn purge(cf: &mut ngx_conf_t) -> Result<Content, String> {
    PurgeConf::parse(cf).map(Content::Purge)
}

fn status(_cf: &mut ngx_conf_t) -> Result<Content, String> {
    Ok(Content::Status)
}

fn tag_headers(args: &[&[u8]]) -> Result<Override, ConfError> {
    let names = TagHeaders::parse(args)?;
    Ok(Box::new(move |s| s.tag_headers = names.clone()))
}

fn tag_headers_hide(args: &[&[u8]]) -> Result<Override, ConfError> {
    let on = flag(args)?;
    Ok(Box::new(move |s| s.hide_tag_headers = on))
}

fn purge_mode(args: &[&[u8]]) -> Result<Override, ConfError> {
    let mode = PurgeMode::parse(args[0]).ok_or_else(|| ConfError {
        kind: "value",
        value: args[0].to_vec(),
        reason: "it must be \"hard\" or \"soft\"".to_owned(),
    })?;
    Ok(Box::new(move |s| s.purge_mode = mode))
}

fn purge_secret(args: &[&[u8]]) -> Result<Override, ConfError> {
    let secret = Secret::parse(args[0])?;
    Ok(Box::new(move |s| s.purge_secret = Some(secret.clone())))
}

fn litespeed(args: &[&[u8]]) -> Result<Override, ConfError> {
    let on = flag(args)?;
    Ok(Box::new(move |s| s.origin.litespeed = on))
}

fn litespeed_max_age(args: &[&[u8]]) -> Result<Override, ConfError> {
    let max_age = parse_max_age(args[0]).ok_or_else(|| ConfError {
        kind: "value",
        value: args[0].to_vec(),
        reason: "it must be a time of at least one second, such as 1d or 3600".to_owned(),
    })?;
    Ok(Box::new(move |s| s.origin.max_age = max_age))
}

fn purge_header(args: &[&[u8]]) -> Result<Override, ConfError> {
    let name = purge_header_name(args[0])?;
    Ok(Box::new(move |s| s.origin.purge_header = name.clone()))
}

fn enable(args: &[&[u8]]) -> Result<Override, ConfError> {
    let on = flag(args)?;
    Ok(Box::new(move |s| s.enable = on))
}

fn strip_args(args: &[&[u8]]) -> Result<Override, ConfError> {
    let strip = parse_name_globs(args, true)?;
    Ok(Box::new(move |s| s.args.strip = strip.clone()))
}

fn keep_args(args: &[&[u8]]) -> Result<Override, ConfError> {
    // `off` (an empty list) turns allow-list mode off.
    let keep = Some(parse_name_globs(args, false)?).filter(|k| !k.is_empty());
    Ok(Box::new(move |s| s.args.keep = keep.clone()))
}

fn sort_args(args: &[&[u8]]) -> Result<Override, ConfError> {
    let on = flag(args)?;
    Ok(Box::new(move |s| s.args.sort = on))
}

fn max_args(args: &[&[u8]]) -> Result<Override, ConfError> {
    let max = parse_max_args(args[0])?;
    Ok(Box::new(move |s| s.args.max_args = max))
}

fn bypass_methods(args: &[&[u8]]) -> Result<Override, ConfError> {
    let methods = parse_methods(args)?;
    Ok(Box::new(move |s| s.skip.methods = methods.clone()))
}

fn bypass_uri(args: &[&[u8]]) -> Result<Override, ConfError> {
    let uri = parse_uri_rule(args)?;
    Ok(Box::new(move |s| s.skip.uri = uri.clone()))
}

fn bypass_cookies(args: &[&[u8]]) -> Result<Override, ConfError> {
    let cookies = parse_name_globs(args, false)?;
    Ok(Box::new(move |s| s.skip.cookies = cookies.clone()))
}

fn bypass_args(args: &[&[u8]]) -> Result<Override, ConfError> {
    let names = parse_name_globs(args, false)?;
    Ok(Box::new(move |s| s.skip.args = names.clone()))
}

fn bypass_headers(args: &[&[u8]]) -> Result<Override, ConfError> {
    let headers = parse_header_globs(args)?;
    Ok(Box::new(move |s| s.skip.headers = headers.clone()))
}

/// `on` or `off`.
fn flag(args: &[&[u8]]) -> Result<bool, ConfError> {
    match args {
        [b"on"] => Ok(true),
        [b"off"] => Ok(false),
        _ => Err(ConfError {
            kind: "value",
            value: args.first().map(|a| a.to_vec()).unwrap_or_default(),
            reason: "it must be \"on\" or \"off\"".to_owned(),
        }),
    }
}

/// The default size of an index zone.
const INDEX_SIZE: usize = 32 << 20;

/// `microcache_index ZONE [size=SIZE]`: an index for the cache zone ZONE.
unsafe extern "C" fn set_index(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx calls directive handlers with their own cf and, for this one, MainConf.
    let (cf, mcf) = unsafe { (&mut *cf, &mut *conf.cast::<MainConf>()) };
    mcf.used = true;
    let name = cf.directive();
    let args = cf.arguments();
    let size = match args.get(1) {
        None => INDEX_SIZE,
        Some(arg) => match arg.strip_prefix(b"size=").and_then(parse_size) {
            Some(size) => size,
            None => {
                let e = ConfError {
                    kind: "value",
                    value: arg.to_vec(),
                    reason: "it must be \"size=\" and a size such as 32m".to_owned(),
                };
                return cf.error(e.message(&name));
            }
        },
    };
    match CacheIndex::add(cf, args[0], size) {
        Ok(index) => {
            mcf.indexes.push(index);
            NGX_CONF_OK
        }
        Err(message) => cf.error(format_args!("{message} in \"{name}\" directive")),
    }
}

/// A size as nginx writes them (`512k`, `32m`), with nginx's own parser.
fn parse_size(text: &[u8]) -> Option<usize> {
    let mut s = ngx_str_t { len: text.len(), data: text.as_ptr().cast_mut() };
    // SAFETY: ngx_parse_size only reads the string.
    let size = unsafe { nginx_sys::ngx_parse_size(&mut s) };
    usize::try_from(size).ok().filter(|&n| n > 0)
}

/// The level's configuration, marking the module as used.
///
/// # Safety
/// Called from a directive handler with its own `cf` and `conf` (a `LocConf`: every command
/// uses `NGX_HTTP_LOC_CONF_OFFSET`).
unsafe fn level<'a>(
    cf: *mut ngx_conf_t,
    conf: *mut c_void,
) -> (&'a mut ngx_conf_t, &'a mut LocConf) {
    // SAFETY: guaranteed by the caller.
    let (cf, lcf) = unsafe { (&mut *cf, &mut *conf.cast::<LocConf>()) };
    if let Some(mcf) = HttpMicrocacheModule::main_conf_mut(cf) {
        mcf.used = true;
    }
    (cf, lcf)
}

/// The handler of every inherited setting: parses the arguments into an override of this
/// level.
unsafe extern "C" fn set_setting(
    cf: *mut ngx_conf_t,
    cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx calls directive handlers with their own cf, command and LocConf.
    let (cf, lcf) = unsafe { level(cf, conf) };
    // SAFETY: every command with this handler was made by `setting`, with a Parse in `post`.
    let parse = unsafe { core::mem::transmute::<*mut c_void, Parse>((*cmd).post) };
    let name = cf.directive();
    if lcf.overrides.iter().any(|(set_by, _)| ptr::eq(*set_by, cmd)) {
        return cf.error(format_args!("\"{name}\" directive is duplicate"));
    }
    match parse(&cf.arguments()) {
        Ok(apply) => {
            lcf.overrides.push((cmd, apply));
            NGX_CONF_OK
        }
        Err(e) => cf.error(e.message(&name)),
    }
}

/// The handler of the `extended` directives.
unsafe extern "C" fn set_extended(
    cf: *mut ngx_conf_t,
    cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx calls directive handlers with their own cf, command and LocConf.
    let (cf, lcf) = unsafe { level(cf, conf) };
    // SAFETY: every command with this handler was made by `extended`, with an Extended.
    let how = unsafe { &*(*cmd).post.cast::<Extended>() };
    let name = cf.directive();
    if !how.repeat && lcf.overrides.iter().any(|(set_by, _)| ptr::eq(*set_by, cmd)) {
        return cf.error(format_args!("\"{name}\" directive is duplicate"));
    }
    let apply = match (how.parse)(cf) {
        Ok(apply) => apply,
        Err(message) => return cf.error(message),
    };
    if let Some(reset) = how.group {
        if !lcf.overrides.iter().any(|(set_by, _)| in_group(*set_by, reset)) {
            lcf.overrides.push((cmd, Box::new(reset)));
        }
    }
    lcf.overrides.push((cmd, apply));
    NGX_CONF_OK
}

/// Whether `cmd` is a directive of the group that `reset` empties.
fn in_group(cmd: *const ngx_command_t, reset: fn(&mut Settings)) -> bool {
    // SAFETY: overrides record rows of the command table, which is static.
    let cmd = unsafe { &*cmd };
    let handler: Handler = set_extended;
    let extended = cmd.set.is_some_and(|set| ptr::fn_addr_eq(set, handler));
    // SAFETY: rows with this handler carry an Extended.
    extended
        && unsafe { &*cmd.post.cast::<Extended>() }.group.is_some_and(|g| ptr::fn_addr_eq(g, reset))
}

/// The handler of `microcache_purge` and `microcache_status`: one of them per location.
unsafe extern "C" fn set_content(
    cf: *mut ngx_conf_t,
    cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx calls directive handlers with their own cf, command and LocConf.
    let (cf, lcf) = unsafe { level(cf, conf) };
    // SAFETY: every command with this handler was made by `content`, with a ParseContent.
    let parse = unsafe { core::mem::transmute::<*mut c_void, ParseContent>((*cmd).post) };
    let name = cf.directive();
    if let Some(existing) = &lcf.content {
        return match existing.directive() == name {
            true => cf.error(format_args!("\"{name}\" directive is duplicate")),
            false => cf.error(format_args!(
                "\"{name}\" cannot be combined with \"{}\" in one location",
                existing.directive()
            )),
        };
    }
    match parse(cf) {
        Ok(content) => {
            lcf.content = Some(content);
            NGX_CONF_OK
        }
        Err(message) => cf.error(message),
    }
}

/// The handler of `microcache_purge_peers`: once per location.
unsafe extern "C" fn set_peers(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx calls directive handlers with their own cf and LocConf.
    let (cf, lcf) = unsafe { level(cf, conf) };
    if lcf.peers.is_some() {
        let name = cf.directive();
        return cf.error(format_args!("\"{name}\" directive is duplicate"));
    }
    match PeersConf::parse(cf) {
        Ok(peers) => {
            lcf.peers = Some(peers);
            NGX_CONF_OK
        }
        Err(message) => cf.error(message),
    }
}
