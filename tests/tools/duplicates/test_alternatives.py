"""Alternatives ranking on the import's real analysis of made-up photos: moment, place, orientation, exclusions."""

from __future__ import annotations

import hashlib

import pytest

from tests.tools.duplicates.photos import encode, original, scene
from tests.tools.imports.helpers import exif_with
from tools.duplicates.alternatives import Library, suggest_alternatives
from tools.duplicates.features import PhotoFeatures, from_analysis
from tools.imports.analysis import analyse_photo


def _feature(name: str, data: bytes) -> PhotoFeatures:
    analysis = analyse_photo(data, 50_000_000, 256)
    return from_analysis(name, analysis, byte_size=len(data), sha256=hashlib.sha256(data).hexdigest())


@pytest.fixture(scope="module")
def library() -> Library:
    files = {
        "target": original(500, taken="2024:08:10 15:00:00", gps=(45.9237, 6.8694)),
        "same-place": original(501, taken="2024:08:10 16:30:00", gps=(45.9240, 6.8700)),
        "portrait": encode(
            scene(502, size=(240, 360)), "JPEG", quality=90, exif=exif_with(taken="2024:08:10 15:04:00")
        ),
        "elsewhere": original(503, taken="2023:01:02 09:00:00", gps=(40.0, -3.7)),
        "target-copy": encode(scene(500).resize((240, 160)), "JPEG", quality=70),
    }
    feats = [_feature(name, data) for name, data in files.items()]
    return Library.build("u", (len(feats), None), feats)


def test_reasons_name_the_moment_and_the_place(library: Library) -> None:
    found = {a.image_id: a for a in suggest_alternatives(library, ["target"], count=5, exclude_ids=set(), prefer=None)}
    assert "target-copy" not in found and "target" not in found  # the photo itself and its copies
    assert "same place (within 60 m)" in found["same-place"].reasons
    assert found["portrait"].reasons[0] == "same moment (taken 4 min apart)"
    assert "elsewhere" not in found  # unrelated: another year, place and picture
    assert all(a.alternative_to == "target" for a in found.values())


def test_prefer_and_exclude_change_the_answer(library: Library) -> None:
    portrait = suggest_alternatives(library, ["target"], count=1, exclude_ids=set(), prefer="portrait")
    assert portrait[0].image_id == "portrait" and "fits a portrait slot" in portrait[0].reasons
    landscape = suggest_alternatives(library, ["target"], count=1, exclude_ids=set(), prefer="landscape")
    assert landscape[0].image_id == "same-place"
    rest = suggest_alternatives(library, ["target"], count=5, exclude_ids={"portrait", "same-place"}, prefer=None)
    assert {a.image_id for a in rest} <= {"elsewhere"}
    several = suggest_alternatives(library, ["target", "portrait"], count=5, exclude_ids=set(), prefer=None)
    assert {a.image_id for a in several} == {"same-place"}
