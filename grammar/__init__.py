"""The DSL grammar, shipped as package data (`qrnnc.grammar`)."""
