"""The ingest stage: fetch, decode, clean and deduplicate documents."""

from pathlib import Path

# The invented pages `marsad run` feeds by default; tests and benchmarks read the same folder.
SAMPLE_FEED = Path(__file__).resolve().parent / "sample_feed"
