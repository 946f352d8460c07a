"""smqi-kg: a knowledge graph of the evidence on social media in health service design and QI."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("smqi-kg")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
