"""Personal data sealed with per-complaint keys (crypto-shredding). See ``sealing``."""
