"""`bot bench`: the figures of the README come from one command; its quick form runs here (no timings asserted)."""

from __future__ import annotations

import subprocess
import sys

from tests.support import ROOT


def test_bot_bench_quick_prints_every_table(tmp_path):
    out = tmp_path / "results.md"
    done = subprocess.run([sys.executable, "-m", "bot.cli", "bench", "--quick", "--workers", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    for heading in ("Routing (route() per message", "p50 ms", "p99 ms", "brute force", "x faster",
                    "Catalogue reload", "One event, stage by stage", "Webhook (signed LINE text events",
                    "events/s", "lost", "dup", "Start and memory", "start to /healthz 200", "RSS MB", "PSS MB",
                    "Sudachi", "machine: "):
        assert heading in done.stdout, f"{heading!r} missing from:\n{done.stdout}"
    assert "not measured" not in done.stdout
    report = out.read_text()
    assert "bot bench" in report and "```json" in report
