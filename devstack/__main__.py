"""``python -m devstack``: the development stack that ``make run`` starts."""

from devstack.stack import main

if __name__ == "__main__":
    raise SystemExit(main())
