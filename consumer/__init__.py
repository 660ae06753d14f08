"""zeeg-consumer: erase Zeeg CRM records when upstream systems delete a person."""

from importlib.metadata import PackageNotFoundError, version

try:
    # One source for the version: pyproject.toml's, as the installed distribution records it.
    __version__ = version("zeeg-consumer")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
