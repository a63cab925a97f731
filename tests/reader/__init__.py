"""Tests of mobile_jpki.reader (a package, so its conftest is not the module named conftest)."""
