"""CDS Hooks 2.0 for cmvrx: wire models, card builders, discovery, hook and feedback routes."""
