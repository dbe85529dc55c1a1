"""The container's health check: exit 0 when the app's liveness endpoint answers 2xx, else 1.

The image's HEALTHCHECK runs it (python:slim has no curl). It asks ``/healthz`` on the loopback
interface, on ``$PORT``, and gives up after two seconds.
"""

import os
import sys
import urllib.error
import urllib.request


def main() -> int:
    """Ask ``http://127.0.0.1:$PORT/healthz`` once; 0 for a 2xx answer, 1 for anything else."""
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 0 if 200 <= response.status < 300 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"healthcheck: {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
