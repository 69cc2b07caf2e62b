"""Complaint workflow: statuses, priorities and the transition rules.

The six steps of the complaint process (receive, classify and route, keep the
customer informed, resolve, follow up, archive) map onto these statuses:

    RECEIVED ──► ROUTED ──► IN_PROGRESS ⇄ WAITING_ON_CUSTOMER
       │                        │                │
       └──── solved on the spot ┴──► RESOLVED ◄──┘
                                         │
                                     FOLLOW_UP ──► CLOSED
                                         │
                                         └──► IN_PROGRESS (customer unsatisfied: reopen)

    any open status ──► CANCELLED (only as a duplicate of a parent case)

Decision: WAITING_ON_CUSTOMER → RESOLVED is allowed. The usual reason for
waiting is "try this and tell us": when the customer answers that it worked,
forcing the agent through IN_PROGRESS first would only add a click. The same
requirements (resolution and root cause) apply, and the SLA pause ends at the
resolution instant.

SLA clock: WAITING_ON_CUSTOMER pauses it; RESOLVED and everything after stop
it. When FOLLOW_UP reopens a case the clock runs again; the service records
the stopped span as a pause, so resolution time counts only the time the case
was really open.
"""

from __future__ import annotations

import enum
from typing import Any

__all__ = [
    "Status",
    "Priority",
    "ClockState",
    "IllegalTransition",
    "TransitionRequirementError",
    "TRANSITIONS",
    "OPEN_STATUSES",
    "FINAL_STATUSES",
    "allowed_targets",
    "check_transition",
    "clock_state",
]


class _LabelledEnum(str, enum.Enum):
    """A str enum whose members carry zh/en labels.

    Values are lower-case codes; lookups also accept the upper-case member
    name, so "URGENT" (GraphQL style) and "urgent" (JSON style) both work.
    """

    def __new__(cls, value: str, zh: str, en: str):
        member = str.__new__(cls, value)
        member._value_ = value
        member.zh = zh
        member.en = en
        return member

    @classmethod
    def _missing_(cls, value: object):
        if isinstance(value, str):
            for member in cls:
                if member.name == value.upper() or member.value == value.lower():
                    return member
        return None

    def label(self, lang: str = "en") -> str:
        return self.zh if lang.startswith("zh") else self.en

    def __str__(self) -> str:
        return self.value


class Status(_LabelledEnum):
    RECEIVED = "received", "已接收", "Received"
    ROUTED = "routed", "已分派", "Routed"
    IN_PROGRESS = "in_progress", "处理中", "In progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer", "等待客户", "Waiting on customer"
    RESOLVED = "resolved", "已解决", "Resolved"
    FOLLOW_UP = "follow_up", "跟进回访", "Follow-up"
    CLOSED = "closed", "已关闭", "Closed"
    CANCELLED = "cancelled", "已取消", "Cancelled"


class Priority(_LabelledEnum):
    LOW = "low", "低", "Low"
    NORMAL = "normal", "普通", "Normal"
    HIGH = "high", "高", "High"
    URGENT = "urgent", "紧急", "Urgent"


class ClockState(enum.Enum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


# Open = work still owed to the customer; only these may be cancelled.
OPEN_STATUSES: frozenset[Status] = frozenset(
    {Status.RECEIVED, Status.ROUTED, Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER}
)
FINAL_STATUSES: frozenset[Status] = frozenset({Status.CLOSED, Status.CANCELLED})

TRANSITIONS: dict[Status, tuple[Status, ...]] = {
    Status.RECEIVED: (Status.ROUTED, Status.RESOLVED, Status.CANCELLED),
    Status.ROUTED: (Status.IN_PROGRESS, Status.CANCELLED),
    Status.IN_PROGRESS: (Status.WAITING_ON_CUSTOMER, Status.RESOLVED, Status.CANCELLED),
    Status.WAITING_ON_CUSTOMER: (Status.IN_PROGRESS, Status.RESOLVED, Status.CANCELLED),
    Status.RESOLVED: (Status.FOLLOW_UP,),
    Status.FOLLOW_UP: (Status.CLOSED, Status.IN_PROGRESS),
    Status.CLOSED: (),
    Status.CANCELLED: (),
}

_CLOCK: dict[Status, ClockState] = {
    status: (
        ClockState.PAUSED
        if status is Status.WAITING_ON_CUSTOMER
        else ClockState.RUNNING
        if status in OPEN_STATUSES
        else ClockState.STOPPED
    )
    for status in Status
}

# Facts check_transition understands; anything else is a caller typo.
_KNOWN_FACTS = frozenset({"resolution", "root_cause", "satisfaction", "parent_id", "case_id"})


class IllegalTransition(ValueError):
    """The target status cannot be reached from the current one."""

    def __init__(self, current: Status, target: Status):
        self.current = current
        self.target = target
        self.allowed = TRANSITIONS[current]
        if self.allowed:
            # Statuses by their codes, as the API's ComplaintStatus enum spells them.
            allowed = ", ".join(s.name for s in self.allowed)
            message = (
                f"cannot move a complaint from {current.name} to {target.name}; "
                f"allowed from {current.name}: {allowed}"
            )
        else:
            message = (
                f"cannot move a complaint from {current.name} to {target.name}; "
                f"{current.name} is final (no transitions allowed)"
            )
        super().__init__(message)


class TransitionRequirementError(ValueError):
    """The transition is allowed but a required field is missing or invalid."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


def allowed_targets(current: Status | str) -> tuple[Status, ...]:
    return TRANSITIONS[Status(current)]


def clock_state(status: Status | str) -> ClockState:
    """RUNNING for open work, PAUSED while waiting on the customer, STOPPED from RESOLVED on."""
    return _CLOCK[Status(status)]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _check_satisfaction(value: Any) -> None:
    # bool is an int subclass; True is not a score.
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise TransitionRequirementError(
            "satisfaction", f"must be an integer from 1 to 5, got {value!r}"
        )


def check_transition(current: Status | str, target: Status | str, **facts: Any) -> Status:
    """Validate moving a case from `current` to `target`; return the target status.

    Facts (keyword arguments) carry what the transition needs:
    resolution + root_cause to resolve, satisfaction (1–5, the follow-up
    result) to close, parent_id to cancel (cancelling is only for duplicates),
    case_id optionally so a case cannot be its own parent.

    Raises IllegalTransition (naming the allowed targets) or
    TransitionRequirementError (naming the missing field).
    """
    unknown = set(facts) - _KNOWN_FACTS
    if unknown:
        raise TypeError(f"unknown transition facts: {', '.join(sorted(unknown))}")
    current, target = Status(current), Status(target)
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(current, target)

    if target is Status.RESOLVED:
        for field in ("resolution", "root_cause"):
            if _blank(facts.get(field)):
                raise TransitionRequirementError(field, "is required to resolve a complaint")
    elif target is Status.CLOSED:
        if facts.get("satisfaction") is None:
            raise TransitionRequirementError(
                "satisfaction", "the follow-up result (satisfaction 1–5) is required to close"
            )
        _check_satisfaction(facts["satisfaction"])
    elif target is Status.CANCELLED:
        parent = facts.get("parent_id")
        if _blank(parent):
            raise TransitionRequirementError(
                "parent_id", "a complaint can only be cancelled as a duplicate of a parent case"
            )
        if facts.get("case_id") is not None and parent == facts["case_id"]:
            raise TransitionRequirementError("parent_id", "a complaint cannot be its own parent")
    elif target is Status.IN_PROGRESS and current is Status.FOLLOW_UP:
        # Reopening: the unsatisfied score is worth keeping, but optional.
        if facts.get("satisfaction") is not None:
            _check_satisfaction(facts["satisfaction"])
    return target
