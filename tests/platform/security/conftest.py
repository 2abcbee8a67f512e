"""The sweep uses the web tests' committed world: personas (one per role in Middlesbrough,
an outsider of Hartlepool, a user with no membership) and four months of Cleveland data."""

from tests.platform.web.conftest import _fresh_cache, personas, world  # noqa: F401
