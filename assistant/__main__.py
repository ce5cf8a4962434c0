"""`python -m assistant`: the same CLI as the `assistant` command."""

import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while the CLI is still being imported
    sys.exit(130)

main()
