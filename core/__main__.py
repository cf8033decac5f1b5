"""Entry point of ``python -m core``; see core/cli/ for the commands."""

import sys

from core.cli import main

if __name__ == "__main__":
    sys.exit(main())
