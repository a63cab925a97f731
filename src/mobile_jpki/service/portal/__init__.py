"""The portal service: the smartphone-certificate lifecycle (docs/portal.md)."""
