//! The hydration directives (README "microcache_hydrate"): what each one sets. Selectors,
//! fields and templates are compiled here, once; a bad one fails `nginx -t` naming it.

use core::fmt;

use microcache_core::config::ConfError;
use microcache_core::hydrate::{Rules, DEFAULT_MAX_SIZE};
use nginx_sys::{ngx_conf_t, ngx_http_complex_value_t, ngx_parse_size, ngx_str_t};

use crate::conf::ext::{compile_complex_value, ConfExt};
use crate::conf::{Extended, Override, Settings};

/// `microcache_hydrate_max_size` accepts at most this: a state is a small document.
const MAX_SIZE_LIMIT: usize = 1024 * 1024;

/// What a level's hydration directives say, inherited like every setting.
#[derive(Clone)]
pub struct HydrateSettings {
    /// `microcache_hydrate`; `None` when off.
    pub state: Option<StateUri>,
    /// `microcache_hydrate_max_size`.
    pub max_size: usize,
    /// `microcache_hydrate_script`, `microcache_hydrate_text`, `microcache_hydrate_attr`.
    pub rules: Rules,
    /// `microcache_hydrate_fallback`.
    pub fallback: Fallback,
    /// `microcache_hydrate_cache_control`: the value a hydrated response gets; `None` (`off`)
    /// keeps the response's own.
    pub cache_control: Option<Box<[u8]>>,
}

impl Default for HydrateSettings {
    fn default() -> Self {
        HydrateSettings {
            state: None,
            max_size: DEFAULT_MAX_SIZE,
            rules: Rules::default(),
            fallback: Fallback::Skeleton,
            cache_control: Some(Box::from(&b"private, no-store"[..])),
        }
    }
}

impl fmt::Debug for HydrateSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HydrateSettings")
            .field("state", &self.state.is_some())
            .field("max_size", &self.max_size)
            .field("rules", &self.rules)
            .field("fallback", &self.fallback)
            .field("cache_control", &self.cache_control.as_deref().map(<[u8]>::escape_ascii))
            .finish()
    }
}

/// The state's URI, a complex value compiled in the configuration pool.
#[derive(Clone, Copy)]
pub struct StateUri(pub &'static ngx_http_complex_value_t);

// SAFETY: the complex value is configuration memory that nobody writes after the configuration
// is read; nginx workers run requests on one thread.
unsafe impl Send for StateUri {}
// SAFETY: as above.
unsafe impl Sync for StateUri {}

/// What a visitor gets when the state is unavailable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// The page as cached, unchanged.
    Skeleton,
    /// The origin's render for this visitor, the cache bypassed.
    Origin,
}

pub static STATE: Extended = Extended { parse: state_uri, repeat: false, group: None };
pub static SCRIPT: Extended = Extended { parse: script, repeat: false, group: Some(no_rules) };
pub static TEXT: Extended = Extended { parse: text, repeat: true, group: Some(no_rules) };
pub static ATTR: Extended = Extended { parse: attr, repeat: true, group: Some(no_rules) };

/// `microcache_hydrate URI | off`.
fn state_uri(cf: &mut ngx_conf_t) -> Result<Override, String> {
    let directive = cf.directive();
    let uri = cf.arguments()[0];
    if uri == b"off" {
        return Ok(Box::new(|s| s.hydrate.state = None));
    }
    if !uri.starts_with(b"/") && !uri.starts_with(b"$") {
        return Err(ConfError {
            kind: "URI",
            value: uri.to_vec(),
            reason: "a subrequest URI starts with \"/\"".to_owned(),
        }
        .message(&directive));
    }
    let cv = compile_complex_value(cf, 1)
        .ok_or_else(|| format!("invalid URI in \"{directive}\" directive"))?;
    let uri = StateUri(cv);
    Ok(Box::new(move |s| s.hydrate.state = Some(uri)))
}

/// The group reset of the rule directives: a level with rules of its own inherits none.
fn no_rules(s: &mut Settings) {
    s.hydrate.rules = Rules::default();
}

/// A rule directive: its rule is built alone here and added to the level's rules.
fn rule(
    cf: &mut ngx_conf_t,
    build: impl FnOnce(&mut Rules, &[&[u8]]) -> Result<(), ConfError>,
) -> Result<Override, String> {
    let directive = cf.directive();
    let mut one = Rules::default();
    build(&mut one, &cf.arguments()).map_err(|e| e.message(&directive))?;
    Ok(Box::new(move |s| s.hydrate.rules.extend(&one)))
}

/// `microcache_hydrate_script NAME`.
fn script(cf: &mut ngx_conf_t) -> Result<Override, String> {
    rule(cf, |rules, args| rules.set_script(args[0]))
}

/// `microcache_hydrate_text SELECTOR FIELD`.
fn text(cf: &mut ngx_conf_t) -> Result<Override, String> {
    rule(cf, |rules, args| rules.add_text(args[0], args[1]))
}

/// `microcache_hydrate_attr SELECTOR ATTR TEMPLATE`.
fn attr(cf: &mut ngx_conf_t) -> Result<Override, String> {
    rule(cf, |rules, args| rules.add_attr(args[0], args[1], args[2]))
}

/// `microcache_hydrate_max_size SIZE`, read as nginx reads sizes (`64k`, `1m`).
pub fn max_size(args: &[&[u8]]) -> Result<Override, ConfError> {
    let mut value = ngx_str_t { len: args[0].len(), data: args[0].as_ptr().cast_mut() };
    // SAFETY: ngx_parse_size only reads the string.
    let size = unsafe { ngx_parse_size(&mut value) };
    let size = usize::try_from(size).ok().filter(|s| (1..=MAX_SIZE_LIMIT).contains(s));
    let size = size.ok_or_else(|| ConfError {
        kind: "value",
        value: args[0].to_vec(),
        reason: "it must be a size from 1 to 1m".to_owned(),
    })?;
    Ok(Box::new(move |s| s.hydrate.max_size = size))
}

/// `microcache_hydrate_fallback skeleton | origin`.
pub fn fallback(args: &[&[u8]]) -> Result<Override, ConfError> {
    let fallback = match args[0] {
        b"skeleton" => Fallback::Skeleton,
        b"origin" => Fallback::Origin,
        other => {
            return Err(ConfError {
                kind: "value",
                value: other.to_vec(),
                reason: "it must be \"skeleton\" or \"origin\"".to_owned(),
            })
        }
    };
    Ok(Box::new(move |s| s.hydrate.fallback = fallback))
}

/// `microcache_hydrate_cache_control VALUE | off`.
pub fn cache_control(args: &[&[u8]]) -> Result<Override, ConfError> {
    let value = args[0];
    if value == b"off" {
        return Ok(Box::new(|s| s.hydrate.cache_control = None));
    }
    if value.is_empty() || value.iter().any(|&c| c < b' ' || c == 0x7f) {
        return Err(ConfError {
            kind: "value",
            value: value.to_vec(),
            reason: "a header value is not empty and has no control characters".to_owned(),
        });
    }
    let value: Box<[u8]> = value.into();
    Ok(Box::new(move |s| s.hydrate.cache_control = Some(value.clone())))
}
