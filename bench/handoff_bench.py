"""What a hand-off between threads costs on this machine, in CPU and wall time.

Every message a service handles goes from the event loop to a worker thread and back
(``asyncio.to_thread``), and a worker asking the key store goes back to the loop
(``run_coroutine_threadsafe``). In a VM, waking a sleeping thread on the other core is a
futex wake and an inter-processor interrupt, which a hypervisor makes dear: this prints
what each pattern costs here, so the profiles' ``ThreadPoolExecutor.submit`` and
``Condition.notify`` samples can be read as a count of hand-offs.

    .venv/bin/python bench/handoff_bench.py [--n 5000] [--runs 3]

CPU is the whole process's (``time.process_time``: every thread), per round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from collections.abc import Callable


def measured(label: str, n: int, run: Callable[[], None]) -> None:
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{label:<44} wall {wall / n * 1e6:7.1f} µs   CPU {cpu / n * 1e6:7.1f} µs")


def ping_pong(n: int) -> None:
    """Two threads taking turns through two semaphores: one wake each way."""
    ping, pong = threading.Semaphore(0), threading.Semaphore(0)

    def other() -> None:
        for _ in range(n):
            ping.acquire()
            pong.release()

    thread = threading.Thread(target=other)
    thread.start()
    for _ in range(n):
        ping.release()
        pong.acquire()
    thread.join()


async def on_the_loop(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def to_a_thread(n: int) -> None:
    for _ in range(n):
        await asyncio.to_thread(int)


async def _nothing() -> None:
    return None


async def back_to_the_loop(n: int) -> None:
    """A worker thread waiting on a coroutine it ran on the loop (the key store's path)."""
    loop = asyncio.get_running_loop()

    def worker() -> None:
        for _ in range(n):
            asyncio.run_coroutine_threadsafe(_nothing(), loop).result()

    await asyncio.to_thread(worker)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000, help="round trips per figure")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    n = args.n
    for run in range(1, args.runs + 1):
        print(f"run {run} of {args.runs}, {n} round trips each")
        measured("  loop only (await asyncio.sleep(0))", n,
                 lambda: asyncio.run(on_the_loop(n)))
        measured("  thread ping-pong (two semaphores)", n, lambda: ping_pong(n))
        measured("  loop -> worker -> loop (asyncio.to_thread)", n,
                 lambda: asyncio.run(to_a_thread(n)))
        measured("  worker -> loop -> worker (run_coroutine_…)", n,
                 lambda: asyncio.run(back_to_the_loop(n)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
