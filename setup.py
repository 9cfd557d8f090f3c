"""Builds the extension module `talc` with the project's CMake build (python/CMakeLists.txt).

The package's metadata is in pyproject.toml; this file adds the one step setuptools cannot do
alone: configure CMake for the interpreter that runs the build, with the library and the module
only (no tests, examples, benchmarks, tool or fuzzers), build the module's target, and install
its component (python) and nothing of the C++ install rules (headers, libraries, CMake and
pkg-config files) into the wheel. The component is the package folder talc/: the module as its
__init__, its type stubs and py.typed.

CMAKE_ARGS (split as a shell would) adds arguments to the configure step, and
CMAKE_BUILD_PARALLEL_LEVEL sets the build's jobs (by default, every CPU).
"""

import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = pathlib.Path(__file__).resolve().parent


def project_version() -> str:
    """The version of project(talc VERSION ...), the one place it is kept."""
    text = (ROOT / "CMakeLists.txt").read_text()
    match = re.search(r"project\(\s*talc\s+VERSION\s+([0-9][0-9.]*)", text)
    if not match:
        raise RuntimeError("CMakeLists.txt has no project(talc VERSION ...)")
    return match.group(1)


class CMakeExtension(Extension):
    def __init__(self, name: str):
        super().__init__(name, sources=[])  # CMake compiles it, not setuptools


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        cmake = shutil.which("cmake")
        if cmake is None:
            raise RuntimeError("cmake not found: install it (Debian: apt-get install cmake)")
        try:
            import pybind11
        except ImportError as e:
            raise RuntimeError("pybind11 not found: install it (Debian: python3-pybind11) and "
                               "build with --no-build-isolation") from e

        build_dir = pathlib.Path(self.build_temp).resolve() / "cmake"
        stage_dir = pathlib.Path(self.build_temp).resolve() / "stage"
        build_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(stage_dir, ignore_errors=True)

        configure = [
            cmake, "-S", str(ROOT), "-B", str(build_dir),
            "-DCMAKE_BUILD_TYPE=Release",
            "-DTALC_BUILD_TESTS=OFF", "-DTALC_BUILD_EXAMPLES=OFF", "-DTALC_BUILD_BENCH=OFF",
            "-DTALC_BUILD_TOOLS=OFF", "-DTALC_BUILD_FUZZ=OFF", "-DTALC_WERROR=OFF",
            "-DTALC_BUILD_PYTHON=ON", "-DTALC_PYTHON_REQUIRED=ON",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            # The module straight in the staging folder's root, where the wheel wants it.
            "-DTALC_PYTHON_INSTALL_DIR=.",
        ]
        if "CMAKE_GENERATOR" not in os.environ and not (build_dir / "CMakeCache.txt").exists() \
                and shutil.which("ninja"):
            configure += ["-G", "Ninja"]
        configure += shlex.split(os.environ.get("CMAKE_ARGS", ""))

        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(os.cpu_count() or 1)
        subprocess.run(configure, check=True)
        subprocess.run([cmake, "--build", str(build_dir), "--target", "talc_python",
                        "--parallel", jobs], check=True)
        subprocess.run([cmake, "--install", str(build_dir), "--component", "python",
                        "--prefix", str(stage_dir)], check=True)

        # The package folder talc/: the module as its __init__, its stubs and py.typed.
        package = stage_dir / "talc"
        built = sorted(package.glob("__init__*.so"))
        if len(built) != 1:
            raise RuntimeError(f"expected one module in {package}, found {built}")
        target = pathlib.Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built[0], target)
        for typing_file in ("__init__.pyi", "py.typed"):
            shutil.copyfile(package / typing_file, target.parent / typing_file)


setup(
    version=project_version(),
    ext_modules=[CMakeExtension("talc.__init__")],
    cmdclass={"build_ext": CMakeBuild},
    packages=[],
    py_modules=[],
    zip_safe=False,
)
