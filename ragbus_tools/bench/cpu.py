"""CPU seconds spent by the processes of a stack, and the machine's load while they ran.

On a shared machine wall-clock rates swing with other people's load; the CPU time
a process tree spent is much steadier, so ``cpu_ms_per_chunk`` (CPU seconds of every
pipeline process over the chunks they indexed) is the cost figure to compare.

A tree's CPU time is, over the process and its live descendants, user + system
time plus the time of their children already reaped (``children_user`` and
``children_system``): a Postgres backend that exits moves its time into the
postmaster's, so a difference of two readings counts it once either way.
"""

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psutil


def tree_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system, reaped children included) of ``pid`` and its
    descendants; ``None`` when the process is gone."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    total = 0.0
    for proc in tree:
        try:
            t = proc.cpu_times()
        except psutil.Error:  # exited meanwhile: its time is now its parent's
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded to 2 decimals."""
    return [round(x, 2) for x in os.getloadavg()]


@dataclass
class CpuReading:
    """What :class:`CpuMeter` measured between ``start`` and ``stop``.

    Attributes:
        cpu_s: Label -> CPU seconds its process tree spent.
        wall_s: Seconds of wall clock measured.
        load_avg: ``start`` and ``end`` (1/5/15-minute load averages), ``max_1m``
            and ``mean_1m`` of the 1-minute one, sampled every second.
    """

    cpu_s: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0
    load_avg: dict[str, Any] = field(default_factory=dict)

    @property
    def total_s(self) -> float:
        """CPU seconds of all the processes measured."""
        return sum(self.cpu_s.values())


class CpuMeter:
    """Reads the CPU time of labelled process trees at ``start`` and ``stop``.

    Args:
        processes: Label -> root process id (for example ``Target.processes``).
        sample_every_s: Seconds between load-average samples.
    """

    def __init__(self, processes: Mapping[str, int], sample_every_s: float = 1.0) -> None:
        self._processes = dict(processes)
        self._every_s = sample_every_s
        self._started: dict[str, float] = {}
        self._t0 = 0.0
        self._loads: list[float] = []
        self._first_load: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Take the first reading and start sampling the load average."""
        self._started = self._read()
        self._t0 = time.monotonic()
        self._first_load = load_average()
        self._loads = [self._first_load[0]]
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, name="load-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> CpuReading:
        """Take the last reading; a tree gone since ``start`` is left out."""
        ended = self._read()
        wall = time.monotonic() - self._t0
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        last = load_average()
        self._loads.append(last[0])
        used = {k: max(0.0, ended[k] - self._started[k]) for k in ended if k in self._started}
        load = {
            "start": self._first_load,
            "end": last,
            "max_1m": max(self._loads),
            "mean_1m": round(sum(self._loads) / len(self._loads), 2),
        }
        return CpuReading(used, wall, load)

    def _read(self) -> dict[str, float]:
        readings = {label: tree_cpu_s(pid) for label, pid in self._processes.items()}
        return {label: s for label, s in readings.items() if s is not None}

    def _sample(self) -> None:
        while not self._stop.wait(self._every_s):
            self._loads.append(load_average()[0])
