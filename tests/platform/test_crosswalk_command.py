"""`csp crosswalk list / export / import / categories` on real police.uk and LFB files.

Expected values come from the files themselves (the shipped police.uk crosswalk YAML, the
example LFB mapping, the rows of the real data counted with the csv module), never from
the code under test.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from csp_platform.incidents import selectors, services
from csp_platform.incidents.models import Crosswalk, Incident
from tests.platform.conftest import count_rows, police_uk_category, raw_rows

pytestmark = pytest.mark.django_db
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "mappings"
POLICE = "police-uk-cleveland-police"


def csp(*args: str) -> str:
    out = StringIO()
    call_command("csp_crosswalk", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def export(source: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(csp("export", "--source", source))))


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def by_category(source: str) -> dict[str, int]:
    table = count_rows(("category",), sources=(source,))
    return {r["category"]: r["incidents"] for r in table.rows if r["incidents"]}


@pytest.fixture
def police_month(data_dir: Path) -> Path:
    path = data_dir / "police" / "cleveland" / "2019-01" / "2019-01-cleveland-street.csv"
    services.police_uk_import([path])
    return path


@pytest.fixture
def lfb_file(data_dir: Path) -> Path:
    path = data_dir / "fire/lfb_hounslow/lfb_incidents_hounslow_2019-01_to_2022-11.csv"
    services.mapped_import([path], mapping=services.mapping_load(EXAMPLES / "lfb-incidents.yaml"))
    return path


def test_export_is_the_shipped_police_uk_crosswalk_with_rows_counted_from_the_file(police_month):
    rows = export(POLICE)
    assert list(rows[0]) == [
        "source_value",
        "category",
        "excluded",
        "category_name",
        "theme",
        "stored_rows",
    ]
    assert {r["source_value"]: r["category"] for r in rows} == police_uk_category()
    assert {r["excluded"] for r in rows} == {"no"}
    in_file = Counter(r["Crime type"] for r in raw_rows(police_month))
    assert {r["source_value"]: int(r["stored_rows"]) for r in rows if r["stored_rows"] != "0"} == (
        dict(in_file)
    )
    assert {r["theme"] for r in rows if r["source_value"] == "Burglary"} == {"acquisitive"}


def test_list_shows_every_version_and_the_sources_that_use_it(police_month, lfb_file):
    listed = list(csv.DictReader(io.StringIO(csp("list", "--format", "csv"))))
    # the police.uk source uses the shipped reference; the LFB mapping made London Fire
    # Brigade's own version of its scheme
    assert {(r["scheme"], r["owner"], r["version"], r["latest"], r["sources"]) for r in listed} == {
        ("police-uk", "reference", "1", "yes", POLICE),
        ("lfb-stop-code", "London Fire Brigade", "1", "yes", "lfb-incidents"),
    }
    mapping = yaml.safe_load((EXAMPLES / "lfb-incidents.yaml").read_text())
    lfb = next(r for r in listed if r["scheme"] == "lfb-stop-code")
    assert (int(lfb["mapped"]), int(lfb["excluded"])) == (
        len(mapping["categories"]),
        len(mapping["exclude"]),
    )
    only = list(csv.DictReader(io.StringIO(csp("list", "--source", POLICE, "--format", "csv"))))
    assert [r["scheme"] for r in only] == ["police-uk"]


def test_an_edited_file_makes_a_new_version_and_remaps_the_stored_rows(tmp_path, police_month):
    rows = export(POLICE)
    for r in rows:
        if r["source_value"] == "Bicycle theft":
            r["category"] = "other-theft"
    path = write(tmp_path / "police.csv", rows)
    total = Incident.objects.count()

    dry = csp("import", "--source", POLICE, str(path), "--dry-run")
    # the force had no version of its own: the edit makes Cleveland Police's first, which
    # categorises its sources only (the reference stays for every other organisation)
    assert dry.startswith("dry run (nothing written)")
    assert "would make Cleveland Police's police-uk version 1" in dry
    assert "(replacing reference version 1;" in dry
    assert Crosswalk.objects.filter(scheme="police-uk").count() == 1

    out = csp("import", "--source", POLICE, str(path))
    in_file = Counter(r["Crime type"] for r in raw_rows(police_month))
    assert "made Cleveland Police's police-uk version 1" in out and "changed: Bicycle theft" in out
    assert f"re-mapped {in_file['Bicycle theft']} stored records" in out
    # every figure follows: counted from the file with the edited mapping
    edited = {**police_uk_category(), "Bicycle theft": "other-theft"}
    expected = Counter()
    for value, n in in_file.items():
        expected[edited[value]] += n
    assert by_category(POLICE) == dict(expected)
    assert Incident.objects.count() == total  # nothing lost
    listed = list(csv.DictReader(io.StringIO(csp("list", "--format", "csv"))))
    assert [(r["owner"], r["version"], r["latest"], r["sources"]) for r in listed] == [
        ("Cleveland Police", "1", "yes", POLICE),
        ("reference", "1", "yes", ""),
    ]
    assert "from police.csv" in listed[0]["note"]
    # the same file again changes nothing
    assert "nothing changed" in csp("import", "--source", POLICE, str(path))
    assert Crosswalk.objects.filter(scheme="police-uk").count() == 2


def test_a_value_left_without_a_category_keeps_its_rows_as_unknown(tmp_path, police_month):
    rows = [r for r in export(POLICE) if r["source_value"] != "Drugs"]
    csp("import", "--source", POLICE, str(write(tmp_path / "police.csv", rows)))
    in_file = Counter(r["Crime type"] for r in raw_rows(police_month))
    assert (
        Incident.objects.filter(source_category="Drugs", category=None).count()
        == (in_file["Drugs"])
    )
    (quality,) = selectors.quality_report((POLICE,))
    assert quality.unknown_categories == {"Drugs": in_file["Drugs"]}
    again = {r["source_value"]: r for r in export(POLICE)}
    assert again["Drugs"]["category"] == "" and again["Drugs"]["stored_rows"] == str(
        in_file["Drugs"]
    )


def test_an_unknown_canonical_code_is_named_by_file_row_and_column_and_nothing_changes(
    tmp_path, police_month
):
    rows = export(POLICE)
    before = by_category(POLICE)
    for r in rows:
        if r["source_value"] == "Bicycle theft":
            r["category"] = "other-theft"  # a valid change earlier in the file...
        if r["source_value"] == "Shoplifting":
            r["category"] = "shopliftin"  # ...and a typo further down
    path = write(tmp_path / "edited.csv", rows)
    row = next(i for i, r in enumerate(rows, start=1) if r["source_value"] == "Shoplifting")
    with pytest.raises(CommandError) as caught:
        csp("import", "--source", POLICE, str(path))
    message = str(caught.value)
    assert f"{path}: row {row} (line {row + 1}), column 'category': 'shopliftin'" in message
    assert "not a canonical category" in message and "Nothing was changed" in message
    assert Crosswalk.objects.filter(scheme="police-uk").count() == 1
    assert by_category(POLICE) == before


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda rows: rows.append(dict(rows[0])), "column 'source_value': 'Anti-social"),
        (lambda rows: rows[1].update(excluded="maybe"), "row 2 (line 3), column 'excluded'"),
        (
            lambda rows: rows[2].update(excluded="yes"),
            "row 3 (line 4), column 'category': 'Burglary' is excluded",
        ),
        (lambda rows: [r.pop("excluded") for r in rows], "no 'excluded' column"),
    ],
    ids=["duplicate value", "not yes or no", "excluded and mapped", "missing column"],
)
def test_bad_files_are_refused_naming_row_and_column(tmp_path, police_month, edit, message):
    rows = export(POLICE)
    edit(rows)
    with pytest.raises(CommandError, match="Nothing was changed|the header must name") as caught:
        csp("import", "--source", POLICE, str(write(tmp_path / "bad.csv", rows)))
    assert message in str(caught.value)
    assert Crosswalk.objects.filter(scheme="police-uk").count() == 1


def test_an_unknown_source_is_refused_with_the_known_ones(police_month):
    with pytest.raises(CommandError, match=f"no source called 'no-such'.*{POLICE}"):
        csp("export", "--source", "no-such")


def test_lfb_exclusions_round_trip_and_a_new_exclusion_keeps_the_stored_rows(tmp_path, lfb_file):
    mapping = yaml.safe_load((EXAMPLES / "lfb-incidents.yaml").read_text())
    rows = export("lfb-incidents")
    assert {r["source_value"]: r["category"] for r in rows if r["excluded"] == "no"} == (
        mapping["categories"]
    )
    assert {r["source_value"] for r in rows if r["excluded"] == "yes"} == set(mapping["exclude"])
    in_file = Counter(r["StopCodeDescription"] for r in raw_rows(lfb_file))
    stored = {r["source_value"]: int(r["stored_rows"]) for r in rows}
    assert stored["Secondary Fire"] == in_file["Secondary Fire"] > 1000
    assert stored["AFA"] == 0  # excluded when imported: never stored

    for r in rows:
        if r["source_value"] == "False alarm - Malicious":
            r["category"], r["excluded"] = "", "yes"
        if r["source_value"] == "Primary Fire":
            r["category"], r["excluded"] = "criminal-damage-and-arson", "no"
    total = Incident.objects.count()
    out = csp("import", "--source", "lfb-incidents", str(write(tmp_path / "lfb.csv", rows)))
    assert "made London Fire Brigade's lfb-stop-code version 2" in out
    assert f"re-mapped {in_file['False alarm - Malicious']} stored records" in out
    assert "Primary Fire were excluded when imported and never stored" in out
    assert "imported with a mapping file" in out
    assert Incident.objects.count() == total
    # the malicious false alarms are kept, without a category (counted as unknown)
    assert by_category("lfb-incidents") == {
        "secondary-fire": in_file["Secondary Fire"],
        "unknown": in_file["False alarm - Malicious"],
    }


def test_every_command_in_csp_help_exists_and_answers_help():
    from django.core.management import get_commands

    from csp_platform.cli import COMMANDS, _usage

    known = get_commands()
    dead = [name for name, command in COMMANDS.items() if command not in known]
    assert dead == [] and "  crosswalk" in _usage()
    out = StringIO()
    with pytest.raises(SystemExit) as done:
        call_command("csp_crosswalk", "--help", stdout=out)
    assert done.value.code == 0


def test_categories_lists_the_canonical_codes_of_the_reference_file():
    from tests.platform.conftest import REFERENCE

    shipped = yaml.safe_load((REFERENCE / "categories.yaml").read_text())["categories"]
    listed = list(csv.DictReader(io.StringIO(csp("categories", "--format", "csv"))))
    assert {(r["code"], r["theme"]) for r in listed} == {
        (item["code"], theme) for theme, items in shipped.items() for item in items
    }


def test_a_value_that_looks_like_a_formula_is_guarded_in_the_export_and_read_back(
    tmp_path, police_month
):
    rows = export(POLICE)
    rows.append({**rows[0], "source_value": "=HYPERLINK(1)", "category": "other-crime"})
    csp("import", "--source", POLICE, str(write(tmp_path / "police.csv", rows)))
    latest = (
        Crosswalk.objects.filter(scheme="police-uk", organisation__slug="cleveland-police")
        .order_by("-version")
        .first()
    )
    assert latest.entries.filter(source_value="=HYPERLINK(1)").exists()
    exported = export(POLICE)
    assert "'=HYPERLINK(1)" in {r["source_value"] for r in exported}
    # the guarded export imports back to the same version: nothing changes
    out = csp("import", "--source", POLICE, str(write(tmp_path / "again.csv", exported)))
    assert "nothing changed" in out
