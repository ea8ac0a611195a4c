"""Optional enveloped XML signature (XML-DSig) of the closed question, off by default.

Some Mitz admissions require the request to be signed (the *Berichtauthenticatie* guide, not
public). The only public implementation (nuts-knooppunt ``CreateSignedAuthzDecisionQuery``) gives
the shape followed here: the XACML ``Request`` gets an ``xml:id``; a ``ds:Signature`` is inserted
as the first child of ``XACMLAuthzDecisionQuery`` (where the SAML protocol schema allows it);
one ``Reference`` to ``#<id>`` with the enveloped-signature and exclusive-c14n transforms, a
SHA-256 digest, exclusive c14n of ``SignedInfo``, ``rsa-sha256`` (or ``ecdsa-sha256`` for EC
keys) and the certificate chain in ``KeyInfo/X509Data`` (one ``X509Certificate`` per certificate;
the knooppunt concatenates the DER of the chain into one, which verifiers cannot read).
Whether Mitz expects exactly this profile could not be checked against the normative text.
"""

from __future__ import annotations

import base64
import hashlib
import uuid

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from lxml import etree

from twiin.consent._xml import MAX_XML_BYTES, MAX_XML_DEPTH, XACML, XACML_SAML, XML_NS, parse_xml, q
from twiin.credentials import Credentials
from twiin.errors import ConfigurationError, ConsentSignatureError

__all__ = ["sign_closed_question", "verify_closed_question"]

DS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"


def _c14n(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


def _sign(credentials: Credentials, data: bytes) -> tuple[str, bytes]:
    key = credentials.private_key
    if isinstance(key, rsa.RSAPrivateKey):
        return RSA_SHA256, key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ConfigurationError("credentials.key", "XML signing supports EC keys on P-256 only")
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return ECDSA_SHA256, r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if key is None and credentials.signer is not None:
        public = credentials.certificate.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            return RSA_SHA256, credentials.signer(data, "RS256")
        if isinstance(public, ec.EllipticCurvePublicKey):
            return ECDSA_SHA256, credentials.signer(data, "ES256")  # JOSE ES256 is raw r||s, as XML-DSig
    raise ConfigurationError("credentials.key", "XML signing needs an RSA or EC P-256 key")


def _ds(parent: etree._Element, name: str, algorithm: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, q(DS, name))
    if algorithm:
        el.set("Algorithm", algorithm)
    return el


def sign_closed_question(body: bytes, credentials: Credentials) -> bytes:
    """Return the closed-question request ``body`` with an XML signature over its XACML ``Request``."""
    root = parse_xml(body)
    queries = list(root.iter(q(XACML_SAML, "XACMLAuthzDecisionQuery")))
    if len(queries) != 1 or len(queries[0].findall(q(XACML, "Request"))) != 1:
        raise ConfigurationError("body", "not a closed-question request")
    query = queries[0]
    request = query.find(q(XACML, "Request"))
    assert request is not None
    ref_id = f"_{uuid.uuid4()}"
    request.set(q(XML_NS, "id"), ref_id)
    digest = base64.b64encode(hashlib.sha256(_c14n(request)).digest()).decode("ascii")

    signature = etree.Element(q(DS, "Signature"), nsmap={"ds": DS})
    signed_info = _ds(signature, "SignedInfo")
    _ds(signed_info, "CanonicalizationMethod", EXC_C14N)
    method = _ds(signed_info, "SignatureMethod")
    reference = _ds(signed_info, "Reference")
    reference.set("URI", f"#{ref_id}")
    transforms = _ds(reference, "Transforms")
    _ds(transforms, "Transform", ENVELOPED)
    _ds(transforms, "Transform", EXC_C14N)
    _ds(reference, "DigestMethod", SHA256)
    _ds(reference, "DigestValue").text = digest
    query.insert(0, signature)  # in the document before c14n, so inherited namespaces are as verified

    algorithm = (
        RSA_SHA256 if isinstance(credentials.certificate.public_key(), rsa.RSAPublicKey) else ECDSA_SHA256
    )
    method.set("Algorithm", algorithm)
    used, value = _sign(credentials, _c14n(signed_info))
    if used != algorithm:  # pragma: no cover - key and certificate types always agree in Credentials
        raise ConfigurationError("credentials.key", "key type does not match the certificate")
    signature_value = _ds(signature, "SignatureValue")
    signature_value.text = base64.b64encode(value).decode("ascii")
    x509_data = _ds(_ds(signature, "KeyInfo"), "X509Data")
    for cert in credentials.chain:
        der = cert.public_bytes(serialization.Encoding.DER)
        _ds(x509_data, "X509Certificate").text = base64.b64encode(der).decode("ascii")
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")


def _b64(text: str | None, what: str) -> bytes:
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except ValueError:
        raise ConsentSignatureError(f"{what} is not base64") from None


def _one(parent: etree._Element, path: str, what: str) -> etree._Element:
    found = parent.findall(path)
    if len(found) != 1:
        raise ConsentSignatureError(f"signature needs exactly one {what}")
    return found[0]


def verify_closed_question(
    body: bytes, *, max_bytes: int = MAX_XML_BYTES, max_depth: int = MAX_XML_DEPTH
) -> x509.Certificate:
    """Verify the XML signature of a closed-question request; return the signing certificate.

    Server half (a Mitz stand-in). Only the profile written by :func:`sign_closed_question` is
    accepted, and the reference must point at *the* ``Request`` of the query (no wrapping).
    The caller decides whether it trusts the returned certificate (e.g. it equals the TLS peer).
    """
    root = parse_xml(body, max_bytes=max_bytes, max_depth=max_depth)
    queries = list(root.iter(q(XACML_SAML, "XACMLAuthzDecisionQuery")))
    if len(queries) != 1:
        raise ConsentSignatureError("expected one XACMLAuthzDecisionQuery")
    query = queries[0]
    signature = _one(query, q(DS, "Signature"), "ds:Signature")
    request = _one(query, q(XACML, "Request"), "XACML Request")
    signed_info = _one(signature, q(DS, "SignedInfo"), "SignedInfo")
    c14n = _one(signed_info, q(DS, "CanonicalizationMethod"), "CanonicalizationMethod")
    method = _one(signed_info, q(DS, "SignatureMethod"), "SignatureMethod")
    reference = _one(signed_info, q(DS, "Reference"), "Reference")
    if c14n.get("Algorithm") != EXC_C14N:
        raise ConsentSignatureError("unsupported canonicalization")
    transforms = [
        t.get("Algorithm") for t in reference.iterfind(f"{q(DS, 'Transforms')}/{q(DS, 'Transform')}")
    ]
    if transforms not in ([ENVELOPED, EXC_C14N], [EXC_C14N]):
        raise ConsentSignatureError("unsupported transforms")
    if _one(reference, q(DS, "DigestMethod"), "DigestMethod").get("Algorithm") != SHA256:
        raise ConsentSignatureError("unsupported digest")
    ref_id = request.get(q(XML_NS, "id"))
    if not ref_id or reference.get("URI") != f"#{ref_id}":
        raise ConsentSignatureError("the signature does not reference the query's Request")
    if sum(1 for el in root.iter() if el.get(q(XML_NS, "id")) == ref_id) != 1:
        raise ConsentSignatureError("the referenced id is not unique")
    digest = hashlib.sha256(_c14n(request)).digest()
    if digest != _b64(_one(reference, q(DS, "DigestValue"), "DigestValue").text, "DigestValue"):
        raise ConsentSignatureError("the Request digest does not match")
    certs = signature.findall(f"{q(DS, 'KeyInfo')}/{q(DS, 'X509Data')}/{q(DS, 'X509Certificate')}")
    if not certs:
        raise ConsentSignatureError("no signing certificate in KeyInfo")
    try:
        cert = x509.load_der_x509_certificate(_b64(certs[0].text, "X509Certificate"))
    except ValueError:
        raise ConsentSignatureError("the signing certificate cannot be read") from None
    value = _b64(_one(signature, q(DS, "SignatureValue"), "SignatureValue").text, "SignatureValue")
    data = _c14n(signed_info)
    public = cert.public_key()
    try:
        if method.get("Algorithm") == RSA_SHA256 and isinstance(public, rsa.RSAPublicKey):
            public.verify(value, data, padding.PKCS1v15(), hashes.SHA256())
        elif method.get("Algorithm") == ECDSA_SHA256 and isinstance(public, ec.EllipticCurvePublicKey):
            if len(value) != 64:
                raise ConsentSignatureError("malformed ECDSA signature")
            der = encode_dss_signature(int.from_bytes(value[:32], "big"), int.from_bytes(value[32:], "big"))
            public.verify(der, data, ec.ECDSA(hashes.SHA256()))
        else:
            raise ConsentSignatureError("unsupported signature method for this certificate")
    except InvalidSignature:
        raise ConsentSignatureError("the signature does not verify") from None
    return cert
