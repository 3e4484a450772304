#!/usr/bin/env bash
# Install the dependencies and run the whole test suite (unit, CLI, AppTest, real browser).
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian's Chromium drives the real-browser tests (Playwright cannot download its own browser here);
# DejaVu is the font labels are drawn with (accents included).
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q && apt-get install -y -q "${missing[@]}" >/dev/null
fi
python -m pip install -q -r requirements-dev.txt -e .  # -e .: the `fer` command (pyproject.toml)
python -m ruff check .
# -rs: each skipped test and why (e.g. the full FER2013 not configured). -n: two pytest workers (pytest-xdist), each
# test file on one of them; one worker left a 2-core machine half idle (docs/benchmarks.md, "Test suite time").
python -m pytest -q -rs -n "${FER_TEST_WORKERS:-2}" --dist loadfile "$@"
