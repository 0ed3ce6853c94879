"""Tests of the local control plane itself (hack/localcluster.py and the fixtures)."""
