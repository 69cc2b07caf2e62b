"""The complaint workflow: transition table, requirements and SLA clock states."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.complaints.workflow import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    TRANSITIONS,
    ClockState,
    IllegalTransition,
    Priority,
    Status,
    TransitionRequirementError,
    allowed_targets,
    check_transition,
    clock_state,
)

# Facts that satisfy every requirement, so only the table decides.
ALL_FACTS = {"resolution": "replaced unit", "root_cause": "supplier defect", "satisfaction": 4,
             "parent_id": 7}


def test_the_six_step_process_runs_end_to_end():
    path = [Status.RECEIVED, Status.ROUTED, Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER,
            Status.IN_PROGRESS, Status.RESOLVED, Status.FOLLOW_UP, Status.CLOSED]
    for current, target in zip(path, path[1:]):
        assert check_transition(current, target, **ALL_FACTS) is target


def test_solved_on_the_spot_goes_straight_to_resolved():
    assert check_transition("received", "resolved", resolution="refund", root_cause="pricing")


def test_waiting_on_customer_may_resolve_directly():
    assert check_transition(
        Status.WAITING_ON_CUSTOMER, Status.RESOLVED, resolution="reset worked", root_cause="config"
    ) is Status.RESOLVED


def test_unsatisfied_follow_up_reopens_the_case():
    assert check_transition(Status.FOLLOW_UP, Status.IN_PROGRESS) is Status.IN_PROGRESS
    assert check_transition(Status.FOLLOW_UP, Status.IN_PROGRESS, satisfaction=1)
    with pytest.raises(TransitionRequirementError) as err:
        check_transition(Status.FOLLOW_UP, Status.IN_PROGRESS, satisfaction=9)
    assert err.value.field == "satisfaction"


def test_illegal_transition_names_the_allowed_targets():
    with pytest.raises(IllegalTransition) as err:
        check_transition(Status.RECEIVED, Status.CLOSED)
    message = str(err.value)
    assert "RECEIVED" in message and "CLOSED" in message  # the codes clients see
    assert "ROUTED, RESOLVED, CANCELLED" in message
    assert err.value.allowed == (Status.ROUTED, Status.RESOLVED, Status.CANCELLED)
    assert isinstance(err.value, ValueError)


def test_final_statuses_say_they_are_final():
    for status in FINAL_STATUSES:
        with pytest.raises(IllegalTransition, match="final"):
            check_transition(status, Status.IN_PROGRESS)


def test_no_status_transitions_to_itself():
    for status in Status:
        with pytest.raises(IllegalTransition):
            check_transition(status, status, **ALL_FACTS)


@pytest.mark.parametrize("missing", ["resolution", "root_cause"])
def test_resolving_requires_resolution_and_root_cause(missing):
    facts = {"resolution": "replaced", "root_cause": "defect"}
    del facts[missing]
    with pytest.raises(TransitionRequirementError) as err:
        check_transition(Status.IN_PROGRESS, Status.RESOLVED, **facts)
    assert err.value.field == missing
    assert missing in str(err.value)


def test_blank_text_counts_as_missing():
    with pytest.raises(TransitionRequirementError, match="root_cause"):
        check_transition(Status.IN_PROGRESS, Status.RESOLVED, resolution="ok", root_cause="   ")


def test_closing_requires_satisfaction_from_the_follow_up():
    with pytest.raises(TransitionRequirementError) as err:
        check_transition(Status.FOLLOW_UP, Status.CLOSED)
    assert err.value.field == "satisfaction"
    for score in (1, 5):
        assert check_transition(Status.FOLLOW_UP, Status.CLOSED, satisfaction=score)


@pytest.mark.parametrize("score", [0, 6, -1, 3.5, "4", True])
def test_satisfaction_must_be_an_integer_one_to_five(score):
    with pytest.raises(TransitionRequirementError, match="1 to 5"):
        check_transition(Status.FOLLOW_UP, Status.CLOSED, satisfaction=score)


def test_cancelling_is_only_for_duplicates_with_a_parent():
    with pytest.raises(TransitionRequirementError) as err:
        check_transition(Status.ROUTED, Status.CANCELLED)
    assert err.value.field == "parent_id"
    assert check_transition(Status.ROUTED, Status.CANCELLED, parent_id=12) is Status.CANCELLED
    with pytest.raises(TransitionRequirementError, match="own parent"):
        check_transition(Status.ROUTED, Status.CANCELLED, parent_id=12, case_id=12)


def test_every_open_status_and_only_those_can_be_cancelled():
    for status in Status:
        assert (Status.CANCELLED in TRANSITIONS[status]) == (status in OPEN_STATUSES)


def test_unknown_facts_are_a_caller_error():
    with pytest.raises(TypeError, match="rootcause"):
        check_transition(Status.IN_PROGRESS, Status.RESOLVED, resolution="x", rootcause="y")


def test_statuses_and_priorities_accept_codes_and_names_and_carry_labels():
    assert Status("IN_PROGRESS") is Status.IN_PROGRESS is Status("in_progress")
    assert Priority("URGENT") is Priority.URGENT
    assert Status.RESOLVED.label("zh") == "已解决" and Status.RESOLVED.label("en") == "Resolved"
    assert Priority.HIGH.zh == "高"
    for member in [*Status, *Priority]:
        assert member.zh and member.en
    with pytest.raises(ValueError):
        Status("lost")


def test_clock_runs_pauses_and_stops_by_status():
    assert clock_state(Status.WAITING_ON_CUSTOMER) is ClockState.PAUSED
    for status in (Status.RECEIVED, Status.ROUTED, Status.IN_PROGRESS):
        assert clock_state(status) is ClockState.RUNNING
    for status in (Status.RESOLVED, Status.FOLLOW_UP, Status.CLOSED, Status.CANCELLED):
        assert clock_state(status) is ClockState.STOPPED


def _reachable(start):
    seen, todo = {start}, [start]
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_every_status_is_reachable_and_every_case_can_end():
    assert _reachable(Status.RECEIVED) == set(Status)
    for status in Status:
        assert _reachable(status) & FINAL_STATUSES, status


@given(st.sampled_from(list(Status)), st.sampled_from(list(Status)))
def test_check_transition_agrees_with_the_table(current, target):
    if target in allowed_targets(current):
        assert check_transition(current, target, **ALL_FACTS) is target
    else:
        with pytest.raises(IllegalTransition):
            check_transition(current, target, **ALL_FACTS)


@settings(max_examples=50)
@given(st.lists(st.integers(0, 10), max_size=30))
def test_random_walks_stay_inside_the_table(choices):
    status = Status.RECEIVED
    for choice in choices:
        targets = allowed_targets(status)
        if not targets:
            assert status in FINAL_STATUSES
            break
        status = check_transition(status, targets[choice % len(targets)], **ALL_FACTS)
    assert status in Status
