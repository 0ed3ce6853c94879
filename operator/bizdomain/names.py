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
# The host ResourceQuota in each domain namespace that caps its EnvironmentBindings.
HOST_QUOTA_NAME: Final = "bizdomain-bindings"
BINDING_COUNT_RESOURCE: Final = f"count/{PLURAL_BINDING}.{GROUP}"
# On a domain's host namespace: the uid of the BusinessDomain it was created for.
LABEL_DOMAIN_UID: Final = f"{GROUP}/domain-uid"

# Condition types.
COND_READY: Final = "Ready"
COND_RECONCILING: Final = "Reconciling"
COND_DEGRADED: Final = "Degraded"
COND_REACHABLE: Final = "Reachable"


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
    DUPLICATE_ENVIRONMENT: Final = "DuplicateEnvironment"
    CREATED: Final = "Created"
    CORRECTED: Final = "Corrected"
    PRUNED: Final = "Pruned"
    RELEASED: Final = "Released"
    DELETING: Final = "Deleting"
    DELETION_BLOCKED: Final = "DeletionBlocked"
    CREDENTIALS_INVALID: Final = "CredentialsInvalid"
    REACHABLE: Final = "Reachable"
    HOST_NAMESPACE_CONFLICT: Final = "HostNamespaceConflict"
    SUBJECT_NOT_ALLOWED: Final = "SubjectNotAllowed"


def role_cluster_role(role: str) -> str:
    """The member ClusterRole an access entry's role names: ours by suffix, else as given."""
    return f"{ROLE_PREFIX}{role}" if role in BUILTIN_ROLES else role
