//! Walking a cache directory one entry at a time, so callers can bound the work they do per
//! event-loop turn.

use std::fs::{self, ReadDir};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use microcache_core::purge::parse_hex_name;

/// A depth-first walk of a cache directory.
pub struct DirWalk {
    dirs: Vec<ReadDir>,
}

/// What one step of a walk found.
pub enum Step {
    /// A cache file: its path and the hash its name spells.
    File(PathBuf, [u8; 16]),
    /// A directory entry that is not a cache file, or a directory entered.
    Other,
    /// A directory could not be read; the walk goes on with the rest.
    Error(io::Error),
}

impl DirWalk {
    /// A walk of `root`; a missing root is an empty cache.
    pub fn new(root: &Path) -> io::Result<DirWalk> {
        match fs::read_dir(root) {
            Ok(d) => Ok(DirWalk { dirs: vec![d] }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(DirWalk { dirs: Vec::new() }),
            Err(e) => Err(e),
        }
    }
}

impl Iterator for DirWalk {
    type Item = Step;

    /// One directory entry; `None` once the walk is over.
    fn next(&mut self) -> Option<Step> {
        loop {
            let dir = self.dirs.last_mut()?;
            let entry = match dir.next() {
                None => {
                    self.dirs.pop();
                    continue;
                }
                Some(Err(e)) => {
                    self.dirs.pop();
                    return Some(Step::Error(e));
                }
                Some(Ok(entry)) => entry,
            };
            let path = entry.path();
            return Some(match entry.file_type() {
                Ok(t) if t.is_dir() => match fs::read_dir(&path) {
                    Ok(d) => {
                        self.dirs.push(d);
                        Step::Other
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Step::Other,
                    Err(e) => Step::Error(e),
                },
                Ok(t) if t.is_file() => match parse_hex_name(entry.file_name().as_bytes()) {
                    Some(hash) => Step::File(path, hash),
                    None => Step::Other,
                },
                _ => Step::Other,
            });
        }
    }
}
