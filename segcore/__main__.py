import sys

from segcore.cli import main

sys.exit(main())
