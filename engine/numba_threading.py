"""Numba's threading layer: a thread-safe one, set once per process before any kernel runs.

The API scores in worker threads and a job worker scores several tenants at
once, so ``parallel=True`` kernels are entered from several threads
together. Left alone, numba takes tbb, else omp, else its workqueue layer,
and workqueue aborts the whole process when two threads enter it at once
(a machine without an OpenMP runtime or a findable TBB). Importing this
module (``engine`` does, and so does every module defining parallel
kernels) sets ``NUMBA_THREADING_LAYER`` to a layer that is never workqueue
and loads the TBB that pip installs (the ``tbb`` dependency) where numba
finds it. docs/operations.md ("Threads") has the measurements behind the
choice and the rules for an operator's own setting.
"""

from __future__ import annotations

import ctypes
import os
import sys
import warnings
from importlib import metadata

ENV_VAR = "NUMBA_THREADING_LAYER"
# numba's names that never resolve to workqueue: "safe" is tbb only,
# "threadsafe" is tbb, else omp.
THREAD_SAFE = ("tbb", "omp", "threadsafe", "safe")
# tbb first: as fast as omp here (docs/operations.md), and it shares one
# pool of workers between threads where each omp caller starts a team of its own.
DEFAULT = "threadsafe"
# What numba loads by name to use TBB (numba.np.ufunc.parallel), per platform.
TBB_LIBRARIES = ("libtbb.so.12", "libtbb.12.dylib", "tbb12.dll")


def choose_layer(requested: str | None) -> str:
    """The layer for an operator's ``NUMBA_THREADING_LAYER`` (None or "": unset).

    A thread-safe choice is kept; anything that may end on workqueue
    ("workqueue", "forksafe", a misspelling) is replaced by DEFAULT, with a
    warning: the process must survive concurrent scoring whatever it says.
    """
    name = (requested or "").strip().lower()
    if name in THREAD_SAFE:
        return name
    if name not in ("", "default"):
        warnings.warn(
            f"{ENV_VAR}={requested!r} may run numba kernels on the workqueue layer, which aborts the "
            f"process when two threads score at once; Guanxi uses {DEFAULT!r} instead",
            RuntimeWarning,
            stacklevel=2,
        )
    return DEFAULT


def load_pip_tbb() -> bool:
    """Load the TBB library of the ``tbb`` wheel, if installed; True when loaded.

    pip puts it in ``<prefix>/lib``, where the dynamic linker does not look,
    and numba opens it by bare name: once loaded here, that open (and its
    TBB pool's link to it) finds the library already in the process.
    """
    try:
        files = metadata.distribution("tbb").files or ()
    except metadata.PackageNotFoundError:
        return False  # a system or conda TBB, if any, numba finds itself
    for file in files:
        if file.name in TBB_LIBRARIES:
            try:
                ctypes.CDLL(str(file.locate()))
                return True
            except OSError:
                return False
    return False


def configure() -> str:
    """Set the process's threading layer (before numba starts its threads); return its name."""
    layer = choose_layer(os.environ.get(ENV_VAR))
    # In the environment, not only numba.config: numba re-reads every
    # setting from the environment when a NUMBA_ variable changes (a
    # NUMBA_CACHE_DIR set later, say), dropping values set only in its config.
    os.environ[ENV_VAR] = layer
    config = sys.modules.get("numba.core.config")
    if config is not None:
        config.THREADING_LAYER = layer
    if layer != "omp":
        load_pip_tbb()
    return layer


LAYER = configure()
