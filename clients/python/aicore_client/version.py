"""The library's version, which it also says to the server (`?client=python/<version>`)."""

__version__ = "0.1.0"
CLIENT_PLATFORM = "python"
DEFAULT_CLIENT = f"{CLIENT_PLATFORM}/{__version__}"
