"""Documents: the paperwork the ERP issues to an account, and its statement."""
