"""Who may do what: users, groups, permissions."""
