"""``guanxi satisfaction ...``: index models, surveys, invitations, the wave.

The analytics' commands (index, drivers, trend) come from cli_analytics.py.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Optional

import typer

from engine.cli_support import bad_value, console, fail, json_option, new_app, open_engine, print_json, say, table, tenant_option
from engine.errors import GuanxiError

satisfaction_app = new_app("Satisfaction surveys: index models, surveys, invitations and the index.")


def _require_module(ctx) -> None:
    if "satisfaction" not in ctx.enabled_modules:
        raise GuanxiError("the satisfaction module is not enabled for this tenant", field="tenant")


@satisfaction_app.command("models")
def models(tenant: str = tenant_option(), as_json: bool = json_option()) -> None:
    """The index models: the shipped templates, then the tenant's own."""
    from plugins.satisfaction.surveys import index_models

    gx = open_engine()
    try:
        with gx.tenant(tenant, write=False) as ctx:
            _require_module(ctx)
            found = index_models(ctx)
    except GuanxiError as error:
        fail(error)
    if as_json:
        print_json([m.as_dict() for m in found])
        return
    out = table("code", "name", "dimensions", "indicators")
    for m in found:
        out.add_row(m.code, f"{m.zh} / {m.en}", ", ".join(d.code for d in m.dimensions), str(m.indicator_count))
    console.print(out)


@satisfaction_app.command("create-survey")
def create_survey(
    tenant: str = tenant_option(),
    code: str = typer.Option(..., "--code", metavar="CODE", help="The survey's code (UPPER_SNAKE_CASE)"),
    title_zh: str = typer.Option(..., "--title-zh", metavar="TITLE", help="Title in Chinese"),
    title_en: str = typer.Option(..., "--title-en", metavar="TITLE", help="Title in English"),
    model: str = typer.Option("VIPSHOP_5X19", "--model", metavar="CODE", help="Index model code (a template or the tenant's)"),
    questions: Optional[Path] = typer.Option(None, "--questions", metavar="FILE",
                                             help="JSON list of questions; default: the model's standard questionnaire"),
    as_json: bool = json_option(),
) -> None:
    """Create a survey from an index model."""
    import json

    from plugins.satisfaction.surveys import create_survey as create

    data = {"code": code, "title_zh": title_zh, "title_en": title_en, "model": model}
    if questions is not None:
        try:
            data["questions"] = json.loads(questions.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            bad_value("--questions", f"cannot read {questions}: {error}")
    gx = open_engine()
    try:
        with gx.tenant(tenant, actor="cli") as ctx:
            _require_module(ctx)
            survey = create(ctx, data)
            result = {"id": survey.id, "code": survey.code, "questions": len(survey.questions)}
    except GuanxiError as error:
        fail(error)
    if as_json:
        print_json(result)
    else:
        say(f"created survey {result['code']} with {result['questions']} questions")


@satisfaction_app.command("surveys")
def surveys(tenant: str = tenant_option(), as_json: bool = json_option()) -> None:
    """The tenant's surveys with their response counts."""
    from sqlalchemy import func, select

    from plugins.satisfaction.models import SatisfactionResponse, SatisfactionSurvey

    gx = open_engine()
    try:
        with gx.tenant(tenant, write=False) as ctx:
            _require_module(ctx)
            counts = dict(ctx.session.execute(select(SatisfactionResponse.survey_id, func.count()).where(
                SatisfactionResponse.tenant_id == ctx.tenant_id).group_by(SatisfactionResponse.survey_id)).all())
            rows = [{"code": s.code, "title_zh": s.title_zh, "title_en": s.title_en, "status": s.status,
                     "model": s.model["code"], "questions": len(s.questions), "responses": counts.get(s.id, 0)}
                    for s in ctx.session.execute(select(SatisfactionSurvey).where(
                        SatisfactionSurvey.tenant_id == ctx.tenant_id).order_by(SatisfactionSurvey.code)).scalars()]
    except GuanxiError as error:
        fail(error)
    if as_json:
        print_json(rows)
        return
    out = table("code", "title", "status", "model", "questions", "responses")
    for r in rows:
        out.add_row(r["code"], f"{r['title_zh']} / {r['title_en']}", r["status"], r["model"], str(r["questions"]), str(r["responses"]))
    console.print(out)


@satisfaction_app.command("invite")
def invite(
    tenant: str = tenant_option(),
    survey: str = typer.Option(..., "--survey", metavar="CODE", help="The survey's code"),
    customers: list[int] = typer.Option(..., "--customer", metavar="ID", help="A customer id (repeat the option)"),
    source: str = typer.Option("CAMPAIGN", "--source", metavar="SOURCE", help="CAMPAIGN or WAVE"),
    ref: Optional[str] = typer.Option(None, "--ref", metavar="REF", help="The campaign's code or another reference"),
) -> None:
    """Invite customers; prints the links as JSON lines (the only copy of their tokens)."""
    from plugins.satisfaction.invitations import invite as send
    from plugins.satisfaction.surveys import survey_by_code

    if source not in ("CAMPAIGN", "WAVE"):
        bad_value("--source", f"{source!r} is not CAMPAIGN or WAVE")
    gx = open_engine()
    try:
        with gx.tenant(tenant, actor="cli") as ctx:
            _require_module(ctx)
            result = send(ctx, survey_by_code(ctx, survey).id, customers, source, ref)
    except GuanxiError as error:
        fail(error)
    for link in result.links:
        print_json({"customer_id": link.customer_id, "channel": link.channel, "expires_at": link.expires_at, "path": link.path})
    say(", ".join(f"{k}: {v}" for k, v in result.summary().items()))


@satisfaction_app.command("wave")
def wave(tenant: str = tenant_option()) -> None:
    """Send the periodic wave now if it is due (what the satisfaction.wave job does)."""
    from plugins.satisfaction.invitations import send_wave_if_due

    gx = open_engine()
    try:
        with gx.tenant(tenant, actor="cli") as ctx:
            _require_module(ctx)
            result = send_wave_if_due(ctx)
    except GuanxiError as error:
        fail(error)
    print_json(result)


if importlib.util.find_spec("plugins.satisfaction.cli_analytics") is not None:  # index, drivers, trend
    from plugins.satisfaction.cli_analytics import register

    register(satisfaction_app)
