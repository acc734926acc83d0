"""Authorizer cost per connect: the real handler verifying a real ES256 token, with the published
keys cached (a warm container) and cold (a container's first connect: it reads the SSM parameter
first, here from moto in process, so the read's cost is moto's, not AWS's ~5-10 ms).

    .venv/bin/python -m bench.authorizer [--connects 2000]

Prints a table and writes bench/results/authorizer.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

from moto import mock_aws

from aicore.auth import Caller
from aicore.aws.signing_keys import SecretsManagerKeyVault, SsmKeyDirectory
from aicore.identity.keyring import SignerKeys, set_up_keys
from aicore.identity.tokens import JwksCache, TokenSigner, TokenVerifier
from aicore.local.lambdas import LambdaContext, Lambdas
from aicore.topology import TOPOLOGY
from bench.common import machine, write_report

SECRET, PARAMETER = "bench-signing-keys", "/aicore/bench/identity/public-keys"


def _connect_event(token: str) -> dict[str, Any]:
    return {"type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:1:api/dev/$connect",
            "queryStringParameters": {"token": token}, "requestContext": {"requestId": "r"}}  # fmt: skip


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--connects", type=int, default=2000)
    args = parser.parse_args()
    os.environ.update(
        {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    )
    with mock_aws():
        import boto3

        boto3.client("secretsmanager").create_secret(Name=SECRET, SecretString='{"keys": []}')
        vault, directory = SecretsManagerKeyVault(SECRET), SsmKeyDirectory(PARAMETER)
        set_up_keys(vault, directory)
        signer = TokenSigner(SignerKeys(vault, 60).current, "aicore", "aicore-game")
        token = signer.issue(Caller(subject="p", world_id="demo")).token
        handler = Lambdas().module(TOPOLOGY.authorizer).handler
        context = LambdaContext("authorizer", 256, 5)

        def verifier() -> TokenVerifier:
            return TokenVerifier(JwksCache(lambda: directory.load().keys), "aicore", "aicore-game")

        warm = verifier()
        handler(_connect_event(token), context, verifier=warm)
        cached, cold = [], []
        for _ in range(args.connects):
            started = time.perf_counter()
            handler(_connect_event(token), context, verifier=warm)
            cached.append(time.perf_counter() - started)
        for _ in range(max(50, args.connects // 20)):
            fresh = verifier()
            started = time.perf_counter()
            handler(_connect_event(token), context, verifier=fresh)
            cold.append(time.perf_counter() - started)
        started = time.perf_counter()
        for _ in range(200):
            signer.issue(Caller(subject="p", world_id="demo"))
        sign_ms = (time.perf_counter() - started) / 200 * 1000
    report = {
        "machine": machine(),
        "connect_with_keys_cached": _ms(cached),
        "connect_with_keys_cold_moto_ssm": _ms(cold),
        "issue_access_token_ms": round(sign_ms, 3),
    }
    print(f"authorizer per connect, keys cached: {report['connect_with_keys_cached']}")
    print(
        f"authorizer per connect, keys cold (one SSM read, moto): {report['connect_with_keys_cold_moto_ssm']}"
    )
    print(f"signing one access token: {report['issue_access_token_ms']} ms")
    write_report("authorizer", report)


if __name__ == "__main__":
    main()
