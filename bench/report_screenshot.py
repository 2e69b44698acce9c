"""Open a run's HTML report in headless Chromium, take a screenshot and check what rendered.

    python bench/report_screenshot.py runs/quickstart [--out bench/out/report.png]

Needs Debian's `chromium` (apt-get install chromium). Prints the screenshot path, and how many
tables and images the browser's DOM holds with their rendered sizes (an image that failed to
decode has natural width 0), so a broken report is caught without a person looking.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]

# Runs inside the page once loaded, and writes its findings into the DOM for --dump-dom to read.
PROBE = """<script>window.addEventListener('load', () => {
  const imgs = [...document.images].map(i => [i.naturalWidth, i.naturalHeight]);
  const out = {tables: document.querySelectorAll('table').length, images: imgs,
               headings: [...document.querySelectorAll('h2')].map(h => h.textContent)};
  const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});</script>"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    sys.exit("chromium not found: apt-get install chromium")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, default=Path("bench/out/report.png"))
    args = parser.parse_args()
    report = args.run_dir / "report.html"
    if not report.exists():
        sys.exit(f"{report} not found: run `lingalign report {args.run_dir}` first")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        base = [chromium(), *FLAGS, f"--user-data-dir={profile}"]
        subprocess.run([*base, f"--screenshot={args.out.resolve()}", "--window-size=1200,2400",
                        report.resolve().as_uri()], check=True, capture_output=True, timeout=120)
        probed = Path(profile) / "probe.html"
        probed.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
        dom = subprocess.run([*base, "--dump-dom", "--virtual-time-budget=5000", probed.as_uri()],
                             check=True, capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    if not found:
        sys.exit("the page did not finish loading in Chromium")
    probe = json.loads(found.group(1).replace("&quot;", '"'))
    broken = [size for size in probe["images"] if size[0] == 0]
    print(f"screenshot: {args.out}")
    print(f"sections: {', '.join(probe['headings'])}")
    print(f"tables: {probe['tables']}  images: {len(probe['images'])}  broken images: {len(broken)}")
    sys.exit(1 if broken or not probe["tables"] else 0)


if __name__ == "__main__":
    main()
