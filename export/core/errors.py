"""Error type shared by every latentbridge package.

A `LatentbridgeError` carries a one-line, user-facing message; the CLI prints it
as `latentbridge: error: <message>` and exits with status 2.
"""


class LatentbridgeError(Exception):
    """A bad input or environment problem, explained in one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))
