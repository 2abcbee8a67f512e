"""Every example in csp_analytics' docstrings runs and gives what it shows.

Each docstring with examples, in every module of the package (found by walking it, so a new
module's examples run without being listed here), is one test.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import csp_analytics

FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def _docstrings_with_examples() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder()
    found = []
    names = [csp_analytics.__name__] + [
        m.name for m in pkgutil.walk_packages(csp_analytics.__path__, "csp_analytics.")
    ]
    for name in names:
        module = importlib.import_module(name)
        found += [t for t in finder.find(module, name) if t.examples]
    return sorted(found, key=lambda t: t.name)


EXAMPLES = _docstrings_with_examples()


def test_the_package_has_examples_in_every_spatial_module():
    modules = {t.name.rsplit(".", 1)[0] for t in EXAMPLES}
    modules |= {".".join(t.name.split(".")[:2]) for t in EXAMPLES}
    for module in ("csp_analytics.hotspots", "csp_analytics.repeats", "csp_analytics.forecast"):
        assert module in modules, module


@pytest.mark.parametrize("test", EXAMPLES, ids=[t.name for t in EXAMPLES])
def test_docstring_examples_run(test: doctest.DocTest) -> None:
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    out: list[str] = []
    result = runner.run(test, out=out.append)
    assert result.attempted == len(test.examples)
    assert result.failed == 0, "".join(out)
