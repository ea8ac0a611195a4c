"""``python -m twiin``: the same as the ``twiin`` command."""

from twiin.cli.main import main

if __name__ == "__main__":
    main()
