"""Every name bizdomain writes into a cluster, in one place.

Labels, annotations, the finalizer, field manager, condition types and reasons are
all prefixed with the API group, so that nothing the operator writes can be mistaken
for someone else's. Every other module imports its names from here.
"""

from typing import Final

GROUP: Final = "bizdomain.io"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"

# Kinds served by the CRDs.
KIND_DOMAIN: Final = "BusinessDomain"
KIND_BINDING: Final = "EnvironmentBinding"
KIND_MEMBER: Final = "MemberCluster"
KIND_WORKSPACE: Final = "Workspace"
PLURAL_DOMAIN: Final = "businessdomains"
PLURAL_BINDING: Final = "environmentbindings"
PLURAL_MEMBER: Final = "memberclusters"
PLURAL_WORKSPACE: Final = "workspaces"

# Server-side apply: one field manager for every object the operator owns.
FIELD_MANAGER: Final = "bizdomain"
FINALIZER: Final = f"{GROUP}/finalizer"
# kopf keeps its handler progress in annotations under this prefix, never in spec.
KOPF_PREFIX: Final = f"kopf.{GROUP}"

# Labels on every object the operator creates on a member (and on the host).
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE: Final = "bizdomain"
LABEL_DOMAIN: Final = f"{GROUP}/domain"
LABEL_ENVIRONMENT: Final = f"{GROUP}/environment"
LABEL_PROJECT: Final = f"{GROUP}/project"
LABEL_COMPONENT: Final = f"{GROUP}/component"
# Set on a namespace that a Retain policy left behind: no longer managed, still the domain's.
LABEL_RELEASED: Final = f"{GROUP}/released"

ANNOTATION_DELETION_POLICY: Final = f"{GROUP}/deletion-policy"
ANNOTATION_DISPLAY_NAME: Final = f"{GROUP}/display-name"
ANNOTATION_RELEASED_AT: Final = f"{GROUP}/released-at"
# Ownership: the uid of the BusinessDomain a member namespace (or Workspace) was created for.
# A namespace keeps its owner (domain uid and environment) for as long as it exists.
ANNOTATION_DOMAIN_UID: Final = f"{GROUP}/domain-uid"
# Set by a platform admin on a BusinessDomain: earlier uids of the same domain whose member
# objects it may take back (host rebuilt from Git, domain re-created). Comma-separated.
ANNOTATION_ADOPT_UIDS: Final = f"{GROUP}/adopt-uids"
# On every namespace that ever belonged to a protected environment (or sits on a member that
# serves one): never deleted by the operator, never removed (the member admission policy agrees).
LABEL_PROTECTED: Final = f"{GROUP}/protected"
# Pod Security admission, enforced by each member API server on tenant namespaces.
LABEL_POD_SECURITY_ENFORCE: Final = "pod-security.kubernetes.io/enforce"
LABEL_POD_SECURITY_WARN: Final = "pod-security.kubernetes.io/warn"
LABEL_POD_SECURITY_AUDIT: Final = "pod-security.kubernetes.io/audit"

# Components: what a managed object is for (lets one list select one role of objects).
COMPONENT_PLATFORM: Final = "platform"  # the ClusterRoles installed once per member
COMPONENT_TENANT: Final = "tenant"  # a domain's objects in one environment
COMPONENT_HOST: Final = "host"  # a domain's namespace and owner RBAC on the host

# ClusterRoles the operator installs on every member; access entries name them by suffix.
ROLE_PREFIX: Final = f"{GROUP}:"
BUILTIN_ROLES: Final = ("admin", "developer", "viewer", "deployer")
FORBIDDEN_ROLES: Final = ("cluster-admin",)

# Names of the per-namespace objects.
QUOTA_NAME: Final = "bizdomain-quota"
LIMITS_NAME: Final = "bizdomain-limits"
NETWORK_POLICY_NAME: Final = "bizdomain-isolation"
DEPLOYERS_BINDING: Final = f"{GROUP}:deployers"
DEPARTMENT_BINDING_PREFIX: Final = f"{GROUP}:department:"
OWNERS_BINDING: Final = f"{GROUP}:owners"
HOST_OWNER_ROLE: Final = f"{GROUP}:domain-owner"
OPERATOR_ROLE: Final = f"{GROUP}:operator"  # the member identity `bizdomain join` creates
COMPONENT_IDENTITY: Final = "identity"  # what `bizdomain join` creates on a member
# The deployer ClusterRole holds one permission on a resource no API serves: the deployer
# admission policy asks the authorizer for it, so it holds exactly the identities bound as deployers.
DEPLOYER_MARKER_RESOURCE: Final = "deployers"
DEPLOYER_MARKER_VERB: Final = "release"
# The ValidatingAdmissionPolicy (and its binding) that hold deployers to images and replicas.
DEPLOYER_POLICY: Final = f"deployer-images-and-replicas.{GROUP}"
JOIN_MANAGED_BY: Final = "bizdomain-join"  # the managed-by value of what `bizdomain join` applies
# The member identity `bizdomain join` creates, and what holds it to bizdomain's own objects there.
OPERATOR_SERVICE_ACCOUNT: Final = "bizdomain-operator"
OPERATOR_TOKEN_ROLE: Final = f"{GROUP}:operator-token"  # a Role: mint tokens for itself only
OPERATOR_POLICY: Final = "bizdomain-operator-boundary"  # ValidatingAdmissionPolicy (and its binding)
# The host ResourceQuota in each domain namespace that caps its EnvironmentBindings.
HOST_QUOTA_NAME: Final = "bizdomain-bindings"
BINDING_COUNT_RESOURCE: Final = f"count/{PLURAL_BINDING}.{GROUP}"
# On a domain's host namespace: the uid of the BusinessDomain it was created for.
LABEL_DOMAIN_UID: Final = f"{GROUP}/domain-uid"
# On a domain's host namespace: its budgets and container ceiling, read by the host admission policy
# `bizdomain-budgets` (charts/bizdomain/files/budget-policy.yaml) from namespaceObject.
ANNOTATION_BUDGET_PREFIX: Final = f"budget.{GROUP}/"  # + <environment>.<resource>
ANNOTATION_DEFAULT_BUDGET_PREFIX: Final = f"default-budget.{GROUP}/"  # + <resource>
ANNOTATION_LIMITS_MAX_PREFIX: Final = f"limits-max.{GROUP}/"  # + <resource>
BUDGET_POLICY: Final = "bizdomain-budgets"
# Sandboxes (api/sandbox.py): the kind, its count in the host quota, who may make them, where they live.
KIND_SANDBOX: Final = "Sandbox"
PLURAL_SANDBOX: Final = "sandboxes"
SANDBOX_COUNT_RESOURCE: Final = f"count/{PLURAL_SANDBOX}.{GROUP}"
HOST_SANDBOX_ROLE: Final = f"{GROUP}:sandbox-creator"  # ClusterRole the chart installs
SANDBOXERS_BINDING: Final = f"{GROUP}:sandboxers"  # RoleBinding in domain-<name>
# On domain-<name>, read by the host policy `bizdomain-sandboxes` from namespaceObject: per environment
# where sandboxes are allowed, who may make them ("User:<name>" / "Group:<name>", one per line), and
# the platform's longest lifetime in seconds.
ANNOTATION_SANDBOXERS_PREFIX: Final = f"sandboxers.{GROUP}/"  # + <environment>
ANNOTATION_SANDBOX_MAX_LIFETIME: Final = f"sandbox.{GROUP}/max-lifetime-seconds"
SANDBOX_POLICY: Final = "bizdomain-sandboxes"
# On each member namespace made for a sandbox: its name and uid (deletion selects by the uid).
LABEL_SANDBOX: Final = f"{GROUP}/sandbox"
LABEL_SANDBOX_UID: Final = f"{GROUP}/sandbox-uid"
COMPONENT_SANDBOX: Final = "sandbox"

# Condition types.
COND_READY: Final = "Ready"
COND_RECONCILING: Final = "Reconciling"
COND_DEGRADED: Final = "Degraded"
# Usage of a domain's budget passed the budget (it was lowered below what runs): said, nothing deleted.
COND_OVER_BUDGET: Final = "OverBudget"
COND_EXPIRING_SOON: Final = "ExpiringSoon"  # a sandbox past 80% of its life (once)


class Reason:
    """Reasons for conditions and Events: CamelCase constants, never free text."""

    RECONCILED: Final = "Reconciled"
    PENDING: Final = "Pending"
    PROGRESSING: Final = "Progressing"
    INVALID_SPEC: Final = "InvalidSpec"
    DOMAIN_NOT_FOUND: Final = "DomainNotFound"
    NOT_IN_DOMAIN_NAMESPACE: Final = "NotInDomainNamespace"
    NO_CLUSTERS: Final = "NoClusters"
    UNKNOWN_CLUSTER: Final = "UnknownCluster"
    CLUSTER_UNREACHABLE: Final = "ClusterUnreachable"
    SYNC_FAILED: Final = "SyncFailed"
    ROLE_NOT_ALLOWED: Final = "RoleNotAllowed"
    UNKNOWN_DEPARTMENT: Final = "UnknownDepartment"
    NAMESPACE_CONFLICT: Final = "NamespaceConflict"
    NAMESPACE_PROTECTED: Final = "NamespaceProtected"
    CREATED: Final = "Created"
    CORRECTED: Final = "Corrected"
    PRUNED: Final = "Pruned"
    RELEASED: Final = "Released"
    DELETION_BLOCKED: Final = "DeletionBlocked"
    CREDENTIALS_INVALID: Final = "CredentialsInvalid"
    REACHABLE: Final = "Reachable"
    CLUSTER_NOT_IN_ENVIRONMENT: Final = "ClusterNotInEnvironment"
    DEPLOYER_NOT_ALLOWED: Final = "DeployerNotAllowed"
    PLATFORM_NOT_INSTALLED: Final = "PlatformNotInstalled"
    HOST_NAMESPACE_CONFLICT: Final = "HostNamespaceConflict"
    SUBJECT_NOT_ALLOWED: Final = "SubjectNotAllowed"
    # Domain budgets: a binding's split does not fit (frozen), or usage passed a lowered budget.
    BUDGET_EXCEEDED: Final = "BudgetExceeded"
    OVER_BUDGET: Final = "OverBudget"
    WITHIN_BUDGET: Final = "WithinBudget"
    LIMITS_EXCEEDED: Final = "LimitsExceeded"
    # Sandboxes.
    EXPIRING_SOON: Final = "ExpiringSoon"
    EXPIRED: Final = "Expired"
    SANDBOX_NOT_ALLOWED: Final = "SandboxNotAllowed"
    BASE_NOT_FOUND: Final = "BaseEnvironmentNotFound"


# A pass that failed for one of these reasons says the member cannot be reached (or refused us).
UNREACHABLE_REASONS: Final = (Reason.CLUSTER_UNREACHABLE, Reason.CREDENTIALS_INVALID)


def role_cluster_role(role: str) -> str:
    """The member ClusterRole an access entry's role names: ours by suffix, else as given."""
    return f"{ROLE_PREFIX}{role}" if role in BUILTIN_ROLES else role


def workspace_name(domain: str, environment: str) -> str:
    """The name of a domain's Workspace on a member: one per environment."""
    return f"{domain}.{environment}"
