"""`python -m assistant`: the same CLI as the `assistant` command."""

from .cli import main

main()
