//! What one purge request removes: the key of the directive, or for the keyless form the key a
//! `GET` (and a `HEAD`) of the URI after the location prefix would have.

use microcache_core::key::KeyParts;
use microcache_core::purge::{keyless_target, PurgeTarget};
use ngx::http::Request;

use crate::conf::purge::{PurgeConf, PurgeKey};
use crate::request::facts::{host, scheme};
use crate::request::{state, values};

/// The entries a purge removes.
pub enum Scope {
    /// Exact keys.
    Keys(Vec<Vec<u8>>),
    /// Every key that starts with one of these.
    Prefixes(Vec<Vec<u8>>),
    /// The whole zone.
    All,
}

pub struct Target {
    /// The key the answer names (`*` ends a prefix).
    pub shown: Vec<u8>,
    pub scope: Scope,
}

impl Target {
    fn from_key(key: &[u8]) -> Target {
        let scope = match PurgeTarget::parse(key) {
            PurgeTarget::Key(k) => Scope::Keys(vec![k.to_vec()]),
            PurgeTarget::Prefix(p) => Scope::Prefixes(vec![p.to_vec()]),
            PurgeTarget::All => Scope::All,
        };
        Target { shown: key.to_vec(), scope }
    }
}

/// The request's target; `Ok(None)` when a keyless purge's raw path does not start with the
/// location prefix (it matched only after decoding).
pub fn of(r: &mut Request, conf: &PurgeConf) -> Result<Option<Target>, &'static str> {
    let location = match conf.key {
        PurgeKey::Given(cv) => {
            let key = r.get_complex_value(cv).ok_or("cannot evaluate the purge key")?;
            return Ok(Some(Target::from_key(key.as_bytes())));
        }
        PurgeKey::AfterPrefix(location) => location,
    };
    let values = values::of(r).ok_or("cannot compute the request's values")?;
    let state = state::find(r.as_ref()).ok_or("the request state is missing")?;
    let Some(path) = keyless_target(location, state.arrival.path.as_bytes()) else {
        return Ok(None);
    };
    let args = values.args.as_bytes();
    // A `*` ends a prefix only in the path; in a query it is just a byte.
    let (path, prefix) = match path.strip_suffix(b"*") {
        Some(p) if args.is_empty() => (p, true),
        _ => (path, false),
    };
    let raw = r.as_ref();
    let key = |method: &[u8]| {
        KeyParts { scheme: scheme(raw), method, host: host(raw), path }.to_vec(args)
    };
    let mut shown = key(b"GET");
    let keys = vec![shown.clone(), key(b"HEAD")];
    if prefix {
        shown.push(b'*');
    }
    let scope = if prefix { Scope::Prefixes(keys) } else { Scope::Keys(keys) };
    Ok(Some(Target { shown, scope }))
}
