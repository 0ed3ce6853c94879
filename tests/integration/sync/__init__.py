"""Integration tests of bizdomain.sync against the real local API servers (mirrors operator/bizdomain/sync)."""
