"""Site clinical protocols: versioned documents of site-decided values, approved by a P&T approver."""
