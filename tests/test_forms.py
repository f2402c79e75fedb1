"""The form files: the four official forms load, and broken forms are refused at start-up with a clear message."""

from __future__ import annotations

import shutil
import unicodedata
from pathlib import Path

import pytest
import yaml

from survey_forms.catalog import BUILTIN_FORMS_DIR, PUBLISHED_FILE, Catalog, FormError, file_digest
from survey_forms.schema import Form

OFFICIAL_LEVELS = ["Rất không hài lòng", "Không hài lòng", "Bình thường", "Hài lòng", "Rất hài lòng"]
SIPAS_2022_ITEMS = [
    "TC1", "TC2", "TC3", "TC4", "TT1", "TT2", "TT3", "TT4", "CC1", "CC2", "CC3", "CC4", "CC5",
    "KQ1", "KQ2", "KQ3", "PA1", "PA2", "PA3",
]  # fmt: skip


def test_catalog_has_the_four_forms(catalog: Catalog) -> None:
    assert catalog.ids() == ["danh-gia-ho-so", "sipas-2017", "sipas-2022", "sipas-nhanh"]


def test_sipas_2022_has_the_19_service_items_then_priorities_profile_and_comment(catalog: Catalog) -> None:
    form = catalog.get("sipas-2022")
    codes = [q.code for q in form.questions]
    assert [q.code for q in form.rating_questions()] == SIPAS_2022_ITEMS
    assert codes[:19] == SIPAS_2022_ITEMS
    assert codes[19:27] == [f"UT{i}" for i in range(1, 9)]
    assert [q.part for q in form.questions[27:32]] == ["profile"] * 5
    assert codes[-1] == "YK"
    assert form.question("YK").type == "text"
    assert form.question("CC1").text.vi == "Công chức có thái độ giao tiếp lịch sự, tôn trọng đối với người dân."
    assert form.question("KQ1").text.vi == "Kết quả giải quyết thủ tục hành chính cho người dân được trả đúng hẹn."
    assert [f.code for f in form.factors] == ["TC", "TT", "CC", "KQ", "PA"]
    assert form.factor_of("TC") is not None
    assert form.factor_of("TC").name.vi == "I. Tiếp cận dịch vụ"  # type: ignore[union-attr]


PRIORITY_LEAD_IN = (
    "Xin Ông/Bà cho biết mức độ Ông/Bà mong muốn cơ quan nhà nước tập trung ưu tiên nguồn lực để cải thiện "
    "chất lượng các vấn đề dưới đây?"
)
PRIORITY_ITEMS = [
    "Nâng cao hơn nữa chất lượng cung cấp thông tin cho người dân",
    "Nâng cao hơn nữa chất lượng trụ sở, trang thiết bị phục vụ giải quyết công việc cho người dân",
    "Nâng cao hơn nữa năng lực của cán bộ, công chức, viên chức trong giải quyết công việc cho người dân",
    "Nâng cao hơn nữa thái độ phục vụ của cán bộ, công chức, viên chức đối với người dân",
    "Tăng cường ứng dụng công nghệ thông tin, chuyển đổi số trong giải quyết công việc cho người dân",
    "Nâng cao hơn nữa sự quan tâm của cơ quan nhà nước đối với nhu cầu, mong đợi của người dân",
    "Nâng cao hơn nữa chất lượng tiếp nhận, giải quyết ý kiến góp ý, phản ánh, kiến nghị của người dân",
    "Nâng cao hơn nữa chất lượng dịch vụ hành chính công (việc giải quyết thủ tục hành chính)",
]
SIPAS_2017_FACTORS = {
    "TC": "I. Tiếp cận dịch vụ hành chính công",
    "TT": "II. Thủ tục hành chính",
    "CC": "III. Công chức trực tiếp giải quyết công việc",
    "KQ": "IV. Kết quả cung ứng dịch vụ hành chính công",
    "PA": "V. Tiếp nhận, giải quyết góp ý, phản ánh, kiến nghị",
}


def test_the_current_sipas_2022_asks_the_priority_items_under_the_official_lead_in(catalog: Catalog) -> None:
    form, published = catalog.get("sipas-2022"), catalog.get("sipas-2022", 1)
    # versions 1 and 2 are published and never change: their answers keep their version (3 adds short labels)
    assert form.version == 3
    assert form.lead_ins["priorities"].vi == PRIORITY_LEAD_IN
    assert [form.question(f"UT{i}").text.vi for i in range(1, 9)] == PRIORITY_ITEMS
    assert [q.code for q in form.questions] == [q.code for q in published.questions]
    assert [q.model_copy(update={"short": None}) for q in form.rating_questions()] == list(published.rating_questions())
    assert form.factors == published.factors
    assert "Mức độ mong muốn ưu tiên cải thiện:" in published.question("UT2").text.vi


def test_sipas_2017_names_its_factors_as_the_2017_form_does(catalog: Catalog) -> None:
    form = catalog.get("sipas-2017")
    assert {f.code: f.name.vi for f in form.factors} == SIPAS_2017_FACTORS
    assert form.version == 3  # version 3 adds the criteria's short labels to version 2
    assert [q.code for q in form.questions] == [q.code for q in catalog.get("sipas-2017", 1).questions]
    assert [q.text for q in form.questions] == [q.text for q in catalog.get("sipas-2017", 1).questions]


def test_a_lead_in_for_a_part_the_form_does_not_have_is_refused(tmp_path: Path) -> None:
    raw = _minimal()
    raw["lead_ins"] = {"priorities": {"vi": "Xin Ông/Bà cho biết"}}
    with pytest.raises(FormError, match=r"lead_ins: no question of the form is in part 'priorities'"):
        Catalog.load(_write(tmp_path, raw))


def test_rating_questions_offer_the_official_five_levels_in_order(catalog: Catalog) -> None:
    for form_id in ("sipas-2022", "sipas-2017", "sipas-nhanh"):
        form = catalog.get(form_id)
        for question in form.rating_questions():
            options = form.options_of(question)
            assert [o.label.vi for o in options] == OFFICIAL_LEVELS
            assert [o.value for o in options] == ["1", "2", "3", "4", "5"]


def test_priority_items_count_very_much_and_much_as_top(catalog: Catalog) -> None:
    form = catalog.get("sipas-2022")
    question = form.question("UT5")
    assert question.priority
    assert [(o.label.vi, o.top) for o in form.options_of(question)] == [
        ("Rất nhiều", True),
        ("Nhiều", True),
        ("Ít", False),
    ]


def test_sipas_2017_has_22_criteria_in_five_factors(catalog: Catalog) -> None:
    form = catalog.get("sipas-2017")
    by_factor: dict[str | None, int] = {}
    for question in form.rating_questions():
        by_factor[question.factor] = by_factor.get(question.factor, 0) + 1
    assert by_factor == {"TC": 4, "TT": 5, "CC": 6, "KQ": 3, "PA": 4}


def test_short_forms(catalog: Catalog) -> None:
    quick = catalog.get("sipas-nhanh")
    assert len(quick.rating_questions()) == 6
    assert quick.question("CHUNG").text.vi == "Nhìn chung, Ông/Bà hài lòng với việc giải quyết hồ sơ này ở mức nào?"
    dossier = catalog.get("danh-gia-ho-so")
    rating = dossier.question("HL")
    assert not rating.skippable
    assert [(o.value, o.label.vi) for o in dossier.options_of(rating)] == [
        ("2", "Không hài lòng"),
        ("4", "Hài lòng"),
        ("5", "Rất hài lòng"),
    ]
    assert dossier.question("LYDO").show_if is not None
    assert dossier.scoring.overall == "HL"


def test_every_text_is_nfc_with_vietnamese_and_english(catalog: Catalog) -> None:
    for form_id in catalog.ids():
        form = catalog.get(form_id)
        for question in form.questions:
            assert unicodedata.is_normalized("NFC", question.text.vi)
            assert question.text.en, f"{form_id} {question.code} has no English text"
            for option in form.options_of(question):
                assert option.label.en


def test_published_forms_are_recorded_and_unchanged() -> None:
    published = (BUILTIN_FORMS_DIR / PUBLISHED_FILE).read_text(encoding="utf-8")
    for path in BUILTIN_FORMS_DIR.glob("*.yaml"):
        assert f"{path.name} {file_digest(path)}" in published, f"{path.name} is not recorded as published"


# --- broken forms are refused, naming the file and the problem


def _minimal() -> dict[str, object]:
    return yaml.safe_load((BUILTIN_FORMS_DIR / "sipas-nhanh.v1.yaml").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _write(tmp_path: Path, raw: dict[str, object], name: str = "thu-nghiem.v1.yaml") -> Path:
    raw = {**raw, "id": "thu-nghiem", "version": 1}
    (tmp_path / name).write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return tmp_path


def _questions(raw: dict[str, object]) -> list[dict[str, object]]:
    questions = raw["questions"]
    assert isinstance(questions, list)
    return questions


def test_a_duplicate_question_code_is_refused(tmp_path: Path) -> None:
    raw = _minimal()
    _questions(raw)[1]["code"] = _questions(raw)[0]["code"]
    with pytest.raises(FormError, match=r"thu-nghiem\.v1\.yaml.*question NTC: duplicate code"):
        Catalog.load(_write(tmp_path, raw))


def test_a_show_if_pointing_forward_is_refused(tmp_path: Path) -> None:
    raw = _minimal()
    _questions(raw)[0]["show_if"] = {"question": "CHUNG", "in": ["1"]}
    with pytest.raises(FormError, match=r"thu-nghiem\.v1\.yaml.*question NTC: show_if points forward to CHUNG"):
        Catalog.load(_write(tmp_path, raw))


def test_a_missing_vietnamese_text_is_refused(tmp_path: Path) -> None:
    raw = _minimal()
    _questions(raw)[2]["text"] = {"en": "Only English"}
    with pytest.raises(FormError, match=r"thu-nghiem\.v1\.yaml: question NCC: text\.vi: missing"):
        Catalog.load(_write(tmp_path, raw))


def test_an_empty_vietnamese_text_is_refused(tmp_path: Path) -> None:
    raw = _minimal()
    _questions(raw)[2]["text"] = {"vi": "   ", "en": "Blank"}
    with pytest.raises(FormError, match=r"question NCC: text\.vi: must not be empty"):
        Catalog.load(_write(tmp_path, raw))


def test_an_empty_option_list_is_refused(tmp_path: Path) -> None:
    raw = _minimal()
    _questions(raw).insert(0, {"code": "GT", "type": "choice", "part": "profile", "text": {"vi": "Giới tính?"}})
    with pytest.raises(FormError, match=r"thu-nghiem\.v1\.yaml.*question GT: empty option list"):
        Catalog.load(_write(tmp_path, raw))


def test_an_unknown_factor_is_refused(tmp_path: Path) -> None:
    raw = _minimal()
    _questions(raw)[0]["factor"] = "XX"
    with pytest.raises(FormError, match=r"question NTC: unknown factor 'XX'"):
        Catalog.load(_write(tmp_path, raw))


def test_a_file_named_after_another_version_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FormError, match=r"must be named thu-nghiem\.v1\.yaml"):
        Catalog.load(_write(tmp_path, _minimal(), name="thu-nghiem.v2.yaml"))


def test_yaml_that_does_not_parse_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "hong.v1.yaml").write_text("id: [unclosed", encoding="utf-8")
    with pytest.raises(FormError, match=r"hong\.v1\.yaml: cannot read"):
        Catalog.load(tmp_path)


def test_a_changed_published_form_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "forms"
    directory.mkdir()
    _write(directory, _minimal())
    path = directory / "thu-nghiem.v1.yaml"
    (directory / PUBLISHED_FILE).write_text(f"{path.name} {file_digest(path)}\n", encoding="utf-8")
    Catalog.load(directory)
    path.write_text(path.read_text(encoding="utf-8").replace("Nhìn chung", "Nói chung"), encoding="utf-8")
    with pytest.raises(FormError, match=r"is published and must not change; publish version 2"):
        Catalog.load(directory)


def test_a_new_version_sits_beside_the_old_one(tmp_path: Path, catalog: Catalog) -> None:
    directory = tmp_path / "forms"
    directory.mkdir()
    raw = yaml.safe_load((BUILTIN_FORMS_DIR / "sipas-nhanh.v1.yaml").read_text(encoding="utf-8"))
    raw["version"] = 3
    (directory / "sipas-nhanh.v3.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    loaded = Catalog.load(directory)
    assert loaded.get("sipas-nhanh").version == 3
    assert loaded.get("sipas-nhanh", 1) == catalog.get("sipas-nhanh", 1)


def test_forms_are_immutable_values(catalog: Catalog) -> None:
    form = catalog.get("sipas-2022")
    assert isinstance(form, Form)
    with pytest.raises(Exception, match="frozen"):
        form.version = 2


def test_the_builtin_directory_is_copied_intact(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(BUILTIN_FORMS_DIR, copy)
    with pytest.raises(FormError, match="defined twice"):
        Catalog.load(copy)


# --- short labels of the criteria (how digests, reports and workbooks name a criterion)


def test_every_criterion_of_the_current_forms_has_a_short_label_written_whole(catalog: Catalog) -> None:
    for form_id in catalog.ids():
        form = catalog.get(form_id)
        labels = set()
        for question in form.rating_questions():
            short = question.short
            assert short is not None, f"{form_id} {question.code} has no short label"
            assert short.en, f"{form_id} {question.code} has no English short label"
            for text in (short.vi, short.en):
                assert 0 < len(text) <= 40, text
                assert not text.endswith(("…", "...", ".")), text
                assert unicodedata.is_normalized("NFC", text)
            # written for the criterion, not its statement cut short
            assert not question.text.vi.startswith(short.vi), (form_id, question.code)
            labels.add(short.vi)
        assert len(labels) == len(form.rating_questions())  # no two criteria of a form alike
    assert catalog.get("sipas-2022").short_label("KQ1") == "Trả kết quả đúng hẹn"
    assert catalog.get("sipas-2022").short_label("KQ1", "en") == "Result on the appointed date"
    assert catalog.get("sipas-2022").short_label("YK") is None  # a comment is no criterion


def _with_shorts() -> dict[str, object]:
    return yaml.safe_load((BUILTIN_FORMS_DIR / "sipas-nhanh.v2.yaml").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"short": {"vi": "Tiếp cận dịch vụ"}}, r"question NTC: short\.en: missing"),
        ({"short": {"vi": "Việc tiếp cận dịch vụ: thông tin, trụ sở và trang thiết bị", "en": "Access"}},
         r"question NTC: short\.vi: 58 characters, at most 40"),
        ({"short": {"vi": "Tiếp cận dịch…", "en": "Access"}}, r"question NTC: short\.vi: write the label whole"),
        ({"short": {"vi": "Thủ tục hành chính", "en": "Access"}}, r"question NTT: short: the same as NTC's"),
        ({"short": None}, r"every rated criterion needs a short label once one has; missing for \['NTC'\]"),
    ],
)  # fmt: skip
def test_a_bad_short_label_is_refused(tmp_path: Path, change: dict[str, object], problem: str) -> None:
    raw = _with_shorts()
    question = _questions(raw)[0]
    assert question["code"] == "NTC"
    question.update(change)
    if question["short"] is None:
        del question["short"]
    with pytest.raises(FormError, match=problem):
        Catalog.load(_write(tmp_path, raw))


def test_a_short_label_belongs_to_a_criterion_only(tmp_path: Path) -> None:
    raw = _with_shorts()
    comment = next(q for q in _questions(raw) if q["code"] == "YK")
    comment["short"] = {"vi": "Ý kiến", "en": "Comments"}
    with pytest.raises(FormError, match=r"question YK: short: only a rated criterion has a short label"):
        Catalog.load(_write(tmp_path, raw))
