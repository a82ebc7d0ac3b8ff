"""Blob keys can never point outside their tenant's namespace."""

import uuid

import pytest

from ragbus.stores.blobs import blob_key, safe_filename, validate_key

pytestmark = pytest.mark.unit

DOC = uuid.UUID("12345678-1234-5678-1234-567812345678")


def test_blob_key_layout():
    assert blob_key("acme", DOC, "Report 2024.pdf") == f"acme/{DOC}/Report_2024.pdf"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("/abs/path.txt", "path.txt"),
        ("a\x00b.md", "ab.md"),
        ("..", "file"),
        (".hidden", "hidden"),
        ("", "file"),
        ("dir/", "file"),
        ("résumé (final).docx", "r_sum_final_.docx"),
    ],
)
def test_filenames_are_neutralised(filename, expected):
    assert safe_filename(filename) == expected
    validate_key(blob_key("t", DOC, filename))


def test_long_filenames_keep_their_extension():
    name = safe_filename("x" * 500 + ".pdf")
    assert len(name) == 200 and name.endswith(".pdf")


@pytest.mark.parametrize("tenant", ["", ".", "..", "a/b", "a\\b", "a\x00b", "a\nb"])
def test_unsafe_tenants_are_rejected(tenant):
    with pytest.raises(ValueError):
        blob_key(tenant, DOC, "a.pdf")


@pytest.mark.parametrize(
    "key",
    ["", "/abs", "a//b", "a/./b", "a/../b", "../a", "a/..", "a\\b", "a\x00b", "a/b/", "x" * 2000],
)
def test_unsafe_keys_are_rejected(key):
    with pytest.raises(ValueError):
        validate_key(key)


def test_safe_keys_pass():
    assert validate_key("t/doc/file.v1.tar.gz") == "t/doc/file.v1.tar.gz"
    assert validate_key("t/..a/b..") == "t/..a/b.."
