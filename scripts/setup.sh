#!/usr/bin/env bash
# Installs the Debian packages this project builds and tests with, only if some are missing.
#   cmake ninja-build g++       the build
#   clang libclang-rt-14-dev    sanitizer builds and libFuzzer
#   libgtest-dev                the tests (GoogleTest)
#   libboost-dev                Boost.Container, for the tests and the example of containers
#                               in the heap, and Boost.Interprocess, the benchmark's
#                               shared-memory peer (headers only; the library does not need it)
#   libcli11-dev                the command-line parsing of the talc tool
#   nlohmann-json3-dev          the talc tool's --json output
#   doxygen                     the reference documentation (cmake --build ... --target docs)
#   pkg-config                  the consumer test of the installed package
#   python3                     the tool's test parses its JSON and damages heap files
#   libmimalloc-dev             the benchmark's peer mimalloc (linked, called as mi_*)
#   libjemalloc-dev             the benchmark's peer jemalloc (linked, called as mallocx & co.)
#   gnuplot-nox                 the benchmark's plots (scripts/bench)
#   python3-dev pybind11-dev    the Python package (python/): the interpreter's headers and
#   python3-pybind11            pybind11, whose CMake package builds the extension module
#   python3-pytest              the Python package's tests
#   python3-numpy               the Python package's tests, example and benchmark read blocks
#                               in place as numpy arrays
#   python3-venv python3-pip    `pip install --no-build-isolation .` (pyproject.toml, setup.py)
#   python3-setuptools          and `python3 -m build --wheel --no-isolation`, tested in a fresh
#   python3-wheel python3-build virtual environment (tests/programs/python_install.sh)
#   spin                        the Promela models of the lock, journal and lane protocols
#                               (models/, checked by scripts/check-models)
set -euo pipefail

packages=(cmake ninja-build g++ clang libclang-rt-14-dev libgtest-dev libboost-dev libcli11-dev
          nlohmann-json3-dev doxygen pkg-config python3 libmimalloc-dev libjemalloc-dev gnuplot-nox
          python3-dev pybind11-dev python3-pybind11 python3-pytest python3-numpy
          python3-venv python3-pip python3-setuptools python3-wheel python3-build spin)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "setup: installing ${missing[*]}"
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
"${sudo[@]}" apt-get update
# Through env: sudo resets the environment, which would drop DEBIAN_FRONTEND.
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
