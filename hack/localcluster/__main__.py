"""`python -m localcluster`: the control plane's command line (see :mod:`localcluster.cli`)."""

import sys

from localcluster.cli import main

sys.exit(main())
