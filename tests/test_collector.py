"""The collector's settings in a long-running process."""

import gc

from agentruns.collector import GC_THRESHOLDS, tuned_collector


def test_within_the_block_the_thresholds_are_raised_and_what_existed_is_frozen() -> None:
    before = gc.get_threshold()
    existing = object.__new__(type("Existing", (), {}))  # a tracked object made before the block
    with tuned_collector():
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
        assert not any(existing is tracked for generation in range(3) for tracked in gc.get_objects(generation))
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
