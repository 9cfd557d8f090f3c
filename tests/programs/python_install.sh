#!/usr/bin/env bash
# The Python package as a user installs it: `pip install --no-build-isolation --no-index` of the
# project's root into a fresh virtual environment (pyproject.toml, setup.py), then the package's
# tests (python/tests) against that installed copy, from a folder where no build tree is on the
# path. Then `python -m build --wheel --no-isolation`, whose wheel must hold the package (the
# module, its stubs and py.typed) and its metadata only. The environment sees the interpreter's
# own site packages, where Debian puts the build requirements (setuptools, wheel, pybind11,
# build) and the tests' numpy and pytest.
#
#   python_install.sh PROJECT_ROOT [python3]
#
# The sources are copied first (without build/), so that the build, which setuptools does in
# the source folder, leaves the checkout as it was. TALC_CPP_PEER and TALC_C_PEER, if set, are
# passed on to the tests (the C++ peer of test_cpp_peer.py, the C ones of test_c_peer.py and,
# as TALC_C_ARRAY_PEER, test_arrays.py; TALC_C_DLOPEN and TALC_LIBTALC, test_c_dlopen.py).
set -euo pipefail

ROOT=$(cd "${1:?usage: python_install.sh PROJECT_ROOT [python3]}" && pwd)
PY=${2:-/usr/bin/python3}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/talc-python-install.XXXXXX")
trap 'rm -rf "$DIR"' EXIT

fail() {
  echo "FAIL: $*"
  exit 1
}

"$PY" -c 'import ensurepip, venv' 2>/dev/null ||
  fail "$PY cannot make virtual environments (Debian: python3-venv; scripts/setup.sh installs it)"

mkdir "$DIR/src" "$DIR/run" "$DIR/dist"
tar -C "$ROOT" --exclude=./build --exclude=./.git --exclude=./talc.egg-info -cf - . |
  tar -C "$DIR/src" -xf -

VENV="$DIR/venv"
"$PY" -m venv --system-site-packages "$VENV"
VPY="$VENV/bin/python"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONDONTWRITEBYTECODE=1
unset PYTHONPATH PYTHONHOME

start=$SECONDS
"$VPY" -m pip install --quiet --no-cache-dir --no-build-isolation --no-index "$DIR/src" ||
  fail "pip install --no-build-isolation --no-index failed"
echo "pip install: $((SECONDS - start)) s"

cd "$DIR/run"
# The installed copy: inside the environment, its version the project's and the distribution's.
"$VPY" - "$VENV" "$ROOT/CMakeLists.txt" <<'PYEOF' || fail "the installed package is not the one expected"
import importlib.metadata, pathlib, re, sys
import talc
venv, cmake = pathlib.Path(sys.argv[1]).resolve(), pathlib.Path(sys.argv[2])
where = pathlib.Path(talc.__file__).resolve()
assert where.is_relative_to(venv), f"talc imported from {where}, not from {venv}"
version = re.search(r"project\(talc VERSION ([0-9.]+)", cmake.read_text()).group(1)
dist = importlib.metadata.distribution("talc")
assert talc.__version__ == version == dist.version, (talc.__version__, version, dist.version)
files = [str(f) for f in dist.files]
others = sorted(f for f in files if not (f.startswith("talc-") and ".dist-info/" in f))
expected = sorted(["talc/" + where.name, "talc/__init__.pyi", "talc/py.typed"])
assert others == expected, f"the distribution installs other than the package: {others}"
print(f"installed: talc {talc.__version__} at {where}")
PYEOF

start=$SECONDS
TALC_EXPECT_INSTALLED_IN="$VENV" "$VPY" -m pytest -q -p no:cacheprovider "$ROOT/python/tests" ||
  fail "python/tests against the installed copy"
echo "pytest: $((SECONDS - start)) s"

# The wheel, from the same sources (setuptools' build folder there makes it a short rebuild).
start=$SECONDS
"$VPY" -m build --wheel --no-isolation --outdir "$DIR/dist" "$DIR/src" >"$DIR/build.log" 2>&1 ||
  { tail -40 "$DIR/build.log"; fail "python -m build --wheel --no-isolation failed"; }
"$VPY" - "$DIR/dist" <<'PYEOF' || fail "the wheel is not as expected"
import pathlib, sys, zipfile
wheels = list(pathlib.Path(sys.argv[1]).glob("talc-*.whl"))
assert len(wheels) == 1, wheels
names = zipfile.ZipFile(wheels[0]).namelist()
others = sorted(n for n in names if ".dist-info/" not in n)
assert len(others) == 3 and others[0].startswith("talc/__init__.") and others[0].endswith(".so") \
    and others[1:] == ["talc/__init__.pyi", "talc/py.typed"], others
print(f"wheel: {wheels[0].name}: {', '.join(others)} and its metadata")
PYEOF
echo "python -m build --wheel: $((SECONDS - start)) s"
echo "python install test passed"
