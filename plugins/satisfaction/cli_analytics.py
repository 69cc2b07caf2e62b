"""``guanxi satisfaction index|drivers|trend``: the analytics from the command line.

Registered on the satisfaction group by cli.py. Same figures as the GraphQL
queries (schema_analytics.py); ``--json`` prints them as one document.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Optional

import typer

from engine.cli_support import console, fail, json_option, open_engine, print_json, table, tenant_option
from engine.errors import GuanxiError

_SURVEY = typer.Option(..., "--survey", metavar="CODE", help="The survey's code")


def _where_options(from_month: Optional[int], to_month: Optional[int], store: list[str], channel: list[str],
                   staff: list[str], rfm_segment: list[str], tier: list[str]) -> dict:
    where = {"from_month": from_month, "to_month": to_month, "store": store, "channel": channel, "staff": staff,
             "rfm_segment": rfm_segment, "tier": tier}
    return {k: v for k, v in where.items() if v}


def _analyse(tenant: str, survey: str, by=(), where: dict | None = None, target: str | None = None):
    from plugins.satisfaction.index import analyse_survey

    gx = open_engine()
    try:
        with gx.tenant(tenant, write=False) as ctx:
            if "satisfaction" not in ctx.enabled_modules:
                raise GuanxiError("the satisfaction module is not enabled for this tenant", field="tenant")
            return analyse_survey(ctx, survey, by, where, target)
    except GuanxiError as error:
        fail(error)


def _pct(share: Optional[float]) -> str:
    return "-" if share is None else f"{100 * share:.1f}%"


def _num(value: Optional[float], digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _interval(low: Optional[float], high: Optional[float], digits: int = 1) -> str:
    return "-" if low is None else f"{low:.{digits}f}–{high:.{digits}f}"


def slice_document(layout, s) -> dict[str, Any]:
    """One slice as JSON: figures keyed by dimension and indicator code."""
    return {
        "key": s.key, "responses": s.responses, "index": asdict(s.index),
        "dimensions": {layout.dimension_codes[d]: asdict(f) for d, f in enumerate(s.dimensions)},
        "indicators": {layout.indicator_codes[layout.byte_indicator[j]]: asdict(f) for j, f in enumerate(s.indicators)},
        "overall": asdict(s.overall), "repurchase": asdict(s.repurchase), "nps": asdict(s.nps),
        "recommend": asdict(s.recommend),
    }


def register(app: typer.Typer) -> None:
    @app.command("index")
    def index(
        tenant: str = tenant_option(),
        survey: str = _SURVEY,
        by: list[str] = typer.Option([], "--by", metavar="GROUP",
                                     help="Slice by store, channel, staff, month, rfm_segment or tier (repeatable)"),
        from_month: Optional[int] = typer.Option(None, "--from", metavar="YYYYMM", help="First month, inclusive"),
        to_month: Optional[int] = typer.Option(None, "--to", metavar="YYYYMM", help="Last month, inclusive"),
        store: list[str] = typer.Option([], "--store", metavar="STORE", help="Only this store (repeatable)"),
        channel: list[str] = typer.Option([], "--channel", metavar="CHANNEL", help="Only answers on this channel (repeatable)"),
        staff: list[str] = typer.Option([], "--staff", metavar="STAFF", help="Only this staff member (repeatable)"),
        rfm_segment: list[str] = typer.Option([], "--rfm-segment", metavar="CODE", help="Only this RFM segment (repeatable)"),
        tier: list[str] = typer.Option([], "--tier", metavar="CODE", help="Only this loyalty tier (repeatable)"),
        as_json: bool = json_option(),
    ) -> None:
        """The satisfaction index: overall, per dimension and indicator, NPS; per slice with --by."""
        where = _where_options(from_month, to_month, store, channel, staff, rfm_segment, tier)
        analysis = _analyse(tenant, survey, [g.lower() for g in by], where)
        layout, total = analysis.layout, analysis.total()
        if as_json:
            print_json({"survey": survey, "ci_level": analysis.level, "satisfied_from": analysis.satisfied_from,
                        "weights": dict(zip(layout.dimension_codes, map(float, analysis.weights))),
                        "total": slice_document(layout, total),
                        "slices": [slice_document(layout, s) for s in analysis.slices()]})
            return
        level = f"{100 * analysis.level:g}%"
        out = table("measure", "answers", "mean", f"{level} CI", "satisfied", title=f"{survey}: {total.responses} responses")
        out.add_row("INDEX (0–100)", str(total.index.count), _num(total.index.mean), _interval(total.index.ci_low, total.index.ci_high), "")
        for d, f in enumerate(total.dimensions):
            out.add_row(layout.dimension_codes[d], str(f.count), _num(f.mean, 2), _interval(f.ci_low, f.ci_high, 2), _pct(f.satisfied))
        for j, f in enumerate(total.indicators):
            out.add_row("  " + layout.indicator_codes[layout.byte_indicator[j]], str(f.count), _num(f.mean, 2),
                        _interval(f.ci_low, f.ci_high, 2), _pct(f.satisfied))
        for name, f in (("OVERALL", total.overall), ("REPURCHASE", total.repurchase)):
            out.add_row(name, str(f.count), _num(f.mean, 2), _interval(f.ci_low, f.ci_high, 2), _pct(f.satisfied))
        nps = total.nps
        out.add_row("NPS (−100–100)", str(nps.answers), _num(nps.score), _interval(nps.ci_low, nps.ci_high), "")
        console.print(out)
        if analysis.by:
            sliced = table(*analysis.by, "responses", "index", f"{level} CI", "overall satisfied", "NPS")
            for s in analysis.slices():
                sliced.add_row(*("-" if s.key[g] is None else str(s.key[g]) for g in analysis.by), str(s.responses),
                               _num(s.index.mean), _interval(s.index.ci_low, s.index.ci_high), _pct(s.overall.satisfied),
                               _num(s.nps.score))
            console.print(sliced)

    @app.command("drivers")
    def drivers_command(
        tenant: str = tenant_option(),
        survey: str = _SURVEY,
        target: Optional[str] = typer.Option(None, "--target", metavar="TARGET",
                                             help="OVERALL or REPURCHASE (default: the driver_target setting)"),
        from_month: Optional[int] = typer.Option(None, "--from", metavar="YYYYMM", help="First month, inclusive"),
        to_month: Optional[int] = typer.Option(None, "--to", metavar="YYYYMM", help="Last month, inclusive"),
        as_json: bool = json_option(),
    ) -> None:
        """Derived dimension weights (OLS, with intervals) and the importance–performance matrix."""
        from plugins.satisfaction import drivers, ipa

        analysis = _analyse(tenant, survey, (), _where_options(from_month, to_month, [], [], [], [], []),
                            target.upper() if target else None)
        derived = drivers.of_analysis(analysis)[0]
        matrix = ipa.of_analysis(analysis, derived)
        codes = analysis.layout.dimension_codes
        if as_json:
            print_json({
                "survey": survey, "target": derived.target, "respondents": derived.respondents,
                "intercept": derived.intercept, "r_squared": derived.r_squared, "ci_level": analysis.level,
                "warning": derived.warning,
                "weights": [dict(asdict(w), dimension=codes[w.dimension]) for w in derived.weights],
                "ipa": {"importance_cut": _finite(matrix.importance_cut), "performance_cut": _finite(matrix.performance_cut),
                        "points": [dict(asdict(p), dimension=codes[p.dimension]) for p in matrix.points],
                        "fix_first": [codes[p.dimension] for p in matrix.fix_first()]},
            })
            return
        if derived.warning:
            console.print(f"no derived weights: {derived.warning}")
            return
        out = table("dimension", "coefficient", "std error", f"{100 * analysis.level:g}% CI", "p", "importance",
                    "performance", "quadrant",
                    title=f"{survey}: {derived.target} on the dimensions, {derived.respondents} respondents, "
                          f"R² {derived.r_squared:.3f}")
        quadrant = {p.dimension: p for p in matrix.points}
        for w in derived.weights:
            p = quadrant.get(w.dimension)
            out.add_row(codes[w.dimension], f"{w.coefficient:.3f}", _num(w.std_error, 3), _interval(w.ci_low, w.ci_high, 3),
                        _num(w.p_value, 4), _pct(w.importance), _num(p.performance if p else None),
                        p.quadrant if p else "-")
        console.print(out)
        console.print("fix first: " + (", ".join(codes[p.dimension] for p in matrix.fix_first()) or "nothing"))

    @app.command("trend")
    def trend_command(
        tenant: str = tenant_option(),
        survey: str = _SURVEY,
        from_month: Optional[int] = typer.Option(None, "--from", metavar="YYYYMM", help="First month, inclusive"),
        to_month: Optional[int] = typer.Option(None, "--to", metavar="YYYYMM", help="Last month, inclusive"),
        store: list[str] = typer.Option([], "--store", metavar="STORE", help="Only this store (repeatable)"),
        as_json: bool = json_option(),
    ) -> None:
        """The index month by month, significant peaks, troughs and changes flagged."""
        from plugins.satisfaction import trend

        analysis = _analyse(tenant, survey, ("month",), _where_options(from_month, to_month, store, [], [], [], []))
        points = trend.of_analysis(analysis)
        if as_json:
            print_json([asdict(p) for p in points])
            return
        out = table("month", "respondents", "index", f"{100 * analysis.level:g}% CI", "flag", "change", "")
        for p in points:
            out.add_row(str(p.month), str(p.respondents), _num(p.index), _interval(p.ci_low, p.ci_high), p.flag or "",
                        _num(p.change), p.change_flag or "")
        console.print(out)


def _finite(value: float) -> Optional[float]:
    return None if value != value else value  # NaN (no dimension with figures) → null
