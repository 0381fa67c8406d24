"""The ten-prefecture check of issue 15: does a resident of an ordinary town get the area's centre, with a phone?

    .venv/bin/python tools/route_bar.py [--seed 15] [--catalogue services.yaml]

Ten prefectures drawn at random (a fixed seed, so the same ten every run), one town in each
(not a designated city, drawn the same way), five messages per town (ひきこもり, こころの相談,
性暴力, DV, 児童虐待).  Each goes through `bot route --jsonl`; a need passes when the reply
holds the statutory centre of that need for the area (ひきこもり地域支援センター, 精神保健福祉センター,
ワンストップ支援センター, 配偶者暴力相談支援センター, 児童相談所) with a phone number of its own (not
#8891, 189 or a national free dial), and the table says what the resident got instead when it does not.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEEDS = (  # need, label, message, the statutory centre's entries (their id's prefix)
    ("hikikomori", "ひきこもり", "ひきこもりの息子のことで相談したい", "hik_"),
    ("mental_health", "こころの相談", "気分が落ち込んで眠れない日が続いていて、こころの相談をしたい", "mhwc_"),
    ("sexual_violence", "性暴力", "性暴力の被害にあったことを相談したい", "os_"),
    ("domestic_violence", "DV", "夫から暴力をふるわれていて相談したい", "dv_"),
    ("child_abuse", "児童虐待", "近所の子どもが虐待されているかもしれないので相談したい", "jiso_"),
)


def towns(seed: int) -> list[tuple[str, str, str]]:
    """(prefecture, town, code) for ten prefectures drawn with the seed."""
    with open(ROOT / "bot" / "data" / "municipalities.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    prefs = sorted({r["pref"] for r in rows})
    rng = random.Random(seed)
    out = []
    for pref in rng.sample(prefs, 10):
        ordinary = [r for r in rows if r["pref"] == pref and " " not in r["city"]
                    and not any(o["city"].startswith(r["city"] + " ") for o in rows)]
        town = rng.choice(ordinary)
        out.append((pref, town["city"], town["lgcode"].zfill(6)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--catalogue")
    args = parser.parse_args()
    picked = towns(args.seed)
    lines = [json.dumps({"text": text, "area": code, "at": "2026-12-07T10:00"}, ensure_ascii=False)
             for _, _, code in picked for _, _, text, _ in NEEDS]
    command = [str(ROOT / ".venv" / "bin" / "bot")] + (["--catalogue", args.catalogue] if args.catalogue else [])
    run = subprocess.run(command + ["route", "--jsonl"], input="\n".join(lines) + "\n", capture_output=True,
                         text=True, check=True, cwd=ROOT)
    replies = [json.loads(line) for line in run.stdout.splitlines()]
    print(f"seed {args.seed}; a need passes when the reply holds the area's statutory centre for it with a number "
          "of its own\n")
    print("| prefecture | town | " + " | ".join(label for _, label, _, _ in NEEDS) + " |")
    print("|---|---|" + "---|" * len(NEEDS))
    passed = 0
    for i, (pref, town, _) in enumerate(picked):
        cells = []
        for j, (intent, _, _, prefix) in enumerate(NEEDS):
            reply = replies[i * len(NEEDS) + j]
            local = [s for s in reply["services"] if s["intent"] == intent and s["area"] != "national"
                     and s["id"].startswith(prefix)]
            good = [s for s in local if s["phone"] and s["phone"].startswith("0") and not s["phone"].startswith("0120-8891")]
            if good:
                passed += 1
                cells.append(f"✓ {good[0]['id']} {good[0]['phone']}")
            elif local:
                cells.append(f"✗ {local[0]['id']} (no number of its own)")
            else:
                other = [s for s in reply["services"] if s["intent"] == intent and s["area"] != "national"
                         and s["phone"]]
                website = any(s["id"].startswith("official_site:") for s in reply["services"] if s["intent"] == intent)
                cells.append(f"✗ {other[0]['id']} {other[0]['phone']} (another kind)" if other else
                             "✗ town website + national lines" if website else "✗ national lines only")
        print(f"| {pref} | {town} | " + " | ".join(cells) + " |")
    print(f"\n{passed} of {len(picked) * len(NEEDS)} (town, need) pairs get the area's centre with a phone")
    return 0 if passed == len(picked) * len(NEEDS) else 1


if __name__ == "__main__":
    sys.exit(main())
