-- Workloads "clean" and "bypass": the URL given on wrk's command line, every request the
-- same (the bypass workload adds a logged-in Cookie header with -H). No request()
-- callback, so wrk sends a pre-built request at full speed.
dofile("report.lua")
