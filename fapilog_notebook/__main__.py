"""``python -m fapilog_notebook``: the same as the ``fapilog-notebook`` command."""

import sys

from .cli import main

sys.exit(main())
