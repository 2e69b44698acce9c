"""The order ``lingalign run`` runs its steps in, from what each step needs: one rule for the run's plan
and for the web page that shows a run's progress (``serve``, which reads the recipe as written and may
not import ``run``)."""

from __future__ import annotations


def first_ready_order(needs: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    """Repeatedly the first key, in the mapping's order, whose needs are all done; returns that order and
    the keys left when none is ready (a cycle; empty when there is none). A need that is no key of
    ``needs`` counts as done (something outside the steps ordered here)."""
    order: list[str] = []
    done: set[str] = set()
    remaining = list(needs)
    while remaining:
        ready = next((key for key in remaining if all(n in done or n not in needs for n in needs[key])), None)
        if ready is None:
            break
        order.append(ready)
        done.add(ready)
        remaining.remove(ready)
    return order, remaining
