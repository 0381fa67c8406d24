"""`python -m bot.cli ...`: the `bot` command, as the console script runs it."""

import sys

from bot.cli import main

sys.exit(main())
