import sys

from glyph.cli import main

sys.exit(main())
