//! `microcache_purge_peers UPSTREAM [connect_timeout=TIME] [timeout=TIME]`: the servers a purge
//! location sends its purges to, and how nginx's upstream module talks to them. The upstream
//! block is looked up when locations are merged, when every `upstream` block of the http block
//! is known, wherever it is written.

use nginx_sys::{
    ngx_conf_t, ngx_http_upstream_conf_t, ngx_http_upstream_main_conf_t,
    ngx_http_upstream_server_t, ngx_http_upstream_srv_conf_t, ngx_inet_get_port, ngx_msec_t,
    ngx_parse_time, ngx_str_t, sockaddr, socklen_t, NGX_HTTP_MAX_SUBREQUESTS,
    NGX_HTTP_UPSTREAM_CREATE, NGX_HTTP_UPSTREAM_FT_OFF,
};
use ngx::core::Pool;
use ngx::http::{HttpModuleMainConf, NgxHttpUpstreamModule};

use super::ext::ConfExt;
use super::purge::location_prefix;

const DIRECTIVE: &str = "microcache_purge_peers";
/// A peer that is down costs a purge at most this long.
const CONNECT_TIMEOUT_MS: ngx_msec_t = 1000;
/// A peer's own purge of a large cache, walked a bounded amount per turn, takes time.
const TIMEOUT_MS: ngx_msec_t = 30_000;
/// Room for a purge answer's head; its body is read and dropped.
const BUFFER_SIZE: usize = 4096;

/// One address of the upstream block.
pub struct Peer {
    /// As nginx prints it (`10.0.0.2:80`, `unix:/run/node.sock`).
    pub name: ngx_str_t,
    pub sockaddr: *mut sockaddr,
    pub socklen: socklen_t,
    pub port: u16,
}

pub struct PeersConf {
    upstream: &'static [u8],
    /// The location's name if it is a prefix or exact location: where a location without
    /// `microcache_purge` (a front tier) finds the page of a keyless purge.
    pub prefix: Option<&'static [u8]>,
    /// Resolved when locations are merged.
    pub peers: Vec<Peer>,
    /// The upstream settings every peer's request uses: timeouts and the head buffer.
    pub upstream_conf: &'static ngx_http_upstream_conf_t,
}

impl PeersConf {
    pub fn parse(cf: &mut ngx_conf_t) -> Result<PeersConf, String> {
        let args = cf.arguments();
        let (mut connect, mut timeout) = (CONNECT_TIMEOUT_MS, TIMEOUT_MS);
        for arg in &args[1..] {
            let (slot, value) = if let Some(v) = arg.strip_prefix(b"connect_timeout=") {
                (&mut connect, v)
            } else if let Some(v) = arg.strip_prefix(b"timeout=") {
                (&mut timeout, v)
            } else {
                return Err(invalid(
                    arg,
                    "it must be \"connect_timeout=TIME\" or \"timeout=TIME\"",
                ));
            };
            *slot =
                parse_time(value).ok_or_else(|| invalid(arg, "not a time such as 500ms or 5s"))?;
        }
        // SAFETY: cf->pool is the configuration pool, which lives as long as the cycle.
        let pool = unsafe { Pool::from_ngx_pool(cf.pool) };
        // SAFETY: a zeroed ngx_http_upstream_conf_t is the unset state nginx's modules start from.
        let conf = unsafe { pool.calloc_type::<ngx_http_upstream_conf_t>().as_mut() }
            .ok_or("cannot allocate the upstream settings")?;
        conf.connect_timeout = connect;
        conf.send_timeout = timeout;
        conf.read_timeout = timeout;
        conf.buffer_size = BUFFER_SIZE;
        conf.next_upstream = NGX_HTTP_UPSTREAM_FT_OFF as _;
        // A purge a client gave up on still reaches every peer.
        conf.ignore_client_abort = 1;
        conf.module = ngx_str_t { len: DIRECTIVE.len(), data: DIRECTIVE.as_ptr().cast_mut() };
        Ok(PeersConf {
            upstream: args[0],
            prefix: location_prefix(cf),
            peers: Vec::new(),
            upstream_conf: conf,
        })
    }

    /// Finds the upstream block and its addresses; called when locations are merged.
    pub fn resolve(&mut self, cf: &ngx_conf_t) -> Result<(), String> {
        let shown = String::from_utf8_lossy(self.upstream);
        let umcf: &ngx_http_upstream_main_conf_t = NgxHttpUpstreamModule::main_conf(cf)
            .ok_or_else(|| format!("no upstream blocks for \"{DIRECTIVE}\" directive"))?;
        // SAFETY: the upstream module's `upstreams` array holds its server configurations.
        let blocks = unsafe { umcf.upstreams.as_slice::<*mut ngx_http_upstream_srv_conf_t>() };
        let block = blocks
            .iter()
            // SAFETY: every element is a valid server configuration of this cycle.
            .map(|&u| unsafe { &*u })
            .find(|u| {
                u.flags & NGX_HTTP_UPSTREAM_CREATE as usize != 0
                    && u.host.as_bytes() == self.upstream
            })
            .ok_or_else(|| format!("unknown upstream \"{shown}\" in \"{DIRECTIVE}\" directive"))?;
        // SAFETY: an upstream block's `servers` array holds its `server` lines.
        let servers = unsafe { block.servers.as_ref() }
            .map_or(&[][..], |s| unsafe { s.as_slice::<ngx_http_upstream_server_t>() });
        for server in servers.iter().filter(|s| s.down == 0) {
            if server.naddrs == 0 {
                return Err(format!(
                    "server \"{}\" of upstream \"{shown}\" has no address when nginx starts, which \
                     \"{DIRECTIVE}\" needs (\"resolve\" is not supported)",
                    server.name.as_bytes().escape_ascii()
                ));
            }
            // SAFETY: a server's `addrs` holds naddrs addresses resolved at configuration time.
            let addrs = unsafe { core::slice::from_raw_parts(server.addrs, server.naddrs) };
            for addr in addrs {
                // SAFETY: the address lives as long as the cycle.
                let port = unsafe { ngx_inet_get_port(addr.sockaddr) };
                self.peers.push(Peer {
                    name: addr.name,
                    sockaddr: addr.sockaddr,
                    socklen: addr.socklen,
                    port,
                });
            }
        }
        match self.peers.len() {
            0 => Err(format!("upstream \"{shown}\" in \"{DIRECTIVE}\" directive has no server")),
            // Each peer is a subrequest, and nginx allows a request so many.
            n if n >= NGX_HTTP_MAX_SUBREQUESTS as usize => Err(format!(
                "upstream \"{shown}\" in \"{DIRECTIVE}\" directive has {n} addresses, at most {} \
                 are supported",
                NGX_HTTP_MAX_SUBREQUESTS - 1
            )),
            _ => Ok(()),
        }
    }
}

fn invalid(arg: &[u8], reason: &str) -> String {
    format!("invalid value \"{}\" in \"{DIRECTIVE}\" directive, {reason}", arg.escape_ascii())
}

/// A time as nginx writes them (`500ms`, `2s`), in milliseconds, with nginx's own parser.
fn parse_time(text: &[u8]) -> Option<ngx_msec_t> {
    let mut s = ngx_str_t { len: text.len(), data: text.as_ptr().cast_mut() };
    // SAFETY: ngx_parse_time only reads the string.
    let ms = unsafe { ngx_parse_time(&mut s, 0) };
    ngx_msec_t::try_from(ms).ok().filter(|&ms| ms > 0)
}
