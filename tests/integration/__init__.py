"""Tests against the real local API servers (no operator running)."""
