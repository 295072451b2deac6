"""The STEDI lakehouse's shared machinery: `core` (the framework) and `app` (the application)."""

__version__ = "0.1.0"
