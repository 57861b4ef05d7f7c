"""``python -m ferrovq``: the command line (see ``ferrovq.cli``)."""

from ferrovq.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
