"""``python -m bot``: the CLI; with no subcommand it starts the Discord bot."""

import sys

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main())
