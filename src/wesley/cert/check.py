"""A certificate file checked as `cert verify` and `deploy` check it: signatures by trusted
keys, required signers, gates, the REALM verdict, the files it lists, and the HOLMES/WATSON
reports its role signers attested."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from wesley.cert import certificate
from wesley.cert.artifacts import artifact_failures
from wesley.cert.settings import cert_settings, read_cert


def verify_file(
    in_path: str | Path,
    pubkeys: Iterable[str | Path],
    require: list[str] | None,
    config: dict[str, Any],
) -> certificate.Verification:
    """`require`: the signers that must have signed (default: wesley.toml's [cert] require)."""
    settings = cert_settings(config)
    trusted = certificate.trusted_keys([*settings.keys.values(), *(Path(p) for p in pubkeys)])
    names = certificate.signer_names(settings.keys)
    needed = settings.require if require is None else require
    result = certificate.verify(read_cert(in_path), trusted, needed, settings.thresholds, names)
    if result.block:  # the files it lists are still the ones it was made from
        from wesley.holmes.attest import check, roles_from

        result.failures += artifact_failures(result.block)
        # the HOLMES and WATSON reports the role signers attested
        failures, notes = check(result.block, result.signers, roles_from(config))
        result.failures += failures
        result.notes += notes
        result.ok = not result.failures
    return result
