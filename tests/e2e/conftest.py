"""End-to-end tests use the session fixtures `platform` and `make_domain` from tests/conftest.py."""
