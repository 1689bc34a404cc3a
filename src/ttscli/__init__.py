"""ttscli: speech synthesis on the command line."""

__version__ = "0.1.0"
