"""Example schema modules: how a team builds on Gatehouse (see docs/BUILDING.md)."""
