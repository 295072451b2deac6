"""`python -m lakehouse ...`; also the script spark-submit runs (`.../__main__.py run ...`)."""

import sys

from lakehouse.cli import main

if __name__ == "__main__":
    sys.exit(main())
