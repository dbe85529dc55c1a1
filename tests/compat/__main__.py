"""``python -m tests.compat``: run the FastAPI tutorial compatibility check."""

from .run import main

raise SystemExit(main())
