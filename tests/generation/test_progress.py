"""The decoding progress line: one per ``step`` items passed, and one at the end."""

import logging

from lingalign.generation.progress import DecodeProgress


def test_a_line_each_time_a_step_is_passed_and_at_the_end(caplog):
    logger = logging.getLogger("lingalign.test.progress")
    progress = DecodeProgress("xquad-zh (process 1 of 2)", total=7, step=3, logger=logger)
    with caplog.at_level(logging.INFO, logger="lingalign.test.progress"):
        for count in (1, 1, 2, 2, 1):
            progress(count)
    assert [r.getMessage() for r in caplog.records] == [
        "xquad-zh (process 1 of 2): 4/7 decoded", "xquad-zh (process 1 of 2): 6/7 decoded",
        "xquad-zh (process 1 of 2): 7/7 decoded"]
    assert {r.name for r in caplog.records} == {"lingalign.test.progress"}
