"""The Standard Webhooks scheme: what a receiver must accept and refuse."""

from __future__ import annotations

import base64
import json

import pytest

from app.connectors.signatures import SignatureError, secret_key, sign, verify

OLD = "whsec_" + base64.b64encode(b"old-secret-of-32-bytes-for-hmac!").decode()
NEW = "whsec_" + base64.b64encode(b"new-secret-of-32-bytes-for-hmac!").decode()
NOW = 1_790_000_000
BODY = b'{"type":"chat","data":{"text":"hi <b>there</b>","user":"ana"}}'


def test_a_valid_delivery_verifies() -> None:
    headers = sign([NEW], "msg_1", NOW, BODY)
    delivery = verify([NEW], headers, BODY, now=NOW + 3)
    assert (delivery.msg_id, delivery.timestamp) == ("msg_1", NOW)


def test_the_signature_matches_the_published_scheme() -> None:
    # base64(HMAC-SHA256(key, "id.timestamp.body")), computed independently here.
    import hashlib
    import hmac

    key = secret_key(NEW)
    mac = hmac.new(key, b"msg_1.%d." % NOW + BODY, hashlib.sha256).digest()
    assert sign([NEW], "msg_1", NOW, BODY)["webhook-signature"] == (
        "v1," + base64.b64encode(mac).decode()
    )


def test_a_tampered_body_is_refused() -> None:
    headers = sign([NEW], "msg_1", NOW, BODY)
    with pytest.raises(SignatureError, match="no signature matches"):
        verify([NEW], headers, BODY.replace(b"ana", b"eve"), now=NOW)


def test_re_serialised_json_is_refused() -> None:
    headers = sign([NEW], "msg_1", NOW, BODY)
    same_data = json.dumps(json.loads(BODY)).encode()  # spaces after separators
    assert same_data != BODY
    with pytest.raises(SignatureError):
        verify([NEW], headers, same_data, now=NOW)


@pytest.mark.parametrize("offset", [-301, 301])
def test_timestamps_outside_five_minutes_are_refused(offset: int) -> None:
    headers = sign([NEW], "msg_1", NOW, BODY)
    with pytest.raises(SignatureError, match="tolerance"):
        verify([NEW], headers, BODY, now=NOW - offset)
    verify([NEW], headers, BODY, now=NOW - (offset - (1 if offset > 0 else -1)))  # 300 s: ok


def test_rotation_either_side_may_hold_two_secrets() -> None:
    # The sender signs with both while rotating; we still hold only the old one...
    both = sign([OLD, NEW], "msg_1", NOW, BODY)
    assert len(both["webhook-signature"].split()) == 2
    verify([OLD], both, BODY, now=NOW)
    # ...or the sender moved on to the new one and we hold both.
    verify([OLD, NEW], sign([NEW], "msg_2", NOW, BODY), BODY, now=NOW)
    with pytest.raises(SignatureError):
        verify([OLD], sign([NEW], "msg_3", NOW, BODY), BODY, now=NOW)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"webhook-id": ""}, "missing"),
        ({"webhook-timestamp": "yesterday"}, "Unix seconds"),
        ({"webhook-signature": "v2,abc"}, "no v1 signature"),
    ],
)
def test_malformed_headers_say_what_is_wrong(change: dict[str, str], reason: str) -> None:
    headers = sign([NEW], "msg_1", NOW, BODY) | change
    with pytest.raises(SignatureError, match=reason):
        verify([NEW], headers, BODY, now=NOW)


def test_the_id_and_time_are_part_of_what_is_signed() -> None:
    headers = sign([NEW], "msg_1", NOW, BODY)
    with pytest.raises(SignatureError):
        verify([NEW], headers | {"webhook-id": "msg_2"}, BODY, now=NOW)
    with pytest.raises(SignatureError):
        verify([NEW], headers | {"webhook-timestamp": str(NOW + 1)}, BODY, now=NOW)


def test_a_secret_that_is_not_base64_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="base64"):
        secret_key("whsec_not base64!")
