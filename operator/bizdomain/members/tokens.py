"""Member tokens: when the one in a kubeconfig is due for renewal, and renewing it (TokenRequest).

``bizdomain join`` mints a short-lived token for the operator's ServiceAccount on the member.
:class:`~bizdomain.members.clients.MemberClients` asks :func:`claims` what the token in a
member's kubeconfig says (read from the JWT payload, never verified: the member's API server
does that), and once ``token_renew_fraction`` of its lifetime has passed, :func:`renew` asks the
member for a new one for the same ServiceAccount with the same lifetime, and
:func:`with_token` puts it in the kubeconfig the client writes back to the host Secret.
Tokens never appear in errors or logs.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import yaml

from bizdomain.members.rest import Kube

SA_PREFIX = "system:serviceaccount:"
MIN_SECONDS = 600  # the TokenRequest API's minimum expiration


@dataclass(frozen=True)
class Claims:
    """What a service-account token says about itself."""

    subject: str
    issued: float
    expires: float

    @property
    def service_account(self) -> tuple[str, str] | None:
        """(namespace, name) of the ServiceAccount the token is for, or None if it is for no ServiceAccount."""
        if not self.subject.startswith(SA_PREFIX):
            return None
        namespace, _, name = self.subject.removeprefix(SA_PREFIX).partition(":")
        return (namespace, name) if namespace and name else None

    @property
    def lifetime(self) -> float:
        return self.expires - self.issued

    def renew_at(self, fraction: float) -> float:
        """When (epoch seconds) a token this old should be renewed."""
        return self.issued + self.lifetime * fraction


def claims(token: str) -> Claims | None:
    """The claims of a JWT service-account token, or None when ``token`` is no such token."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        subject, issued, expires = payload["sub"], payload.get("iat", payload.get("nbf")), payload["exp"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        return None
    if not isinstance(subject, str) or not isinstance(issued, int | float) or not isinstance(expires, int | float):
        return None
    if expires <= issued:
        return None
    return Claims(subject, float(issued), float(expires))


def _current_user(config: Any) -> dict[str, Any] | None:
    if not isinstance(config, dict):
        return None
    context_name = config.get("current-context")
    contexts = [c for c in config.get("contexts") or [] if isinstance(c, dict)]
    context = next((c.get("context") for c in contexts if c.get("name") == context_name), None)
    if context is None and contexts:
        context = contexts[0].get("context")
    user_name = (context or {}).get("user")
    for entry in config.get("users") or []:
        if isinstance(entry, dict) and entry.get("name") == user_name and isinstance(entry.get("user"), dict):
            user: dict[str, Any] = entry["user"]
            return user
    return None


def kubeconfig_token(text: str) -> str | None:
    """The static token of a kubeconfig's current user, if it has one."""
    try:
        user = _current_user(yaml.safe_load(text))
    except yaml.YAMLError:
        return None
    token = (user or {}).get("token")
    return token if isinstance(token, str) and token else None


def with_token(text: str, token: str) -> str:
    """The kubeconfig with its current user's token replaced (everything else kept)."""
    config = yaml.safe_load(text)
    user = _current_user(config)
    if user is None:
        raise ValueError("the kubeconfig has no current user")
    user["token"] = token
    return yaml.safe_dump(config, sort_keys=False)


async def renew(kube: Kube, current: Claims) -> str:
    """A new token for the same ServiceAccount, with the same lifetime, from the member's TokenRequest API."""
    account = current.service_account
    if account is None:
        raise ValueError("the token is not a ServiceAccount's")
    namespace, name = account
    body = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": max(MIN_SECONDS, round(current.lifetime))},
    }
    answer = await kube.request(
        "POST", f"/api/v1/namespaces/{quote(namespace)}/serviceaccounts/{quote(name)}/token", body=body
    )
    token = (answer.get("status") or {}).get("token")
    if not isinstance(token, str) or not token:
        raise ValueError("the TokenRequest answer holds no token")
    return token
