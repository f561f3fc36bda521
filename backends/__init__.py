"""Lowering targets for a compiled Program (installed as `qrnnc.backends`)."""
