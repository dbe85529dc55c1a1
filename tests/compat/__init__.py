"""The FastAPI tutorial compatibility check: ``python -m tests.compat`` (see `tests.compat.run`).

FastAPI's tutorial sources and tests are taken from its sdist at run time, migrated with
``lanner migrate --from fastapi`` and run against lanner; each test is reported as a pass, a
deliberate difference (`tests.compat.shim.RULE`) or a failure, per tutorial section.

The modules import each other relatively: the test runs load this package under another name
(``lanner_compat``), because FastAPI's own ``tests`` package takes the name ``tests`` there.
"""
