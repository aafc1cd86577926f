"""JetStream errors: err_code mapping, messages, check_response on every kind of reply."""

from __future__ import annotations

import pytest

from nats_core import Headers, Msg
from nats_core.errors import LocalProtocolError, NatsError
from nats_core.jetstream import (
    APIError,
    BadRequestError,
    ConsumerAlreadyExistsError,
    ConsumerDoesNotExistError,
    ConsumerNameExistsError,
    ConsumerNotFoundError,
    ExpectedStreamMismatchError,
    InvalidMsgTTLError,
    InvalidNameError,
    InvalidOptionError,
    InvalidResponseError,
    JetStreamError,
    JetStreamNotEnabledError,
    JetStreamNotEnabledForAccountError,
    MaximumConsumersLimitError,
    MessageSizeExceedsMaximumError,
    MsgNotFoundError,
    MsgTTLDisabledError,
    NoStreamResponseError,
    StreamNameInUseError,
    StreamNotFoundError,
    StreamStoreFailedError,
    WrongLastMsgIdError,
    WrongLastSequenceError,
    api_error,
    api_error_from_json,
    check_response,
)


@pytest.mark.parametrize(
    ("err_code", "cls"),
    [
        (10003, BadRequestError),
        (10013, ConsumerNameExistsError),
        (10014, ConsumerNotFoundError),
        (10026, MaximumConsumersLimitError),
        (10037, MsgNotFoundError),
        (10039, JetStreamNotEnabledForAccountError),
        (10054, MessageSizeExceedsMaximumError),
        (10058, StreamNameInUseError),
        (10059, StreamNotFoundError),
        (10060, ExpectedStreamMismatchError),
        (10070, WrongLastMsgIdError),
        (10071, WrongLastSequenceError),
        (10164, WrongLastSequenceError),
        (10076, JetStreamNotEnabledError),
        (10077, StreamStoreFailedError),
        (10148, ConsumerAlreadyExistsError),
        (10149, ConsumerDoesNotExistError),
        (10165, InvalidMsgTTLError),
        (10166, MsgTTLDisabledError),
        (99999, APIError),
        (0, APIError),
    ],
)
def test_api_error_by_err_code(err_code: int, cls: type[APIError]) -> None:
    err = api_error(400, err_code, "some text")
    assert type(err) is cls
    assert isinstance(err, APIError) and isinstance(err, JetStreamError)
    assert isinstance(err, NatsError)
    assert (err.code, err.err_code, err.description) == (400, err_code, "some text")


def test_api_error_message_and_repr() -> None:
    err = api_error(404, 10059, "stream not found")
    assert str(err) == "stream not found (code=404, err_code=10059)"
    assert (
        repr(err) == "StreamNotFoundError(code=404, err_code=10059, description='stream not found')"
    )
    assert "jetstream api error" in str(APIError())


def test_not_enabled_for_account_is_a_not_enabled_error() -> None:
    assert issubclass(JetStreamNotEnabledForAccountError, JetStreamNotEnabledError)


def test_api_error_from_json_tolerates_junk() -> None:
    err = api_error_from_json({"code": "503", "err_code": 10039, "description": 5})
    assert type(err) is JetStreamNotEnabledForAccountError
    assert (err.code, err.description) == (503, "")
    junk = api_error_from_json("boom")
    assert type(junk) is APIError and "boom" in str(junk)
    assert api_error_from_json({}).err_code == 0


def test_local_errors_are_value_errors() -> None:
    for cls in (InvalidNameError, InvalidOptionError):
        assert issubclass(cls, ValueError)
        assert issubclass(cls, LocalProtocolError)
        assert issubclass(cls, JetStreamError)


def test_no_stream_response_error_message() -> None:
    err = NoStreamResponseError("orders.new")
    assert err.subject == "orders.new"
    assert "orders.new" in str(err) and "stream" in str(err)


# ------------------------------------------------------------- check_response


def reply(data: bytes, headers: Headers | None = None) -> Msg:
    return Msg("_INBOX.x.1", "", data, headers, 1)


def test_check_response_ok() -> None:
    body = b'{"type":"io.nats.jetstream.api.v1.stream_delete_response","success":true}'
    assert check_response(reply(body)) == {
        "type": "io.nats.jetstream.api.v1.stream_delete_response",
        "success": True,
    }
    assert check_response(body)["success"] is True  # bytes work too


def test_check_response_raises_typed_api_error() -> None:
    body = (
        b'{"type":"io.nats.jetstream.api.v1.stream_info_response","error":'
        b'{"code":404,"err_code":10059,"description":"stream not found"},'
        b'"total":0,"offset":0,"limit":0}'
    )
    with pytest.raises(StreamNotFoundError) as info:
        check_response(reply(body))
    assert info.value.code == 404 and info.value.err_code == 10059


def test_check_response_no_responders_means_jetstream_not_enabled() -> None:
    msg = reply(b"", Headers({"Nats-Subject": "$JS.API.INFO"}, status=503))
    with pytest.raises(JetStreamNotEnabledError) as info:
        check_response(msg, subject="$JS.API.INFO")
    err = info.value
    assert (err.code, err.err_code) == (503, 10076)
    assert "$JS.API.INFO" in str(err) and "not enabled" in str(err)


def test_check_response_other_status() -> None:
    msg = reply(b"", Headers(status=408, description="Request Timeout"))
    with pytest.raises(APIError) as info:
        check_response(msg)
    assert info.value.code == 408 and info.value.description == "Request Timeout"


@pytest.mark.parametrize("body", [b"", b"{not json", b"\xff\xfe", b"[1, 2]", b'"text"', b"null"])
def test_check_response_invalid(body: bytes) -> None:
    with pytest.raises(InvalidResponseError):
        check_response(reply(body))


def test_check_response_error_null_is_success() -> None:
    assert check_response(b'{"error": null, "success": true}')["success"] is True
