"""`python -m lakehouse ...`; also the script spark-submit runs (`.../__main__.py run ...`)."""

import os
import sys

from lakehouse.core.errors import NO_ENGINE
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


def job() -> None:
    """For schedulers that call the entry point instead of running the script (a Databricks
    wheel task): the exit status becomes the outcome, SystemExit on failure."""
    code = main()
    if code:
        raise SystemExit(code)


def _cli() -> int:
    try:
        from lakehouse.app.cli import main as cli_main
    except ModuleNotFoundError as error:
        if error.name != "pyspark":
            raise
        print(NO_ENGINE, file=sys.stderr)
        return 2
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
