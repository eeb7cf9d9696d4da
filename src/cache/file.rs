//! Cache files: nginx's binary header (`ngx_http_file_cache_header_t`), then `\nKEY: <key>\n`,
//! then the stored response headers and body.

use core::mem::{offset_of, size_of};
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;

use microcache_core::purge::stored_key;
use microcache_core::tags::{stored_header_block, stored_tags, TagHeaders, TagSet};
use nginx_sys::{ngx_http_file_cache_header_t, time_t, NGX_HTTP_CACHE_VERSION};

const HEADER_SIZE: usize = size_of::<ngx_http_file_cache_header_t>();

/// The start of a cache file: its key and the response headers stored with it.
pub struct Head {
    bytes: Vec<u8>,
    header_start: usize,
}

impl Head {
    /// The key the entry is stored under.
    pub fn key(&self) -> Option<&[u8]> {
        stored_key(&self.bytes, HEADER_SIZE, self.header_start)
    }

    /// The stored response headers; empty unless read with them.
    fn headers(&self) -> &[u8] {
        self.bytes.get(self.header_start..).unwrap_or_default()
    }

    /// The tags of the stored response headers named `names` (empty unless read with the
    /// headers); `scratch` holds a FastCGI cache's headers, taken out of its records.
    pub fn tags<'a>(&'a self, names: &TagHeaders, scratch: &'a mut Vec<u8>) -> TagSet<'a> {
        let mut tags = TagSet::default();
        stored_tags(stored_header_block(self.headers(), scratch), names, &mut tags);
        tags
    }
}

fn field(head: &[u8], at: usize) -> usize {
    usize::from(u16::from_ne_bytes([head[at], head[at + 1]]))
}

/// Reads a cache file's head, with the stored response headers when `headers` is true.
/// `Ok(None)` when the file is not a complete cache file of this nginx.
pub fn read_head(path: &Path, headers: bool) -> io::Result<Option<Head>> {
    let mut file = File::open(path)?;
    let mut bytes = vec![0; HEADER_SIZE];
    if file.read_exact(&mut bytes).is_err() || !is_current(&bytes) {
        return Ok(None);
    }
    let header_start = field(&bytes, offset_of!(ngx_http_file_cache_header_t, header_start));
    let body_start = field(&bytes, offset_of!(ngx_http_file_cache_header_t, body_start));
    let end = if headers { body_start } else { header_start };
    if header_start <= HEADER_SIZE || end < header_start {
        return Ok(None);
    }
    bytes.resize(end, 0);
    if file.read_exact(&mut bytes[HEADER_SIZE..]).is_err() {
        return Ok(None);
    }
    Ok(Some(Head { bytes, header_start }))
}

/// Whether a header is of the layout this nginx writes.
fn is_current(header: &[u8]) -> bool {
    const VERSION: usize = offset_of!(ngx_http_file_cache_header_t, version);
    let mut version = [0u8; size_of::<usize>()];
    version.copy_from_slice(&header[VERSION..VERSION + size_of::<usize>()]);
    usize::from_ne_bytes(version) == NGX_HTTP_CACHE_VERSION as usize
}

/// Marks the cached response expired at `expired` (seconds since the epoch) in its file's
/// header, where nginx reads its validity on every hit. `Ok(false)` when there is no such file.
pub fn expire(path: &Path, expired: time_t) -> io::Result<bool> {
    const VALID_SEC: usize = offset_of!(ngx_http_file_cache_header_t, valid_sec);
    let file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let mut header = [0u8; HEADER_SIZE];
    if file.read_exact_at(&mut header, 0).is_err() || !is_current(&header) {
        return Ok(false);
    }
    let mut valid = [0u8; size_of::<time_t>()];
    valid.copy_from_slice(&header[VALID_SEC..VALID_SEC + size_of::<time_t>()]);
    if time_t::from_ne_bytes(valid) > expired {
        file.write_all_at(&expired.to_ne_bytes(), VALID_SEC as u64)?;
    }
    Ok(true)
}
