"""Redis-free unit tests: pure functions, models, parsing and configuration."""
