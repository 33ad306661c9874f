"""Model Routing Ledger: task type x model aggregates and routing recommendations."""
