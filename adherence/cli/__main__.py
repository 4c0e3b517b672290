"""``python -m adherence.cli ...`` runs the ``adherence`` command."""

import sys

from adherence.cli import main

sys.exit(main())
