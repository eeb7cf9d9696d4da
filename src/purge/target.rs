//! What a purge removes: the key of the directive, the page after the location prefix (the
//! keyless form), the tags of a tag header, the lines of a batch body, or the items of a
//! response's purge headers.

use microcache_core::batch::{BatchLine, BatchTarget};
use microcache_core::key::KeyParts;
use microcache_core::litespeed::PurgeItem;
use microcache_core::purge::{keyless_target, PurgeTarget};
use microcache_core::purge_stats::PurgeKind;
use microcache_core::tags::{TagHeaders, TagSet};
use ngx::http::Request;

use crate::conf::purge::{PurgeConf, PurgeKey};
use crate::conf::Settings;
use crate::request::facts::{headers, host, scheme};
use crate::request::values::normalise_or_copy;
use crate::request::{state, values};

/// The entries a target selects.
pub enum Select {
    /// Exact keys — a page's `GET` and `HEAD` keys, or the directive's key — and their
    /// variants (`KEY#…`, LiteSpeed's vary cookie).
    Keys(Vec<Vec<u8>>),
    /// Every key that starts with one of these.
    Prefixes(Vec<Vec<u8>>),
    /// Every entry carrying the tag.
    Tag(Vec<u8>),
    /// The whole zone.
    All,
}

pub struct Target {
    /// What the answer calls it: the key (`*` ends a prefix), `tag:NAME`, or the batch line.
    pub shown: Vec<u8>,
    pub select: Select,
}

impl Target {
    pub fn kind(&self) -> PurgeKind {
        match self.select {
            Select::Keys(_) => PurgeKind::Key,
            Select::Prefixes(_) => PurgeKind::Prefix,
            Select::Tag(_) => PurgeKind::Tag,
            Select::All => PurgeKind::Zone,
        }
    }

    fn from_key(key: &[u8]) -> Target {
        let select = match PurgeTarget::parse(key) {
            PurgeTarget::Key(k) => Select::Keys(vec![k.to_vec()]),
            PurgeTarget::Prefix(p) => Select::Prefixes(vec![p.to_vec()]),
            PurgeTarget::All => Select::All,
        };
        Target { shown: key.to_vec(), select }
    }

    fn tag(tag: &[u8]) -> Target {
        Target { shown: [b"tag:", tag].concat(), select: Select::Tag(tag.to_vec()) }
    }
}

/// The keys of a page under this request's scheme and host: its `GET` and `HEAD` entries.
fn page_keys(r: &Request, path: &[u8], query: &[u8]) -> Vec<Vec<u8>> {
    let raw = r.as_ref();
    let (scheme, host) = (scheme(raw), host(raw));
    [&b"GET"[..], b"HEAD"]
        .iter()
        .map(|method| KeyParts { scheme, method, host, path, variant: b"" }.to_vec(query))
        .collect()
}

/// A page, or with a trailing `*` in the path (and no query) every page under the path.
fn page(r: &Request, path: &[u8], query: &[u8], shown: Vec<u8>) -> Target {
    match path.strip_suffix(b"*") {
        // A `*` ends a prefix only in the path; in a query it is just a byte.
        Some(prefix) if query.is_empty() => {
            Target { shown, select: Select::Prefixes(page_keys(r, prefix, b"")) }
        }
        _ => Target { shown, select: Select::Keys(page_keys(r, path, query)) },
    }
}

/// The target of a `GET`, `HEAD` or `PURGE` of the purge location: the directive's key, or the
/// keyless form's page. `Ok(None)` when a keyless purge's raw path does not start with the
/// location prefix (it matched only after decoding).
pub fn of_location(r: &mut Request, conf: &PurgeConf) -> Result<Option<Target>, &'static str> {
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
    let mut target = page(r, path, args, Vec::new());
    target.shown = match &target.select {
        Select::Prefixes(keys) => [&keys[0][..], b"*"].concat(),
        Select::Keys(keys) => keys[0].clone(),
        _ => Vec::new(),
    };
    Ok(Some(target))
}

/// The tags of the request's tag headers (`Surrogate-Key: post-12 term-4`): one target each.
/// Empty when it carries none.
pub fn of_tag_headers(r: &Request, names: &TagHeaders) -> Vec<Target> {
    let mut tags = TagSet::default();
    for (name, value) in headers(r.as_ref()) {
        if names.matches(name) {
            tags.add_value(value);
        }
    }
    tags.as_slice().iter().map(|t| Target::tag(t)).collect()
}

/// A page given with its query as written, normalised by the location's settings as the
/// keyless form's is.
fn normalised_page(
    r: &Request,
    path: &[u8],
    query: &[u8],
    settings: &Settings,
    shown: Vec<u8>,
) -> Target {
    let (mut args, mut stripped) = (vec![0; query.len()], vec![0; query.len()]);
    let outcome = normalise_or_copy(query, settings, &mut args, &mut stripped);
    page(r, path, &args[..outcome.args_len], shown)
}

/// The targets of a batch body's lines.
pub fn of_batch(r: &Request, lines: &[BatchLine<'_>], settings: &Settings) -> Vec<Target> {
    lines
        .iter()
        .map(|line| {
            let shown = line.text.to_vec();
            match line.target {
                BatchTarget::Url { path, query } => {
                    normalised_page(r, path, query, settings, shown)
                }
                BatchTarget::Prefix(path) => {
                    Target { shown, select: Select::Prefixes(page_keys(r, path, b"")) }
                }
                BatchTarget::Tag(tag) => Target { shown, select: Select::Tag(tag.to_vec()) },
                BatchTarget::All => Target { shown, select: Select::All },
            }
        })
        .collect()
}

/// The targets of a response's purge headers, under the response's scheme and host.
pub fn of_origin(r: &Request, items: &[PurgeItem<'_>], settings: &Settings) -> Vec<Target> {
    items
        .iter()
        .map(|item| match *item {
            PurgeItem::All => Target { shown: b"*".to_vec(), select: Select::All },
            PurgeItem::Tag(tag) => Target::tag(tag),
            PurgeItem::Url { path, query } => {
                let shown = match query.is_empty() {
                    true => path.to_vec(),
                    false => [path, b"?", query].concat(),
                };
                normalised_page(r, path, query, settings, shown)
            }
        })
        .collect()
}
