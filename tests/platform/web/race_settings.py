"""Settings for the sign-in race test's server: the project's own, with Django's PBKDF2
hasher counting each password it checks (one line per check in ``CSP_TEST_CHECKS_FILE``),
so the test can count how many attempts were judged on their password."""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth.hashers import PBKDF2PasswordHasher

from csp_platform.settings import *  # noqa: F403

PASSWORD_HASHERS = ["tests.platform.web.race_settings.CountingHasher"]


class CountingHasher(PBKDF2PasswordHasher):
    """Django's PBKDF2 hasher (same algorithm and hashes), noting every check."""

    def verify(self, password: str, encoded: str) -> Any:
        with open(os.environ["CSP_TEST_CHECKS_FILE"], "a", encoding="utf-8") as fh:
            fh.write("checked\n")
        return super().verify(password, encoded)
