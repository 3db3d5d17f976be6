"""Errors meant for users: the CLI prints them as one line, without a traceback."""


class UserError(Exception):
    """A problem with the user's input (a file, a recipe, a corpus) that they can fix."""


class AudioError(UserError):
    """An audio file that cannot be turned into a usable waveform."""
