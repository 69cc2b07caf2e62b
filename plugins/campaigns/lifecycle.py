"""A campaign's life cycle (the texts' 策划 → 宣传 → 执行 → 监控 → 评估) as states.

preparation → promotion → execution → monitoring → evaluation, and cancelled
from any state before evaluation. ``execution`` is entered only by launching
(which snapshots the segment and sends); the other moves are checked here.
"""

from __future__ import annotations

import enum


class State(str, enum.Enum):
    PREPARATION = "preparation"
    PROMOTION = "promotion"
    EXECUTION = "execution"
    MONITORING = "monitoring"
    EVALUATION = "evaluation"
    CANCELLED = "cancelled"

    @property
    def zh(self) -> str:
        return _ZH[self]

    @property
    def en(self) -> str:
        return self.value.capitalize()


_ZH = {State.PREPARATION: "策划准备", State.PROMOTION: "宣传", State.EXECUTION: "执行", State.MONITORING: "实时监控",
       State.EVALUATION: "评估", State.CANCELLED: "已取消"}

ALLOWED = {
    State.PREPARATION: {State.PROMOTION, State.EXECUTION, State.CANCELLED},
    State.PROMOTION: {State.PREPARATION, State.EXECUTION, State.CANCELLED},
    State.EXECUTION: {State.MONITORING, State.CANCELLED},
    State.MONITORING: {State.EVALUATION, State.CANCELLED},
    State.EVALUATION: set(),
    State.CANCELLED: set(),
}
LAUNCHABLE = (State.PREPARATION, State.PROMOTION)
EDITABLE = (State.PREPARATION, State.PROMOTION)  # the plan may change until launch


def may_move(current: State, to: State) -> bool:
    return to in ALLOWED[current]
