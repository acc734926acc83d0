import jwt
import pytest

from aicore.auth import Caller, Role, bearer_token
from aicore.errors import Forbidden, Unauthorized
from aicore.tokens import TokenIssuer

ISSUER = TokenIssuer("k" * 32, "aicore", "aicore-game")
ALICE = Caller(subject="alice", world_id="demo")


def test_issued_token_verifies_to_the_same_caller() -> None:
    assert ISSUER.verify(ISSUER.issue(ALICE)) == ALICE


@pytest.mark.parametrize(
    "token",
    [
        None,
        "",
        "garbage",
        TokenIssuer("other-key" * 4, "aicore", "aicore-game").issue(ALICE),
        TokenIssuer("k" * 32, "someone-else", "aicore-game").issue(ALICE),
        TokenIssuer("k" * 32, "aicore", "another-game").issue(ALICE),
    ],
)
def test_bad_tokens_are_unauthorized(token: str | None) -> None:
    with pytest.raises(Unauthorized):
        ISSUER.verify(token)


def test_expired_token_says_so() -> None:
    with pytest.raises(Unauthorized, match="expired"):
        ISSUER.verify(ISSUER.issue(ALICE, ttl_s=-10))


def test_unsigned_token_is_refused() -> None:
    token = jwt.encode({"sub": "a", "world": "demo", "exp": 9999999999}, key="", algorithm="none")
    with pytest.raises(Unauthorized):
        ISSUER.verify(token)


def test_authorizer_context_round_trip() -> None:
    studio = Caller(subject="s", world_id="demo", roles=(Role.STUDIO, Role.PLAYER))
    assert Caller.from_context(studio.as_context()) == studio
    with pytest.raises(Unauthorized):
        Caller.from_context({})


def test_world_scope() -> None:
    ALICE.require_world("demo")
    with pytest.raises(Forbidden):
        ALICE.require_world("other")
    Caller(subject="root", world_id="demo", roles=(Role.ADMIN,)).require_world("other")


def test_bearer_token() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token(None) is None
