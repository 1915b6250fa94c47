import sys

from simulators.chain.cli import main

sys.exit(main())
