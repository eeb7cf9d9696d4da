//! `microcache_purge ZONE [KEY]`: what the directive says, checked at configuration time.

use nginx_sys::{ngx_conf_t, ngx_http_complex_value_t, ngx_http_core_loc_conf_t};
use ngx::http::{HttpModuleLocationConf, NgxHttpCoreModule};

use super::ext::{compile_complex_value, ConfExt};
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
    zone_name: &'static [u8],
    pub key: PurgeKey,
    /// Resolved when locations are merged, once every cache zone is declared.
    pub zone: Option<CacheZone>,
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
        Ok(PurgeConf { zone_name: args[0], key, zone: None })
    }

    /// Finds the cache zone; called when locations are merged.
    pub fn resolve_zone(&mut self, cf: &ngx_conf_t) -> Result<(), String> {
        self.zone = Some(CacheZone::find(cf, self.zone_name, "microcache_purge")?);
        Ok(())
    }
}

/// The name of the location being parsed, if it is a prefix or exact location (not a regex or
/// named one).
fn location_prefix(cf: &ngx_conf_t) -> Option<&'static [u8]> {
    let clcf: &ngx_http_core_loc_conf_t = NgxHttpCoreModule::location_conf(cf)?;
    #[cfg(ngx_feature = "pcre")]
    let regex = !clcf.regex.is_null();
    #[cfg(not(ngx_feature = "pcre"))]
    let regex = false;
    let plain = !regex && clcf.named() == 0 && clcf.name.len > 0;
    plain.then(|| clcf.name.as_bytes())
}
