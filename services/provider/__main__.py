"""`python -m services.provider`: the same as the `cocore-provider` command."""

import sys

from services.provider.cli import main

if __name__ == "__main__":
    sys.exit(main())
