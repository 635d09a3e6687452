"""Test helpers shared by the services' suites (no pytest import at module level)."""
