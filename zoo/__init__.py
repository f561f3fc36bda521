"""Zoo model configs, shipped as package data (`qrnnc.zoo`)."""
