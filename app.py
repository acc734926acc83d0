#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth -c env=dev` (staging, prod, a list, or all), offline.

Also `AICORE_ENV=dev .venv/bin/python app.py`. Deploy: `npx cdk deploy -c env=dev --all`.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # `aicore doctor` warns

from cdk.app import build_app
from cdk.config import ConfigError
from cdk.sources import MissingBuildError


def main() -> int:
    try:
        app = build_app()
    except (ConfigError, MissingBuildError) as error:
        print(f"aicore: {error}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
