"""The end-to-end tests: real programs on loopback (run with e2e/pytest.ini)."""
