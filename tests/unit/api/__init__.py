"""Tests of bizdomain.api."""
