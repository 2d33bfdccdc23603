"""What a PyTorch figure ran on: torch's build-time BLAS string, the BLAS/LAPACK libraries this process actually maps,
OpenBLAS's own view of itself when it is the one loaded, the thread and malloc settings, and a measured 1024^3 float32
matmul rate.

Debian's python3-torch is built against the generic libblas.so.3 (`BLAS_INFO=generic` in `torch.__config__.show()`
is a build-time string and stays so whatever library the loader picks at run time), so the evidence that counts is
the mapped library and the measured GFLOP/s.
"""
import ctypes
import os
import re
import time

import torch


def mapped_libraries():
    """Paths of the BLAS/LAPACK shared objects mapped into this process, from /proc/self/maps (import torch first)."""
    paths = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and re.search(r"blas|lapack", os.path.basename(fields[5])):
                paths.add(fields[5])
    return sorted(paths)


def openblas_config():
    """OpenBLAS's build string and thread count when the loaded libblas.so.3 is OpenBLAS, else None."""
    try:
        blas = ctypes.CDLL("libblas.so.3")   # already loaded by libtorch_cpu: the loader hands back the same library
        blas.openblas_get_config.restype = ctypes.c_char_p
        return blas.openblas_get_config().decode(), blas.openblas_get_num_threads()
    except (OSError, AttributeError):
        return None


def matmul_gflops(size=1024, seconds=1.0):
    """Best-of-runs float32 size^3 matmul rate at the current torch thread count, in GFLOP/s."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)   # first call pays for page faults and BLAS initialisation
    best, start = float("inf"), time.perf_counter()
    while time.perf_counter() - start < seconds:
        tick = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - tick)
    return 2 * size ** 3 / best / 1e9


def report():
    """Lines, ready to print, describing the BLAS and threads this process runs on."""
    build = torch.__config__.show()
    blas_info = " ".join(re.findall(r"(?:BLAS_INFO|LAPACK_INFO)=[^,\s]*", build)) or "no BLAS_INFO in torch.__config__.show()"
    lines = [
        f"torch {torch.__version__}: {blas_info} (build-time strings)",
        "mapped at run time: " + (", ".join(mapped_libraries()) or "no BLAS/LAPACK library"),
    ]
    openblas = openblas_config()
    lines.append(f"OpenBLAS: {openblas[0]}, {openblas[1]} thread(s)" if openblas else "OpenBLAS: not the loaded libblas.so.3")
    env = ", ".join(f"{k}={os.environ.get(k, 'unset')}" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"))
    lines.append(f"threads: torch intra-op {torch.get_num_threads()}, inter-op {torch.get_num_interop_threads()}; {env}")
    lines.append(f"malloc: GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES', 'unset')}")
    lines.append(f"1024^3 float32 matmul: {matmul_gflops():.1f} GFLOP/s at {torch.get_num_threads()} torch thread(s)")
    return lines
