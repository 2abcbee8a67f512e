"""The analysis commands refuse bad input with one clear line, through the real `csp` entry."""

from __future__ import annotations

import pytest

from csp_platform import cli
from tests.platform.analysis.conftest import NEWCASTLE

pytestmark = pytest.mark.django_db

SIA = ("sia", "--area", NEWCASTLE, "--baseline", "2020-07..2021-06")


@pytest.mark.parametrize(
    "args, message",
    [
        ((*SIA, "--period", "2021-13..2022-06"), "--period must be months like 2021-01..2021-12"),
        ((*SIA, "--period", "2022-06..2021-07"), "--period starts after it ends"),
        ((*SIA, "--period", "last year"), "--period must be months like"),
        (
            (
                "sia",
                "--area",
                "E99999999",
                "--period",
                "2021-07..2022-06",
                "--baseline",
                "2020-07..2021-06",
            ),
            "no imported area has the code 'E99999999'",
        ),
        ((*SIA, "--period", "2021-01..2021-12"), "--period and --baseline overlap"),
        (
            (*SIA, "--period", "2019-01..2019-12"),
            "--period: no incident data for 2019-01 to 2019-12",
        ),
        (
            (*SIA, "--period", "2021-07..2022-06", "--source", "nope"),
            "no incident source called nope",
        ),
        (
            ("forecast", "--area", NEWCASTLE, "--through", "2022-5", "--cell-size", "250"),
            "--through must be a month like 2021-06",
        ),
        (
            ("forecast", "--area", NEWCASTLE, "--through", "2022-05", "--cell-size", "0"),
            "--cell-size must be at least 10 metres",
        ),
        (
            (
                "forecast",
                "--area",
                NEWCASTLE,
                "--through",
                "2022-05",
                "--cell-size",
                "250",
                "--method",
                "crystal-ball",
            ),
            "--method must be one of last_month, last_12_months, long_run_average",
        ),
        (
            ("forecast", "--area", "E99999999", "--through", "2022-05", "--cell-size", "250"),
            "no imported area has the code",
        ),
        (
            ("forecast", "--area", NEWCASTLE, "--through", "2019-05", "--cell-size", "250"),
            "no incidents in Newcastle upon Tyne up to 2019-05",
        ),
        (
            ("backtest", "--area", NEWCASTLE, "--from", "2022-06", "--to", "2021-01"),
            "--from/--to starts after it ends",
        ),
        (
            (
                "backtest",
                "--area",
                NEWCASTLE,
                "--from",
                "2021-01",
                "--to",
                "2021-03",
                "--category",
                "burglary,unicorns",
            ),
            "no category called unicorns",
        ),
        (("emerging", "--area", NEWCASTLE, "--month", "2022-01"), "2022-01 has no data"),
        (("peers", "--area", "E99999999", "--period", "2021-01..2021-12"), "no imported area"),
        (("rates", "--level", "county", "--period", "2021-01..2021-12"), "--level must be one of"),
    ],
)
def test_bad_input_is_refused_in_one_line(northumbria, capsys, args, message):
    with pytest.raises(SystemExit) as stop:
        cli.main(["csp", *args])
    assert stop.value.code == 1
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("CommandError: ") and message in lines[0], lines[0]


def test_every_analysis_command_is_registered_and_documented():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    for name in (
        "sia",
        "rates",
        "peers",
        "emerging",
        "hotspots",
        "near-repeats",
        "forecast",
        "backtest",
    ):
        assert cli.COMMANDS[name] == "csp_" + name.replace("-", "_")
        assert f"csp {name} " in readme, name
