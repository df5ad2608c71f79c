"""Claims: complaints, returns and warranty cases against delivered goods."""
