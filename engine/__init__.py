"""Guanxi (关系): the CRM engine core. Plugin authors import ``hookimpl`` from here."""

# First, so that every plugin's numba kernels run on a thread-safe layer.
import engine.numba_threading  # noqa: F401
from engine.plugins.hookspecs import hookimpl

__all__ = ["hookimpl"]
