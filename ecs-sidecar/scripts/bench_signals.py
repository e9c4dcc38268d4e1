"""Load generator and sinks for ecs-sidecar/scripts/bench-signals.sh
(docs/benchmarks.md, "Sidecar metrics and logs").

  bench_signals.py sink-emf PORT OUT     PutLogEvents sink: answers {} and counts the
                                         EMF metric values in the events (writes OUT at exit)
  bench_signals.py sink-otlp PORT OUT    OTLP/HTTP sink: answers an empty success, counts
                                         the log records (writes OUT at exit)
  bench_signals.py load metrics|logs URL SECONDS PID
                                         posts pre-encoded OTLP/HTTP protobuf requests
                                         (1,000 data points or log records each) for
                                         SECONDS on CONNS connections (default 4); prints items accepted
                                         and PID's CPU seconds (utime + stime) over the run

Metrics requests: 50 gauges, 30 delta sums and 20 delta histograms, 10
label sets each; 64 distinct requests with distinct timestamps are cycled
so a batch never holds the same series twice at one timestamp (awsemf would
keep only the first). Needs opentelemetry-proto (.tools/venv).
"""

import gzip
import http.client
import http.server
import os
import signal
import sys
import threading
import time

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as m

POINTS = 1000
CONNS = int(os.environ.get("CONNS", "4"))


def kv(k, v):
    return KeyValue(key=k, value=AnyValue(string_value=v))


def metrics_request(ts):
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.extend([kv("service.name", "bench"), kv("host.name", "h1")])
    sm = rm.scope_metrics.add()
    sm.scope.name = "bench"
    routes = [kv("http.route", f"/r{i}") for i in range(10)]
    for i in range(50):
        g = sm.metrics.add(name=f"gauge.{i}", unit="ms")
        for r in routes:
            p = g.gauge.data_points.add(time_unix_nano=ts, as_double=1.5 * i)
            p.attributes.append(r)
    for i in range(30):
        s = sm.metrics.add(name=f"sum.{i}", unit="1")
        s.sum.aggregation_temporality = m.AGGREGATION_TEMPORALITY_DELTA
        s.sum.is_monotonic = True
        for r in routes:
            p = s.sum.data_points.add(time_unix_nano=ts, as_int=i)
            p.attributes.append(r)
    for i in range(20):
        h = sm.metrics.add(name=f"hist.{i}", unit="ms")
        h.histogram.aggregation_temporality = m.AGGREGATION_TEMPORALITY_DELTA
        for r in routes:
            p = h.histogram.data_points.add(
                time_unix_nano=ts, count=6, sum=60.0, min=1.0, max=30.0,
                explicit_bounds=[5.0, 10.0, 25.0], bucket_counts=[1, 2, 2, 1])
            p.attributes.append(r)
    return req.SerializeToString()


def logs_request(ts):
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.extend([kv("service.name", "bench"), kv("host.name", "h1")])
    sl = rl.scope_logs.add()
    sl.scope.name = "bench"
    for i in range(POINTS):
        r = sl.log_records.add(time_unix_nano=ts + i, severity_number=9, severity_text="INFO")
        r.body.string_value = f"request {i} served in {i % 97} ms for customer c-{i % 13}"
        r.attributes.extend([kv("http.route", f"/r{i % 10}"), kv("http.method", "GET")])
        r.trace_id = bytes(range(16))
        r.span_id = bytes(range(8))
    return req.SerializeToString()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(kind, url, seconds, pid):
    host_port, path = url.split("://", 1)[1].split("/", 1)
    host, port = host_port.split(":")
    now = time.time_ns()
    make = metrics_request if kind == "metrics" else logs_request
    bodies = [make(now + i * 1_000_000) for i in range(64 if kind == "metrics" else 8)]
    accepted = [0]
    refused = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(n):
        conn = http.client.HTTPConnection(host, int(port))
        i = n
        ok = bad = 0
        while time.monotonic() < stop:
            conn.request("POST", "/" + path, bodies[i % len(bodies)],
                         {"Content-Type": "application/x-protobuf"})
            resp = conn.getresponse()
            resp.read()
            if resp.status == 200:
                ok += POINTS
            else:
                bad += POINTS
                time.sleep(0.01)
            i += CONNS
        with lock:
            accepted[0] += ok
            refused[0] += bad

    cpu0 = cpu_seconds(pid)
    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(CONNS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Let the batch and the exporter finish what was accepted.
    time.sleep(3)
    cpu = cpu_seconds(pid) - cpu0
    wall = time.monotonic() - t0
    print(f"accepted={accepted[0]} refused={refused[0]} wall_s={wall:.1f} cpu_s={cpu:.2f} "
          f"per_cpu_s={accepted[0] / cpu if cpu else 0:.0f}", flush=True)


def sink(kind, port, out):
    count = [0]
    requests = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            requests[0] += 1
            if kind == "emf":
                # Each metric directive entry inside the escaped EMF messages.
                count[0] += body.count(b'\\"Name\\":')
                reply, ctype = b"{}", "application/x-amz-json-1.1"
            else:
                req = ExportLogsServiceRequest()
                req.ParseFromString(body)
                count[0] += sum(len(s.log_records) for r in req.resource_logs for s in r.scope_logs)
                reply, ctype = b"", "application/x-protobuf"
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)

    def finish(*_):
        with open(out, "w") as f:
            f.write(f"{count[0]} {requests[0]}\n")
        os._exit(0)

    signal.signal(signal.SIGTERM, finish)
    server.serve_forever()


if __name__ == "__main__":
    if sys.argv[1] == "load":
        load(sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]))
    else:
        sink(sys.argv[1].removeprefix("sink-"), int(sys.argv[2]), sys.argv[3])
