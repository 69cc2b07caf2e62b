"""The isolation attack, shared by the isolation/role suite and the leaking-plugin proof:
tenant A's keys send every generated request with tenant B's ids, cursors,
codes, emails and phones; every response is kept for the checks."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

from tests.security import gqlgen
from tests.security.conftest import ROLES, Seeded, SyncClient, harvest_tenant, introspect, seed, snapshot

MAX_IDS_PER_TYPE = 3


@dataclass
class Record:
    role: str
    op: gqlgen.Op
    status: int
    text: str
    seconds: float = 0.0

    @property
    def body(self) -> dict:
        try:
            return json.loads(self.text)
        except ValueError:
            return {}

    @property
    def succeeded(self) -> bool:
        """A mutation that wrote: its payload came back without errors."""
        body = self.body
        payload = (body.get("data") or {}).get(self.op.field)
        return not body.get("errors") and isinstance(payload, dict) and not payload.get("errors")


@dataclass
class Attack:
    a: Seeded
    b: Seeded
    schema: object
    ops: list[gqlgen.Op]
    records: list[Record] = field(default_factory=list)
    b_before: dict = field(default_factory=dict)
    b_after: dict = field(default_factory=dict)
    a_before_readers: dict = field(default_factory=dict)
    a_after_readers: dict = field(default_factory=dict)
    markers: list[str] = field(default_factory=list)
    quoted: list[str] = field(default_factory=list)

    def leaks(self) -> list[tuple[str, str, list[str]]]:
        out = []
        # B's strings that A itself stored by a mutation that succeeded (a reward
        # named with them, say) are A's data from then on, not a leak.
        written: set[str] = set()
        for r in self.records:
            markers = [m for m in self.markers if m not in written]
            found = gqlgen.leaked(r.text, r.op.request_text(), markers, self.quoted)
            if found:
                out.append((r.role, r.op.name, found))
            if r.op.kind == "mutation" and r.succeeded:
                written.update(m for m in self.markers if m in r.op.request_text())
        return out


def run_attack(client: SyncClient, gx, roles=ROLES, reader_may: frozenset[str] = frozenset()) -> Attack:
    """``reader_may``: mutations a read-only role may run (checked separately), sent after the readers' snapshot."""
    shared_code = f"SHARED-{uuid.uuid4().hex[:8]}"
    a = seed(client, gx, shared_code)
    b = seed(client, gx, shared_code)
    schema = introspect(client, a.keys["ADMIN"])
    modules = sorted(gx.plugins.modules)

    def own(s: Seeded) -> gqlgen.Values:
        return gqlgen.Values(ids={"Customer": list(s.customer_ids)}, strings=s.values(), module_names=modules)

    b_ids, b_cursors, _ = harvest_tenant(client, b.keys["ADMIN"], schema, own(b))
    a_ids, a_cursors, _ = harvest_tenant(client, a.keys["ADMIN"], schema, own(a))
    # B's ids and cursors, minus anything A also sees (ids that are not tenant data).
    a_all = {i for pool in a_ids.values() for i in pool} | a_cursors
    b_only = {t: sorted(i for i in pool if i not in a_all) for t, pool in b_ids.items()}
    b_only = {t: pool for t, pool in b_only.items() if pool}
    # B's seeded customers go first, in seed order, so the first few sent are always theirs.
    seeded = list(b.customer_ids)
    b_only["Customer"] = seeded + [i for i in b_only.get("Customer", []) if i not in seeded]
    quoted = sorted({i for pool in b_only.values() for i in pool} | (b_cursors - a_cursors))
    values = gqlgen.Values(
        ids={t: pool[:MAX_IDS_PER_TYPE] for t, pool in b_only.items()},
        cursors=sorted(b_cursors - a_cursors)[:5],
        strings=b.values(),
        module_names=[],
    )
    ops = gqlgen.generate(schema, values, own_customer_ids=a.customer_ids[:1])
    # B's seeded strings are random: none may appear in A's responses, even in A's own
    # harvest (so a leak there is not mistaken for A's data). Codes shared on purpose are left out.
    markers = b.markers() + [c for c in b.codes if c != shared_code]
    attack = Attack(a, b, schema, ops, markers=markers, quoted=quoted)
    attack.b_before = snapshot(gx, b.tenant_id)
    for key in a.keys.values():  # first use records last_used_at; do it before the snapshot
        client.post(key, "{ me { role { code } } }")
    attack.a_before_readers = snapshot(gx, a.tenant_id)

    def send(role: str, chosen: list[gqlgen.Op]) -> None:
        # reads concurrently; mutations one at a time (the attack is about tenants, not races)
        reads = [op for op in chosen if op.kind != "mutation"]
        results = client.post_many([(a.keys[role], op.query, op.variables) for op in reads])
        attack.records += [Record(role, op, *result) for op, result in zip(reads, results)]
        for op in chosen:
            if op.kind == "mutation":
                started = time.perf_counter()
                response = client.post(a.keys[role], op.query, op.variables)
                attack.records.append(Record(role, op, response.status_code, response.text, time.perf_counter() - started))

    readers = [r for r in ("VIEWER", "ANALYST") if r in roles]
    for role in readers:  # what a reader may run (e.g. re-scoring) goes after the snapshot
        send(role, [op for op in ops if op.field not in reader_may])
    attack.a_after_readers = snapshot(gx, a.tenant_id)
    for role in readers:
        send(role, [op for op in ops if op.field in reader_may])
    for role in [r for r in roles if r not in readers]:
        send(role, ops)
    attack.b_after = snapshot(gx, b.tenant_id)
    return attack
