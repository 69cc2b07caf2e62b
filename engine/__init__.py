"""Guanxi (关系): the CRM engine core. Plugin authors import ``hookimpl`` from here."""

from engine.plugins.hookspecs import hookimpl

__all__ = ["hookimpl"]
