"""Member tokens: the claims read from a JWT, when renewal is due, and a kubeconfig with a new token."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import yaml

from bizdomain.config import Settings
from bizdomain.members.tokens import claims, kubeconfig_token, with_token


def jwt(payload: dict[str, Any]) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(payload)}.c2lnbmF0dXJl"


SA = "system:serviceaccount:bizdomain-system:bizdomain-operator"


def test_claims_of_a_service_account_token() -> None:
    found = claims(jwt({"sub": SA, "iat": 1000, "exp": 1000 + 86400}))
    assert found is not None
    assert found.service_account == ("bizdomain-system", "bizdomain-operator")
    assert found.lifetime == 86400
    assert found.renew_at(0.5) == 1000 + 43200
    assert found.renew_at(Settings().token_renew_fraction) == 1000 + 43200


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        "a.b.c",
        jwt({"sub": SA}),
        jwt({"sub": SA, "iat": 10, "exp": 5}),
        jwt({"sub": 7, "iat": 1, "exp": 5}),
        "x." + base64.urlsafe_b64encode(b"[1, 2]").decode() + ".y",
    ],
    ids=["opaque", "garbage", "no-exp", "expired-before-issued", "bad-sub", "not-an-object"],
)
def test_tokens_that_say_nothing_are_never_renewed(token: str) -> None:
    assert claims(token) is None


def test_a_user_token_names_no_service_account() -> None:
    found = claims(jwt({"sub": "alice", "iat": 1, "exp": 700}))
    assert found is not None
    assert found.service_account is None


def kubeconfig(token: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": "dev", "cluster": {"server": "https://127.0.0.1:1", "certificate-authority-data": "Q0E="}}
            ],
            "users": [
                {"name": "other", "user": {"token": "keep"}},
                {"name": "bizdomain@dev", "user": {"token": token}},
            ],
            "contexts": [{"name": "dev", "context": {"cluster": "dev", "user": "bizdomain@dev"}}],
            "current-context": "dev",
        }
    )


def test_a_new_token_replaces_only_the_current_users() -> None:
    text = with_token(kubeconfig("old"), "new")
    assert kubeconfig_token(text) == "new"
    config = yaml.safe_load(text)
    assert config["users"][0]["user"] == {"token": "keep"}
    assert config["clusters"] == yaml.safe_load(kubeconfig("old"))["clusters"]


def test_no_token_in_a_certificate_kubeconfig() -> None:
    config = yaml.safe_load(kubeconfig("x"))
    config["users"][1]["user"] = {"client-certificate-data": "Q0VSVA==", "client-key-data": "S0VZ"}
    assert kubeconfig_token(yaml.safe_dump(config)) is None
    assert kubeconfig_token("{not yaml") is None
