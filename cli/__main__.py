"""``python -m kerasrnn.cli ...``: the ``kerasrnn`` command."""

from kerasrnn.cli.main import main

if __name__ == "__main__":
    main()
