"""Every string of every request body is capped, nested free-form values included."""

import pytest
from pydantic import ValidationError

from gateway.conversations import ConversationBody
from gateway.queries import QueryBody
from gateway.request_checks import MAX_TEXT_CHARS, check_clean, long_text_path
from gateway.upload_checks import TextUpload

pytestmark = pytest.mark.unit

LONG = "x" * (MAX_TEXT_CHARS + 1)


def test_long_text_path_names_values_and_keys() -> None:
    assert long_text_path({"a": [{"b": "ok"}, {"c": LONG}]}) == "a[1].c"
    assert long_text_path({"a": {LONG: 1}}) == f"a.{'x' * 32}..."
    assert long_text_path({"a": "x" * MAX_TEXT_CHARS}) is None


def test_a_nested_filter_value_is_capped_like_any_field() -> None:
    with pytest.raises(ValidationError, match=rf"filters\.metadata\.k is over {MAX_TEXT_CHARS}"):
        QueryBody.model_validate({"question": "q", "filters": {"metadata": {"k": LONG}}})
    QueryBody.model_validate({"question": "q", "filters": {"metadata": {"k": "v"}}})


def test_upload_metadata_is_capped_and_the_text_itself_is_not() -> None:
    with pytest.raises(ValidationError, match=r"metadata\.note is over"):
        TextUpload.model_validate({"filename": "a.md", "text": "t", "metadata": {"note": LONG}})
    assert TextUpload.model_validate({"filename": "a.md", "text": LONG}).text == LONG
    with pytest.raises(ValueError, match="metadata: deep\\[0\\] is over"):
        check_clean({"deep": [LONG]}, "metadata")


def test_fields_with_their_own_cap_keep_it() -> None:
    with pytest.raises(ValidationError, match="at most 500 characters"):
        ConversationBody.model_validate({"title": "t" * 501})
