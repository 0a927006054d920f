"""`python -m bot` is the same as the `saima` command."""

import sys

from bot.cli import main

sys.exit(main())
