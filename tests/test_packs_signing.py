"""Ed25519 signatures: keygen, sign, and the site's trust policy at install."""

from __future__ import annotations

import json
import stat
import zipfile

import pytest

from content_packs.errors import BadKey, InvalidPack
from content_packs.models import Pack
from content_packs.signing import generate_key, sign_pack
from tests.packs_factory import build_pack, install
from tests.packs_helpers import rewrite, snapshot


@pytest.fixture
def key(tmp_path):
    path = tmp_path / "signing.key"
    return path, generate_key(path)


def _trust(app, keys, allow_unsigned):
    app.config["KRU"] = app.config["KRU"].replace(
        packs__trusted_keys=keys, packs__allow_unsigned=allow_unsigned
    )


def test_keygen_writes_a_private_key_only_the_owner_can_read(key):
    path, public = key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(public) == 44  # base64 of 32 bytes


def test_keygen_never_overwrites_a_key(key):
    path, _ = key
    with pytest.raises(BadKey):
        generate_key(path)


def test_signed_pack_by_a_trusted_key_installs_as_signed(app, tmp_path, key):
    path, public = key
    zip_path = build_pack(tmp_path)
    sign_pack(zip_path, path)
    _trust(app, [public], allow_unsigned=False)

    result = install(app, zip_path)

    assert result.signed and Pack.get().signer_key == public


def test_unsigned_pack_is_accepted_and_shown_unsigned_by_default(app, tmp_path):
    result = install(app, build_pack(tmp_path))
    assert not result.signed and not Pack.get().signed


def test_unsigned_pack_is_refused_when_only_signed_packs_are_allowed(app, tmp_path, key):
    _trust(app, [key[1]], allow_unsigned=False)
    before = snapshot(app)
    with pytest.raises(InvalidPack) as excinfo:
        install(app, build_pack(tmp_path))
    assert excinfo.value.code == "signature_required"
    assert snapshot(app) == before


def test_key_not_trusted_is_refused_when_only_signed_packs_are_allowed(app, tmp_path, key):
    other = tmp_path / "other.key"
    generate_key(other)
    zip_path = build_pack(tmp_path)
    sign_pack(zip_path, other)
    _trust(app, [key[1]], allow_unsigned=False)

    with pytest.raises(InvalidPack) as excinfo:
        install(app, zip_path)

    assert excinfo.value.code == "signature_untrusted"


def test_key_not_trusted_counts_as_unsigned_when_unsigned_packs_are_allowed(app, tmp_path, key):
    zip_path = build_pack(tmp_path)
    sign_pack(zip_path, key[0])

    result = install(app, zip_path)

    assert not result.signed


def test_signature_over_a_changed_manifest_is_refused(app, tmp_path, key):
    path, public = key
    zip_path = build_pack(tmp_path)
    sign_pack(zip_path, path)
    with zipfile.ZipFile(zip_path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    manifest["title"]["en"] = "Forged title"
    forged = rewrite(
        zip_path, tmp_path / "forged.zip", {"manifest.json": json.dumps(manifest).encode()}
    )
    _trust(app, [public], allow_unsigned=True)  # even a lenient site refuses a bad signature
    before = snapshot(app)

    with pytest.raises(InvalidPack) as excinfo:
        install(app, forged)

    assert excinfo.value.code == "signature_invalid"
    assert snapshot(app) == before


def test_signing_again_replaces_the_signature(app, tmp_path, key):
    path, public = key
    other = tmp_path / "other.key"
    generate_key(other)
    zip_path = build_pack(tmp_path)
    sign_pack(zip_path, other)

    sign_pack(zip_path, path)

    with zipfile.ZipFile(zip_path) as zf:
        assert zf.namelist().count("manifest.sig") == 1
    _trust(app, [public], allow_unsigned=False)
    assert install(app, zip_path).signed


def test_signing_with_a_file_that_is_not_a_key_fails(tmp_path):
    junk = tmp_path / "junk.key"
    junk.write_text("not a key")
    with pytest.raises(BadKey):
        sign_pack(build_pack(tmp_path), junk)
