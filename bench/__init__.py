"""Benchmarks: ``python -m bench.<name>``, one JSON line each."""

import os
import secrets

# The API refuses to start on PostgreSQL without a cursor key; a bench's
# servers (in-process and spawned) share this throwaway one.
os.environ.setdefault("GUANXI_SECRET_KEY", secrets.token_urlsafe(32))
