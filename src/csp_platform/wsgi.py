import os

import django
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csp_platform.settings")
django.setup(set_prefix=False)
from csp_platform.core.checks import require_secret_key  # noqa: E402

require_secret_key()  # production fails closed: no secret key, no server
application = get_wsgi_application()
