"""The examples in the spatial modules' docstrings run and give what they show."""

from __future__ import annotations

import doctest

import pytest

from csp_analytics import forecast, forecast_models, hotspots, repeats


@pytest.mark.parametrize(
    "module", [hotspots, repeats, forecast, forecast_models], ids=lambda m: m.__name__
)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
