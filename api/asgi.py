"""What ``guanxi serve``'s uvicorn workers import: the app factory and nothing else.

uvicorn spawns each worker as a fresh interpreter that imports this module by
name (``api.asgi:create_app``, ``factory=True``); the command line that
started the server (typer, its commands, the plugins' command groups) is
never imported there, so a worker answers uvicorn's health check as soon as
its interpreter is up.
"""

from __future__ import annotations


def create_app():
    """The ASGI app on GUANXI_DATABASE_URL, built in the worker."""
    from api.app import create_app as build

    return build()
