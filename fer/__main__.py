"""Entry point of `python -m fer`."""

import sys

from fer.cli.main import main

sys.exit(main())
