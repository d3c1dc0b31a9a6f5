from pathlib import Path

import pytest

from services.ingest.sources import DEFAULT_INTERVAL, Source, SourcesError, load_sources

GOOD = """
[[source]]
name = "wahat-news"
kind = "rss"
url = "https://wahat.example/rss.xml"

[[source]]
name = "nakheel"
kind = "sitemap"
url = "https://nakheel.example/news-sitemap.xml"
interval = 120
language = "ar"
charset = "windows-1256"
enabled = false
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_loads_sources_with_defaults(tmp_path: Path) -> None:
    wahat, nakheel = load_sources(write(tmp_path, GOOD))
    assert wahat == Source(name="wahat-news", kind="rss", url="https://wahat.example/rss.xml",
                           interval=DEFAULT_INTERVAL, language=None, charset=None, enabled=True)
    assert nakheel.kind == "sitemap" and nakheel.interval == 120.0 and nakheel.language == "ar"
    assert nakheel.charset == "windows-1256" and nakheel.enabled is False


ENTRY = 'name = "wahat-news"\nkind = "rss"\nurl = "https://wahat.example/rss.xml"\n'


@pytest.mark.parametrize("extra, replace, message", [
    ("", ('kind = "rss"\n', ""), "field 'kind' is missing"),
    ("", ('kind = "rss"', 'kind = "json"'), "field 'kind' = 'json' must be one of rss, atom, sitemap, page"),
    ("", ('url = "https://wahat.example/rss.xml"', 'url = "ftp://wahat.example/rss.xml"'),
     "field 'url' = 'ftp://wahat.example/rss.xml' must be an absolute"),
    ("", ('name = "wahat-news"', 'name = "wahat news/ar"'), "field 'name' = 'wahat news/ar'"),
    ("interval = \"often\"\n", None, "field 'interval' must be a number"),
    ("interval = 0\n", None, "field 'interval' = 0 must be at least"),
    ("interval = true\n", None, "field 'interval' must be a number"),
    ("charset = \"klingon-8\"\n", None, "field 'charset' = 'klingon-8' is not an encoding"),
    ("enabled = \"yes\"\n", None, "field 'enabled' must be true or false"),
    ("intervall = 60\n", None, "unknown field(s) intervall"),
])
def test_errors_name_the_file_the_source_and_the_field(tmp_path: Path, extra: str,
                                                       replace: tuple[str, str] | None, message: str) -> None:
    entry = ENTRY if replace is None else ENTRY.replace(*replace)
    path = write(tmp_path, "[[source]]\n" + entry + extra)
    with pytest.raises(SourcesError) as caught:
        load_sources(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: source #1")
    assert message in text
    if "name" not in message and "kind' is missing" not in message:
        assert "(wahat-news)" in text


def test_duplicate_names_and_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(SourcesError, match=r"source #2: name 'wahat-news' is used twice"):
        load_sources(write(tmp_path, f"[[source]]\n{ENTRY}\n[[source]]\n{ENTRY}"))
    with pytest.raises(SourcesError, match="not valid TOML"):
        load_sources(write(tmp_path, "[[source]\nname="))
    with pytest.raises(SourcesError, match=r"no \[\[source\]\] tables"):
        load_sources(write(tmp_path, "# nothing yet\n"))
    with pytest.raises(SourcesError, match="unknown top-level key"):
        load_sources(write(tmp_path, f"[[sources]]\n{ENTRY}"))
    with pytest.raises(SourcesError, match="cannot read the sources file"):
        load_sources(tmp_path / "absent.toml")
