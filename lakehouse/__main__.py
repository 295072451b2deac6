"""`python -m lakehouse ...`; also the script spark-submit runs (`.../__main__.py run ...`)."""

import os
import sys

from lakehouse.core.interrupt import interruptible, was_interrupted


def main() -> int:
    # The handlers go in before the CLI's imports, which take a second or more: Ctrl-C while
    # they load is handled like any other.
    code = interruptible(_cli)
    if was_interrupted():
        # The command has cleaned up. Exit now rather than let interpreter shutdown wait for
        # library threads (the Connect client's release pool) or native teardown.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _cli() -> int:
    from lakehouse.app.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
