"""SHIPME.md certificates: format, Ed25519 keys, signing and verification."""
