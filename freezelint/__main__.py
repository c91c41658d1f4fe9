"""`python -m freezelint`."""

import sys

from freezelint.cli import main

sys.exit(main())
