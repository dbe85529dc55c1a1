"""``python -m lanner.cli``: the ``lanner`` command."""

import sys

from lanner.cli import main

sys.exit(main())
