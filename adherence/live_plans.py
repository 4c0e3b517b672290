"""Care plans for live sessions: the :class:`ingest.session_mqtt.SessionPlanner` the adherence
layer gives to the live-session service and the BLE session command.

It answers "what does the plan prescribe for this exercise" (sets and repetitions for the
patient's feedback) and, when a session is stored, scores the patient's day and queues the points
for the outbox sinks.
"""

from __future__ import annotations

from collections.abc import Sequence

from adherence.plan import CarePlan
from adherence.scoring import rescore
from ingest.session import LiveSession, Target
from ingest.store import Store


def plan_target(
    plans: Sequence[CarePlan], subject: str, exercise: str, plan_entry: str | None
) -> Target:
    """Sets and repetitions the subject's care plan prescribes for ``exercise``.

    The plan's session ``plan_entry`` is looked at first, then any planned session with that
    exercise; ``Target()`` (unknown) when the plan does not prescribe it.
    """
    for plan in plans:
        if plan.subject != subject:
            continue
        ordered = sorted(plan.sessions, key=lambda s: s.id != plan_entry)
        for ps in ordered:
            for ex in ps.exercises:
                if ex.exercise == exercise:
                    return Target(ex.sets, ex.reps)
    return Target()


class CarePlanPlanner:
    """Targets from care plans; a saved session rescores its local day into ``sinks``' outboxes.

    Parameters
    ----------
    plans:
        The care plans in force (replace :attr:`plans` to reload them).
    sinks:
        Outbox sink names that receive the day's score points.
    """

    def __init__(self, plans: Sequence[CarePlan], sinks: Sequence[str] = ()) -> None:
        self.plans = list(plans)
        self.sinks = tuple(sinks)

    def target(self, subject: str, exercise: str, plan_entry: str | None) -> Target:
        """Prescribed sets and repetitions (see :func:`plan_target`)."""
        return plan_target(self.plans, subject, exercise, plan_entry)

    def session_saved(self, store: Store, session: LiveSession) -> None:
        """Score the subject's local day of ``session`` (nothing when the subject has no plan)."""
        plan = next((p for p in self.plans if p.subject == session.subject), None)
        if plan is None:
            return
        day = plan.local_day(session.start_ns)
        rescore(store, [plan], start=day, end=day, today=day, sinks=self.sinks)
