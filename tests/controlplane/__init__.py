"""Tests of the local control plane itself (the `localcluster` package in hack/ and the fixtures)."""
