"""`make loadtest`: the submission service under load, on loopback only, bounded in count and time.

A private Day 41 course with a roster of CLIENTS students; `make serve`'s service started on a
free loopback port; CLIENTS concurrent clients upload N notebooks in all (a class built like the
bench's: correct, buggy, stub and broken notebooks) and follow each until it is graded. Then:

- upload latency p50/p95 (until the 202, while grading runs), time to feedback p50/p95 (the
  server's graded_at - submitted_at), submissions per minute, peak memory of the service's tree;
- none lost, none graded twice: every 202 has its row, its stored notebook (same SHA-256) and
  exactly one recorded result;
- batch `grade` on the same notebooks (one student folder each), in the same run: its submissions
  per minute, the baseline of the ratio.

Results go to bench/loadtest.json. The service runs as a process (bench/serving.py), as in the suite.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from autograder.config import CourseConfig
from bench.run import ASSIGNMENT, Distribution, TreeSampler
from bench.serving import (REPO_ROOT, ServiceProcess, audit, class_notebooks, issue_tokens, make_course,
                           wait_graded)

HERE = Path(__file__).resolve().parent
DEADLINE_S = 900          # the whole run stops by itself past this


# -- the load ------------------------------------------------------------------------------------------

def multipart(assignment: str, data: bytes, boundary: str = "loadtest0boundary") -> tuple[bytes, str]:
    """The body of an upload form, built once per notebook (the load's clients only send bytes)."""
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"assignment\"\r\n\r\n{assignment}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"notebook\"; filename=\"transformer.ipynb\"\r\n"
            f"Content-Type: application/x-ipynb+json\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@dataclass(frozen=True)
class Pace:
    """How students use the service: start within `spread_s`, follow each upload until it is graded
    (polling every `poll_s`, as the attempt's page does), think `think_s` before the next one.
    Pace.burst() is the worst case: every client at once, back to back, following nothing."""
    spread_s: float = 30.0
    poll_s: float = 1.0
    think_s: tuple[float, float] = (2.0, 8.0)
    follow: bool = True

    @classmethod
    def burst(cls) -> "Pace":
        return cls(0.0, 1.0, (0.0, 0.0), False)


class Connection:
    """One keep-alive HTTP/1.1 connection, raw: 100 of these in one Python process measure the
    service rather than the client library."""

    IDLE_S = 4.0  # under uvicorn's keep-alive timeout (5 s): an idle connection is opened anew

    def __init__(self, port: int, token: str):
        self.port, self.token = port, token
        self.reader = self.writer = None
        self.used = 0.0

    async def request(self, method: str, path: str, body: bytes = b"", kind: str = "") -> tuple[int, dict, bytes]:
        if self.writer is not None and time.monotonic() - self.used > self.IDLE_S:
            self.close()
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAuthorization: Bearer {self.token}\r\n"
        if body:
            head += f"Content-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        headers = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        answer = await self.reader.readexactly(int(headers.get("content-length", 0)))
        self.used = time.monotonic()
        if headers.get("connection") == "close":
            self.close()
        return status, headers, answer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _client(port: int, token: str, bodies: list[tuple[bytes, str, str]], pace: Pace, rng, out: dict):
    """One student: uploads one after another, each followed until graded when the pace says so."""
    c = Connection(port, token)
    await asyncio.sleep(rng.uniform(0, pace.spread_s))
    try:
        for body, kind, digest in bodies:
            started = time.perf_counter()
            status, headers, answer = await c.request("POST", "/api/submissions", body, kind)
            out["latencies"].append(time.perf_counter() - started)
            if "server-timing" in headers:
                out["server_ms"].append(float(headers["server-timing"].split("dur=")[1]))
            if status != 202:
                out["refused"].append((status, answer[:200].decode(errors="replace")))
                continue
            attempt = json.loads(answer)["id"]
            out["accepted"][attempt] = digest
            while pace.follow:
                await asyncio.sleep(pace.poll_s)
                status, _, answer = await c.request("GET", f"/api/submissions/{attempt}")
                if status == 200 and json.loads(answer)["status"] in ("graded", "error"):
                    out["seen_s"].append(time.perf_counter() - started)
                    break
            await asyncio.sleep(rng.uniform(*pace.think_s))
    finally:
        c.close()


async def _load(port: int, tokens: list[str], per_client: list[list[bytes]], pace: Pace) -> dict:
    import random

    out = {"latencies": [], "server_ms": [], "seen_s": [], "accepted": {}, "refused": []}
    rng = random.Random(16)
    bodies = [[(*multipart(ASSIGNMENT, d), hashlib.sha256(d).hexdigest()) for d in nbs] for nbs in per_client]
    await asyncio.gather(*(_client(port, t, b, pace, rng, out) for t, b in zip(tokens, bodies)))
    return out


def graded_times(cfg: CourseConfig) -> list[tuple[float, float]]:
    """(submitted_at, graded_at) of every attempt, as epoch seconds, from the database."""
    import datetime as dt

    db = sqlite3.connect(cfg.service_db_url.removeprefix("sqlite:///"))
    rows = db.execute("SELECT submitted_at, graded_at FROM attempts WHERE graded_at IS NOT NULL").fetchall()
    db.close()
    epoch = lambda s: dt.datetime.fromisoformat(s).replace(tzinfo=dt.timezone.utc).timestamp()  # noqa: E731
    return [(epoch(a), epoch(b)) for a, b in rows]


def run_load(work: Path, n: int = 300, clients: int = 100, lanes: int = 0, batch: bool = True,
             pace: Pace = Pace()) -> dict:
    """The whole measurement; returns (and writes next to `work`) the figures."""
    started_run = time.monotonic()
    settings = {"lanes": lanes, "uploads_per_minute": 0, "requests_per_minute": 0,
                "requests_per_minute_per_address": 0}
    cfg = make_course(work / "course", clients, settings)
    tokens = issue_tokens(cfg)
    notebooks = class_notebooks(n, work)
    students = [f"s{i:03d}" for i in range(clients)]
    per_client = [notebooks[i::clients] for i in range(clients)]
    service = ServiceProcess(cfg.root).start()
    try:
        service.wait_ready(tokens["instructor"])
        with TreeSampler(include_self=False) as sampler:
            t0 = time.monotonic()
            out = asyncio.run(asyncio.wait_for(_load(service.port, [tokens[s] for s in students], per_client, pace),
                                               DEADLINE_S))
            uploaded_s = time.monotonic() - t0
            accepted = out["accepted"]
            with httpx.Client(base_url=service.url, timeout=60) as c:
                wait_graded(c, tokens["instructor"], list(accepted), timeout=max(60, DEADLINE_S - (time.monotonic() - started_run)))
        usage = sampler.usage
    finally:
        service.stop()
    times = graded_times(cfg)
    first, last = min(t[0] for t in times), max(t[1] for t in times)
    result = {
        "n": n, "clients": clients, "lanes": lanes or os.cpu_count(), "pace": pace.__dict__,
        "load_s": round(uploaded_s, 2),
        "upload_latency_s": Distribution.of(out["latencies"]).__dict__,
        "upload_server_ms": Distribution.of(out["server_ms"]).__dict__,  # the service's own time (Server-Timing)
        "feedback_seen_s": Distribution.of(out["seen_s"]).__dict__,     # as the polling client saw it
        "time_to_feedback_s": Distribution.of([b - a for a, b in times]).__dict__,
        "service_per_minute": round(len(times) * 60 / (last - first), 1),
        "peak_memory": {"rss_mb": usage.rss_mb, "pss_mb": usage.pss_mb, "processes": usage.processes},
        "refused": out["refused"][:10], "audit": audit(cfg, accepted),
    }
    if batch:
        result["batch"] = run_batch(work, notebooks)
        result["ratio_service_over_batch"] = round(result["service_per_minute"] / result["batch"]["per_minute"], 2)
    return result


def run_batch(work: Path, notebooks: list[bytes]) -> dict:
    """`python -m autograder grade` on the same notebooks, one student folder each, timed whole."""
    cfg = make_course(work / "batch", 0, {})
    for i, data in enumerate(notebooks):
        dest = cfg.submitted_dir / f"b{i:04d}" / ASSIGNMENT / "transformer.ipynb"
        dest.parent.mkdir(parents=True)
        dest.write_bytes(data)
    with TreeSampler(include_self=False) as sampler:
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-m", "autograder", "--course", str(cfg.root), "grade", "--assignment",
                        ASSIGNMENT, "--quiet"], cwd=REPO_ROOT, check=True, timeout=DEADLINE_S)
        wall = time.monotonic() - t0
    return {"wall_s": round(wall, 2), "per_minute": round(len(notebooks) * 60 / wall, 1),
            "peak_memory": {"rss_mb": sampler.usage.rss_mb, "pss_mb": sampler.usage.pss_mb}}


def table(r: dict) -> str:
    lat, ttf = r["upload_latency_s"], r["time_to_feedback_s"]
    own = r["upload_server_ms"]
    pace = "every client at once, back to back" if not r["pace"]["follow"] else (
        f"clients start within {r['pace']['spread_s']:g} s, follow each upload until graded, think "
        f"{r['pace']['think_s'][0]:g}-{r['pace']['think_s'][1]:g} s")
    lines = [f"{r['n']} uploads from {r['clients']} concurrent clients, {r['lanes']} lanes ({pace})",
             f"  upload latency p50 / p95      {lat['p50'] * 1000:.0f} / {lat['p95'] * 1000:.0f} ms "
             f"(in the service: {own['p50']:.0f} / {own['p95']:.0f} ms)",
             f"  time to feedback p50 / p95    {ttf['p50']:.1f} / {ttf['p95']:.1f} s (graded_at - submitted_at)",
             f"  submissions per minute        {r['service_per_minute']:.1f} (service)"]
    if "batch" in r:
        lines.append(f"                                {r['batch']['per_minute']:.1f} (batch grade on the same notebooks, "
                     f"ratio {r['ratio_service_over_batch']:.2f})")
    lines.append(f"  peak memory, service tree     RSS {r['peak_memory']['rss_mb']:.0f} MB, PSS {r['peak_memory']['pss_mb']} MB")
    a = r["audit"]
    lines.append(f"  accepted {a['accepted']}, lost {len(a['lost'])}, graded twice {len(a['graded_twice'])}, "
                 f"not graded {len(a['not_graded'])}, stored bytes differ {len(a['bytes_differ'])}")
    return "\n".join(lines)


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.loadtest", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--lanes", type=int, default=0)
    parser.add_argument("--no-batch", action="store_true")
    parser.add_argument("--burst", action="store_true", help="every client at once, back to back, following nothing")
    args = parser.parse_args(argv)
    result = run_load(HERE / "work" / "loadtest", args.n, args.clients, args.lanes, batch=not args.no_batch,
                      pace=Pace.burst() if args.burst else Pace())
    (HERE / "loadtest.json").write_text(json.dumps(result, indent=1))
    print(table(result))
    a = result["audit"]
    ok = a["accepted"] == args.n and not (a["lost"] or a["graded_twice"] or a["not_graded"] or a["bytes_differ"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
