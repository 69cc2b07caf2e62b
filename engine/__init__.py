"""Guanxi (关系): the CRM engine core. Plugin authors import ``hookimpl`` from here."""

# First, so that every plugin's numba kernels run on a thread-safe layer.
import engine.numba_threading  # noqa: F401

__all__ = ["hookimpl"]


def __getattr__(name: str):
    # ``hookimpl`` on first use: importing the plugin system (pluggy, pydantic,
    # the manager) here would slow every ``guanxi`` command, ``--help`` included.
    if name == "hookimpl":
        from engine.plugins.hookspecs import hookimpl

        return hookimpl
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
