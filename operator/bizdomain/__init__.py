"""bizdomain: business domains reconciled into workspaces, namespaces, RBAC and quotas on member clusters."""

__version__ = "0.1.0"
