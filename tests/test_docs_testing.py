"""The samples of docs/testing.md: each is an app with its tests, collected here as tests of the suite."""

from __future__ import annotations

from tests.docs_samples import load, sample_tests

TESTED = {"client_requests", "timing", "cleanup", "real_socket"}

for _name in sorted(TESTED):
    globals().update(sample_tests(load("testing", _name)))
base_url = load("testing", "real_socket").base_url  # the fixture its test asks for
