"""Access tokens and the login check, specified by which tokens and credentials are accepted.

The clock is injected, so expiry is tested by moving it, never by sleeping.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from server.api.tokens import Credentials, TokenSigner
from server.domain.errors import Unauthenticated
from testkit.clock import ManualClock

SECRET = "a-token-secret-of-32-characters!"
TTL_SECONDS = 3600
START = 1_700_000_000.0


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def payload_of(token: str) -> dict[str, object]:
    body = token.split(".")[0]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return decoded


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(at(START))


@pytest.fixture
def signer(clock: ManualClock) -> TokenSigner:
    return TokenSigner(SECRET, TTL_SECONDS, clock=clock)


# --- issue and verify ----------------------------------------------------------------------------


def test_a_token_that_was_issued_verifies_to_its_user(signer: TokenSigner) -> None:
    assert signer.verify(signer.issue("root")) == "root"


def test_a_token_is_accepted_with_surrounding_whitespace(signer: TokenSigner) -> None:
    assert signer.verify(f"  {signer.issue('root')}\n") == "root"


def test_a_token_issued_by_another_signer_with_the_same_secret_verifies() -> None:
    token = TokenSigner(SECRET, TTL_SECONDS).issue("root")

    assert TokenSigner(SECRET, TTL_SECONDS).verify(token) == "root"


def test_two_tokens_for_the_same_user_differ(signer: TokenSigner) -> None:
    assert signer.issue("root") != signer.issue("root")


def test_a_token_payload_holds_the_user_and_its_lifetime(signer: TokenSigner) -> None:
    payload = payload_of(signer.issue("root"))

    assert payload["sub"] == "root"
    assert payload["iat"] == int(START)
    assert payload["exp"] == int(START) + TTL_SECONDS


def test_the_password_never_appears_in_the_token(signer: TokenSigner) -> None:
    password = "the-password-123"
    Credentials("root", password).check("root", password)

    token = signer.issue("root")

    assert password not in token
    assert password not in json.dumps(payload_of(token))
    assert set(payload_of(token)) == {"sub", "iat", "exp", "jti"}


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        TokenSigner("", TTL_SECONDS)


# --- expiry --------------------------------------------------------------------------------------


def test_a_token_is_valid_until_just_before_it_expires(signer: TokenSigner, clock: ManualClock) -> None:
    token = signer.issue("root")
    clock.set(at(START + TTL_SECONDS - 0.001))

    assert signer.verify(token) == "root"


def test_an_expired_token_is_refused(signer: TokenSigner, clock: ManualClock) -> None:
    token = signer.issue("root")
    clock.set(at(START + TTL_SECONDS))

    with pytest.raises(Unauthenticated, match="expired"):
        signer.verify(token)


def test_the_ttl_is_the_signers_own(clock: ManualClock) -> None:
    short_lived = TokenSigner(SECRET, 60, clock=clock)
    token = short_lived.issue("root")
    clock.set(at(START + 61))

    with pytest.raises(Unauthenticated, match="expired"):
        short_lived.verify(token)


# --- forgeries -----------------------------------------------------------------------------------


def test_a_token_with_a_tampered_payload_is_refused(signer: TokenSigner) -> None:
    body, signature = signer.issue("root").split(".")
    payload = payload_of(body)
    payload["sub"] = "admin"
    forged_body = b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())

    with pytest.raises(Unauthenticated):
        signer.verify(f"{forged_body}.{signature}")


def test_a_token_whose_expiry_was_pushed_back_is_refused(signer: TokenSigner) -> None:
    body, signature = signer.issue("root").split(".")
    payload = payload_of(body)
    payload["exp"] = int(START) + 10 * TTL_SECONDS
    forged_body = b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())

    with pytest.raises(Unauthenticated):
        signer.verify(f"{forged_body}.{signature}")


def test_a_token_with_a_tampered_signature_is_refused(signer: TokenSigner) -> None:
    body, signature = signer.issue("root").split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]

    with pytest.raises(Unauthenticated):
        signer.verify(f"{body}.{flipped}")


def test_a_token_signed_with_a_different_secret_is_refused(clock: ManualClock, signer: TokenSigner) -> None:
    other = TokenSigner("another-secret-of-32-characters!", TTL_SECONDS, clock=clock)

    with pytest.raises(Unauthenticated):
        signer.verify(other.issue("root"))


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "   ",
        "no-dot-at-all",
        ".",
        "body.",
        ".signature",
        "a.b.c",
        "cm9vdA.cm9vdA",
        "Bearer xyz",
    ],
)
def test_garbage_strings_are_refused(signer: TokenSigner, garbage: str) -> None:
    with pytest.raises(Unauthenticated):
        signer.verify(garbage)


def test_the_password_itself_is_not_a_token(signer: TokenSigner) -> None:
    # ElasticJob-Cloud 3.0's token was a reversible encoding of the password; ours is not.
    with pytest.raises(Unauthenticated):
        signer.verify(b64(b"pwd"))


# --- credentials ---------------------------------------------------------------------------------


def test_the_configured_user_and_password_are_accepted() -> None:
    Credentials("root", "pwd").check("root", "pwd")


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("admin", "pwd"),
        ("root", "wrong"),
        ("admin", "wrong"),
        ("", ""),
        ("ROOT", "pwd"),
        ("root", "PWD"),
        ("root", "pwd "),
    ],
)
def test_a_wrong_user_or_password_is_refused(username: str, password: str) -> None:
    with pytest.raises(Unauthenticated, match="wrong username or password"):
        Credentials("root", "pwd").check(username, password)


def test_the_refusal_does_not_say_which_of_user_and_password_was_wrong() -> None:
    credentials = Credentials("root", "pwd")
    with pytest.raises(Unauthenticated) as wrong_user:
        credentials.check("admin", "pwd")
    with pytest.raises(Unauthenticated) as wrong_password:
        credentials.check("root", "nope")

    assert str(wrong_user.value) == str(wrong_password.value)


def test_credentials_accept_non_ascii_passwords() -> None:
    Credentials("root", "pässwörd-ü").check("root", "pässwörd-ü")


@pytest.mark.parametrize("expiry", ["NaN", "Infinity", "-Infinity", "1e400", "true", '"2000000000"'])
def test_a_signed_token_whose_expiry_is_not_a_finite_time_is_refused(
    signer: TokenSigner, clock: ManualClock, expiry: str
) -> None:
    # Python's json reads NaN and Infinity (and 1e400 as infinity); comparisons with NaN are all
    # false, so such a token would never expire. Only someone holding the secret can sign one.
    body = b64(f'{{"exp":{expiry},"iat":1,"jti":"x","sub":"root"}}'.encode())
    key = hashlib.sha256(b"elasticjob-cloud-token:" + SECRET.encode()).digest()
    token = f"{body}.{b64(hmac.new(key, body.encode(), hashlib.sha256).digest())}"
    clock.advance(10 * 365 * 86400)
    with pytest.raises(Unauthenticated, match="malformed"):
        signer.verify(token)
