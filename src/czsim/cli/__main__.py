"""``python -m czsim.cli``: the same as the ``czsim`` console script."""

import sys

from czsim.cli import main

sys.exit(main())
