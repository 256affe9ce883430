"""REALM: rehearse a plan on a shadow database and record what happened."""
