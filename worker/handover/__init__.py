"""The handover: closing a plan, its BagIt bundle with report and picture, and the bundle's
delivery (docs/architecture.md §8)."""
