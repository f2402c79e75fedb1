"""`sipasbot apikey create|list` as an operator types them: a key is bound to units, listed without its text."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def cli(cli: Any) -> Any:
    """``sipasbot …`` in this process on a database holding a province TINH and its wards P8 and P9."""
    run = cli
    for code, name, parent in (("TINH", "Tỉnh Mẫu", None), ("P8", "Phường 8", "TINH"), ("P9", "Phường 9", "TINH")):
        assert run("units", "add", code, name, *(["--parent", parent] if parent else []))[0] == 0
    return run


def test_a_key_is_made_for_its_units_and_listed_without_its_text(cli: Any) -> None:
    status, key, note = cli(
        "apikey", "create", "mot-cua", "--scopes", "dossiers:write,reports:read", "--units", "P9,P8"
    )
    assert status == 0, note
    key = key.strip()
    assert key.startswith("sipas_")
    assert "Đơn vị: P8, P9" in note
    status, province, _ = cli("apikey", "create", "tinh", "--scopes", "reports:read", "--units", "all")
    assert status == 0
    status, listing, _ = cli("apikey", "list")
    assert status == 0
    lines = listing.splitlines()
    assert lines[0].split("\t") == ["Tên", "Tiền tố", "Quyền", "Đơn vị", "Ngày tạo", "Dùng lần cuối", "Thu hồi"]
    rows = {line.split("\t")[0]: line.split("\t") for line in lines[1:]}
    prefix = key.split("_")[1]
    assert rows["mot-cua"][1:4] == [prefix, "dossiers:write,reports:read", "P8,P9"]
    assert rows["mot-cua"][5:] == ["chưa dùng", "còn hiệu lực"]
    assert rows["tinh"][3] == "tất cả đơn vị"
    assert key not in listing
    assert province.strip() not in listing
    assert key.split("_", 2)[2] not in listing

    assert cli("apikey", "revoke", "mot-cua")[0] == 0
    revoked = {line.split("\t")[0]: line.split("\t") for line in cli("apikey", "list")[1].splitlines()[1:]}
    assert revoked["mot-cua"][6] != "còn hiệu lực"


@pytest.mark.parametrize(
    ("units", "says"),
    [
        (None, "sipasbot: lỗi: Khóa API phải gắn với đơn vị: thêm --units P8,P9"),
        ("", "sipasbot: lỗi: Khóa API phải gắn với đơn vị"),
        (" , ", "sipasbot: lỗi: Khóa API phải gắn với đơn vị"),
        ("P8,P99,XX", "sipasbot: lỗi: không có đơn vị: P99, XX"),
        ("all,P8", "sipasbot: lỗi: --units all đã gồm mọi đơn vị"),
    ],
)
def test_a_key_without_units_or_with_unknown_ones_is_refused_in_one_line(
    cli: Any, units: str | None, says: str
) -> None:
    args = ["apikey", "create", "mot-cua", "--scopes", "dossiers:write"]
    status, out, err = cli(*args, *(["--units", units] if units is not None else []))
    assert status == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(says), err
    status, listing, _ = cli("apikey", "list")
    assert listing.startswith("Chưa có khóa API nào")  # nothing was made
