"""The golden tests import the fixture helpers (`seeded`, `seeded_urdmu`, `seeded_vadclip`) from
tests/fixtures/official, which is not a package."""

import sys
from pathlib import Path

OFFICIAL = Path(__file__).resolve().parents[2] / "fixtures" / "official"
if str(OFFICIAL) not in sys.path:
    sys.path.insert(0, str(OFFICIAL))
