"""Fleet-scale benchmark: fleetreset and python-kasa side by side on one simulated fleet.

    python3 benches/fleet.py                       # 100, 1,000, 10,000 and 100,000 devices
    python3 benches/fleet.py --sizes 100,1000      # a quick look
    python3 benches/fleet.py --no-write            # print the table, leave BENCHMARKS.md alone
    python3 benches/fleet.py --client /tmp/old/fleetreset --no-kasa --no-write
                                                   # another build's `run` (a before/after),
                                                   # against this build's simulator

For each size it builds the release binary (once), writes an inventory of HS103 plugs on
loopback (127.200.0.0 and up, one address each), starts `fleetreset simulate` on it
(`--time-scale 0.05`: a 60 s boot takes 3 s), then runs, one after the other against the same
simulator:
- `fleetreset run --action power-cycle` at the size's rate and the concurrency below;
- benches/kasa_fleet.py: the same per-device sequence with python-kasa 0.12.0's library
  (read info, reboot, wait until it went away and is back, read info), the same start pacer
  design, rate, concurrency and waits.
Each process is timed by the kernel (wait4: user + system CPU, peak RSS); fleetreset's starts
come from its audit database (jobs.started_at), python-kasa's from its own log. The simulator's
journal must show exactly one reboot per device for each client. It also runs the store
micro-benchmark (`cargo bench --bench store`) and records the machine's load.

The table goes into benches/BENCHMARKS.md between the `fleet-benchmark` markers. Loopback only.
"""
import argparse
import datetime
import json
import os
import platform
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "fleetreset"
WORK = ROOT / "target" / "bench"
KASA_VERSION = "0.12.0"
VENV = ROOT / "target" / "tmp" / f"kasa-venv-{KASA_VERSION}"
TIME_SCALE = 0.05
BOOT_S = 60 * TIME_SCALE  # the catalog's boot time of an HS103, scaled
DELAY_S = 1 * TIME_SCALE  # the reboot command's delay, scaled
POLL_S = 1 * TIME_SCALE  # fleetreset's poll interval, scaled
RATES = {100: 20, 1000: 100, 10000: 500, 100000: 500}
BEGIN, END = "<!-- fleet-benchmark:begin -->", "<!-- fleet-benchmark:end -->"


def host(i):
    return f"127.{200 + i // 62500}.{(i // 250) % 250}.{i % 250 + 1}"


def inventory(n, path):
    with open(path, "w") as f:
        f.write("id,host,model,mac\n")
        for i in range(n):
            f.write(f"d{i},{host(i)},HS103(US),50:C7:{i >> 24 & 255:02X}:{i >> 16 & 255:02X}:{i >> 8 & 255:02X}:{i & 255:02X}\n")


def xor(data):
    key, out = 171, bytearray()
    for b in data:
        key ^= b
        out.append(key)
        key = out[-1]
    return bytes(out)


def sysinfo_rtt(addr, tries=20):
    """Median seconds of one get_sysinfo exchange on a fresh connection."""
    req = xor(b'{"system":{"get_sysinfo":{}}}')
    frame = len(req).to_bytes(4, "big") + req
    times = []
    for _ in range(tries):
        t = time.perf_counter()
        with socket.create_connection((addr, 9999), timeout=5) as s:
            s.sendall(frame)
            need = int.from_bytes(s.recv(4, socket.MSG_WAITALL), "big")
            s.recv(need, socket.MSG_WAITALL)
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def wait_up(addrs, deadline_s=600):
    end = time.monotonic() + deadline_s
    for a in addrs:
        while True:
            try:
                sysinfo_rtt(a, 1)
                break
            except OSError:
                if time.monotonic() > end:
                    raise SystemExit(f"the simulator never answered at {a}")
                time.sleep(0.2)


def timed(cmd, **kw):
    """Runs cmd; returns (exit code, wall s, user+sys CPU s, peak RSS MB)."""
    t = time.monotonic()
    p = subprocess.Popen(cmd, **kw)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024


def proc_cpu(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def rate_figures(starts, rate):
    """Achieved start rate overall, the slowest and fastest 10 s window once running, and the
    most starts in any one second."""
    s = sorted(starts)
    n = len(s)
    overall = (n - 1) / (s[-1] - s[0]) if n > 1 and s[-1] > s[0] else float("nan")
    most_per_s, j = 0, 0
    for i in range(n):
        while s[j] <= s[i] - 1.0:
            j += 1
        most_per_s = max(most_per_s, i - j + 1)
    lo = hi = None
    if s[-1] - s[0] >= 10.0:
        # windows of 10 s starting at each second, over the whole run of starts
        t, k0, k1 = s[0], 0, 0
        while t + 10.0 <= s[-1] + 1e-9:
            while k0 < n and s[k0] < t:
                k0 += 1
            while k1 < n and s[k1] < t + 10.0:
                k1 += 1
            r = (k1 - k0) / 10.0
            lo = r if lo is None else min(lo, r)
            hi = r if hi is None else max(hi, r)
            t += 1.0
    return overall, lo, hi, most_per_s


def reboots(journal, since):
    counts = {}
    with open(journal) as f:
        for i, line in enumerate(f):
            if i < since:
                continue
            parts = line.split()
            if len(parts) >= 3 and parts[2] == "reboot":
                counts[parts[1]] = counts.get(parts[1], 0) + 1
    return counts


def lines(path):
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def ensure_kasa():
    py = VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", f"python-kasa=={KASA_VERSION}"], check=True)
    return py


def bench_size(n, rate, concurrency, kasa, kasa_max, client):
    d = WORK / str(n)
    subprocess.run(["rm", "-rf", str(d)], check=True)
    d.mkdir(parents=True)
    inv, journal = d / "fleet.csv", d / "journal.log"
    inventory(n, inv)
    sim_log = open(d / "simulate.log", "w")
    t = time.monotonic()
    sim = subprocess.Popen([str(BIN), "simulate", str(inv), "--time-scale", str(TIME_SCALE), "--journal", str(journal)],
                           stdout=sim_log, stderr=subprocess.STDOUT)
    try:
        wait_up([host(0), host(n - 1)])
        sim_start = time.monotonic() - t
        rtt = sysinfo_rtt(host(0))
        ideal = (n - 1) / rate + DELAY_S + BOOT_S + 6 * rtt
        rows = []
        # fleetreset
        load0 = os.getloadavg()[0]
        cpu0, j0 = proc_cpu(sim.pid), lines(journal)
        db = d / "audit.db"
        code, wall, cpu, rss = timed([str(client), "run", str(inv), "--action", "power-cycle", "--yes", "--rate", str(rate),
                                      "--concurrency", str(concurrency), "--time-scale", str(TIME_SCALE),
                                      "--db", str(db), "--reports-dir", str(d / "reports")],
                                     stdout=open(d / "run.log", "w"), stderr=subprocess.STDOUT)
        sim_cpu = proc_cpu(sim.pid) - cpu0
        con = sqlite3.connect(db)
        starts = [datetime.datetime.fromisoformat(r[0].replace("Z", "+00:00")).timestamp()
                  for r in con.execute("SELECT started_at FROM jobs WHERE started_at IS NOT NULL")]
        outcomes = dict(con.execute("SELECT outcome, count(*) FROM jobs GROUP BY outcome").fetchall())
        events = con.execute("SELECT count(*) FROM events").fetchone()[0]
        con.close()
        got = reboots(journal, j0)
        rows.append(dict(tool="fleetreset", code=code, wall=wall, cpu=cpu, rss=rss, starts=starts, ok=outcomes.get("succeeded", 0),
                         once=sum(1 for v in got.values() if v == 1), twice=sum(1 for v in got.values() if v > 1),
                         sim_cpu=sim_cpu, load=(load0, os.getloadavg()[0]), events=events))
        # python-kasa
        if kasa and n <= kasa_max:
            time.sleep(2 * BOOT_S)  # every device back and settled
            load0 = os.getloadavg()[0]
            cpu0, j0 = proc_cpu(sim.pid), lines(journal)
            out = d / "kasa.out"
            code, wall, cpu, rss = timed([str(kasa), str(ROOT / "benches" / "kasa_fleet.py"), str(inv), "--rate", str(rate),
                                          "--concurrency", str(concurrency), "--boot", str(BOOT_S), "--poll", str(POLL_S),
                                          "--out", str(d / "kasa-starts.txt")],
                                         stdout=open(out, "w"), stderr=open(d / "kasa.err", "w"))
            sim_cpu = proc_cpu(sim.pid) - cpu0
            summary = json.loads(out.read_text().strip().splitlines()[-1]) if out.read_text().strip() else {}
            starts = [float(x) for x in (d / "kasa-starts.txt").read_text().split()] if (d / "kasa-starts.txt").exists() else []
            got = reboots(journal, j0)
            rows.append(dict(tool="python-kasa", code=code, wall=wall, cpu=cpu, rss=rss, starts=starts, ok=summary.get("succeeded", 0),
                             once=sum(1 for v in got.values() if v == 1), twice=sum(1 for v in got.values() if v > 1),
                             sim_cpu=sim_cpu, load=(load0, os.getloadavg()[0]), events=None))
        return dict(n=n, rate=rate, concurrency=concurrency, ideal=ideal, rtt=rtt, sim_start=sim_start,
                    sim_rss=proc_rss_mb(sim.pid), sim_fds=len(os.listdir(f"/proc/{sim.pid}/fd")), rows=rows)
    finally:
        sim.terminate()
        sim.wait()


def store_bench():
    out = subprocess.run(["cargo", "bench", "--locked", "--bench", "store"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]


def fmt_rate(x):
    return "–" if x is None else f"{x:.1f}"


def table(results, store, args):
    cpu_model = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                      if l.startswith("model name")), platform.processor())
    now = datetime.datetime.now(datetime.timezone.utc)
    out = [BEGIN, "",
           f"Run on {now:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores ({cpu_model}), Linux {platform.release()}, "
           f"`ulimit -n` {__import__('resource').getrlimit(__import__('resource').RLIMIT_NOFILE)[0]}; "
           f"command: `python3 benches/fleet.py{(' ' + ' '.join(sys.argv[1:])) if sys.argv[1:] else ''}`. HS103 plugs on the "
           f"simulator at time scale {TIME_SCALE} (boot {BOOT_S:.1f} s, reboot delay {DELAY_S:.2f} s), power cycle, concurrency "
           f"{args.concurrency}. Ideal = (N−1)/rate + delay + boot + 6 round trips (measured get_sysinfo RTT). "
           "Start rate from the audit's `jobs.started_at` (fleetreset) or the script's log (python-kasa): overall, "
           "the slowest and fastest 10 s window, and the most starts in any one second (the limit is rate × 1.02 + 1). "
           "CPU and peak RSS are the client process's own (wait4); the simulator's CPU over the same run is beside it. "
           "`reboots` is from the simulator's journal: devices that got exactly one (and more than one).", "",
           "| N | --rate | client | wall s | ideal s | wall/ideal | start rate: overall · 10 s min–max · max in 1 s | CPU s | CPU ms/device | peak RSS MB | succeeded | reboots 1× (>1×) | simulator CPU s | load before→after |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for row in r["rows"]:
            overall, lo, hi, most = rate_figures(row["starts"], r["rate"]) if row["starts"] else (None, None, None, 0)
            out.append(f"| {r['n']:,} | {r['rate']} | {row['tool'] if row['tool'] != 'fleetreset' or args.client == str(BIN) else args.client} | {row['wall']:.2f} | {r['ideal']:.2f} | {row['wall'] / r['ideal']:.3f} | "
                       f"{fmt_rate(overall)} · {fmt_rate(lo)}–{fmt_rate(hi)} · {most} | {row['cpu']:.2f} | {1000 * row['cpu'] / r['n']:.3f} | "
                       f"{row['rss']:.0f} | {row['ok']:,} | {row['once']:,} ({row['twice']}) | {row['sim_cpu']:.2f} | "
                       f"{row['load'][0]:.2f}→{row['load'][1]:.2f} |")
        if len(r["rows"]) == 2:
            a, b = r["rows"]
            out.append(f"| {r['n']:,} | | ratio python-kasa ÷ fleetreset | | | | | | **{b['cpu'] / a['cpu']:.1f}×** CPU | **{b['rss'] / a['rss']:.1f}×** RSS | | | | |")
    out += ["", "Simulator: " + "; ".join(f"{r['n']:,} devices started in {r['sim_start']:.1f} s, {r['sim_rss']:.0f} MB peak RSS, "
                                         f"{r['sim_fds']} open files" for r in results) + "."]
    if store:
        out += ["", "Store micro-benchmark (`cargo bench --bench store`): " + "; ".join(
            f"{s['load']}: {s['events']:,} events in {s['seconds']:.2f} s = **{s['events_per_s']:,.0f} events/s**"
            + (f" ({s['jobs_per_s']:,.0f} jobs/s, each waiting for its intent's fsync)" if "jobs_per_s" in s else "")
            for s in store) + "."]
    out += ["", END]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100,1000,10000,100000")
    ap.add_argument("--concurrency", type=int, default=2000)
    ap.add_argument("--no-kasa", action="store_true")
    ap.add_argument("--kasa-max", type=int, default=100000, help="largest fleet python-kasa runs against")
    ap.add_argument("--no-store", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--client", default=str(BIN), help="the fleetreset binary whose `run` is measured")
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--locked"], cwd=ROOT, check=True)
    kasa = None if args.no_kasa else ensure_kasa()
    results = []
    for n in [int(x) for x in args.sizes.split(",")]:
        r = bench_size(n, RATES.get(n, 500), args.concurrency, kasa, args.kasa_max, args.client)
        results.append(r)
        print(json.dumps({k: v for k, v in r.items() if k != "rows"} | {"rows": [{k: v for k, v in row.items() if k != "starts"} for row in r["rows"]]}), flush=True)
    store = [] if args.no_store else store_bench()
    text = table(results, store, args)
    print(text)
    if not args.no_write:
        md = ROOT / "benches" / "BENCHMARKS.md"
        body = md.read_text()
        if BEGIN in body:
            body = body[:body.index(BEGIN)] + text + body[body.index(END) + len(END):]
        else:
            body = body.rstrip("\n") + "\n\n## Fleet scale, side by side with python-kasa\n\n" + text + "\n"
        md.write_text(body)


if __name__ == "__main__":
    main()
