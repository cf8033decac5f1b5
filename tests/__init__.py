"""The tests, grouped as the code is: core/, figures/ (explorer/figures), app/ (explorer/ and pages/), cli/
(core/cli), notebook/, bench/. Shared fixtures: conftest.py; app drivers: app_fixtures.py, headless.py."""
