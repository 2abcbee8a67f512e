"""The ``csp`` console command: the project's management entry point.

``csp import-areas ...`` runs the Django management command ``csp_import_areas``; any other
Django command (``csp migrate``, ``csp runserver``, ``csp createsuperuser``) passes through, so
the CLI and the web pages share one code path for every operation.
"""

from __future__ import annotations

import os
import sys

# Our own commands, by the name an analyst types.
COMMANDS = {
    "import-areas": "csp_import_areas",
    "import-population": "csp_import_population",
    "import-incidents": "csp_import_incidents",
    "counts": "csp_counts",
    "quality": "csp_quality",
    "crosswalk": "csp_crosswalk",
    "load-demo": "csp_load_demo",
    "sia": "csp_sia",
    "rates": "csp_rates",
    "peers": "csp_peers",
    "emerging": "csp_emerging",
    "hotspots": "csp_hotspots",
    "near-repeats": "csp_near_repeats",
    "forecast": "csp_forecast",
    "backtest": "csp_backtest",
    "audit": "csp_audit",
    "load-agreement": "csp_load_agreement",
    "reset-second-factor": "csp_reset_second_factor",
}


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csp_platform.settings")
    if len(args) > 1:
        args[1] = COMMANDS.get(args[1], args[1])
    if len(args) == 1 or args[1] in {"-h", "--help", "help"} and len(args) == 2:
        print(_usage())
        return
    from django.core.management import execute_from_command_line

    execute_from_command_line(args)


def _usage() -> str:
    lines = ["usage: csp COMMAND [options]   (csp COMMAND --help for each)", "", "commands:"]
    lines += [f"  {name}" for name in COMMANDS]
    lines += ["  migrate, runserver, createsuperuser ... (any Django management command)"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
