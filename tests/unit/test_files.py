import codecs
import json
import zipfile
from pathlib import Path

from services.common.schemas import validate
from services.ingest.decoding import Decoded, decode, decode_bytes
from services.ingest.files import InvalidRecord, document_id, iter_documents

ARABIC = "أعلنت وزارة الصحة اليوم عن افتتاح مستشفى جديد في مدينة حمص."


def test_text_html_and_legacy_encodings(tmp_path: Path) -> None:
    (tmp_path / "outlet").mkdir()
    (tmp_path / "outlet" / "a.txt").write_text(ARABIC, encoding="utf-8")
    (tmp_path / "outlet" / "b.html").write_text(f"<html><body><p>{ARABIC}</p></body></html>", encoding="utf-8")
    (tmp_path / "outlet" / "c.txt").write_bytes(ARABIC.encode("cp1256"))
    (tmp_path / "outlet" / "ignored.pdf").write_bytes(b"%PDF")
    documents = list(iter_documents([tmp_path]))
    assert [Path(d["source_path"]).name for d in documents] == ["a.txt", "b.html", "c.txt"]
    for document in documents:
        validate("raw-document.schema.json", document)
        assert document["source"] == "outlet"
    assert documents[1]["content_type"] == "text/html"
    legacy = documents[2]
    assert legacy["content_encoding"] == "base64"
    import base64

    assert decode_bytes(base64.b64decode(legacy["content"])) == ARABIC
    assert documents[0]["doc_id"] == next(iter_documents([tmp_path / "outlet" / "a.txt"]))["doc_id"]


def test_jsonl_records_are_validated_not_lost(tmp_path: Path) -> None:
    good = {"schema_version": 1, "doc_id": "x1", "source": "feed", "content_type": "text/plain",
            "content": ARABIC, "received_at": "2026-11-10T08:00:00Z"}
    path = tmp_path / "docs.jsonl"
    path.write_text(json.dumps(good) + "\n{broken\n" + json.dumps({**good, "content_type": "pdf"}) + "\n")
    results = list(iter_documents([path]))
    assert results[0]["doc_id"] == "x1" and results[0]["source_path"] == f"{path}:1"
    assert isinstance(results[1], InvalidRecord) and "not JSON" in results[1].reason
    assert isinstance(results[2], InvalidRecord) and "content_type" in results[2].reason


def test_saudinewsnet_zip(tmp_path: Path) -> None:
    articles = [{"source": "spa", "url": "http://example.com/1", "date_extracted": "2015-08-10 18:52:49",
                 "title": "عنوان", "author": "", "content": ARABIC}]
    path = tmp_path / "2015-08-10.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("2015-08-10.json", json.dumps(articles, ensure_ascii=False))
    (document,) = list(iter_documents([path]))
    assert document["source"] == "spa" and document["title"] == "عنوان"
    assert document["published_at"] == "2015-08-10T15:52:49.000Z"
    assert document["source_path"] == f"{path}#0"
    assert document["doc_id"] == document_id("http://example.com/1", ARABIC)


def test_declared_charset_and_detection() -> None:
    assert decode_bytes(ARABIC.encode("iso8859_6"), "iso-8859-6") == ARABIC
    assert decode_bytes("\ufeff".encode() + ARABIC.encode()) == ARABIC


def test_wrong_missing_and_meta_charsets() -> None:
    page = f'<html><head><meta charset="windows-1256"></head><body><p>{ARABIC}</p></body></html>'
    data = page.encode("cp1256")
    assert ARABIC in decode_bytes(data, "iso-8859-1")  # a wrong declaration is overruled by <meta>
    assert ARABIC in decode_bytes(data)  # no declaration: <meta>
    bare = (ARABIC * 3).encode("cp1256")
    assert decode_bytes(bare, "latin-1") == ARABIC * 3  # wrong declaration, no meta: detection
    assert decode_bytes(bare) == ARABIC * 3  # nothing declared: detection
    assert decode_bytes((ARABIC * 3).encode("iso8859_6"), "iso-8859-6") == ARABIC * 3
    assert decode_bytes("café au lait".encode("latin-1"), "latin-1") == "café au lait"  # real Latin-1 stays


def test_decoding_says_what_chose_the_charset() -> None:
    page = f'<html><head><meta charset="windows-1256"></head><body><p>{ARABIC}</p></body></html>'
    assert decode(codecs.BOM_UTF8 + ARABIC.encode()) == Decoded(ARABIC, "utf-8-sig", "bom")
    assert decode(ARABIC.encode("cp1256"), "windows-1256") == Decoded(ARABIC, "windows-1256", "declared")
    assert decode(ARABIC.encode("iso8859_6"), "iso-8859-6") == Decoded(ARABIC, "iso-8859-6", "declared")
    # windows-1256 bytes declared ISO-8859-1 read as Latin-1 gibberish: the page's <meta> overrules.
    assert decode(page.encode("cp1256"), "iso-8859-1") == Decoded(page, "windows-1256", "meta")
    assert decode(page.encode("cp1256")) == Decoded(page, "windows-1256", "meta")  # no charset header
    assert decode(ARABIC.encode()) == Decoded(ARABIC, "utf-8", "utf-8")
    assert decode(ARABIC.encode(), "no-such-charset") == Decoded(ARABIC, "utf-8", "utf-8")
    # Nothing declared, or a wrong declaration and no <meta>: the bytes decide.
    for encoding in ("cp1256", "iso8859_6"):
        data = (ARABIC * 3).encode(encoding)
        assert decode(data) == decode(data, "iso-8859-1") == Decoded(ARABIC * 3, encoding, "detected")
