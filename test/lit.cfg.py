# lit configuration for growc: growc-opt / growc with FileCheck, and Python
# reference checks run under the interpreter that has PyTorch.
import os
import shutil
import subprocess

import lit.formats

config.name = "growc"
config.test_format = lit.formats.ShTest(not lit_config.useValgrind)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.growc_obj_root, "test")

config.environment["PATH"] = os.pathsep.join(
    [config.growc_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", "")])
# Keep FileCheck output deterministic regardless of the caller's terminal.
config.environment.pop("FILECHECK_OPTS", None)

# Before %growc, which is a prefix of it: the build directory.
config.substitutions.append(("%growc-build", config.growc_obj_root))
config.substitutions.append(("%growc-opt", os.path.join(config.growc_tools_dir, "growc-opt")))
config.substitutions.append(("%growc-run", os.path.join(config.growc_tools_dir, "growc-run")))
config.substitutions.append(("%growc", os.path.join(config.growc_tools_dir, "growc")))
config.substitutions.append(("%python", config.torch_python))
config.substitutions.append(("%examples", os.path.join(config.growc_src_root, "examples")))
config.substitutions.append(("%scripts", os.path.join(config.growc_src_root, "scripts")))
# The build's own CMake, generator and compiler, for building a project
# against `cmake --install`'s output (test/Install).
config.substitutions.append(("%cmake-configure",
    "{} -G '{}' -DCMAKE_MAKE_PROGRAM={} -DCMAKE_CXX_COMPILER={}".format(
        config.cmake_command, config.cmake_generator,
        config.cmake_make_program, config.cxx_compiler)))
config.substitutions.append(("%cmake", config.cmake_command))

# Features: numerical tests need PyTorch under the configured interpreter.
def has_torch(python):
    try:
        return subprocess.run([python, "-c", "import torch"],
                              capture_output=True, timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False

if has_torch(config.torch_python):
    config.available_features.add("torch")
if shutil.which("nvidia-smi") and subprocess.run(
        ["nvidia-smi", "-L"], capture_output=True).returncode == 0:
    config.available_features.add("gpu")

# `cuda-device`: --device=cuda runs, on the GPU where there is one, else
# on the fake driver (runtime/testing/FakeCuda.cpp), whose PTX interpreter
# runs the artifact's kernels and whose cuBLASLt and NCCL work in host
# memory (feature `emulated-gpu`). %cuda-env prefixes such a command.
fake_cuda = getattr(config, "fake_cuda_library", "")
if "gpu" in config.available_features:
    config.available_features.add("cuda-device")
    config.substitutions.append(("%cuda-env", ""))
elif fake_cuda and os.path.exists(fake_cuda):
    config.available_features.add("cuda-device")
    config.available_features.add("emulated-gpu")
    config.substitutions.append(
        ("%cuda-env", "env GROWC_LIBCUDA={0} GROWC_LIBCUBLASLT={0} "
                      "GROWC_LIBNCCL={0}".format(fake_cuda)))

# Headless Chromium and plotly.js (Debian's chromium and python3-plotly), for
# checking that the HTML analysis reports render every plot.
chromium = shutil.which("chromium") or shutil.which("chromium-browser")
plotly_js = os.environ.get("GROWC_PLOTLY_JS") or "/usr/share/python3-plotly/plotly.js"
if chromium and os.path.exists(plotly_js):
    config.available_features.add("chromium")
    config.substitutions.append(("%chromium", chromium))
    config.substitutions.append(("%plotly-js", plotly_js))
    if "GROWC_PLOTLY_JS" in os.environ:
        config.environment["GROWC_PLOTLY_JS"] = os.environ["GROWC_PLOTLY_JS"]

# node, for running an HTML analysis report's script without a browser
# (test/growc/analysis-report-seeds.test).
node = shutil.which("node")
if node:
    config.available_features.add("node")
    config.substitutions.append(("%node", node))

# MPI (Debian's openmpi-bin, and a growc-run linked with libmpi), for the
# data-parallel training tests (growc-run train --nproc N, mpirun). OpenMPI
# refuses to run as root unless told, and containers often run as root.
mpirun = shutil.which("mpirun")
growc_run = os.path.join(config.growc_tools_dir, "growc-run")
def links_mpi(binary):
    try:
        out = subprocess.run(["ldd", binary], capture_output=True, text=True,
                             timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "libmpi" in out

if mpirun and links_mpi(growc_run):
    config.available_features.add("mpi")
    config.substitutions.append(("%mpirun", mpirun + " --oversubscribe"))
    for name in ("OMPI_ALLOW_RUN_AS_ROOT", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"):
        config.environment[name] = "1"
    config.environment["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none"
    config.environment["OMPI_MCA_mpi_yield_when_idle"] = "1"

# The CUDA toolkit (ptxas and libdevice), for compiling and checking PTX
# offline; no GPU needed.
cuda_home = os.environ.get("CUDA_HOME", "/usr/local/cuda")
ptxas = shutil.which("ptxas") or os.path.join(cuda_home, "bin", "ptxas")
libdevice = os.path.join(cuda_home, "nvvm", "libdevice", "libdevice.10.bc")
if os.access(ptxas, os.X_OK) and os.path.exists(libdevice):
    config.available_features.add("cuda-toolkit")
    config.substitutions.append(("%ptxas", ptxas))
