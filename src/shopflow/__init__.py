"""shopflow: a shop's data into an immutable lake and an analytics warehouse, exactly once."""

__version__ = "0.1.0"
