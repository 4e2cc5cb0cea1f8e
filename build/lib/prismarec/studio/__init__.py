"""Curators' tools: parameter sweeps with contact sheets, and the web page."""
