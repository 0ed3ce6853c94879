"""Unit tests of the pure layer: API models, the planner, status and settings; no cluster."""
