"""mailbot: the intake bot for emailed Word forms (see README.md)."""

__version__ = "0.1.0"
