"""The soak's server side and its report (bench/soak.sh runs both).

  soak.py monitor PID URL TOKEN CA OUT.csv   samples the server every 10 s until it exits or this is stopped:
                                             RSS, open file descriptors, CPU, threads, the p99 of
                                             warden_event_loop_lag_seconds over the interval, MQTT connections
  soak.py report SERVER.csv BENCH.jsonl DIR  joins the samples with warden-bench soak's windows by time, writes
                                             DIR/soak.csv and DIR/soak.png and prints a Markdown summary
"""
import csv
import json
import os
import signal
import ssl
import sys
import time
import urllib.request

INTERVAL = 10.0
# Memory growth is measured from the end of the warm-up (connections up, caches and pools at their working size).
WARM_UP_SECONDS = 300


def proc_sample(pid: int) -> dict:
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status if ":" in line)
    with open(f"/proc/{pid}/stat") as stat:
        after_name = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return {
        "rss_kib": int(fields["VmRSS"].split()[0]),
        "threads": int(fields["Threads"]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "cpu_seconds": (int(after_name[11]) + int(after_name[12])) / ticks,
    }


def scrape(url: str, token: str, context: ssl.SSLContext) -> tuple[dict[float, float], float]:
    """The event-loop lag histogram's cumulative buckets and the MQTT connection gauge."""
    request = urllib.request.Request(url + "/metrics", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        text = response.read().decode()
    buckets, connections = {}, 0.0
    for line in text.splitlines():
        if line.startswith("warden_event_loop_lag_seconds_bucket"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[float("inf") if bound == "+Inf" else float(bound)] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("warden_mqtt_connections "):
            connections = float(line.rsplit(" ", 1)[1])
    return buckets, connections


def quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """The upper bound of the bucket holding quantile q of what was observed between two scrapes."""
    bounds = sorted(after)
    total = after[bounds[-1]] - before.get(bounds[-1], 0.0)
    if total <= 0:
        return 0.0
    for bound in bounds:
        if after[bound] - before.get(bound, 0.0) >= q * total:
            return bound
    return bounds[-1]


def monitor(pid: int, url: str, token: str, ca: str, out: str) -> None:
    context = ssl.create_default_context(cafile=ca)
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    previous, _ = scrape(url, token, context)
    start = time.time()
    with open(out, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["time", "elapsed_s", "rss_mib", "fds", "threads", "cpu_percent", "loop_lag_p99_ms",
                         "loop_lag_max_bucket_ms", "mqtt_connections"])
        last = proc_sample(pid)
        last_time = time.time()
        while running[0]:
            time.sleep(INTERVAL)
            try:
                sample = proc_sample(pid)
                buckets, connections = scrape(url, token, context)
            except (FileNotFoundError, ProcessLookupError, OSError):
                break
            now = time.time()
            cpu = 100 * (sample["cpu_seconds"] - last["cpu_seconds"]) / (now - last_time)
            writer.writerow([f"{now:.1f}", f"{now - start:.0f}", f"{sample['rss_kib'] / 1024:.1f}", sample["fds"],
                             sample["threads"], f"{cpu:.0f}", f"{1000 * quantile(previous, buckets, 0.99):.2f}",
                             f"{1000 * quantile(previous, buckets, 1.0):.2f}", f"{connections:.0f}"])
            file.flush()
            previous, last, last_time = buckets, sample, now


def report(server_csv: str, bench_jsonl: str, directory: str) -> None:
    with open(server_csv) as file:
        server = list(csv.DictReader(file))
    windows, totals = [], {}
    with open(bench_jsonl) as file:
        for line in file:
            if not line.startswith("{"):
                continue
            record = json.loads(line)
            if "totals" in record:
                totals = record["totals"]
            else:
                windows.append(record)
    # Samples after the fleet left (the script stops the server a little later) say nothing about the run.
    if windows:
        server = [sample for sample in server if float(sample["time"]) <= windows[-1]["time"] + 1]
    rows = []
    for sample in server:
        moment = float(sample["time"])
        window = min(windows, key=lambda w: abs(w["time"] - moment), default=None)
        if window is None or abs(window["time"] - moment) > INTERVAL:
            window = None
        rows.append({
            "elapsed_s": int(sample["elapsed_s"]), "rss_mib": float(sample["rss_mib"]), "fds": int(sample["fds"]),
            "threads": int(sample["threads"]), "cpu_percent": int(sample["cpu_percent"]),
            "loop_lag_p99_ms": float(sample["loop_lag_p99_ms"]), "mqtt_connections": int(sample["mqtt_connections"]),
            "telemetry_per_s": round(window["telemetry"]["messagesPerSecond"]) if window else "",
            "telemetry_p99_ms": round(window["telemetry"]["p99Milliseconds"], 2) if window else "",
            "c2d_received_per_s": round(window["cloudToDevice"]["messagesPerSecond"], 1) if window else "",
            "c2d_p99_ms": round(window["cloudToDevice"]["p99Milliseconds"], 2) if window else "",
            "reconnects": window["reconnects"] if window else "",
            "errors": (window["telemetry"]["errors"] + window["cloudToDevice"]["errors"] + window["c2dErrors"])
            if window else "",
        })
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "soak.csv"), "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, os.path.join(directory, "soak.png"))
    summarize(rows, totals)


def plot(rows: list[dict], path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [row["elapsed_s"] / 60 for row in rows]
    figure, axes = plt.subplots(4, 1, figsize=(10, 12), sharex=True)
    def two_scales(axis, left: str, left_label: str, right: str, right_label: str):
        axis.plot(minutes, [row[left] for row in rows])
        axis.set_ylabel(left_label)
        other = axis.twinx()
        other.plot(minutes, [row[right] for row in rows], color="tab:orange")
        other.set_ylabel(right_label)

    two_scales(axes[0], "rss_mib", "RSS (MiB)", "fds", "open file descriptors (orange)")
    axes[0].set_title("Warden soak: memory and file descriptors")
    with_bench = [row for row in rows if row["telemetry_p99_ms"] != ""]
    bench_minutes = [row["elapsed_s"] / 60 for row in with_bench]
    axes[1].plot(bench_minutes, [row["telemetry_p99_ms"] for row in with_bench], label="telemetry PUBACK p99")
    axes[1].plot(bench_minutes, [row["c2d_p99_ms"] for row in with_bench], label="C2D send-to-arrival p99")
    axes[1].plot(minutes, [row["loop_lag_p99_ms"] for row in rows], label="event-loop lag p99 (bucket bound)")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("ms")
    axes[1].legend(loc="upper right")
    axes[2].plot(bench_minutes, [row["telemetry_per_s"] for row in with_bench], label="telemetry acknowledged/s")
    axes[2].plot(bench_minutes, [row["reconnects"] for row in with_bench], label="reconnects per window")
    axes[2].set_ylabel("per s / per window")
    axes[2].legend(loc="upper right")
    two_scales(axes[3], "mqtt_connections", "MQTT connections (server)", "cpu_percent", "server CPU % (orange)")
    axes[3].set_xlabel("minutes")
    figure.tight_layout()
    figure.savefig(path, dpi=90)


def summarize(rows: list[dict], totals: dict) -> None:
    warm = [row for row in rows if row["elapsed_s"] >= WARM_UP_SECONDS]
    if len(warm) < 6:
        warm = rows

    def median(values):
        values = sorted(values)
        return values[len(values) // 2]

    start = median([row["rss_mib"] for row in warm[:3]])
    end = median([row["rss_mib"] for row in warm[-3:]])
    lags = sorted(row["loop_lag_p99_ms"] for row in rows)
    bench = [row for row in rows if row["telemetry_p99_ms"] != ""]
    print(f"| run | {rows[-1]['elapsed_s'] / 60:.0f} min, {len(rows)} samples |")
    print("| --- | --- |")
    print(f"| RSS after warm-up ({WARM_UP_SECONDS // 60} min) → end | {start:.1f} → {end:.1f} MiB "
          f"({100 * (end - start) / start:+.1f} %); peak {max(row['rss_mib'] for row in rows):.1f} MiB |")
    print(f"| open fds after warm-up | {min(row['fds'] for row in warm)} – {max(row['fds'] for row in warm)} |")
    print(f"| MQTT connections (server) | {min(row['mqtt_connections'] for row in warm)} – "
          f"{max(row['mqtt_connections'] for row in warm)} |")
    print(f"| event-loop lag p99 per 10 s (bucket bound) | median {median(lags):.2f} ms, worst {lags[-1]:.2f} ms |")
    if bench:
        print(f"| telemetry PUBACK p99 per window | median {median([r['telemetry_p99_ms'] for r in bench]):.2f} ms, "
              f"worst {max(r['telemetry_p99_ms'] for r in bench):.2f} ms |")
        print(f"| C2D send-to-arrival p99 per window | median {median([r['c2d_p99_ms'] for r in bench]):.2f} ms, "
              f"worst {max(r['c2d_p99_ms'] for r in bench):.2f} ms |")
    print(f"| server CPU | median {median([row['cpu_percent'] for row in rows])} % |")
    if totals:
        print(f"| totals | {totals['telemetry']:,} telemetry acknowledged, {totals['c2dSent']:,} C2D accepted, "
              f"{totals['c2dReceived']:,} received, {totals['c2dQueueFull']:,} refused as queue full, "
              f"{totals['reconnects']:,} reconnects |")
        errors = ", ".join(f"{kind}: {count}" for kind, count in sorted(totals["errors"].items())) or "none"
        print(f"| errors | {errors} |")


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "monitor":
        monitor(int(sys.argv[2]), *sys.argv[3:7])
    elif len(sys.argv) == 5 and sys.argv[1] == "report":
        report(*sys.argv[2:5])
    else:
        sys.exit(__doc__)
