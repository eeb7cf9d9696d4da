//! `microcache_purge ZONE [KEY]`: what the directive says, checked at configuration time. A
//! location with only `microcache_purge_peers` (a front tier) is a purge location without a zone.

use nginx_sys::{ngx_conf_t, ngx_http_complex_value_t, ngx_http_core_loc_conf_t};
use ngx::http::{HttpModuleLocationConf, NgxHttpCoreModule};

use super::ext::{compile_complex_value, ConfExt};
use super::peers::PeersConf;
use crate::cache::CacheZone;

/// How a purge request names the entry it removes.
#[derive(Clone, Copy)]
pub enum PurgeKey {
    /// The complex value KEY (`"$scheme$request_method$host$1"`).
    Given(&'static ngx_http_complex_value_t),
    /// The keyless form: the key of a `GET` of the URI that follows this location's name.
    AfterPrefix(&'static [u8]),
}

pub struct PurgeConf {
    /// None for a front tier, which has no cache.
    zone_name: Option<&'static [u8]>,
    pub key: PurgeKey,
    /// Resolved when locations are merged, once every cache zone is declared.
    pub zone: Option<CacheZone>,
    /// `microcache_purge_peers`, resolved when locations are merged.
    pub peers: Option<PeersConf>,
}

impl PurgeConf {
    pub fn parse(cf: &mut ngx_conf_t) -> Result<PurgeConf, String> {
        let directive = cf.directive();
        let args = cf.arguments();
        let key = if args.len() > 1 {
            let cv = compile_complex_value(cf, 2)
                .ok_or_else(|| format!("invalid key in \"{directive}\" directive"))?;
            PurgeKey::Given(cv)
        } else {
            PurgeKey::AfterPrefix(location_prefix(cf).ok_or_else(|| {
                format!(
                    "\"{directive}\" without a key needs a prefix or exact location such as \
                     \"location /purge/\"; give the key explicitly in other locations"
                )
            })?)
        };
        Ok(PurgeConf { zone_name: Some(args[0]), key, zone: None, peers: None })
    }

    /// A front tier's purge location: no cache, every purge goes to the peers. Purges are
    /// read as in the keyless form, so only a prefix or exact location can be one.
    pub fn front(peers: PeersConf) -> Result<PurgeConf, String> {
        let prefix = peers.prefix.ok_or(
            "\"microcache_purge_peers\" without \"microcache_purge\" needs a prefix or exact \
             location such as \"location /purge/\"",
        )?;
        let key = PurgeKey::AfterPrefix(prefix);
        Ok(PurgeConf { zone_name: None, key, zone: None, peers: Some(peers) })
    }

    /// Finds the cache zone; called when locations are merged.
    pub fn resolve_zone(&mut self, cf: &ngx_conf_t) -> Result<(), String> {
        if let Some(name) = self.zone_name {
            self.zone = Some(CacheZone::find(cf, name, "microcache_purge")?);
        }
        Ok(())
    }
}

/// The name of the location being parsed, if it is a prefix or exact location (not a regex or
/// named one).
pub(super) fn location_prefix(cf: &ngx_conf_t) -> Option<&'static [u8]> {
    let clcf: &ngx_http_core_loc_conf_t = NgxHttpCoreModule::location_conf(cf)?;
    #[cfg(ngx_feature = "pcre")]
    let regex = !clcf.regex.is_null();
    #[cfg(not(ngx_feature = "pcre"))]
    let regex = false;
    let plain = !regex && clcf.named() == 0 && clcf.name.len > 0;
    plain.then(|| clcf.name.as_bytes())
}
