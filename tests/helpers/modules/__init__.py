"""Schema modules the tests serve with `SCHEMA_MODULES` (contract section 8); not examples."""
