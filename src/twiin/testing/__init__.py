"""Test helpers for twiin and for vendors' own integration tests (test PKI, fakes, fixtures)."""

from twiin.testing.pki import CertificateAuthority, IssuedCertificate, TestPKI, uzi_othername

__all__ = ["CertificateAuthority", "IssuedCertificate", "TestPKI", "uzi_othername"]
