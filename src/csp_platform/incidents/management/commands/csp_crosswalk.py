"""csp crosswalk [--categories] | SCHEME [--organisation SLUG] [--revert-to N [--commit]]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import transaction

from csp_platform.core.commands import CspCommand
from csp_platform.core.models import Organisation
from csp_platform.incidents import selectors, services


class Command(CspCommand):
    help = (
        "The canonical categories (--categories), or the versions of a scheme's crosswalk "
        "kept by an organisation (who made each, when, and the version it replaced); "
        "--revert-to N puts version N back as a new version and re-maps that organisation's "
        "sources (a dry run unless --commit)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("scheme", nargs="?")
        parser.add_argument("--categories", action="store_true", help="list canonical codes")
        parser.add_argument(
            "--organisation", metavar="SLUG", help="whose crosswalk (default: the reference)"
        )
        parser.add_argument("--revert-to", type=int, metavar="N")
        parser.add_argument(
            "--from-reference",
            action="store_true",
            help="with --revert-to: N is a version of the reference crosswalk",
        )
        parser.add_argument("--commit", action="store_true", help="write the revert")

    def run(self, **o: Any) -> None:
        if o["categories"]:
            for code, name, theme in selectors.category_list():
                self.stdout.write(f"{code}\t{name}\t({theme})")
            return
        if not o["scheme"]:
            raise CommandError("name a SCHEME (e.g. police-uk) or give --categories")
        organisation = None
        if o["organisation"]:
            organisation = Organisation.objects.filter(slug=o["organisation"]).first()
            if organisation is None:
                raise CommandError(f"--organisation: no organisation {o['organisation']!r}")
        if o["revert_to"] is None:
            for line in selectors.crosswalk_history(o["scheme"], organisation):
                self.stdout.write(line)
            return
        with transaction.atomic():
            saved, remapped = services.crosswalk_revert(
                scheme=o["scheme"],
                organisation=organisation,
                to_version=o["revert_to"],
                from_reference=o["from_reference"],
                by_user="command line",
            )
            if not o["commit"]:
                transaction.set_rollback(True)
        verb = "reverted" if o["commit"] else "dry run (nothing written): would revert"
        self.stdout.write(
            f"{verb} {o['scheme']} to version {o['revert_to']}: now {saved}; "
            f"{remapped} stored rows re-mapped"
        )
