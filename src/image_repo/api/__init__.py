"""HTTP layer: blueprints, schemas and problem+json errors."""
