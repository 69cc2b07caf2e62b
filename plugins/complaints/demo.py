"""The complaints module's share of the demo tenant (``guanxi_demo_data``).

The demo's COMPLAINT interactions opened their cases at the time each
complaint was made, and there they all stayed: RECEIVED. This works them
through the real workflow at historical times after each opening: routed to
the category's department, a first reply (which starts the work), sometimes
a wait on the customer, progress updates, a resolution with its root cause,
the follow-up call (an unhappy customer reopens the case) and the archive.

Most cases meet their SLA; about one in seven first replies and one in eight
resolutions comes late. The SLA sweep runs at the historical instants when
late cases were overdue and still open, so exactly the late cases are
escalated, as the five-minute job would have done. Steps that would fall
after now are not taken: recent cases are still received, routed, in
progress or waiting on the customer, and a few older ones stalled. The
periodic jobs' catch-up (engine/demo.py) runs after this and escalates the
open cases overdue now. Deterministic for a seed.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from sqlalchemy import select

from engine.types import utcnow
from plugins.complaints.batch import Step, work_cases
from plugins.complaints.jobs import sweep_tenant
from plugins.complaints.models import ComplaintCase
from plugins.complaints.workflow import Status

DEPARTMENTS = {
    "PRODUCT_QUALITY": "品质部 Quality", "SERVICE": "门店运营 Store operations", "PRICE": "会员中心 Member centre",
    "LOGISTICS": "物流部 Logistics", "AFTER_SALES": "售后服务 After-sales", "PAYMENT": "财务部 Finance",
}
DEFAULT_DEPARTMENT = "客服中心 Customer service"
# Root causes are free text (the statistics count them as written); the demo
# writes them the way a shop's staff would, in Chinese with the English.
ROOT_CAUSES = {
    "PRODUCT_QUALITY": ["产品缺陷 / product defect", "皮肤过敏反应 / skin reaction", "包装破损 / damaged packaging",
                        "临期库存 / near-expiry stock"],
    "SERVICE": ["服务态度 / staff attitude", "等待时间过长 / long wait", "建议不当 / wrong advice"],
    "PRICE": ["促销规则不清 / promotion rules unclear", "价签与结算不符 / price mismatch at checkout",
              "会员折扣未生效 / member discount missing"],
    "LOGISTICS": ["快递延误 / courier delay", "发错商品 / wrong item shipped", "运输途中损坏 / damaged in transit"],
    "AFTER_SALES": ["退换政策不清 / return policy unclear", "退款太慢 / slow refund", "建议不当 / wrong advice"],
}
DEFAULT_ROOT_CAUSES = ["顾客误解 / customer misunderstanding", "其他 / other"]
RESOLUTIONS = [
    "退款并致歉 / refunded with an apology", "换货 / replaced the product", "赠送试用装 / sent trial-size samples",
    "补发商品 / reshipped the order", "解释规则并补偿积分 / explained the rules, goodwill points",
    "门店经理回访致歉 / store manager called to apologise",
]
UPDATES = ["已联系顾客，正在核实 / contacted the customer, checking", "已安排检测 / product sent for testing",
           "等待仓库回复 / waiting for the warehouse", "已提交退款申请 / refund requested"]
LATE_FIRST_REPLY = 0.14
LATE_RESOLUTION = 0.12
ON_THE_SPOT = 0.06
WAITS = 0.25
SECOND_UPDATE = 0.3
# Cases that stall (no one works them further): a few old ones, more among the recent.
STALL_BASE, STALL_RECENT, STALL_RECENT_DAYS = 0.02, 0.5, 20.0
SATISFACTION_WEIGHTS = {5: 45, 4: 30, 3: 13, 2: 7, 1: 5}
SWEEP_MARGIN = timedelta(minutes=5)


class _Plan:
    """One case's steps and the spans in which it was overdue and still open."""

    def __init__(self, case: ComplaintCase):
        self.case = case
        self.steps: list[Step] = []
        self.overdue: list[tuple[datetime, datetime]] = []
        self.t = case.opened_at
        self.paused = timedelta(0)

    def add(self, action: str, at: datetime, **args) -> datetime:
        at = max(at, self.t + timedelta(minutes=1))  # strictly after the step before
        self.steps.append(Step(self.case.id, action, at, args))
        self.t = at
        return at

    def late(self, due: datetime, done: datetime) -> None:
        """A clock that ran past ``due`` until ``done``: a sweep in between escalates it."""
        if done > due:
            margin = min(SWEEP_MARGIN, (done - due) / 3)
            self.overdue.append((due + margin, done - margin))


def _hours(h: float) -> timedelta:
    return timedelta(hours=h)


def _plan(case: ComplaintCase, rnd: random.Random) -> _Plan:
    plan = _Plan(case)
    opened = case.opened_at
    first_target = _hours((case.first_response_target or 24 * 60) / 60)
    resolution_target = _hours((case.resolution_target or 7 * 24 * 60) / 60)
    causes = ROOT_CAUSES.get(case.category, DEFAULT_ROOT_CAUSES)
    if rnd.random() < ON_THE_SPOT:  # solved at the counter
        plan.add("resolve", opened + _hours(rnd.uniform(0.1, 1)), resolution=rnd.choice(RESOLUTIONS), root_cause=rnd.choice(causes),
                 note="solved on the spot")
        _follow_up_and_close(plan, rnd, causes, resolution_target)
        return plan
    late_first = rnd.random() < LATE_FIRST_REPLY
    late_resolution = rnd.random() < LATE_RESOLUTION
    target_h = first_target.total_seconds() / 3600
    reply = opened + (_hours(rnd.uniform(target_h + 1, target_h * 1.7)) if late_first else _hours(rnd.uniform(0.5, target_h * 0.9)))
    plan.add("route", opened + (reply - opened) * rnd.uniform(0.1, 0.6),
             department=DEPARTMENTS.get(case.category, DEFAULT_DEPARTMENT), assignee=f"staff-{rnd.randint(1, 24):02d}")
    plan.late(opened + first_target, plan.add("update", reply, note=rnd.choice(UPDATES)))
    resolve_after = (_hours(rnd.uniform(1.05, 1.8) * resolution_target.total_seconds() / 3600) if late_resolution
                     else _hours(rnd.uniform(0.15, 0.9) * resolution_target.total_seconds() / 3600))
    waited = rnd.random() < WAITS
    if waited:
        wait = plan.add("wait", plan.t + _hours(rnd.uniform(2, 36)), note="请顾客提供照片和批号 / asked for photos and the batch number")
        if rnd.random() < 0.3:  # "it worked": resolved straight from waiting, the pause ends there
            answered = wait + _hours(rnd.uniform(6, 72))
            plan.paused += answered - wait
            return _resolve(plan, rnd, causes, answered, resolution_target)
        resumed = plan.add("resume", wait + _hours(rnd.uniform(6, 96)), note="顾客已回复 / the customer answered")
        plan.paused += resumed - wait
    resolved = max(opened + resolve_after + plan.paused, plan.t + _hours(rnd.uniform(1, 12)))
    if rnd.random() < SECOND_UPDATE:
        plan.add("update", plan.t + (resolved - plan.t) * rnd.uniform(0.2, 0.8), note=rnd.choice(UPDATES))
    return _resolve(plan, rnd, causes, resolved, resolution_target)


def _resolve(plan: _Plan, rnd: random.Random, causes: list[str], at: datetime, resolution_target: timedelta) -> _Plan:
    at = plan.add("resolve", at, resolution=rnd.choice(RESOLUTIONS), root_cause=rnd.choice(causes))
    plan.late(plan.case.opened_at + resolution_target + plan.paused, at)
    _follow_up_and_close(plan, rnd, causes, resolution_target)
    return plan


def _follow_up_and_close(plan: _Plan, rnd: random.Random, causes: list[str], resolution_target: timedelta) -> None:
    late = bool(plan.overdue)
    weights = {**SATISFACTION_WEIGHTS, **({1: 12, 2: 12} if late else {})}
    score = rnd.choices(list(weights), weights=list(weights.values()))[0]
    unhappy = score <= 2
    resolved = plan.t
    called = plan.add("follow_up", resolved + _hours(rnd.uniform(12, 72)), satisfaction=score, reopen=unhappy,
                      note="回访电话 / follow-up call")
    if unhappy:  # reopened: the span it sat resolved counts as a pause
        plan.paused += called - resolved
        plan.add("update", called + _hours(rnd.uniform(1, 24)), note="再次处理 / working on it again")
        _resolve_again(plan, rnd, causes, resolution_target)
        return
    plan.add("close", called + _hours(rnd.uniform(0.5, 48)))


def _resolve_again(plan: _Plan, rnd: random.Random, causes: list[str], resolution_target: timedelta) -> None:
    at = plan.add("resolve", plan.t + _hours(rnd.uniform(4, 48)), resolution=rnd.choice(RESOLUTIONS), root_cause=rnd.choice(causes))
    plan.late(plan.case.opened_at + resolution_target + plan.paused, at)
    called = plan.add("follow_up", at + _hours(rnd.uniform(12, 72)), satisfaction=rnd.choice([3, 4, 4, 5]),
                      note="回访电话 / follow-up call")
    plan.add("close", called + _hours(rnd.uniform(0.5, 48)))


def _stall(plan: _Plan, rnd: random.Random, now: datetime) -> None:
    """Some cases stop where they are: kept up to a random open step (none: still received)."""
    age_days = (now - plan.case.opened_at).total_seconds() / 86400
    if rnd.random() >= STALL_BASE + STALL_RECENT * math.exp(-age_days / STALL_RECENT_DAYS):
        return
    open_steps = [i for i, step in enumerate(plan.steps) if step.action in ("route", "update", "wait", "resume")]
    keep = rnd.choice([0, *[i + 1 for i in open_steps]])
    plan.steps = plan.steps[:keep]
    done = plan.steps[-1].at if plan.steps else plan.case.opened_at
    plan.overdue = [(lo, hi) for lo, hi in plan.overdue if hi <= done]


def _sweep_instants(spans: list[tuple[datetime, datetime]]) -> list[datetime]:
    """As few instants as stab every span (greedy by end): one sweep each."""
    instants: list[datetime] = []
    for lo, hi in sorted(spans, key=lambda span: span[1]):
        if lo > hi:
            continue
        if not instants or instants[-1] < lo:
            instants.append(hi)
    return instants


def add_demo_history(ctx, seed: int) -> str | None:
    if "complaints" not in ctx.enabled_modules:  # the demo enables every module; a bare tenant gets nothing
        return None
    rnd = random.Random(seed)
    now = utcnow()
    cases = ctx.session.execute(
        select(ComplaintCase).where(ComplaintCase.tenant_id == ctx.tenant_id, ComplaintCase.status == Status.RECEIVED.value)
        .order_by(ComplaintCase.id)).scalars().all()
    steps: list[tuple[datetime, int, int, Step]] = []
    spans: list[tuple[datetime, datetime]] = []
    for case in cases:
        plan = _plan(case, rnd)
        _stall(plan, rnd, now)
        taken = [step for step in plan.steps if step.at <= now]
        steps += [(step.at, case.id, k, step) for k, step in enumerate(taken)]
        spans += [(lo, hi) for lo, hi in plan.overdue if hi <= now]
    steps.sort(key=lambda item: item[:3])
    instants = _sweep_instants(spans)
    done = 0
    for instant in [*instants, None]:
        batch = []
        while done < len(steps) and (instant is None or steps[done][0] <= instant):
            batch.append(steps[done][3])
            done += 1
        if batch:
            work_cases(ctx, batch)
        if instant is not None:
            sweep_tenant(ctx, now=instant)
    return f"{len(cases)} cases worked ({len(steps)} steps, {len(instants)} historical SLA sweeps)"
