"""The token-signing keys: the private key set in Secrets Manager, the public keys in an SSM parameter.

Two stores on purpose: the authorizers and the JWKS route read only the public document
(`ssm:GetParameter` on one parameter) and can never read a private key.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from aicore import aws
from aicore.identity.keys import KeySet, PublishedKeys


class SecretsManagerKeyVault:
    """`KeyVault` over one secret (`GetSecretValue`; the rotation also `PutSecretValue`)."""

    def __init__(self, secret_id: str, client: Any | None = None) -> None:
        self._secret_id = secret_id
        self._client = client or aws.secretsmanager_client()

    def load(self) -> KeySet:
        value = self._client.get_secret_value(SecretId=self._secret_id)["SecretString"]
        return KeySet.model_validate(json.loads(value))

    def save(self, keys: KeySet) -> None:
        self._client.put_secret_value(SecretId=self._secret_id, SecretString=keys.secret_json())


class SsmKeyDirectory:
    """`KeyDirectory` over one SSM parameter holding the published public keys (a few hundred bytes
    per key: a standard parameter's 4 KB holds a dozen)."""

    def __init__(self, parameter: str, client: Any | None = None) -> None:
        self._parameter = parameter
        self._client = client or aws.ssm_client()

    def load(self) -> PublishedKeys:
        try:
            value = self._client.get_parameter(Name=self._parameter)["Parameter"]["Value"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ParameterNotFound":
                return PublishedKeys()
            raise
        return PublishedKeys.model_validate_json(value)

    def publish(self, keys: PublishedKeys) -> None:
        self._client.put_parameter(
            Name=self._parameter,
            Value=keys.model_dump_json(),
            Type="String",
            Overwrite=True,
            Description="aicore: the public keys that verify access tokens (written by the key rotation)",
        )
