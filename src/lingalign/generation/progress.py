"""A progress line per decoded batch: decoding a work unit takes minutes on a CPU, so say how far it is."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class DecodeProgress:
    """Called with the number of items each batch finished; logs ``LABEL: done/total decoded``.

    A line is written each time the count passes a multiple of ``step`` (the batch size, or more for
    sets whose items come one by one) and at the end. ``logger`` is the caller's, so the line shows
    under the stage that decodes.
    """

    def __init__(self, label: str, total: int, step: int, logger: logging.Logger = log):
        self.label, self.total, self.step, self.log = label, total, step, logger
        self.done = 0

    def __call__(self, count: int) -> None:
        if (self.done + count) // self.step > self.done // self.step or self.done + count == self.total:
            self.log.info("%s: %d/%d decoded", self.label, self.done + count, self.total)
        self.done += count
