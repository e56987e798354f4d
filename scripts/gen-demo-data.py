#!/usr/bin/env python3
"""Generates testdata/demo/demo.om: three hours of a small fleet in OpenMetrics
text format, deterministic (fixed seed), with timestamps off the minute grid.

Series: node CPU seconds and memory, filesystem free bytes, HTTP requests by
job/instance/method/status with an error burst and a counter reset, a
request-duration classic histogram, and `up` with an outage.
"""
import math
import random

START = 1_700_000_000  # 2023-11-14T22:13:20Z
STEP = 30
POINTS = 3 * 3600 // STEP
rng = random.Random(42)

JOBS = {"api": ["api-1:8080", "api-2:8080"], "web": ["web-1:8080"]}
METHODS = ["GET", "POST"]
BUCKETS = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5]


def ts(i):
    # 0.25 s past each step: sample times never sit on evaluation boundaries.
    return START + i * STEP + 0.25


def fmt(v):
    return repr(float(v)) if not float(v).is_integer() else str(int(v))


lines = []


def family(name, typ, help_text, unit=None):
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} {typ}")
    if unit:
        lines.append(f"# UNIT {name} {unit}")


def sample(name, labels, value, i):
    lbl = ",".join(f'{k}="{v}"' for k, v in labels.items())
    lines.append(f"{name}{{{lbl}}} {fmt(value)} {ts(i):.3f}")


instances = [(job, inst) for job, insts in JOBS.items() for inst in insts]

family("up", "gauge", "Whether the target was reachable.")
for job, inst in instances:
    for i in range(POINTS):
        down = inst == "api-2:8080" and 200 <= i < 230
        sample("up", {"job": job, "instance": inst}, 0 if down else 1, i)

family("node_cpu_seconds", "counter", "Seconds the CPUs spent in each mode.", "seconds")
for job, inst in instances:
    for mode in ["idle", "user", "system"]:
        total = 0.0
        share = {"idle": 0.7, "user": 0.22, "system": 0.08}[mode]
        for i in range(POINTS):
            load = 1 + 0.3 * math.sin(i / 40)
            total += STEP * 2 * share * (load if mode != "idle" else 2 - load) * (0.9 + 0.2 * rng.random())
            sample("node_cpu_seconds_total", {"job": job, "instance": inst, "mode": mode}, round(total, 3), i)

family("node_memory_available_bytes", "gauge", "Memory available to processes.", "bytes")
for job, inst in instances:
    for i in range(POINTS):
        v = 8e9 - 2e9 * (0.5 + 0.5 * math.sin(i / 60 + len(inst))) - rng.randrange(0, 50_000_000)
        sample("node_memory_available_bytes", {"job": job, "instance": inst}, int(v), i)

family("node_filesystem_free_bytes", "gauge", "Free bytes per filesystem.", "bytes")
for job, inst in instances:
    free = 50e9
    for i in range(POINTS):
        free -= rng.randrange(1_000_000, 20_000_000)
        sample("node_filesystem_free_bytes", {"job": job, "instance": inst, "mountpoint": "/"}, int(free), i)

family("http_requests", "counter", "HTTP requests served.")
for job, inst in instances:
    for method in METHODS:
        for status in ["200", "500"]:
            total = 0
            for i in range(POINTS):
                base = 20 if method == "GET" else 5
                rate = base if status == "200" else base * (0.3 if 120 <= i < 140 else 0.01)
                total += int(rate * STEP * (0.8 + 0.4 * rng.random()))
                if inst == "web-1:8080" and i == 250:
                    total = 0  # process restart: counter reset
                sample("http_requests_total", {"job": job, "instance": inst, "method": method, "status": status}, total, i)

family("http_request_duration_seconds", "histogram", "Request latency.", "seconds")
for job, inst in instances:
    counts = [0] * (len(BUCKETS) + 1)
    total_sum = 0.0
    for i in range(POINTS):
        slow = 1.6 if 120 <= i < 140 else 1.0
        for _ in range(40):
            x = rng.expovariate(1 / (0.12 * slow if job == "api" else 0.3 * slow))
            total_sum += x
            for b, le in enumerate(BUCKETS):
                if x <= le:
                    counts[b] += 1
            counts[-1] += 1
        for b, le in enumerate(BUCKETS):
            sample("http_request_duration_seconds_bucket", {"job": job, "instance": inst, "le": str(le)}, counts[b], i)
        sample("http_request_duration_seconds_bucket", {"job": job, "instance": inst, "le": "+Inf"}, counts[-1], i)
        sample("http_request_duration_seconds_sum", {"job": job, "instance": inst}, round(total_sum, 4), i)
        sample("http_request_duration_seconds_count", {"job": job, "instance": inst}, counts[-1], i)

lines.append("# EOF")
with open("testdata/demo/demo.om", "w") as f:
    f.write("\n".join(lines) + "\n")
print(f"wrote testdata/demo/demo.om: {len(lines)} lines")
