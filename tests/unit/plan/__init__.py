"""Tests of bizdomain.plan."""
