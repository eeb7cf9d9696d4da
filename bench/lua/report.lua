-- Shared by the workload scripts: one machine-readable line when wrk is done
-- (tab-separated, latencies in microseconds).
--   WRKSTATS requests duration_us errors(connect+read+write+timeout) non2xx p50 p99 max
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format("WRKSTATS\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n",
      summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
      latency:percentile(50), latency:percentile(99), latency.max))
end
