-- wrk script: prints one machine-readable line after the run, with the
-- p50/p99/p99.9 latencies (microseconds), requests, errors and non-2xx.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "VIGIL_WRK requests=%d duration_us=%d p50_us=%d p99_us=%d p999_us=%d " ..
    "connect=%d read=%d write=%d timeout=%d status=%d\n",
    summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), latency:percentile(99.9), e.connect, e.read,
    e.write, e.timeout, e.status))
end
