"""The per-device sequence of a fleetreset power cycle, scripted with python-kasa's library, for
the side-by-side benchmark (benches/fleet.py runs it; BENCHMARKS.md has the figures).

For each device, under the same start limiter design and concurrency cap as fleetreset:
read its info, ask it to reboot, wait until it went away and is back, read its info again.
The waits are fleetreset's own: a look each poll interval until the device stops answering,
then looks that close in on the catalog boot time (half the time left each, at least a poll
interval), so both clients make the same number of looks.

    python benches/kasa_fleet.py INVENTORY.csv --rate 500 --concurrency 2000 \
        --boot 3.0 --poll 0.05 --out starts.txt

Prints one JSON line: devices, succeeded, failed, wall seconds. Writes each device's start time
(monotonic seconds from the first start) to --out, for the start-rate figures.
"""
import argparse
import asyncio
import csv
import json
import sys
import time

from kasa import Device, DeviceConfig
from kasa.deviceconfig import DeviceConnectionParameters, DeviceEncryptionType, DeviceFamily


class Pacer:
    """Start slots at `rate` per second against their ideal times, as fleetreset's pacer: a
    start at most `catch_up` late keeps the schedule, a later one restarts it from now."""

    def __init__(self, rate):
        self.period = 1.0 / rate
        self.catch_up = min(self.period, 0.002)
        self.next = None
        self.lock = asyncio.Lock()

    async def ready(self):
        async with self.lock:
            while True:
                now = time.monotonic()
                slot = now if self.next is None else self.next
                if now >= slot:
                    self.next = max(slot, now - self.catch_up) + self.period
                    return
                await asyncio.sleep(slot - now)


async def look(dev):
    try:
        await dev.update()
        return True
    except Exception:
        return False


async def one(host, boot, poll, timeout):
    params = DeviceConnectionParameters(
        DeviceFamily.IotSmartPlugSwitch, DeviceEncryptionType.Xor
    )
    config = DeviceConfig(host=host, connection_type=params, timeout=timeout)
    dev = await Device.connect(config=config)  # connects and reads its info
    try:
        before = dev.alias
        await dev.reboot(delay=1)
        sent = time.monotonic()
        # Until it goes away, a look each poll interval.
        while True:
            await asyncio.sleep(poll)
            if not await look(dev):
                break
            # fleetreset's away budget: the 1 s delay and 30 s, in poll intervals (1 s each).
            if time.monotonic() - sent > 31 * poll:
                return False
        gone = time.monotonic()
        expected = gone + boot
        deadline = gone + 2 * boot
        while True:
            await asyncio.sleep(max((expected - time.monotonic()) / 2, poll))
            if await look(dev):
                break
            if time.monotonic() >= deadline:
                return False
        return dev.alias == before
    finally:
        await dev.disconnect()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inventory")
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--concurrency", type=int, required=True)
    ap.add_argument("--boot", type=float, required=True, help="real seconds of the boot time")
    ap.add_argument("--poll", type=float, required=True, help="real seconds of a poll interval")
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    with open(a.inventory, newline="") as f:
        hosts = [row["host"] for row in csv.DictReader(f)]
    pacer = Pacer(a.rate)
    slots = asyncio.Semaphore(a.concurrency)
    starts = []
    t0 = time.monotonic()
    ok = failed = 0

    async def job(host):
        nonlocal ok, failed
        try:
            good = await one(host, a.boot, a.poll, a.timeout)
        except Exception as e:  # a device that fails is counted, not fatal
            print(f"{host}: {e!r}", file=sys.stderr)
            good = False
        if good:
            ok += 1
        else:
            failed += 1
        slots.release()

    tasks = []
    for host in hosts:
        await slots.acquire()
        await pacer.ready()
        starts.append(time.monotonic() - t0)
        tasks.append(asyncio.create_task(job(host)))
    await asyncio.gather(*tasks)
    wall = time.monotonic() - t0
    with open(a.out, "w") as f:
        f.write("\n".join(f"{s:.6f}" for s in starts))
    print(json.dumps({"devices": len(hosts), "succeeded": ok, "failed": failed, "wall_s": wall}))


asyncio.run(main())
