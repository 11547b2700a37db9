"""The one error type the CLI turns into a single line and a non-zero exit."""


class FontgenError(Exception):
    """A problem with the user's input or environment, worded for the user."""
