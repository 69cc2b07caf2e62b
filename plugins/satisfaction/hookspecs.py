"""Hooks the satisfaction plugin offers to integrators (documented in docs/satisfaction.md)."""

from __future__ import annotations

from engine.plugins.hookspecs import hookspec


@hookspec
def guanxi_satisfaction_invited(ctx, links):
    """Invitations were created (same transaction): deliver them.

    ``links`` is a list of ``plugins.satisfaction.invitations.InvitationLink``
    (invitation id, customer id, survey code, channel, expiry and ``path``,
    the answer link with the raw token). This is the only time the raw token
    exists: the database keeps its hash. Queue the message in your own
    outbox; send nothing over the network inside the hook. Return value ignored.
    """
