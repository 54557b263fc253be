"""Save screenshots of the main pages for the README: runs the browser tests with SCREENSHOT_DIR=docs/screenshots.

    .venv/bin/python docs/screenshots.py
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    env = {**os.environ, "SCREENSHOT_DIR": str(ROOT / "docs" / "screenshots")}
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q", "tests/playground/browser"], cwd=ROOT, env=env))
