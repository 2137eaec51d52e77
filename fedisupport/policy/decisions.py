"""What the policy answers: accept, hold for a moderator, reject, or accept with a label."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Iterable


class Verdict(enum.IntEnum):
    # Ordered by strength: the strictest of several decisions wins.
    ACCEPT = 0
    LABEL = 1
    HOLD = 2
    REJECT = 3


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    reason: str = ""
    # A content warning to add (LABEL), kept also when a stronger verdict wins.
    label: str | None = None
    # Lifts a held item to the urgent lane of the moderators' queue.
    urgent: bool = False

    @property
    def accepted(self) -> bool:
        return self.verdict in (Verdict.ACCEPT, Verdict.LABEL)


ACCEPT = Decision(Verdict.ACCEPT)


def hold(reason: str, *, urgent: bool = False) -> Decision:
    return Decision(Verdict.HOLD, reason, urgent=urgent)


def reject(reason: str) -> Decision:
    return Decision(Verdict.REJECT, reason)


def label(warning: str, reason: str = "") -> Decision:
    return Decision(Verdict.LABEL, reason or f"content warning added: {warning}", label=warning)


def strictest(decisions: Iterable[Decision]) -> Decision:
    """The strongest verdict, its reason; labels and urgency from every decision are kept."""
    chosen = ACCEPT
    labels: list[str] = []
    urgent = False
    for decision in decisions:
        if decision.label and decision.label not in labels:
            labels.append(decision.label)
        urgent = urgent or decision.urgent
        if decision.verdict > chosen.verdict:
            chosen = decision
    return Decision(chosen.verdict, chosen.reason, "; ".join(labels) or None, urgent)
