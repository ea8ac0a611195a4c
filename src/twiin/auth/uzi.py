"""UZI server certificate identity: who a certificate belongs to, read from its subjectAltName.

UZI-register certificates carry an otherName ``2.5.5.5`` whose string value is
``<CA OID>-<version>-<UZI nr>-<pass type>-<URA (abonneenummer)>-<role>-<AGB>``. Reading the
identity does not validate the chain (test certificates in the wild are often expired); use
:func:`twiin.auth.verify_chain` with an explicit clock for that.
"""

from __future__ import annotations

import re
import ssl
from datetime import datetime
from pathlib import Path

import attrs
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from twiin import naming
from twiin.credentials import Credentials, x5t_s256
from twiin.errors import InvalidIdentifier, UziIdentityError
from twiin.identifiers import Ura, UziNumber

__all__ = ["CertificateInput", "UziServerIdentity", "load_certificate", "parse_uzi_othername", "uzi_identity"]

CertificateInput = x509.Certificate | Credentials | bytes | str | Path | ssl.SSLSocket | ssl.SSLObject
"""A certificate, credentials (leaf), PEM/DER bytes, a file path, or a TLS connection (its peer)."""

_TAG_UTF8, _TAG_PRINTABLE, _TAG_IA5 = 0x0C, 0x13, 0x16
_PRINTABLE = re.compile(r"^[A-Za-z0-9 '()+,\-./:=?]*$")
_OID = re.compile(r"^[0-2](\.[0-9]+)+$")
_DIGITS = re.compile(r"^[0-9]+$")
_ROLE = re.compile(r"^[0-9]{1,2}\.[0-9]{2,3}$")
_CARD = re.compile(r"^[A-Z]$")
_MAX_OTHERNAME = 256


@attrs.frozen
class UziServerIdentity:
    """The identity in a UZI certificate: organisation (URA), UZI number, role and more."""

    ura: Ura
    uzi_number: UziNumber
    agb: str
    card_type: str
    role: str
    ca_oid: str
    version: str
    subject_common_name: str | None
    subject_organization: str | None
    subject_serial_number: str | None
    thumbprint: str
    not_before: datetime
    not_after: datetime

    @property
    def is_server_certificate(self) -> bool:
        """True for UZI server certificates (pass type ``S``)."""
        return self.card_type == "S"


def _der_length(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise UziIdentityError("otherName value is truncated")
    first = data[pos]
    pos += 1
    if first < 0x80:
        return first, pos
    count = first & 0x7F
    if count == 0 or count > 2 or pos + count > len(data):
        raise UziIdentityError("otherName value has an invalid DER length")
    return int.from_bytes(data[pos : pos + count], "big"), pos + count


def _decode_string(der: bytes) -> str:
    """Decode a DER UTF8String, IA5String or PrintableString (optionally inside ``[0] EXPLICIT``)."""
    if len(der) < 2:
        raise UziIdentityError("otherName value is empty")
    tag = der[0]
    if tag == 0xA0:  # some encoders keep the explicit [0] wrapper
        length, pos = _der_length(der, 1)
        if pos + length != len(der):
            raise UziIdentityError("otherName value has trailing bytes")
        return _decode_string(der[pos:])
    length, pos = _der_length(der, 1)
    if pos + length != len(der):
        raise UziIdentityError("otherName value has trailing bytes or is truncated")
    body = der[pos:]
    try:
        if tag == _TAG_UTF8:
            return body.decode("utf-8")
        if tag == _TAG_IA5:
            return body.decode("ascii")
        if tag == _TAG_PRINTABLE:
            text = body.decode("ascii")
            if not _PRINTABLE.match(text):
                raise UziIdentityError("otherName PrintableString has characters outside its set")
            return text
    except UnicodeDecodeError:
        raise UziIdentityError("otherName string is not validly encoded") from None
    raise UziIdentityError(f"otherName value has unsupported ASN.1 tag 0x{tag:02x}")


def parse_uzi_othername(text: str) -> tuple[str, str, UziNumber, str, Ura, str, str]:
    """Split and validate ``<CA OID>-<version>-<UZI>-<type>-<URA>-<role>-<AGB>``.

    Returns ``(ca_oid, version, uzi_number, card_type, ura, role, agb)``.
    """
    if len(text) > _MAX_OTHERNAME:
        raise UziIdentityError("UZI otherName string is too long")
    fields = text.split("-")
    if len(fields) != 7:
        raise UziIdentityError(f"UZI otherName must have 7 '-'-separated fields, found {len(fields)}")
    ca_oid, version, uzi, card, ura, role, agb = fields
    if not _OID.match(ca_oid):
        raise UziIdentityError("UZI otherName: CA field is not an OID")
    if not _DIGITS.match(version):
        raise UziIdentityError("UZI otherName: version is not a number")
    if not _CARD.match(card):
        raise UziIdentityError("UZI otherName: pass type must be one capital letter")
    if not _ROLE.match(role):
        raise UziIdentityError("UZI otherName: role must look like NN.NNN")
    if not _DIGITS.match(agb) or len(agb) > 8:
        raise UziIdentityError("UZI otherName: AGB field must be up to 8 digits")
    try:
        ura_value = Ura(ura)
    except InvalidIdentifier:
        raise UziIdentityError("UZI otherName: URA must be 1 to 8 digits") from None
    try:
        uzi_value = UziNumber(uzi)
    except InvalidIdentifier:
        raise UziIdentityError("UZI otherName: UZI number must be 1 to 9 digits") from None
    return ca_oid, version, uzi_value, card, ura_value, role, agb


def load_certificate(data: CertificateInput, password: bytes | None = None) -> x509.Certificate:
    """Load a leaf certificate from PEM, DER, PKCS#12 (with ``password``), a path, credentials, or
    the peer certificate of an established TLS connection (``ssl.SSLSocket`` / ``ssl.SSLObject``)."""
    if isinstance(data, x509.Certificate):
        return data
    if isinstance(data, ssl.SSLSocket | ssl.SSLObject):
        data = _peer_der(data)
    if isinstance(data, Credentials):
        return data.certificate
    if isinstance(data, str | Path):
        try:
            data = Path(data).read_bytes()
        except OSError as exc:
            raise UziIdentityError(f"cannot read certificate file: {exc.strerror}") from None
    if b"-----BEGIN CERTIFICATE" in data:
        try:
            return x509.load_pem_x509_certificates(data)[0]
        except ValueError:
            raise UziIdentityError("not a valid PEM certificate") from None
    try:
        return x509.load_der_x509_certificate(data)
    except ValueError:
        pass
    try:
        _, cert, _ = pkcs12.load_key_and_certificates(data, password)
    except ValueError:
        raise UziIdentityError("not a PEM, DER or PKCS#12 certificate (or wrong password)") from None
    if cert is None:
        raise UziIdentityError("the PKCS#12 data holds no certificate")
    return cert


def _peer_der(connection: ssl.SSLSocket | ssl.SSLObject) -> bytes:
    try:
        der = connection.getpeercert(binary_form=True)
    except (ValueError, OSError):  # not connected, handshake not done
        raise UziIdentityError("the TLS connection has not completed its handshake") from None
    if not der:
        raise UziIdentityError("the TLS peer presented no certificate")
    return der


def _subject(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    values = cert.subject.get_attributes_for_oid(oid)
    if not values:
        return None
    value = values[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def uzi_identity(certificate: CertificateInput, *, password: bytes | None = None) -> UziServerIdentity:
    """Read the UZI identity of a certificate without validating its chain.

    Raises :class:`~twiin.errors.UziIdentityError` when the certificate has no (or more than
    one) otherName ``2.5.5.5``, a malformed string, an invalid URA or UZI number, or a UZI
    number that differs from ``subject.serialNumber``.
    """
    cert = load_certificate(certificate, password)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise UziIdentityError("certificate has no subjectAltName extension") from None
    except ValueError:
        raise UziIdentityError("certificate has a malformed extension") from None
    values = [
        name.value
        for name in san.get_values_for_type(x509.OtherName)
        if name.type_id.dotted_string == naming.UZI_OTHERNAME_OID
    ]
    if not values:
        raise UziIdentityError("certificate has no UZI otherName 2.5.5.5 in its subjectAltName")
    if len(values) > 1:
        raise UziIdentityError("certificate has more than one UZI otherName 2.5.5.5")
    ca_oid, version, uzi, card, ura, role, agb = parse_uzi_othername(_decode_string(values[0]))
    serial = _subject(cert, NameOID.SERIAL_NUMBER)
    if serial is not None and serial.strip() != uzi.value:
        raise UziIdentityError("UZI number in the otherName differs from subject serialNumber")
    return UziServerIdentity(
        ura=ura,
        uzi_number=uzi,
        agb=agb,
        card_type=card,
        role=role,
        ca_oid=ca_oid,
        version=version,
        subject_common_name=_subject(cert, NameOID.COMMON_NAME),
        subject_organization=_subject(cert, NameOID.ORGANIZATION_NAME),
        subject_serial_number=serial,
        thumbprint=x5t_s256(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )
