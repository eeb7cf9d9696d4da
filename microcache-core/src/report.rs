//! What the content handlers answer: counters as JSON or Prometheus text, and purge results.

use core::fmt::Write as _;

use crate::skip::SkipReason;

/// How a purge request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PurgeOutcome {
    /// Something was removed: `200`.
    Purged,
    /// Nothing was cached under the key: `404`.
    NotFound,
    /// The cache could not be read or changed: `500`.
    Failed,
}

impl PurgeOutcome {
    pub const ALL: [PurgeOutcome; 3] =
        [PurgeOutcome::Purged, PurgeOutcome::NotFound, PurgeOutcome::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            PurgeOutcome::Purged => "purged",
            PurgeOutcome::NotFound => "not_found",
            PurgeOutcome::Failed => "failed",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// A reading of the shared counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub requests: u64,
    pub rewritten: u64,
    pub stripped_args: u64,
    /// By [`SkipReason::index`].
    pub skips: [u64; SkipReason::ALL.len()],
    /// By [`PurgeOutcome::index`].
    pub purges: [u64; PurgeOutcome::ALL.len()],
    pub purged_entries: u64,
}

impl Snapshot {
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(512);
        let _ = write!(
            out,
            "{{\"requests\":{},\"rewritten\":{},\"stripped_args\":{},\"skips\":{{",
            self.requests, self.rewritten, self.stripped_args
        );
        for (i, reason) in SkipReason::ALL.iter().enumerate() {
            let comma = if i > 0 { "," } else { "" };
            let _ = write!(out, "{comma}\"{}\":{}", reason.as_str(), self.skips[i]);
        }
        out.push_str("},\"purges\":{");
        for (i, outcome) in PurgeOutcome::ALL.iter().enumerate() {
            let comma = if i > 0 { "," } else { "" };
            let _ = write!(out, "{comma}\"{}\":{}", outcome.as_str(), self.purges[i]);
        }
        let _ = writeln!(out, "}},\"purged_entries\":{}}}", self.purged_entries);
        out
    }

    /// Prometheus text exposition format, version 0.0.4.
    pub fn to_prometheus(&self) -> String {
        let mut out = String::with_capacity(2048);
        let mut family = |name: &str, help: &str, samples: &[(Option<(&str, &str)>, u64)]| {
            let _ = writeln!(out, "# HELP microcache_{name} {help}");
            let _ = writeln!(out, "# TYPE microcache_{name} counter");
            for (label, value) in samples {
                match label {
                    Some((k, v)) => {
                        let _ = writeln!(out, "microcache_{name}{{{k}=\"{v}\"}} {value}");
                    }
                    None => {
                        let _ = writeln!(out, "microcache_{name} {value}");
                    }
                }
            }
        };
        family("requests_total", "Requests in a microcache on scope.", &[(None, self.requests)]);
        family(
            "rewritten_total",
            "Requests whose query string was rewritten.",
            &[(None, self.rewritten)],
        );
        family("stripped_args_total", "Query arguments removed.", &[(None, self.stripped_args)]);
        let skips: Vec<_> = SkipReason::ALL
            .iter()
            .map(|r| (Some(("reason", r.as_str())), self.skips[r.index()]))
            .collect();
        family("skips_total", "Requests that skipped the cache, by first matching rule.", &skips);
        let purges: Vec<_> = PurgeOutcome::ALL
            .iter()
            .map(|o| (Some(("result", o.as_str())), self.purges[o.index()]))
            .collect();
        family("purges_total", "Purge requests, by result.", &purges);
        family(
            "purged_entries_total",
            "Cache entries removed by purges.",
            &[(None, self.purged_entries)],
        );
        out
    }
}

/// Appends `bytes` as the contents of a JSON string. Valid UTF-8 passes through; quotes,
/// backslashes and control characters are escaped; a byte that is not UTF-8 becomes `\u00XX`.
pub fn json_escape_into(out: &mut String, bytes: &[u8]) {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 || c == '\u{7f}' => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\u{:04x}", b);
        }
    }
}

/// The body of a purge response.
pub fn purge_response(key: &[u8], purged: u64) -> String {
    let mut out = String::with_capacity(key.len() + 32);
    out.push_str("{\"key\":\"");
    json_escape_into(&mut out, key);
    let _ = writeln!(out, "\",\"purged\":{purged}}}");
    out
}

/// How a purge found its entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexUse {
    /// Through the cache index, in time proportional to the matches.
    Used,
    /// By walking the cache directory (no index, or it is rebuilding or overflowed).
    Walk,
    /// Neither: without an index, a page's entries are removed by the names their keys hash
    /// to.
    None,
}

impl IndexUse {
    pub fn as_str(self) -> &'static str {
        match self {
            IndexUse::Used => "used",
            IndexUse::Walk => "walk",
            IndexUse::None => "none",
        }
    }
}

/// One target of a purge response and the entries it purged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetResult<'a> {
    /// As the request wrote it: a batch line, `tag:NAME` for a tag header, the key of a URL.
    pub target: &'a [u8],
    pub purged: u64,
}

/// The body of a purge response:
/// `{"key":"…","mode":"hard","purged":N,"targets":[{"target":"…","purged":n}],"index":"used","elapsed_us":T}`.
/// `key` (the full key of a single-URL purge, as [`purge_response`] writes it) is left out
/// for tag and batch purges. `purged` is the sum over the targets.
pub fn purge_summary(
    key: Option<&[u8]>,
    mode: crate::batch::PurgeMode,
    targets: &[TargetResult<'_>],
    index: IndexUse,
    elapsed_us: u64,
) -> String {
    let text: usize = targets.iter().map(|t| t.target.len() + 32).sum();
    let mut out = String::with_capacity(text + key.map_or(0, <[u8]>::len) + 96);
    out.push('{');
    if let Some(key) = key {
        out.push_str("\"key\":\"");
        json_escape_into(&mut out, key);
        out.push_str("\",");
    }
    let purged: u64 = targets.iter().map(|t| t.purged).sum();
    let _ = write!(out, "\"mode\":\"{}\",\"purged\":{purged},\"targets\":[", mode.as_str());
    for (i, t) in targets.iter().enumerate() {
        out.push_str(if i > 0 { ",{\"target\":\"" } else { "{\"target\":\"" });
        json_escape_into(&mut out, t.target);
        let _ = write!(out, "\",\"purged\":{}}}", t.purged);
    }
    let _ = writeln!(out, "],\"index\":\"{}\",\"elapsed_us\":{elapsed_us}}}", index.as_str());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_hostile_keys() {
        let body = purge_response(b"a\"b\\c\nd\0e\x7f\xff/\xc3\xa9", 1);
        assert_eq!(
            body,
            "{\"key\":\"a\\\"b\\\\c\\nd\\u0000e\\u007f\\u00ff/\u{e9}\",\"purged\":1}\n"
        );
    }

    #[test]
    fn summarises_purges() {
        use crate::batch::PurgeMode;
        let url = [TargetResult { target: b"httpGETlocalhost/a/", purged: 3 }];
        assert_eq!(
            purge_summary(Some(b"httpGETlocalhost/a/"), PurgeMode::Hard, &url, IndexUse::Used, 42),
            "{\"key\":\"httpGETlocalhost/a/\",\"mode\":\"hard\",\"purged\":3,\"targets\":\
             [{\"target\":\"httpGETlocalhost/a/\",\"purged\":3}],\"index\":\"used\",\"elapsed_us\":42}\n"
        );
        let batch = [
            TargetResult { target: b"tag:post-\"12\"", purged: 2 },
            TargetResult { target: b"/caf\xc3\xa9?\xff", purged: 0 },
        ];
        assert_eq!(
            purge_summary(None, PurgeMode::Soft, &batch, IndexUse::Walk, 7),
            "{\"mode\":\"soft\",\"purged\":2,\"targets\":[{\"target\":\"tag:post-\\\"12\\\"\",\
             \"purged\":2},{\"target\":\"/caf\u{e9}?\\u00ff\",\"purged\":0}],\"index\":\"walk\",\
             \"elapsed_us\":7}\n"
        );
        assert_eq!(
            purge_summary(None, PurgeMode::Hard, &[], IndexUse::Used, 0),
            "{\"mode\":\"hard\",\"purged\":0,\"targets\":[],\"index\":\"used\",\"elapsed_us\":0}\n"
        );
    }

    #[test]
    fn renders_counters() {
        let mut s = Snapshot { requests: 5, rewritten: 2, stripped_args: 3, ..Snapshot::default() };
        s.skips[SkipReason::Cookie.index()] = 4;
        s.purges[PurgeOutcome::NotFound.index()] = 1;
        let json = s.to_json();
        assert!(json.starts_with(
            "{\"requests\":5,\"rewritten\":2,\"stripped_args\":3,\"skips\":{\"method\":0,"
        ));
        assert!(json.contains("\"cookie\":4"));
        assert!(json.contains("\"not_found\":1"));
        let prom = s.to_prometheus();
        assert!(prom
            .contains("# TYPE microcache_requests_total counter\nmicrocache_requests_total 5\n"));
        assert!(prom.contains("microcache_skips_total{reason=\"cookie\"} 4\n"));
        assert!(prom.contains("microcache_purges_total{result=\"not_found\"} 1\n"));
    }
}
