"""Fault tests: the operator running for real while member and host API servers, the operator
process, member credentials and RBAC, and people editing members by hand all misbehave."""
