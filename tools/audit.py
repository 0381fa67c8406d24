"""`make audit`: known vulnerabilities in the locked dependencies, by pip-audit.

    python tools/audit.py requirements.lock
      vulnerabilities found                           -> lists them, exit 1 (the build fails)
      audited, none found                             -> one line, exit 0
      service unreachable, or it knows none of the
      pinned versions (a private index or mirror)     -> WARNING saying so, exit 0

pip-audit asks PyPI's JSON API for each pinned version; it needs the network.
A service that cannot answer must not fail the build, but must not pass for an
audit either: the warning says how many versions went unaudited, and why.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

NETWORK = ("connection", "timed out", "timeout", "resolve", "name or service", "ssl", "max retries",
           "temporary failure", "network is unreachable")


def main(lock: str) -> int:
    if not Path(lock).is_file():
        print(f"audit: {lock} is missing; run `make lock`", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "audit.json"
        try:
            run = subprocess.run([sys.executable, "-m", "pip_audit", "-r", lock, "--no-deps", "--disable-pip",
                                  "--progress-spinner", "off", "--format", "json", "--output", str(report)],
                                 capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            print("WARNING audit: pip-audit took over 10 minutes; the dependencies were NOT audited")
            return 0
        try:
            found = json.loads(report.read_text())
        except (OSError, ValueError):
            found = None
    if found is None:
        error = (run.stderr or run.stdout).strip().splitlines()
        last = error[-1] if error else f"exit {run.returncode}"
        if any(word in (run.stderr or "").lower() for word in NETWORK):
            print(f"WARNING audit: the vulnerability service could not be reached ({last}); "
                  "the dependencies were NOT audited")
            return 0
        print(f"audit: pip-audit failed: {last}", file=sys.stderr)
        return 1
    deps = found.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if d.get("skip_reason")]
    audited = len(deps) - len(skipped)
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
            print(f"{dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixed})")
    if vulnerable:
        print(f"audit: {len(vulnerable)} of {len(deps)} locked dependencies have known vulnerabilities",
              file=sys.stderr)
        return 1
    if skipped:
        reason = skipped[0]["skip_reason"]
        print(f"WARNING audit: {len(skipped)} of {len(deps)} locked versions could not be audited "
              f"(e.g. {reason})")
    if audited:
        print(f"audit: {audited} of {len(deps)} locked dependencies audited, no known vulnerabilities")
    else:
        print("WARNING audit: the vulnerability service knew none of the locked versions; NOTHING was audited")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "requirements.lock"))
