"""``csp reset-second-factor USERNAME``: remove a user's authenticator app and recovery codes
and end their sessions (an administrator's act, logged); they set up a new app at their next
sign-in."""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser

from csp_platform.core import services
from csp_platform.core.commands import CspCommand
from csp_platform.core.security_log import event


class Command(CspCommand):
    help = "Remove a user's second factor (app and recovery codes) and end their sessions."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def run(self, *, username: str, **_: Any) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        removed = services.second_factor_reset(user)
        event(
            "second factor reset",
            username=username,
            by=getpass.getuser(),
            via="csp reset-second-factor",
            devices_removed=removed,
        )
        self.stdout.write(
            f"{username}: second factor removed ({removed} device(s)), sessions ended; "
            "they set up a new authenticator app at their next sign-in."
        )
