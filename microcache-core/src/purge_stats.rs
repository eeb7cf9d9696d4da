//! The purge side of `microcache_status`: entries purged by kind and mode, the purge-latency
//! histogram, and each cache index's fill. The module keeps the counts as plain integers in
//! shared-memory atomics; this renders a reading of them, appended to the counters of
//! [`crate::report::Snapshot`].

use core::fmt::Write as _;

use crate::batch::PurgeMode;
use crate::index::{State, Stats, CELL_BYTES};
use crate::report::json_escape_into;

/// What a purge target selected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PurgeKind {
    Key,
    Prefix,
    Tag,
    Zone,
}

impl PurgeKind {
    pub const ALL: [PurgeKind; 4] =
        [PurgeKind::Key, PurgeKind::Prefix, PurgeKind::Tag, PurgeKind::Zone];

    pub fn as_str(self) -> &'static str {
        match self {
            PurgeKind::Key => "key",
            PurgeKind::Prefix => "prefix",
            PurgeKind::Tag => "tag",
            PurgeKind::Zone => "zone",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Upper bounds of the latency buckets, in microseconds; a last bucket takes the rest.
pub const LATENCY_BOUNDS_US: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// Buckets, the last one unbounded.
pub const LATENCY_BUCKETS: usize = LATENCY_BOUNDS_US.len() + 1;

/// The bucket a purge of `elapsed_us` falls in.
pub fn latency_bucket(elapsed_us: u64) -> usize {
    LATENCY_BOUNDS_US.partition_point(|&bound| bound < elapsed_us)
}

/// A reading of the purge counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurgeStats {
    /// Entries purged, by [`PurgeKind::index`] then [`PurgeMode::index`].
    pub purged: [[u64; 2]; 4],
    /// Purge requests by [`latency_bucket`] (not cumulative).
    pub latency: [u64; LATENCY_BUCKETS],
    pub latency_sum_us: u64,
}

/// A Prometheus family of index readings: name, help, value.
type Family = (&'static str, &'static str, fn(&Stats) -> u64);

/// A cache index's fill, named by its cache zone.
pub struct IndexReading<'a> {
    pub zone: &'a [u8],
    pub stats: Stats,
}

fn state_name(state: State) -> &'static str {
    match state {
        State::NeedsRebuild => "needs_rebuild",
        State::Rebuilding => "rebuilding",
        State::Ready => "ready",
    }
}

/// Seconds, from microseconds, as Prometheus writes `le` values (`0.00025`, `2.5`, `10`).
fn seconds(us: u64) -> String {
    let text = format!("{}.{:06}", us / 1_000_000, us % 1_000_000);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A zone name as a Prometheus label value (quotes, backslashes and newlines escaped).
fn label(zone: &[u8]) -> String {
    String::from_utf8_lossy(zone).replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl PurgeStats {
    fn cumulative(&self) -> impl Iterator<Item = u64> + '_ {
        self.latency.iter().scan(0u64, |sum, n| {
            *sum += n;
            Some(*sum)
        })
    }

    fn count(&self) -> u64 {
        self.latency.iter().sum()
    }

    /// Adds `"purged_by":…,"purge_latency":…,"indexes":…` to a JSON object: `json` is what
    /// [`crate::report::Snapshot::to_json`] wrote, its closing brace replaced.
    pub fn extend_json(&self, json: &mut String, indexes: &[IndexReading<'_>]) {
        let end = json.trim_end().strip_suffix('}').map_or(json.len(), str::len);
        json.truncate(end);
        json.push_str(",\"purged_by\":{");
        for (i, kind) in PurgeKind::ALL.iter().enumerate() {
            let [hard, soft] = self.purged[kind.index()];
            let comma = if i > 0 { "," } else { "" };
            let _ =
                write!(json, "{comma}\"{}\":{{\"hard\":{hard},\"soft\":{soft}}}", kind.as_str());
        }
        json.push_str("},\"purge_latency_us\":{\"buckets\":{");
        for (i, n) in self.cumulative().enumerate() {
            let comma = if i > 0 { "," } else { "" };
            match LATENCY_BOUNDS_US.get(i) {
                Some(bound) => {
                    let _ = write!(json, "{comma}\"{bound}\":{n}");
                }
                None => {
                    let _ = write!(json, "{comma}\"+Inf\":{n}");
                }
            }
        }
        let _ = write!(
            json,
            "}},\"sum\":{},\"count\":{}}},\"indexes\":{{",
            self.latency_sum_us,
            self.count()
        );
        for (i, index) in indexes.iter().enumerate() {
            let s = &index.stats;
            json.push_str(if i > 0 { ",\"" } else { "\"" });
            json_escape_into(json, index.zone);
            let _ = write!(
                json,
                "\":{{\"state\":\"{}\",\"entries\":{},\"tags\":{},\"tag_links\":{},\
                 \"bytes_used\":{},\"bytes\":{},\"overflowed\":{},\"overflows\":{},\
                 \"ignored_tags\":{}}}",
                state_name(s.state),
                s.entries,
                s.tags,
                s.links,
                u64::from(s.cells_used) * CELL_BYTES as u64,
                u64::from(s.cells) * CELL_BYTES as u64,
                s.overflowed,
                s.overflows,
                s.ignored_tags
            );
        }
        json.push_str("}}\n");
    }

    /// Appends the Prometheus families (text format 0.0.4).
    pub fn extend_prometheus(&self, out: &mut String, indexes: &[IndexReading<'_>]) {
        let _ = writeln!(
            out,
            "# HELP microcache_purged_by_kind_total Cache entries purged, by what selected them and mode.\n\
             # TYPE microcache_purged_by_kind_total counter"
        );
        for kind in PurgeKind::ALL {
            for mode in PurgeMode::ALL {
                let n = self.purged[kind.index()][mode.index()];
                let (k, m) = (kind.as_str(), mode.as_str());
                let _ = writeln!(
                    out,
                    "microcache_purged_by_kind_total{{kind=\"{k}\",mode=\"{m}\"}} {n}"
                );
            }
        }
        let name = "microcache_purge_duration_seconds";
        let _ =
            writeln!(out, "# HELP {name} Server time of purge requests.\n# TYPE {name} histogram");
        for (i, n) in self.cumulative().enumerate() {
            let le = LATENCY_BOUNDS_US.get(i).map_or("+Inf".to_owned(), |&b| seconds(b));
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {n}");
        }
        let sum = seconds(self.latency_sum_us);
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {}", self.count());
        let gauges: [Family; 5] = [
            ("index_entries", "Entries in the cache index.", |s| s.entries.into()),
            ("index_bytes_used", "Bytes of the index zone in use.", |s| {
                u64::from(s.cells_used) * CELL_BYTES as u64
            }),
            ("index_bytes", "Bytes of the index zone for records.", |s| {
                u64::from(s.cells) * CELL_BYTES as u64
            }),
            (
                "index_overflowed",
                "1 when an insert was refused since the index was last cleared.",
                |s| s.overflowed.into(),
            ),
            ("index_ready", "1 when the index is complete (not rebuilding).", |s| {
                (s.state == State::Ready).into()
            }),
        ];
        let counters: [Family; 2] = [
            ("index_overflows_total", "Inserts the full index refused.", |s| s.overflows),
            ("index_ignored_tags_total", "Tags beyond the per-response limits.", |s| {
                s.ignored_tags
            }),
        ];
        for (kind, families) in [("gauge", &gauges[..]), ("counter", &counters[..])] {
            for (family, help, value) in families {
                let _ = writeln!(
                    out,
                    "# HELP microcache_{family} {help}\n# TYPE microcache_{family} {kind}"
                );
                for index in indexes {
                    let (zone, v) = (label(index.zone), value(&index.stats));
                    let _ = writeln!(out, "microcache_{family}{{zone=\"{zone}\"}} {v}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> PurgeStats {
        let mut s = PurgeStats::default();
        s.purged[PurgeKind::Tag.index()][PurgeMode::Soft.index()] = 7;
        for us in [50, 100, 101, 40_000, 99_000_000] {
            s.latency[latency_bucket(us)] += 1;
            s.latency_sum_us += us;
        }
        s
    }

    fn reading() -> Stats {
        Stats {
            entries: 3,
            tags: 2,
            links: 4,
            cells_used: 10,
            cells: 100,
            overflowed: true,
            overflows: 1,
            ignored_tags: 5,
            state: State::Ready,
            generation: 1,
        }
    }

    #[test]
    fn buckets() {
        assert_eq!(latency_bucket(0), 0);
        assert_eq!(latency_bucket(100), 0);
        assert_eq!(latency_bucket(101), 1);
        assert_eq!(latency_bucket(10_000_000), 15);
        assert_eq!(latency_bucket(u64::MAX), 16);
        assert_eq!(seconds(250), "0.00025");
        assert_eq!(seconds(2_500_000), "2.5");
        assert_eq!(seconds(10_000_000), "10");
        assert_eq!(seconds(0), "0");
    }

    #[test]
    fn json() {
        let mut json = "{\"requests\":1}\n".to_owned();
        let zone = IndexReading { zone: b"mc\"1", stats: reading() };
        stats().extend_json(&mut json, &[zone]);
        assert!(json.starts_with(
            "{\"requests\":1,\"purged_by\":{\"key\":{\"hard\":0,\"soft\":0},\"prefix\":{\"hard\":0,\
             \"soft\":0},\"tag\":{\"hard\":0,\"soft\":7},\"zone\":{\"hard\":0,\"soft\":0}},\
             \"purge_latency_us\":{\"buckets\":{\"100\":2,\"250\":3,"
        ));
        assert!(json.contains("\"50000\":4,"));
        assert!(json.contains("\"10000000\":4,\"+Inf\":5},\"sum\":99040251,\"count\":5}"));
        assert!(json.ends_with(
            ",\"indexes\":{\"mc\\\"1\":{\"state\":\"ready\",\"entries\":3,\"tags\":2,\
             \"tag_links\":4,\"bytes_used\":240,\"bytes\":2400,\"overflowed\":true,\
             \"overflows\":1,\"ignored_tags\":5}}}\n"
        ));
    }

    #[test]
    fn prometheus() {
        let mut out = String::new();
        let zone = IndexReading { zone: b"mc", stats: reading() };
        stats().extend_prometheus(&mut out, &[zone]);
        for line in [
            "microcache_purged_by_kind_total{kind=\"tag\",mode=\"soft\"} 7\n",
            "# TYPE microcache_purge_duration_seconds histogram\n",
            "microcache_purge_duration_seconds_bucket{le=\"0.0001\"} 2\n",
            "microcache_purge_duration_seconds_bucket{le=\"0.00025\"} 3\n",
            "microcache_purge_duration_seconds_bucket{le=\"10\"} 4\n",
            "microcache_purge_duration_seconds_bucket{le=\"+Inf\"} 5\n",
            "microcache_purge_duration_seconds_sum 99.040251\nmicrocache_purge_duration_seconds_count 5\n",
            "# TYPE microcache_index_entries gauge\nmicrocache_index_entries{zone=\"mc\"} 3\n",
            "microcache_index_overflowed{zone=\"mc\"} 1\n",
            "microcache_index_ready{zone=\"mc\"} 1\n",
            "# TYPE microcache_index_overflows_total counter\nmicrocache_index_overflows_total{zone=\"mc\"} 1\n",
        ] {
            assert!(out.contains(line), "missing {line:?} in\n{out}");
        }
        assert_eq!(label(b"a\"b\\c\n"), "a\\\"b\\\\c\\n");
    }
}
