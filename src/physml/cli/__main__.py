import sys

from physml.cli import main

sys.exit(main())
