"""The framework: config, engine, storage, catalog, MERGE, increments, run log, locks,
history and time travel. It knows no STEDI table; the layers and the application use it."""
