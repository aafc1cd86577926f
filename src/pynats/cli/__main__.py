"""``python -m pynats.cli``: the ``pynats`` command."""

import sys

from . import main

sys.exit(main())
