"""Tests that need Redis, the sandbox over HTTP, the app or worker processes."""
