"""``lanner openapi`` and ``lanner asyncapi``: write the app's contract, as JSON or YAML.

Keys are sorted, so the file can be committed and diffed (``lanner openapi diff``). YAML is plain:
no anchors and aliases (``&id001``/``*id001``), which PyYAML would otherwise write wherever the
document holds the same dict twice, and which many tools and readers trip over.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lanner.cli.targets import TargetError, load_target, target_of

__all__ = ["to_yaml", "write_document"]


def write_document(args: argparse.Namespace) -> int:
    """Write the OpenAPI document (``lanner openapi``) or the AsyncAPI one (``lanner asyncapi``); return 0.

    Raises:
        TargetError: TARGET cannot be loaded, is not a lanner application, or ``--yaml`` is asked
            without PyYAML.
    """
    target = target_of(args.target, args.app)
    app = load_target(target)
    build = getattr(app, args.command, None)
    if not callable(build):
        raise TargetError(f"{target} is not a lanner application")
    document = build()
    if args.yaml:
        text = to_yaml(document)
    else:
        text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def to_yaml(document: Any) -> str:
    """`document` as block YAML with sorted keys and no anchors or aliases.

    Raises:
        TargetError: PyYAML is not installed (it comes with ``uvicorn[standard]``).
    """
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        raise TargetError("--yaml needs PyYAML, which is not installed: pip install pyyaml") from None

    class PlainDumper(yaml.SafeDumper):  # type: ignore[misc]
        # A dict met twice is written out twice: plain YAML every reader understands.
        def ignore_aliases(self, data: Any) -> bool:
            return True

    return str(yaml.dump(document, Dumper=PlainDumper, sort_keys=True, allow_unicode=True))
