"""The one ordering rule of a run's steps (run.plan and serve's progress page use it)."""

from lingalign.step_order import first_ready_order


def test_the_first_ready_key_in_mapping_order_goes_next():
    needs = {"data:a": [], "train:dpo": ["data:p", "train:sft"], "data:p": ["train:sft"], "train:sft": ["data:a"]}
    assert first_ready_order(needs) == (["data:a", "train:sft", "data:p", "train:dpo"], [])


def test_a_need_that_is_no_step_is_met_and_a_cycle_is_left_over():
    assert first_ready_order({"train:a": ["train:outside"]}) == (["train:a"], [])
    needs = {"x": [], "a": ["b"], "b": ["a"], "c": ["x"]}
    assert first_ready_order(needs) == (["x", "c"], ["a", "b"])
