"""`python -m desktop` starts the app, like `ownvoice gui`."""

from desktop.cli import main

if __name__ == "__main__":
    main(["gui"])
