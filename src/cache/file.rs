//! Cache files: nginx's binary header (`ngx_http_file_cache_header_t`), then `\nKEY: <key>\n`,
//! then the stored response headers and body.

use core::mem::{offset_of, size_of};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use microcache_core::purge::stored_key;
use nginx_sys::ngx_http_file_cache_header_t;

/// The key stored in a cache file; `Ok(None)` when the file is not a complete cache file.
pub fn read_stored_key(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let header_size = size_of::<ngx_http_file_cache_header_t>();
    let mut file = File::open(path)?;
    let mut head = vec![0; header_size];
    if file.read_exact(&mut head).is_err() {
        return Ok(None);
    }
    let at = offset_of!(ngx_http_file_cache_header_t, header_start);
    let header_start = usize::from(u16::from_ne_bytes([head[at], head[at + 1]]));
    if header_start <= header_size {
        return Ok(None);
    }
    head.resize(header_start, 0);
    if file.read_exact(&mut head[header_size..]).is_err() {
        return Ok(None);
    }
    Ok(stored_key(&head, header_size, header_start).map(<[u8]>::to_vec))
}
