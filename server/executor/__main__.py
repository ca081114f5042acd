"""``python -m server.executor``: the ElasticJob executor, as a Mesos agent starts it.

Reads its configuration from the agent's ``MESOS_*`` variables (see
:mod:`server.executor.settings`), logs to stderr (the sandbox's ``stderr`` file), and exits with
0 after SHUTDOWN, 1 when the agent is lost for good, 2 when the environment is unusable.
"""

from __future__ import annotations

import logging
import sys

from server.executor.core import run_from_environment
from server.executor.settings import ExecutorConfigError

EXIT_BAD_ENVIRONMENT = 2


def main() -> int:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    try:
        return run_from_environment()
    except ExecutorConfigError as exc:
        logging.getLogger("server.executor").error("cannot start: %s", exc)
        return EXIT_BAD_ENVIRONMENT


if __name__ == "__main__":
    sys.exit(main())
