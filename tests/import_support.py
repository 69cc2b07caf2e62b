"""Shared by the tests/test_import_*.py files: writing import files, reading results."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from engine.models import Customer, ImportJob, Interaction


def write_csv(path: Path, header: list[str], rows: list[list], encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_rejects(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def customer(gx, tenant: str, code: str) -> Customer:
    with gx.tenant(tenant, write=False) as ctx:
        found = ctx.session.execute(
            select(Customer).where(Customer.tenant_id == ctx.tenant_id, Customer.code == code)
        ).scalar_one()
        ctx.session.expunge(found)
        return found


def kinds(gx, tenant: str, code: str) -> dict[str, int]:
    """Interactions of one customer per kind."""
    with gx.tenant(tenant, write=False) as ctx:
        return dict(ctx.session.execute(
            select(Interaction.kind, func.count()).join(Customer, Customer.id == Interaction.customer_id)
            .where(Interaction.tenant_id == ctx.tenant_id, Customer.code == code).group_by(Interaction.kind)
        ).all())


def count(gx, tenant: str, model) -> int:
    with gx.tenant(tenant, write=False) as ctx:
        return ctx.session.scalar(select(func.count()).select_from(model).where(model.tenant_id == ctx.tenant_id))


def jobs(gx, tenant: str) -> list[ImportJob]:
    with gx.tenant(tenant, write=False) as ctx:
        found = ctx.session.execute(select(ImportJob).where(ImportJob.tenant_id == ctx.tenant_id).order_by(ImportJob.id)).scalars().all()
        for job in found:
            ctx.session.expunge(job)
        return found


def money(value) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))
