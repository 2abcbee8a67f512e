"""csp load-demo [--shared ../shared]: real Cleveland data, ready to look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from csp_platform.areas import services as areas
from csp_platform.core.commands import CspCommand, progress_bar
from csp_platform.demo import services as demo
from csp_platform.incidents import services as incidents
from csp_platform.plans import indicator_services as indicators
from csp_platform.plans import services as plans

CLEVELAND = tuple(demo.CLEVELAND_PARTNERSHIPS)
EXAMPLES = Path(__file__).resolve().parents[5] / "examples" / "mappings"


class Command(CspCommand):
    help = (
        "Load the demo: Cleveland's districts, the 2013 and 2025 wards (2025 is the current "
        "generation, the default everywhere) and the 2011 and 2021 LSOAs, with 2011 census "
        "population, every Cleveland Police street-level month in shared/data, and the "
        "DEFRA fly-tipping returns; then the four Cleveland partnerships, the Middlesbrough and "
        "Redcar & Cleveland plans from shared/seeds, and one demo sign-in per role in the "
        "Middlesbrough partnership."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--shared", default="../shared", help="the shared/ folder")

    def run(self, **o: Any) -> None:
        data = Path(o["shared"]) / "data"
        if not (data / "police" / "cleveland").is_dir():
            raise CommandError(f"{data} does not hold the shared data (give --shared PATH)")
        bounds = data / "boundaries"
        say = self.stdout.write
        for level, folder in (
            ("district", "districts_2011"),
            ("ward", "wards_2013"),
            ("ward", "wards_2025"),
            ("lsoa", "lsoa_2011"),
            ("lsoa", "lsoa_2021"),
        ):
            paths = [bounds / folder / f"{code}.geojson" for code in CLEVELAND]
            say(areas.areas_import(paths, level=level).summary())
        say(
            areas.population_import(
                data / "population" / "census2011_lsoa_population_households.csv"
            ).summary()
        )
        say(
            "police.uk: "
            + incidents.police_uk_import(
                [data / "police" / "cleveland"], progress=progress_bar("file")
            ).summary()
        )
        mapping = incidents.mapping_load(EXAMPLES / "defra-flytipping-by-la.yaml")
        say(
            "DEFRA fly-tipping: "
            + incidents.mapped_import(
                [data / "flytipping" / "defra_flytipping_incidents_by_la_2012-13_to_2022-23.csv"],
                mapping=mapping,
            ).summary()
        )
        demo.partnerships_cleveland_ensure()
        for report in plans.demo_plans_load(Path(o["shared"]) / "seeds"):
            say(report.lines()[0])
        say(f"{len(indicators.demo_indicators_load())} Middlesbrough indicators (csp indicators)")
        logins = demo.demo_users_reset("middlesbrough")
        say("")
        say("CSP Hub demo is ready: http://127.0.0.1:8000/")
        say("Sign in to the Middlesbrough partnership as any of these (one per role; new")
        say("passwords each time the demo loads; 'demo' manages members on the Members page):")
        width = max(len(login.username) for login in logins)
        for login in logins:
            say(f"  {login.username.ljust(width)}  {login.password}  ({login.role})")
        say("The roles that see incident points (demo, analyst, officer) set up an authenticator")
        say("app (any TOTP app) at their first sign-in; the others may choose to.")
