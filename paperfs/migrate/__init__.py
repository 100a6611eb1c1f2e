"""Moving in from paperless-ngx and out again (docs/migration.md)."""
