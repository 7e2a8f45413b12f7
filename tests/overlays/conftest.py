"""The e2e suite's headless Chromium, for the overlay pages."""

from tests.e2e.conftest import browser  # noqa: F401  (a fixture, used by name)
