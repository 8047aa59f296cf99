"""Browser tests of the steward console: a live `idgraph serve` on the demo data
(:mod:`tests.console.demo_server`), Debian's chromium driven by Playwright
(:mod:`tests.console.browser`), wired as fixtures in ``conftest.py``. Screenshots land in
``test-artifacts/console/``; ``pytest -m "not browser"`` leaves these tests out."""
