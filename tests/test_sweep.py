"""scripts/sweep.py: a ranking value set by its dotted name, the rest of the configuration as it was."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from qa.search.ranking import DEFAULT_RANKING

_SPEC = importlib.util.spec_from_file_location("sweep", Path(__file__).parents[1] / "scripts" / "sweep.py")
assert _SPEC is not None and _SPEC.loader is not None
sweep = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(sweep)


def test_a_dotted_name_sets_one_value_of_its_own_type():
    config = sweep.with_value(DEFAULT_RANKING, "fusion.rendering_share", 0.3)
    assert config.fusion.rendering_share == 0.3
    assert config.fusion.dense_weight == DEFAULT_RANKING.fusion.dense_weight and config.depths == DEFAULT_RANKING.depths
    depth = sweep.with_value(DEFAULT_RANKING, "second_stage.depth", 40.0).second_stage.depth
    assert depth == 40 and isinstance(depth, int)
    assert sweep.with_value(DEFAULT_RANKING, "query_window_chars", 300).query_window_chars == 300


@pytest.mark.parametrize(("name", "says"), [("fusion.nothing", "no field 'nothing'"), ("fusion", "is a section"),
                                            ("query_window_chars.x", "is a value")])
def test_a_name_that_is_no_value_says_what_there_is(name, says):
    with pytest.raises(SystemExit, match=says):
        sweep.with_value(DEFAULT_RANKING, name, 1.0)
