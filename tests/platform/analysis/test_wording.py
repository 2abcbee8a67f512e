"""How figures are worded for readers."""

from csp_platform.analysis.results import _p_text


def test_tiny_p_values_read_as_less_than_a_thousandth_not_zero():
    assert _p_text(0.0) == "p < 0.001"
    assert _p_text(0.0004) == "p < 0.001"
    assert _p_text(0.0312) == "p = 0.031"
    assert _p_text(0.5) == "p = 0.5"
