"""Vietnamese alphabetical order: what a list of fields or procedures looks like to an official."""

from handlers.collation import sorted_vietnamese


def test_letters_first_over_the_whole_name_then_tones() -> None:
    fields = ["Đất đai", "Chứng thực", "Dân tộc", "Cấp giấy phép", "Hộ tịch", "Bảo trợ xã hội", "Y tế", "Ắn"]
    assert sorted_vietnamese(fields) == [
        "Ắn",
        "Bảo trợ xã hội",
        "Cấp giấy phép",
        "Chứng thực",
        "Dân tộc",
        "Đất đai",
        "Hộ tịch",
        "Y tế",
    ]


def test_tones_in_dictionary_order_and_the_letter_shapes() -> None:
    assert sorted_vietnamese(["má", "mạ", "mà", "ma", "mã", "mả"]) == ["ma", "mà", "mả", "mã", "má", "mạ"]
    assert sorted_vietnamese(["ơ", "ô", "o", "ư", "u", "â", "ă", "a", "đ", "d", "ê", "e"]) == [
        "a", "ă", "â", "d", "đ", "e", "ê", "o", "ô", "ơ", "u", "ư",
    ]  # fmt: skip


def test_decomposed_text_sorts_as_composed_and_case_is_last() -> None:
    decomposed = "Đa\u0301t"  # "Đát" typed with a combining accent
    assert sorted_vietnamese(["Dz", decomposed, "Đa"]) == ["Dz", "Đa", decomposed]
    assert sorted_vietnamese(["Hộ", "hộ"]) == ["hộ", "Hộ"]
    assert sorted_vietnamese([("P2", "Phường 2"), ("P1", "Phường 10")], key=lambda unit: unit[1]) == [
        ("P1", "Phường 10"),
        ("P2", "Phường 2"),
    ]
